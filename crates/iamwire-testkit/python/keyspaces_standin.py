"""A stand-in Amazon Keyspaces endpoint for iamwire's tests (no Cassandra or Keyspaces emulator runs here).

It speaks CQL native protocol v3/v4 over TLS, enough for a driver's handshake, its control-connection queries,
USE, CREATE TABLE, INSERT and SELECT. Authentication is checked as Keyspaces checks it:

  STARTUP -> AUTHENTICATE -> AUTH_RESPONSE "SigV4\\0\\0" -> AUTH_CHALLENGE "nonce=<32 hex>" ->
  AUTH_RESPONSE "signature=..,access_key=..,amzdate=..[,session_token=..]" -> AUTH_SUCCESS

The access key must be one the AWS emulator (moto) issued through sts:AssumeRole; its secret and session token
come from the emulator's own record (/moto-api/data.json). The expected response is computed by AWS's own
plugin (cassandra_sigv4) for the same nonce, credentials, region and amzdate, and the client's response must be
byte for byte equal to it: a response off by one byte is refused with a bad-credentials ERROR (0x0100).

With MAX_VERSION 5 it also speaks protocol v5 (as Cassandra 4 does; Keyspaces speaks v3 and v4): after
AUTHENTICATE, frames travel in checksummed segments, through the driver's own SegmentCodec.

Usage: python keyspaces_standin.py CERT KEY MOTO_URL REGION AUTH_LOG [MAX_VERSION]
Prints "PORT <n>" once listening; exits when stdin closes. Each authentication appends one JSON line to
AUTH_LOG: {"ok": bool, "role_arn": ..., "access_key": ..., "reason": ...}.
"""

import datetime
import io
import json
import os
import re
import socket
import socketserver
import ssl
import struct
import sys
import threading
import urllib.request

from botocore.credentials import Credentials
import cassandra_sigv4.auth as plugin
from cassandra.segment import CRC24_LENGTH, CRC32_LENGTH, SegmentCodec

CERT, KEY, MOTO, REGION, AUTH_LOG = sys.argv[1:6]
MAX_VERSION = int(sys.argv[6]) if len(sys.argv) > 6 else 4
VERSIONS = tuple(range(3, MAX_VERSION + 1))
LOG_LOCK = threading.Lock()
TABLES = {}  # (keyspace, table) -> {"columns": [names], "rows": {key: [values]}}
TABLES_LOCK = threading.Lock()
MAX_BODY = 256 * 1024

ERROR, STARTUP, READY, AUTHENTICATE, OPTIONS, SUPPORTED, QUERY, RESULT = 0, 1, 2, 3, 5, 6, 7, 8
REGISTER, AUTH_CHALLENGE, AUTH_RESPONSE, AUTH_SUCCESS = 0x0B, 0x0E, 0x0F, 0x10
PROTOCOL_ERROR, BAD_CREDENTIALS, INVALID = 0x000A, 0x0100, 0x2200
VARCHAR, UUID, INET, SET = 0x000D, 0x000C, 0x0010, 0x0022


def log_auth(**entry):
    with LOG_LOCK, open(AUTH_LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


def string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def long_bytes(b):
    return struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b


def string_list(items):
    return struct.pack(">H", len(items)) + b"".join(string(i) for i in items)


def error_body(code, message):
    return struct.pack(">i", code) + string(message)


def rows(keyspace, table, columns, data):
    """RESULT Rows: columns as (name, type option bytes); data as lists of encoded cells."""
    body = struct.pack(">iii", 2, 0x0001, len(columns)) + string(keyspace) + string(table)
    for name, option in columns:
        body += string(name) + option
    body += struct.pack(">i", len(data))
    for row in data:
        body += b"".join(long_bytes(cell) for cell in row)
    return body


def opt(type_id, element=None):
    out = struct.pack(">H", type_id)
    if element is not None:
        out += struct.pack(">H", element)
    return out


def moto_credentials(access_key):
    """The emulator's record of the assumed-role session that owns `access_key`, or None."""
    with urllib.request.urlopen(MOTO + "/moto-api/data.json", timeout=10) as answer:
        data = json.load(answer)
    for session in data.get("sts", {}).get("AssumedRole", []):
        if session.get("access_key_id") == access_key:
            return session
    return None


def check_sigv4(nonce, response):
    """(role_arn, None) if `response` is what the plugin computes, else (role_arn or None, reason)."""
    fields = dict(part.split("=", 1) for part in response.split(",") if "=" in part)
    access_key, amzdate = fields.get("access_key"), fields.get("amzdate")
    if not access_key or not amzdate:
        return None, "the response lacks access_key or amzdate"
    session = moto_credentials(access_key)
    if session is None:
        return None, "the access key was not issued by the emulator"
    try:
        at = datetime.datetime.strptime(amzdate, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return session["role_arn"], "amzdate is malformed"
    if abs((datetime.datetime.utcnow() - at).total_seconds()) > 900:
        return session["role_arn"], "amzdate is more than 15 minutes away"
    creds = Credentials(session["access_key_id"], session["secret_access_key"], session["session_token"])
    signature = plugin._generate_signature(nonce, at, creds, REGION)
    expected = "signature={0},access_key={1},amzdate={2}".format(signature, access_key, plugin._format_timestamp(at))
    if creds.token:
        expected += ",session_token={0}".format(creds.token)
    if response != expected:
        return session["role_arn"], "the response differs from the plugin's"
    return session["role_arn"], None


SYSTEM_LOCAL = [
    ("key", opt(VARCHAR)), ("bootstrapped", opt(VARCHAR)), ("broadcast_address", opt(INET)),
    ("cluster_name", opt(VARCHAR)), ("cql_version", opt(VARCHAR)), ("data_center", opt(VARCHAR)),
    ("host_id", opt(UUID)), ("listen_address", opt(INET)), ("partitioner", opt(VARCHAR)),
    ("rack", opt(VARCHAR)), ("release_version", opt(VARCHAR)), ("rpc_address", opt(INET)),
    ("schema_version", opt(UUID)), ("tokens", opt(SET, VARCHAR)),
]
SYSTEM_PEERS = [
    ("peer", opt(INET)), ("data_center", opt(VARCHAR)), ("host_id", opt(UUID)), ("rack", opt(VARCHAR)),
    ("release_version", opt(VARCHAR)), ("rpc_address", opt(INET)), ("schema_version", opt(UUID)),
    ("tokens", opt(SET, VARCHAR)),
]


def local_row():
    localhost = socket.inet_aton("127.0.0.1")
    tokens = struct.pack(">i", 1) + long_bytes(b"0")
    return [b"local", b"COMPLETED", localhost, b"Amazon Keyspaces stand-in", b"3.4.4", REGION.encode(),
            b"\x11" * 16, localhost, b"org.apache.cassandra.dht.Murmur3Partitioner", b"rack1", b"3.11.2",
            localhost, b"\x22" * 16, tokens]


def literal(text):
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    return text


class Session:
    def __init__(self):
        self.keyspace = None

    def table(self, name):
        name = name.strip().lower()
        if "." in name:
            return tuple(name.split(".", 1))
        return (self.keyspace or "", name)

    def query(self, text):
        q = " ".join(text.strip().rstrip(";").split())
        low = q.lower()
        if "from system.local" in low:
            return RESULT, rows("system", "local", SYSTEM_LOCAL, [local_row()])
        if "from system.peers_v2" in low:
            return ERROR, error_body(INVALID, "unconfigured table peers_v2")
        if "from system.peers" in low:
            return RESULT, rows("system", "peers", SYSTEM_PEERS, [])
        if low.startswith("use "):
            self.keyspace = q[4:].strip().strip('"').lower()
            return RESULT, struct.pack(">i", 3) + string(self.keyspace)
        if low.startswith("create keyspace"):
            return RESULT, struct.pack(">i", 1)
        m = re.match(r"create table (?:if not exists )?([\w.]+) \((.*)\)$", q, re.I)
        if m:
            columns = [c.split()[0].lower() for c in m.group(2).split(",") if not c.strip().lower().startswith("primary key")]
            with TABLES_LOCK:
                TABLES.setdefault(self.table(m.group(1)), {"columns": columns, "rows": {}})
            return RESULT, struct.pack(">i", 1)
        m = re.match(r"insert into ([\w.]+) \(([^)]*)\) values \((.*)\)$", q, re.I)
        if m:
            with TABLES_LOCK:
                table = TABLES.get(self.table(m.group(1)))
                if table is None:
                    return ERROR, error_body(INVALID, "unconfigured table " + m.group(1))
                names = [n.strip().lower() for n in m.group(2).split(",")]
                values = [literal(v) for v in re.findall(r"\s*('(?:[^']|'')*'|[^,]+)\s*(?:,|$)", m.group(3))]
                row = dict(zip(names, values))
                table["rows"][row[table["columns"][0]]] = [row.get(c) for c in table["columns"]]
            return RESULT, struct.pack(">i", 1)
        m = re.match(r"select (.+) from ([\w.]+)(?: where (\w+) = (.+))?$", q, re.I)
        if m:
            key = self.table(m.group(2))
            with TABLES_LOCK:
                table = TABLES.get(key)
                if table is None:
                    return ERROR, error_body(INVALID, "unconfigured table " + m.group(2))
                wanted = table["columns"] if m.group(1).strip() == "*" else [c.strip().lower() for c in m.group(1).split(",")]
                found = list(table["rows"].values())
                if m.group(3):
                    found = [r for r in found if r[table["columns"].index(m.group(3).lower())] == literal(m.group(4))]
                data = [[None if r[table["columns"].index(c)] is None else r[table["columns"].index(c)].encode() for c in wanted] for r in found]
            return RESULT, rows(key[0], key[1], [(c, opt(VARCHAR)) for c in wanted], data)
        return ERROR, error_body(INVALID, "the stand-in does not understand: " + q)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(60)
        try:
            self.sock = self.server.context.wrap_socket(self.request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        self.authenticated = False
        self.nonce = None
        self.session = Session()
        self.segments = None  # a SegmentCodec once v5 has switched
        self.frames = b""
        try:
            while True:
                header = self.read_frame_bytes(9)
                if header is None:
                    return
                version, flags, stream, opcode, length = struct.unpack(">BBhBI", header)
                version &= 0x7F
                if length > MAX_BODY:
                    return
                body = self.read_frame_bytes(length) if length else b""
                if body is None:
                    return
                if version not in VERSIONS:
                    supported = ", ".join("%d/v%d" % (v, v) for v in VERSIONS)
                    self.send(MAX_VERSION, stream, ERROR, error_body(PROTOCOL_ERROR, "Invalid or unsupported protocol version (%d); supported versions are (%s)" % (version, supported)))
                    return
                if not self.dispatch(version, stream, opcode, body):
                    return
        except (OSError, ssl.SSLError):
            return

    def read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def read_frame_bytes(self, n):
        """`n` bytes of frames: from the socket, or from the payloads of v5 segments."""
        while len(self.frames) < n:
            if self.segments is None:
                chunk = self.read(n - len(self.frames))
            else:
                header = self.read(3 + CRC24_LENGTH)
                if header is None:
                    return None
                decoded = self.segments.decode_header(io.BytesIO(header))
                rest = self.read(decoded.payload_length + CRC32_LENGTH)
                if rest is None:
                    return None
                chunk = self.segments.decode(io.BytesIO(rest), decoded).payload
            if chunk is None:
                return None
            self.frames += chunk
        out, self.frames = self.frames[:n], self.frames[n:]
        return out

    def send(self, version, stream, opcode, body):
        frame = struct.pack(">BBhBI", 0x80 | version, 0, stream, opcode, len(body)) + body
        if self.segments is not None:
            buffer = io.BytesIO()
            self.segments.encode(buffer, frame)
            frame = buffer.getvalue()
        self.sock.sendall(frame)

    def dispatch(self, version, stream, opcode, body):
        if opcode == OPTIONS:
            versions = ["%d/v%d" % (v, v) for v in VERSIONS]
            supported = struct.pack(">H", 3) + string("CQL_VERSION") + string_list(["3.4.4"]) + string("COMPRESSION") + string_list([]) + string("PROTOCOL_VERSIONS") + string_list(versions)
            self.send(version, stream, SUPPORTED, supported)
        elif opcode == STARTUP:
            self.send(version, stream, AUTHENTICATE, string("com.amazonaws.cassandra.DefaultPasswordAuthenticator"))
            if version >= 5:
                self.segments = SegmentCodec()
        elif opcode == AUTH_RESPONSE:
            (n,) = struct.unpack(">i", body[:4])
            token = body[4:4 + n] if n >= 0 else b""
            if self.nonce is None:
                if token != b"SigV4\0\0":
                    log_auth(ok=False, role_arn=None, access_key=None, reason="not a SigV4 opening")
                    self.send(version, stream, ERROR, error_body(BAD_CREDENTIALS, "Authentication failure: SigV4 expected"))
                    return False
                self.nonce = os.urandom(16).hex().encode()
                self.send(version, stream, AUTH_CHALLENGE, long_bytes(b"nonce=" + self.nonce))
                return True
            role_arn, reason = check_sigv4(self.nonce, token.decode("utf-8", "replace"))
            access_key = dict(p.split("=", 1) for p in token.decode("utf-8", "replace").split(",") if "=" in p).get("access_key")
            log_auth(ok=reason is None, role_arn=role_arn, access_key=access_key, reason=reason)
            if reason is not None:
                self.send(version, stream, ERROR, error_body(BAD_CREDENTIALS, "Authentication failure: " + reason))
                return False
            self.authenticated = True
            self.send(version, stream, AUTH_SUCCESS, long_bytes(None))
        elif not self.authenticated:
            self.send(version, stream, ERROR, error_body(BAD_CREDENTIALS, "Authentication required"))
            return False
        elif opcode == REGISTER:
            self.send(version, stream, READY, b"")
        elif opcode == QUERY:
            (n,) = struct.unpack(">i", body[:4])
            op, answer = self.session.query(body[4:4 + n].decode())
            self.send(version, stream, op, answer)
        else:
            self.send(version, stream, ERROR, error_body(PROTOCOL_ERROR, "opcode %d is not supported by the stand-in" % opcode))
        return True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(CERT, KEY)


def main():
    server = Server()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
