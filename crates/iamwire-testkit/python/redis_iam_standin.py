"""A stand-in for ElastiCache / MemoryDB IAM authentication, in front of a real Redis.

ElastiCache cannot run here, so this does what it does at login: TLS, then an `AUTH user token` or
`HELLO <ver> AUTH user token [SETNAME name]` whose password must be an IAM token for that user and this cache,
checked by rds_token_verifier.verify_cache (botocore's SigV4 query signer, the emulator's record of the
assumed-role credentials, the 15-minute expiry). A refused token gets ElastiCache's `-WRONGPASS`; an accepted one
makes the stand-in log in to the real Redis itself (the user's real password, from the config) and relay. Later
`AUTH` / `HELLO ... AUTH` are checked the same way (re-AUTH), `AUTH` inside MULTI is refused as AWS refuses it,
and a connection whose last accepted AUTH is older than "max_auth_age" seconds is closed (ElastiCache: 12 h).

Usage: python redis_iam_standin.py CONFIG   (prints "PORT <n>" once listening; exits when stdin closes)

CONFIG (JSON): the verifier's keys ("service", "cache_names", "serverless", "region", "moto_url", "static_keys",
"venv") plus "cert", "key" (the listener's TLS), "redis_port", "redis_ca", "passwords" ({"app": "app-pass"}),
"max_auth_age" (seconds or null), "log" (one decision per line, never a token), "auths" (one JSON object per
AUTH: the connection's number, login or reauth, the user, accepted or not, the token's X-Amz-Date, the time; never
a token) and "tokens" (every token received, one a line, so that a test can prove none of them leaked anywhere).
"""

import asyncio
import itertools
import json
import os
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rds_token_verifier as verifier  # noqa: E402

WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


async def read_command(reader):
    """One command (a RESP array of bulk strings): its arguments and its exact bytes."""
    line = await reader.readuntil(b"\r\n")
    if not line.startswith(b"*"):
        raise ValueError("not a RESP array")
    raw, args = [line], []
    for _ in range(int(line[1:-2])):
        header = await reader.readuntil(b"\r\n")
        data = await reader.readexactly(int(header[1:-2]) + 2)
        raw.extend((header, data))
        args.append(data[:-2])
    return args, b"".join(raw)


class StandIn:
    def __init__(self, config):
        self.config = config
        self.connections = itertools.count(1)

    def log(self, line):
        with open(self.config["log"], "a") as f:
            f.write(line + "\n")

    def record(self, conn, what, user, token, accepted):
        """One AUTH in the "auths" record (never the token), and the token in the "tokens" file."""
        try:
            signed = verifier._parse(token.decode("utf-8", "replace"))[2].get("X-Amz-Date")
        except Exception:
            signed = None
        entry = {"conn": conn, "what": what, "user": user.decode("utf-8", "replace"), "accepted": accepted,
                 "signed": signed, "at": time.time()}
        if self.config.get("auths"):
            with open(self.config["auths"], "a") as f:
                f.write(json.dumps(entry) + "\n")
        if self.config.get("tokens"):
            with open(self.config["tokens"], "a") as f:
                f.write(token.decode("utf-8", "replace").replace("\n", " ") + "\n")

    def login_of(self, args):
        """(user, token, rewrite) for AUTH / HELLO ... AUTH, where rewrite(password) is the command for Redis."""
        name = args[0].upper()
        if name == b"AUTH" and len(args) == 3:
            return args[1], args[2], lambda pw: [b"AUTH", args[1], pw]
        if name == b"HELLO" and len(args) >= 5 and args[2].upper() == b"AUTH":
            rest = args[5:]
            return args[3], args[4], lambda pw: [b"HELLO", args[1], b"AUTH", args[3], pw] + rest
        return None

    def check(self, user, token, what, conn):
        """The real password for `user` if `token` is a valid IAM token for it, else None."""
        password = self.verify(user, token, what)
        self.record(conn, what, user, token, password is not None)
        return password

    def verify(self, user, token, what):
        name = user.decode("utf-8", "replace")
        try:
            verifier.verify_cache(self.config, name, token.decode("utf-8", "replace"))
        except verifier.Rejected as e:
            self.log(f"reject {what} user={name!r} reason={e}")
            return None
        except Exception as e:  # a verifier bug must never let anyone in
            self.log(f"reject {what} user={name!r} error={type(e).__name__}: {e}")
            return None
        password = self.config["passwords"].get(name)
        if password is None:
            self.log(f"reject {what} user={name!r} reason=no such user")
            return None
        self.log(f"accept {what} user={name!r}")
        return password.encode()

    async def serve(self, reader, writer):
        try:
            await self.session(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, ssl.SSLError, OSError):
            pass
        finally:
            writer.close()

    async def session(self, reader, writer):
        conn = next(self.connections)
        while True:  # until a login is accepted
            args, _ = await read_command(reader)
            login = self.login_of(args) if args else None
            if login is None:
                writer.write(b"-NOAUTH Authentication required.\r\n")
                await writer.drain()
                continue
            user, token, rewrite = login
            password = self.check(user, token, "login", conn)
            if password is None:
                writer.write(WRONGPASS)
                await writer.drain()
                continue
            break
        ctx = ssl.create_default_context(cafile=self.config["redis_ca"])
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self.config["redis_port"], ssl=ctx, server_hostname="localhost"
        )
        up_writer.write(encode(rewrite(password)))
        state = {"last_auth": time.monotonic()}
        tasks = [
            asyncio.create_task(self.copy(up_reader, writer)),
            asyncio.create_task(self.commands(reader, up_writer, state, conn)),
            asyncio.create_task(self.watchdog(state)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            up_writer.close()

    async def copy(self, src, dst):
        while True:
            data = await src.read(65536)
            if not data:
                return
            dst.write(data)
            await dst.drain()

    async def commands(self, reader, up_writer, state, conn):
        in_multi = False
        while True:
            args, raw = await read_command(reader)
            if not args:
                continue
            name = args[0].upper()
            login = self.login_of(args)
            if login is not None:
                user, token, rewrite = login
                if in_multi:
                    self.log(f"reject reauth user={user.decode('utf-8', 'replace')!r} reason=AUTH inside MULTI")
                    raw = encode([b"AUTH"])  # refused when queued: the transaction aborts
                else:
                    password = self.check(user, token, "reauth", conn)
                    if password is not None:
                        state["last_auth"] = time.monotonic()
                    # A refused token gets Redis's own WRONGPASS, in its place among the replies.
                    raw = encode(rewrite(password if password is not None else b"\x00refused"))
            elif name == b"MULTI":
                in_multi = True
            elif name in (b"EXEC", b"DISCARD", b"RESET"):
                in_multi = False
            up_writer.write(raw)
            await up_writer.drain()

    async def watchdog(self, state):
        limit = self.config.get("max_auth_age")
        if not limit:
            await asyncio.Event().wait()
        while True:
            await asyncio.sleep(0.2)
            if time.monotonic() - state["last_auth"] > limit:
                self.log("expired: no AUTH within max_auth_age; connection closed")
                return


async def main(config_path):
    with open(config_path) as f:
        config = json.load(f)
    verifier._venv_path(config.get("venv"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(config["cert"], config["key"])
    standin = StandIn(config)
    server = await asyncio.start_server(standin.serve, "127.0.0.1", 0, ssl=ctx, limit=1 << 20)
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # the test ended: stdin closed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
