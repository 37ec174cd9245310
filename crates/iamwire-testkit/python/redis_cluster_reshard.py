"""Move slots from one master of a Redis Cluster to another, with their keys, as `redis-cli --cluster reshard`
does (per slot: SETSLOT IMPORTING on the target, SETSLOT MIGRATING on the source, MIGRATE the keys in batches,
then SETSLOT NODE on the target, the source and every other master), dialing every node at its own address.

`redis-cli --cluster` dials the addresses the cluster announces; when those are the IAM stand-ins in front of the
nodes (as ElastiCache's node endpoints are), an operator's password does not log in there. ElastiCache moves slots
itself over its own network; this is the test rig doing the same.

Usage: python redis_cluster_reshard.py CONFIG
CONFIG (JSON): "ca" (the nodes' CA file), "user", "password", "from" and "to" (the real TLS ports of the source
and the target), "all" (every node's real TLS port), "slots" (how many to move).
Prints "moved <n> slots, <k> keys".
"""

import json
import sys

import redis


def connect(config, port):
    return redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=config["ca"],
                       username=config["user"], password=config["password"], socket_timeout=30)


def raw(node, *args):
    """The reply to one command, as Redis sent it (no client-side parsing)."""
    conn = node.connection_pool.get_connection()
    try:
        conn.send_command(*args)
        reply = conn.read_response()
    finally:
        node.connection_pool.release(conn)
    if isinstance(reply, redis.exceptions.ResponseError):
        raise reply
    return reply


def owned_slots(node):
    """The slots the node says it owns itself (from its CLUSTER NODES line flagged "myself")."""
    for line in raw(node, "CLUSTER", "NODES").decode().splitlines():
        fields = line.split()
        if "myself" not in fields[2].split(","):
            continue
        slots = []
        for item in fields[8:]:
            if item.startswith("["):
                continue  # a slot being migrated or imported
            first, _, last = item.partition("-")
            slots.extend(range(int(first), int(last or first) + 1))
        return slots
    raise SystemExit("no myself line in CLUSTER NODES")


def main(config_path):
    with open(config_path) as f:
        config = json.load(f)
    source, target = connect(config, config["from"]), connect(config, config["to"])
    others = [connect(config, p) for p in config["all"] if p not in (config["from"], config["to"])]
    source_id = raw(source, "CLUSTER", "MYID").decode()
    target_id = raw(target, "CLUSTER", "MYID").decode()
    slots = owned_slots(source)[: config["slots"]]
    keys_moved = 0
    for slot in slots:
        raw(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        raw(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        while True:
            keys = raw(source, "CLUSTER", "GETKEYSINSLOT", slot, 100)
            if not keys:
                break
            raw(source, "MIGRATE", "127.0.0.1", config["to"], "", 0, 10000,
                "AUTH2", config["user"], config["password"], "KEYS", *keys)
            keys_moved += len(keys)
        for node in [target, source] + others:
            raw(node, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
    print(f"moved {len(slots)} slots, {keys_moved} keys", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
