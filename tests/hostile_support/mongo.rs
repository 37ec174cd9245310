//! Attacks on the MongoDB listener (TLS from the first byte), on raw sockets with hand-built `OP_MSG`s,
//! and pymongo (the real client the steady session uses): each attack must end in a command error with the right code or a
//! close, within the handshake timeout (give or take the rig's generous bound).

use std::ffi::OsString;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{BOUND, Closed, DOCS_ROLE, Rig, idle, send_then_closed, slowloris, tcp, truncated};

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A BSON document of `elements` (each: type byte, name, value bytes).
fn doc(elements: &[(u8, &str, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (kind, name, value) in elements {
        body.push(*kind);
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(value);
    }
    body.push(0);
    let mut out = i32::try_from(body.len() + 4)
        .unwrap()
        .to_le_bytes()
        .to_vec();
    out.extend_from_slice(&body);
    out
}

fn string(s: &str) -> Vec<u8> {
    let mut out = i32::try_from(s.len() + 1).unwrap().to_le_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    out
}

/// `{<name>: 1, $db: <db>, ...extra}`.
fn command(name: &str, db: &str, extra: Vec<(u8, &str, Vec<u8>)>) -> Vec<u8> {
    let mut elements = vec![
        (0x10, name, 1i32.to_le_bytes().to_vec()),
        (0x02, "$db", string(db)),
    ];
    elements.extend(extra);
    doc(&elements)
}

/// An `OP_MSG` (opcode 2013) with `body`; `len` overrides the header's length.
fn op_msg(body: &[u8], opcode: i32, len: Option<u32>) -> Vec<u8> {
    let total = u32::try_from(16 + 4 + 1 + body.len()).unwrap();
    let mut out = len.unwrap_or(total).to_le_bytes().to_vec();
    out.extend_from_slice(&7i32.to_le_bytes()); // requestID
    out.extend_from_slice(&0i32.to_le_bytes()); // responseTo
    out.extend_from_slice(&opcode.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // flags
    out.push(0);
    out.extend_from_slice(body);
    out
}

/// Documents nested `depth` deep: `{a: {a: ... {}}}`.
fn nested(depth: usize) -> Vec<u8> {
    let mut inner = doc(&[]);
    for _ in 0..depth {
        inner = doc(&[(0x03, "a", inner)]);
    }
    inner
}

/// The `code` of the first command error in `bytes`.
fn error_code(bytes: &[u8]) -> Option<i32> {
    let at = bytes.windows(6).position(|w| w == b"\x10code\0")? + 6;
    Some(i32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// `closed` was closed without a reply: a message that cannot be framed or read has no request to
/// answer, and mongod closes the connection on it the same way.
fn assert_silent_close(closed: &Closed, what: &str) {
    assert!(
        closed.bytes.is_empty(),
        "mongodb {what}: {:?}",
        String::from_utf8_lossy(&closed.bytes)
    );
    super::report("mongodb", what, "closed, no reply (as mongod)", closed);
}

/// One reply message.
async fn reply<S: AsyncRead + Unpin>(s: &mut S) -> Vec<u8> {
    try_reply(s).await.unwrap()
}

/// One reply message (after its length), or what went wrong (nothing within [`BOUND`], a close, a
/// length below the header or of 1 MiB or more).
async fn try_reply<S: AsyncRead + Unpin>(s: &mut S) -> Result<Vec<u8>, String> {
    let mut len = [0u8; 4];
    tokio::time::timeout(BOUND, s.read_exact(&mut len))
        .await
        .map_err(|_| format!("no reply within {BOUND:?}"))?
        .map_err(|e| format!("reading a reply: {e}"))?;
    let n = usize::try_from(u32::from_le_bytes(len)).unwrap();
    if !(16..1 << 20).contains(&n) {
        return Err(format!("reply length {n}"));
    }
    let mut rest = vec![0u8; n - 4];
    tokio::time::timeout(BOUND, s.read_exact(&mut rest))
        .await
        .map_err(|_| format!("no whole reply within {BOUND:?}"))?
        .map_err(|e| format!("reading a reply: {e}"))?;
    Ok(rest)
}

/// `saslStart` with PLAIN naming [`DOCS_ROLE`] (the password is not used: the certificate is the
/// identity).
fn sasl_plain() -> Vec<u8> {
    let payload = [b"\0", DOCS_ROLE.as_bytes(), b"\0x"].concat();
    let mut binary = i32::try_from(payload.len()).unwrap().to_le_bytes().to_vec();
    binary.push(0);
    binary.extend_from_slice(&payload);
    let mechanism = (0x02, "mechanism", string("PLAIN"));
    let sasl = command(
        "saslStart",
        "$external",
        vec![mechanism, (0x05, "payload", binary)],
    );
    op_msg(&sasl, 2013, None)
}

/// A login through the listener on `port`: the code of its answer (`None`: logged in).
pub(crate) async fn login_code(rig: &Rig, port: u16) -> Option<i32> {
    let mut s = rig.tls(tcp(port).await).await.unwrap();
    s.write_all(&sasl_plain()).await.unwrap();
    error_code(&reply(&mut s).await)
}

async fn in_tls(rig: &Rig) -> Tls {
    rig.tls(tcp(rig.ports[3]).await).await.unwrap()
}

/// Every attack, one after another.
pub(crate) async fn attacks(rig: &Rig) {
    let port = rig.ports[3];
    let hello = op_msg(&command("hello", "admin", vec![]), 2013, None);

    // Garbage instead of a ClientHello; plaintext where TLS is required.
    let closed = send_then_closed(&mut tcp(port).await, &[0x42; 512], "garbage").await;
    super::report(
        "mongodb",
        "garbage instead of a ClientHello",
        "closed",
        &closed,
    );
    let closed = send_then_closed(&mut tcp(port).await, &hello, "plaintext").await;
    super::report("mongodb", "plaintext hello", "closed", &closed);

    // Message lengths, unknown opcodes, deep nesting, huge documents, before the login.
    let body = command("hello", "admin", vec![]);
    let wide: Vec<_> = (0..100_000)
        .map(|i| (0x10u8, format!("k{i}"), 1i32.to_le_bytes().to_vec()))
        .collect();
    let wide: Vec<_> = wide
        .iter()
        .map(|(t, k, v)| (*t, k.as_str(), v.clone()))
        .collect();
    let deep = command("hello", "admin", vec![(0x03, "x", nested(10_000))]);
    for (what, bytes) in [
        ("length u32::MAX", op_msg(&body, 2013, Some(u32::MAX))),
        (
            "length negative (i32)",
            op_msg(&body, 2013, Some(0x8000_0000)),
        ),
        ("length 48 MiB + 1", op_msg(&body, 2013, Some(48 << 20 | 1))),
        ("length 3 (below the header)", op_msg(&body, 2013, Some(3))),
        ("unknown opcode 9999", op_msg(&body, 9999, None)),
        ("documents nested 10,000 deep", op_msg(&deep, 2013, None)),
        (
            "a document of 100,000 fields (1.1 MB)",
            op_msg(&doc(&wide), 2013, None),
        ),
    ] {
        let mut s = in_tls(rig).await;
        let closed = send_then_closed(&mut s, &bytes, what).await;
        assert_silent_close(&closed, what);
    }

    // Truncated: half a message, then end of file.
    truncated(
        in_tls(rig).await,
        &hello[..10],
        "mongodb",
        "truncated message, then EOF",
    )
    .await;

    // Repeated negotiation: 100 hellos before a login (a monitoring connection's, taken to excess).
    let mut s = in_tls(rig).await;
    let closed = send_then_closed(&mut s, &hello.repeat(100), "100 hellos").await;
    let answered = closed
        .bytes
        .windows(17)
        .filter(|w| w == b"isWritablePrimary")
        .count();
    assert_eq!(answered, 64, "a login must come within 64 commands");
    let result = "64 answered, then closed";
    super::report("mongodb", "100 hellos before a login", result, &closed);

    // Identity changes after the login: saslStart again, logout; the session goes on.
    let mut s = in_tls(rig).await;
    let started = Instant::now();
    s.write_all(&sasl_plain()).await.unwrap();
    let login = reply(&mut s).await;
    assert_eq!(
        error_code(&login),
        None,
        "{:?}",
        String::from_utf8_lossy(&login)
    );
    for name in ["saslStart", "logout", "authenticate"] {
        let db = if name == "logout" {
            "admin"
        } else {
            "$external"
        };
        let extra = vec![(0x02, "mechanism", string("PLAIN"))];
        s.write_all(&op_msg(&command(name, db, extra), 2013, None))
            .await
            .unwrap();
        let refused = reply(&mut s).await;
        assert_eq!(
            error_code(&refused),
            Some(13),
            "{name}: {:?}",
            String::from_utf8_lossy(&refused)
        );
    }
    s.write_all(&op_msg(&command("ping", "admin", vec![]), 2013, None))
        .await
        .unwrap();
    let pong = reply(&mut s).await;
    assert_eq!(
        error_code(&pong),
        None,
        "{:?}",
        String::from_utf8_lossy(&pong)
    );
    let closed = Closed {
        bytes: Vec::new(),
        after: started.elapsed(),
    };
    let result = "code `13` (Unauthorized) each, session goes on";
    super::report(
        "mongodb",
        "saslStart / logout / authenticate after login",
        result,
        &closed,
    );

    // Slowloris and idle clients: the handshake timeout ends them.
    let started = Instant::now();
    let closed = slowloris(in_tls(rig).await, &hello, started, "mongodb slowloris").await;
    assert_silent_close(&closed, "slowloris in TLS (a byte a second)");
    let started = Instant::now();
    let closed = idle(tcp(port).await, started, "idle").await;
    super::report("mongodb", "idle, never sends a byte", "closed", &closed);
    let started = Instant::now();
    let closed = idle(in_tls(rig).await, started, "idle in TLS").await;
    super::report(
        "mongodb",
        "TLS done, never sends a command",
        "closed",
        &closed,
    );
}

/// pymongo as [`DOCS_ROLE`] with alice's certificate (`ARGS`: port, CA, certificate and key in one file,
/// user): a `ping`.
const PYMONGO: &str = r#"
from pymongo import MongoClient
port, ca, certkey, user = ARGS
uri = ("mongodb://{}:x@localhost:{}/?tls=true&authMechanism=PLAIN&authSource=%24external"
       "&directConnection=true&retryWrites=false&serverSelectionTimeoutMS=30000"
       "&connectTimeoutMS=30000").format(user, port)
client = MongoClient(uri, tlsCAFile=ca, tlsCertificateKeyFile=certkey)
def once():
    client.admin.command("ping")
"#;

/// pymongo through the proxy: its script and arguments, for [`python_loop`](super::steady::python_loop).
pub(crate) fn pymongo(rig: &Rig) -> (&'static str, Vec<OsString>) {
    let args = vec![
        rig.ports[3].to_string().into(),
        rig.file("ca.crt").into(),
        rig.file("alice.pem").into(),
        DOCS_ROLE.into(),
    ];
    (PYMONGO, args)
}

/// A session through the proxy as [`DOCS_ROLE`] on raw `OP_MSG`s (the soak holds hundreds; pymongo, a
/// process and a monitoring connection each, is the steady session's client): each round inserts a
/// document into this session's own collection and deletes it again, and the database must count one
/// of each.
pub(crate) struct MongoSession {
    s: Tls,
    collection: String,
}

/// The database the soak's collections are in.
const SOAK_DB: &str = "soak";

impl MongoSession {
    /// Log in (`saslStart` PLAIN; the proxy logs in upstream with MONGODB-AWS); `collection` is this
    /// session's.
    pub(crate) async fn open(rig: &Rig, collection: String) -> Result<Self, String> {
        let s = rig.connect(rig.ports[3]).await?;
        let mut session = Self { s, collection };
        session.command(&sasl_plain()).await?;
        Ok(session)
    }

    /// Send one `OP_MSG` and read its reply, which must not be a command error.
    async fn command(&mut self, msg: &[u8]) -> Result<Vec<u8>, String> {
        self.s
            .write_all(msg)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let reply = try_reply(&mut self.s).await?;
        match error_code(&reply) {
            None => Ok(reply),
            Some(code) => Err(format!(
                "code {code}: {:?}",
                String::from_utf8_lossy(&reply)
            )),
        }
    }

    /// `{<name>: <collection>, $db: soak, <array>: [<element>]}`, counting one document: insert
    /// `{_id: n}`, then delete it.
    async fn one(&mut self, name: &str, array: &str, element: Vec<u8>) -> Result<(), String> {
        let body = doc(&[
            (0x02, name, string(&self.collection)),
            (0x02, "$db", string(SOAK_DB)),
            (0x04, array, doc(&[(0x03, "0", element)])),
        ]);
        let reply = self.command(&op_msg(&body, 2013, None)).await?;
        let at = reply.windows(3).position(|w| w == b"\x10n\0");
        let n = at.and_then(|at| reply.get(at + 3..at + 7));
        if n == Some(&1i32.to_le_bytes()[..]) {
            Ok(())
        } else {
            Err(format!("{name}: {:?}", String::from_utf8_lossy(&reply)))
        }
    }

    /// Insert `{_id: n}` and delete it: one document each time.
    pub(crate) async fn round(&mut self, n: i32) -> Result<(), String> {
        let id = doc(&[(0x10, "_id", n.to_le_bytes().to_vec())]);
        self.one("insert", "documents", id.clone()).await?;
        let limit = (0x10, "limit", 1i32.to_le_bytes().to_vec());
        self.one("delete", "deletes", doc(&[(0x03, "q", id), limit]))
            .await
    }

    /// Close the connection (TLS close_notify, then end of file).
    pub(crate) async fn close(mut self) {
        let _ = self.s.shutdown().await;
    }
}
