"""A stand-in Amazon DocumentDB for iamwire's tests (no MongoDB or DocumentDB server runs here).

It speaks the MongoDB wire protocol over TLS (OP_MSG, and OP_QUERY / OP_REPLY for a driver's first hello),
with pymongo's own `bson` module for every document, and enough commands for a driver's handshake, insert,
find and delete. Authentication is MONGODB-AWS, checked as DocumentDB checks it:

  saslStart {mechanism: MONGODB-AWS, payload: {r: <32-byte client nonce>, p: <GS2 flag>}}
    -> {conversationId: 1, done: false, payload: {s: <64-byte nonce starting with r>, h: <STS host>}}
  saslContinue {payload: {a: Authorization, d: X-Amz-Date, t: session token}}
    -> the server rebuilds the sts:GetCallerIdentity request itself — its own nonce in
       X-MongoDB-Server-Nonce, the GS2 flag, its STS host — sends it to STS (the AWS emulator, moto, which
       checks the SigV4 signature with botocore), and logs the client in as the role STS names, if that role
       is one of its $external users; anything else is AuthenticationFailed (18).

A signature over another nonce (a replayed answer), by other credentials, or from a role without a user
fails; so does an Authorization that does not sign both X-MongoDB headers, or an X-Amz-Date more than 15
minutes from now (as STS refuses it).

Usage: python documentdb_standin.py CERT KEY MOTO_URL AUTH_LOG COMMAND_LOG USERS [STS_HOST]
USERS is a comma-separated list of role ARNs. Prints "PORT <n>" once listening; exits when stdin closes.
Each authentication appends {"ok", "arn", "reason"} to AUTH_LOG; each command after the handshake's hello
appends {"command", "authenticated", "user"} to COMMAND_LOG.
"""

import base64
import datetime
import json
import os
import socketserver
import ssl
import struct
import sys
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import bson
from bson import Int64, ObjectId

CERT, KEY, MOTO, AUTH_LOG, COMMAND_LOG, USERS = sys.argv[1:7]
STS_HOST = sys.argv[7] if len(sys.argv) > 7 else "sts.amazonaws.com"
ALLOWED = set(u for u in USERS.split(",") if u)
OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
MAX_MESSAGE = 48_000_000
BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
LOCK = threading.Lock()
COLLECTIONS = {}  # (db, name) -> [documents]


def log(path, **entry):
    with LOCK, open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")


def error(code, name, message):
    return {"ok": 0.0, "errmsg": message, "code": code, "codeName": name}


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_message(sock):
    header = recv_exact(sock, 16)
    length, request_id, _, op = struct.unpack("<iiii", header)
    if length < 16 or length > MAX_MESSAGE:
        raise EOFError
    body = recv_exact(sock, length - 16)
    if op == OP_MSG:
        flags = struct.unpack_from("<I", body)[0]
        end = len(body) - (4 if flags & 1 else 0)
        at, command, sequences = 4, None, {}
        while at < end:
            kind = body[at]
            at += 1
            if kind == 0:
                size = struct.unpack_from("<i", body, at)[0]
                command = bson.decode(body[at:at + size])
                at += size
            else:
                size = struct.unpack_from("<i", body, at)[0]
                section = body[at + 4:at + size]
                name, docs = section.split(b"\0", 1)
                sequences[name.decode()] = list(bson.decode_all(docs))
                at += size
        command.update(sequences)
        return request_id, False, command
    if op == OP_QUERY:
        name_end = body.index(b"\0", 4)
        query = body[name_end + 9:]
        size = struct.unpack_from("<i", query)[0]
        command = bson.decode(query[:size])
        if "$query" in command:
            command = command["$query"]
        command["$db"] = body[4:name_end].decode().split(".")[0]
        return request_id, True, command
    raise EOFError


def send_reply(sock, request_id, legacy, doc):
    payload = bson.encode(doc)
    if legacy:
        body = struct.pack("<iqii", 0, 0, 0, 1) + payload
        op = OP_REPLY
    else:
        body = struct.pack("<I", 0) + b"\0" + payload
        op = OP_MSG
    sock.sendall(struct.pack("<iiii", 16 + len(body), 1, request_id, op) + body)


def check_identity(conversation, payload):
    """(role_arn, None) if STS names an allowed role for this request, else (arn or None, reason)."""
    authorization, date, token = payload.get("a"), payload.get("d"), payload.get("t")
    if not isinstance(authorization, str) or not isinstance(date, str):
        return None, "the payload lacks a or d"
    signed = authorization.split("SignedHeaders=")[-1].split(",")[0].split(";")
    for required in ("x-mongodb-server-nonce", "x-mongodb-gs2-cb-flag"):
        if required not in signed:
            return None, "the signature does not cover " + required
    try:
        at = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return None, "X-Amz-Date is malformed"
    if abs((datetime.datetime.utcnow() - at).total_seconds()) > 900:
        return None, "X-Amz-Date is more than 15 minutes away"
    headers = {
        "Host": conversation["host"],
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(BODY)),
        "X-Amz-Date": date,
        "Authorization": authorization,
        "X-MongoDB-Server-Nonce": base64.b64encode(conversation["nonce"]).decode(),
        "X-MongoDB-GS2-CB-Flag": chr(conversation["flag"]),
    }
    if token:
        headers["X-Amz-Security-Token"] = token
    request = urllib.request.Request(MOTO + "/", data=BODY, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        code = body.split("<Code>")[1].split("</Code>")[0] if "<Code>" in body else str(e.code)
        return None, "STS refused the request: " + code
    arn = next((e.text for e in ET.fromstring(text).iter() if e.tag.endswith("Arn")), None)
    parts = (arn or "").split(":")
    if len(parts) != 6 or not parts[5].startswith("assumed-role/"):
        return arn, "STS named no assumed role"
    role = "arn:{}:iam::{}:role/{}".format(parts[1], parts[4], parts[5].split("/")[1])
    if role not in ALLOWED:
        return role, "no $external user for this role"
    return role, None


def matches(doc, query):
    return all(doc.get(k) == v for k, v in (query or {}).items())


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        user, conversation = None, None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(CERT, KEY)
        try:
            sock = context.wrap_socket(self.request, server_side=True)
            while True:
                request_id, legacy, command = read_message(sock)
                name = next(iter(command), "")
                reply = self.command(name, command, user, conversation)
                if isinstance(reply, tuple):
                    reply, user, conversation = reply
                send_reply(sock, request_id, legacy, reply)
        except (EOFError, ConnectionError, ssl.SSLError, OSError):
            pass

    def command(self, name, command, user, conversation):
        db = command.get("$db", "admin")
        if name.lower() in ("hello", "ismaster"):
            return {"isWritablePrimary": True, "ismaster": True, "maxBsonObjectSize": 16777216,
                    "maxMessageSizeBytes": MAX_MESSAGE, "maxWriteBatchSize": 100000,
                    "localTime": datetime.datetime.now(datetime.timezone.utc),
                    "logicalSessionTimeoutMinutes": 30, "connectionId": 1, "minWireVersion": 0,
                    "maxWireVersion": 13, "readOnly": False, "ok": 1.0}
        log(COMMAND_LOG, command=name, authenticated=user is not None, user=user)
        if name == "ping":
            return {"ok": 1.0}
        if name == "saslStart":
            if user is not None:
                return error(18, "AuthenticationFailed", "already authenticated")
            if command.get("mechanism") != "MONGODB-AWS":
                return error(334, "MechanismUnavailable", "only MONGODB-AWS")
            first = bson.decode(command["payload"])
            nonce, flag = first.get("r"), first.get("p")
            if not isinstance(nonce, bytes) or len(nonce) != 32 or flag not in (110, 121, 112):
                return error(18, "AuthenticationFailed", "bad client-first payload")
            state = {"nonce": nonce + os.urandom(32), "host": STS_HOST, "flag": flag}
            payload = bson.encode({"s": state["nonce"], "h": STS_HOST})
            return {"conversationId": 1, "done": False, "payload": payload, "ok": 1.0}, None, state
        if name == "saslContinue":
            if conversation is None:
                return error(18, "AuthenticationFailed", "no conversation")
            arn, reason = check_identity(conversation, bson.decode(command["payload"]))
            log(AUTH_LOG, ok=reason is None, arn=arn, reason=reason)
            if reason is not None:
                return error(18, "AuthenticationFailed", "Authentication failed."), None, None
            return {"conversationId": 1, "done": True, "payload": b"", "ok": 1.0}, arn, None
        if name in ("endSessions", "killCursors"):
            return {"ok": 1.0}
        if name.lower() == "buildinfo":
            return {"version": "5.0.0", "versionArray": [5, 0, 0, 0], "ok": 1.0}
        if user is None:
            return error(13, "Unauthorized", "command {} requires authentication".format(name))
        key = (db, command.get(name))
        with LOCK:
            docs = COLLECTIONS.setdefault(key, [])
            if name == "insert":
                for doc in command.get("documents", []):
                    doc.setdefault("_id", ObjectId())
                    docs.append(doc)
                return {"n": len(command.get("documents", [])), "ok": 1.0}
            if name == "find":
                found = [d for d in docs if matches(d, command.get("filter"))]
                return {"cursor": {"firstBatch": found, "id": Int64(0), "ns": "{}.{}".format(*key)}, "ok": 1.0}
            if name == "delete":
                n = 0
                for spec in command.get("deletes", []):
                    hit = [d for d in docs if matches(d, spec.get("q"))]
                    if spec.get("limit"):
                        hit = hit[:1]
                    for d in hit:
                        docs.remove(d)
                    n += len(hit)
                return {"n": n, "ok": 1.0}
        return error(59, "CommandNotFound", "no such command: '{}'".format(name))


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print("PORT", server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
