//! Attacks on the CQL listener (TLS from the first byte), on raw sockets with hand-built v4 frames, and
//! the DataStax Python driver (the real client the steady session uses): each attack must end in an
//! ERROR frame with the right code or a close, within the handshake timeout (give or take the rig's
//! generous bound).

use std::ffi::OsString;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{
    BOUND, Closed, KEYSPACES_ROLE, Rig, idle, send_then_closed, slowloris, tcp, truncated,
};

const STARTUP: u8 = 0x01;
const AUTHENTICATE: u8 = 0x03;
const OPTIONS: u8 = 0x05;
const QUERY: u8 = 0x07;
const RESULT: u8 = 0x08;
const AUTH_RESPONSE: u8 = 0x0f;
const AUTH_SUCCESS: u8 = 0x10;
/// The protocol error code of an ERROR frame.
const PROTOCOL_ERROR: i32 = 0x000a;

/// A request frame; `len` overrides the header's body length.
fn frame(version: u8, opcode: u8, body: &[u8], len: Option<u32>) -> Vec<u8> {
    let mut out = vec![version, 0, 0, 1, opcode];
    let n = len.unwrap_or_else(|| u32::try_from(body.len()).unwrap());
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A `[string map]` of `pairs`.
fn string_map(pairs: &[(String, String)]) -> Vec<u8> {
    let mut out = u16::try_from(pairs.len()).unwrap().to_be_bytes().to_vec();
    for s in pairs.iter().flat_map(|(k, v)| [k, v]) {
        out.extend_from_slice(&u16::try_from(s.len()).unwrap().to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out
}

fn startup() -> Vec<u8> {
    let options = [("CQL_VERSION".to_owned(), "3.0.0".to_owned())];
    frame(4, STARTUP, &string_map(&options), None)
}

/// The code of the first ERROR frame in `bytes`.
fn error_code(bytes: &[u8]) -> Option<i32> {
    let mut at = 0;
    while at + 9 <= bytes.len() {
        let len =
            usize::try_from(u32::from_be_bytes(bytes[at + 5..at + 9].try_into().ok()?)).ok()?;
        if bytes[at + 4] == 0 {
            return Some(i32::from_be_bytes(
                bytes.get(at + 9..at + 13)?.try_into().ok()?,
            ));
        }
        at += 9 + len;
    }
    None
}

/// `closed` carries an ERROR frame with `code`.
fn assert_code(closed: &Closed, code: i32, what: &str) {
    assert_eq!(
        error_code(&closed.bytes),
        Some(code),
        "cql {what}: {:?}",
        String::from_utf8_lossy(&closed.bytes)
    );
    super::report(
        "cql",
        what,
        &format!("ERROR `0x{code:04X}`, closed"),
        closed,
    );
}

/// One response frame: (opcode, body).
async fn response<S: AsyncRead + Unpin>(s: &mut S) -> (u8, Vec<u8>) {
    try_response(s).await.unwrap()
}

/// One response frame, or what went wrong (nothing within [`BOUND`], a close, a length of 1 MiB or
/// more).
async fn try_response<S: AsyncRead + Unpin>(s: &mut S) -> Result<(u8, Vec<u8>), String> {
    let mut header = [0u8; 9];
    tokio::time::timeout(BOUND, s.read_exact(&mut header))
        .await
        .map_err(|_| format!("no response frame within {BOUND:?}"))?
        .map_err(|e| format!("reading a response frame: {e}"))?;
    let len = usize::try_from(u32::from_be_bytes(header[5..9].try_into().unwrap())).unwrap();
    if len >= 1 << 20 {
        return Err(format!("response length {len}"));
    }
    let mut body = vec![0u8; len];
    tokio::time::timeout(BOUND, s.read_exact(&mut body))
        .await
        .map_err(|_| format!("no response body within {BOUND:?}"))?
        .map_err(|e| format!("reading a response body: {e}"))?;
    Ok((header[4], body))
}

/// A QUERY frame of `text` (stream 1, consistency ONE, no flags).
fn query(text: &str) -> Vec<u8> {
    let mut body = i32::try_from(text.len()).unwrap().to_be_bytes().to_vec();
    body.extend_from_slice(text.as_bytes());
    body.extend_from_slice(&[0, 1, 0]);
    frame(4, QUERY, &body, None)
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn in_tls(rig: &Rig) -> Tls {
    rig.tls(tcp(rig.ports[4]).await).await.unwrap()
}

/// AUTH_RESPONSE with SASL PLAIN naming `user` (the password is not used: the certificate is the
/// identity).
fn auth_response(user: &str) -> Vec<u8> {
    let token = [b"\0", user.as_bytes(), b"\0x"].concat();
    let mut bytes = i32::try_from(token.len()).unwrap().to_be_bytes().to_vec();
    bytes.extend_from_slice(&token);
    frame(4, AUTH_RESPONSE, &bytes, None)
}

/// A login as [`KEYSPACES_ROLE`] through the listener on `port` (STARTUP, AUTHENTICATE, AUTH_RESPONSE):
/// the session and the answer to AUTH_RESPONSE (opcode, body).
pub(crate) async fn login_at(rig: &Rig, port: u16) -> (Tls, u8, Vec<u8>) {
    let mut s = rig.tls(tcp(port).await).await.unwrap();
    s.write_all(&startup()).await.unwrap();
    assert_eq!(response(&mut s).await.0, AUTHENTICATE);
    s.write_all(&auth_response(KEYSPACES_ROLE)).await.unwrap();
    let (op, body) = response(&mut s).await;
    (s, op, body)
}

/// The code of an ERROR frame's body.
pub(crate) fn body_code(body: &[u8]) -> Option<i32> {
    Some(i32::from_be_bytes(body.get(..4)?.try_into().ok()?))
}

/// A session logged in as [`KEYSPACES_ROLE`].
async fn logged_in(rig: &Rig) -> Tls {
    let (s, op, body) = login_at(rig, rig.ports[4]).await;
    assert_eq!(op, AUTH_SUCCESS, "{:?}", String::from_utf8_lossy(&body));
    s
}

/// Every attack, one after another.
pub(crate) async fn attacks(rig: &Rig) {
    let port = rig.ports[4];
    let options = frame(4, OPTIONS, &[], None);

    // Garbage instead of a ClientHello; plaintext where TLS is required.
    let closed = send_then_closed(&mut tcp(port).await, &[0x42; 512], "garbage").await;
    super::report("cql", "garbage instead of a ClientHello", "closed", &closed);
    let closed = send_then_closed(&mut tcp(port).await, &options, "plaintext").await;
    super::report("cql", "plaintext OPTIONS", "closed", &closed);

    // Lengths, opcodes, versions, huge option maps, before the login.
    let body = string_map(&[("CQL_VERSION".to_owned(), "3.0.0".to_owned())]);
    let many: Vec<_> = (0..10_000)
        .map(|i| (format!("k{i}"), "v".to_owned()))
        .collect();
    for (what, bytes) in [
        ("length u32::MAX", frame(4, STARTUP, &body, Some(u32::MAX))),
        (
            "length negative (i32)",
            frame(4, STARTUP, &body, Some(0x8000_0000)),
        ),
        (
            "length 256 MiB + 1",
            frame(4, STARTUP, &body, Some((256 << 20) + 1)),
        ),
        ("unknown opcode 0x77", frame(4, 0x77, &body, None)),
        (
            "STARTUP with 10,000 options",
            frame(4, STARTUP, &string_map(&many), None),
        ),
        ("version 0x7f", frame(0x7f, STARTUP, &body, None)),
        (
            "a response frame from the client",
            frame(0x84, 0x02, &[], None),
        ),
    ] {
        let mut s = in_tls(rig).await;
        let closed = send_then_closed(&mut s, &bytes, what).await;
        assert_code(&closed, PROTOCOL_ERROR, what);
    }

    // Truncated: half a frame, then end of file.
    truncated(
        in_tls(rig).await,
        &startup()[..6],
        "cql",
        "truncated frame, then EOF",
    )
    .await;

    // Repeated negotiation: 100 OPTIONS before STARTUP.
    let mut s = in_tls(rig).await;
    let closed = send_then_closed(&mut s, &options.repeat(100), "100 OPTIONS").await;
    let supported = closed
        .bytes
        .windows(11)
        .filter(|w| w == b"CQL_VERSION")
        .count();
    assert_eq!(supported, 8, "SUPPORTED for the first 8 only");
    assert_code(
        &closed,
        PROTOCOL_ERROR,
        "100 OPTIONS before STARTUP (8 answered)",
    );

    // Identity change: STARTUP, then AUTH_RESPONSE, again after the login (AUTH_SUCCESS). Neither
    // reaches the database (Cassandra would re-authenticate the connection on the second): the proxy
    // answers a protocol error on that frame's stream and ends the session.
    for (what, again) in [
        ("STARTUP again after the login", startup()),
        (
            "AUTH_RESPONSE again after the login",
            auth_response("another-role"),
        ),
    ] {
        let mut s = logged_in(rig).await;
        let started = Instant::now();
        let local = query("SELECT release_version FROM system.local");
        s.write_all(&local).await.unwrap();
        assert_eq!(response(&mut s).await.0, RESULT, "{what}: a query first");
        let mut again = again;
        again[2..4].copy_from_slice(&9i16.to_be_bytes());
        let mut closed = send_then_closed(&mut s, &again, what).await;
        assert_eq!(
            closed.bytes.get(2..4),
            Some(&[0u8, 9][..]),
            "{what}: on its stream"
        );
        closed.after = started.elapsed();
        assert_code(&closed, PROTOCOL_ERROR, what);
    }

    // Slowloris and idle clients: the handshake timeout ends them.
    let started = Instant::now();
    let closed = slowloris(in_tls(rig).await, &startup(), started, "cql slowloris").await;
    assert_code(
        &closed,
        PROTOCOL_ERROR,
        "slowloris in TLS (a byte a second)",
    );
    let started = Instant::now();
    let closed = idle(tcp(port).await, started, "idle").await;
    super::report("cql", "idle, never sends a byte", "closed", &closed);
    let started = Instant::now();
    let closed = idle(in_tls(rig).await, started, "idle in TLS").await;
    assert_code(&closed, PROTOCOL_ERROR, "TLS done, never sends a frame");
}

/// The driver through the proxy: its script and arguments, for
/// [`python_loop`](super::steady::python_loop).
pub(crate) fn driver(rig: &Rig) -> (&'static str, Vec<OsString>) {
    let args = vec![
        rig.ports[4].to_string().into(),
        rig.file("ca.crt").into(),
        rig.file("alice.crt").into(),
        rig.file("alice.key").into(),
        KEYSPACES_ROLE.into(),
    ];
    (crate::py_session::CQL_DRIVER, args)
}

/// The stand-in's table the soak's sessions write to and read back from, one row per session.
const SOAK_TABLE: &str = "soak.rounds";

/// A session through the proxy as [`KEYSPACES_ROLE`] on raw v4 frames (the soak holds hundreds; the
/// DataStax driver, a process and a control connection each, is the steady session's client): each
/// round writes a value to the stand-in's table and reads it back.
pub(crate) struct CqlSession {
    s: Tls,
    /// This session's row.
    key: String,
}

impl CqlSession {
    /// Log in (STARTUP, AUTHENTICATE, AUTH_RESPONSE, AUTH_SUCCESS: the proxy answers the stand-in's
    /// SigV4 challenge) and create the soak's table if it is not there; `key` names this session's row.
    pub(crate) async fn open(rig: &Rig, key: String) -> Result<Self, String> {
        let mut s = rig.connect(rig.ports[4]).await?;
        let io = |e: std::io::Error| format!("send: {e}");
        s.write_all(&startup()).await.map_err(io)?;
        let (op, body) = try_response(&mut s).await?;
        if op != AUTHENTICATE {
            return Err(format!(
                "STARTUP: opcode {op:#04x}, code {:?}",
                body_code(&body)
            ));
        }
        s.write_all(&auth_response(KEYSPACES_ROLE))
            .await
            .map_err(io)?;
        let (op, body) = try_response(&mut s).await?;
        if op != AUTH_SUCCESS {
            return Err(format!(
                "login: opcode {op:#04x}, code {:?}",
                body_code(&body)
            ));
        }
        let mut session = Self { s, key };
        let create =
            format!("CREATE TABLE IF NOT EXISTS {SOAK_TABLE} (k text PRIMARY KEY, v text)");
        session.query(&create).await?;
        Ok(session)
    }

    /// Run `text`: the RESULT's body.
    async fn query(&mut self, text: &str) -> Result<Vec<u8>, String> {
        self.s
            .write_all(&query(text))
            .await
            .map_err(|e| format!("send: {e}"))?;
        let (op, body) = try_response(&mut self.s).await?;
        if op == RESULT {
            Ok(body)
        } else {
            Err(format!(
                "{text}: opcode {op:#04x}, code {:?}",
                body_code(&body)
            ))
        }
    }

    /// Write `n` to this session's row and read it back: one row (a Rows result) whose last cell is
    /// `n`.
    pub(crate) async fn round(&mut self, n: i32) -> Result<(), String> {
        let key = self.key.clone();
        self.query(&format!(
            "INSERT INTO {SOAK_TABLE} (k, v) VALUES ('{key}', '{n}')"
        ))
        .await?;
        let body = self
            .query(&format!("SELECT v FROM {SOAK_TABLE} WHERE k = '{key}'"))
            .await?;
        let value = n.to_string();
        let mut cell = i32::try_from(value.len()).unwrap().to_be_bytes().to_vec();
        cell.extend_from_slice(value.as_bytes());
        let rows = body.get(..4) == Some(&2i32.to_be_bytes()[..]);
        if rows && body.ends_with(&cell) {
            Ok(())
        } else {
            Err(format!(
                "read back {n}: {:?}",
                String::from_utf8_lossy(&body)
            ))
        }
    }

    /// Close the connection (TLS close_notify, then end of file).
    pub(crate) async fn close(mut self) {
        let _ = self.s.shutdown().await;
    }
}
