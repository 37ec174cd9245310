//! Attacks on the PostgreSQL listener, on raw sockets: each must end in an `ErrorResponse` with the right
//! SQLSTATE or a close, within the handshake timeout (give or take the rig's generous bound).

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{BOUND, Closed, IAM_USER, Rig, idle, send_then_closed, slowloris, tcp, truncated};

const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
const GSSENC_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];

/// A v3.0 StartupMessage with `params` (name, value pairs).
fn startup(params: &[(String, String)]) -> Vec<u8> {
    let mut body = vec![0, 3, 0, 0];
    for (k, v) in params {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = u32::try_from(body.len() + 4)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(&body);
    out
}

/// The usual StartupMessage: `iam_user` on `app`.
fn login() -> Vec<u8> {
    startup(&[
        ("user".into(), IAM_USER.into()),
        ("database".into(), "app".into()),
    ])
}

/// The SQLSTATE of the first `ErrorResponse` in `bytes` (which may start with `S`/`N` answers to
/// negotiation requests, or follow other messages).
pub(crate) fn sqlstate(bytes: &[u8]) -> Option<String> {
    (0..bytes.len()).find_map(|i| {
        if bytes[i] != b'E' || i + 5 > bytes.len() {
            return None;
        }
        let len = u32::from_be_bytes(bytes[i + 1..i + 5].try_into().ok()?) as usize;
        let body = bytes.get(i + 5..i + 1 + len)?;
        body.split(|b| *b == 0)
            .find_map(|f| f.strip_prefix(b"C"))
            .filter(|code| code.len() == 5)
            .map(|code| String::from_utf8_lossy(code).into_owned())
    })
}

/// `closed` carries an `ErrorResponse` with `code`.
fn assert_code(closed: &Closed, code: &str, what: &str) {
    assert_eq!(
        sqlstate(&closed.bytes).as_deref(),
        Some(code),
        "postgres {what}: {:?}",
        String::from_utf8_lossy(&closed.bytes)
    );
    super::report("postgres", what, &format!("`{code}`, closed"), closed);
}

/// A plaintext connection that asked for TLS and got `S`.
async fn after_ssl_request(rig: &Rig) -> tokio::net::TcpStream {
    let mut s = tcp(rig.ports[0]).await;
    s.write_all(&SSL_REQUEST).await.unwrap();
    let mut answer = [0u8; 1];
    s.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"S");
    s
}

/// Every attack, one after another.
pub(crate) async fn attacks(rig: &Rig) {
    let port = rig.ports[0];

    // Garbage where the TLS ClientHello belongs.
    let mut s = after_ssl_request(rig).await;
    let closed = send_then_closed(&mut s, &[0x42; 512], "garbage ClientHello").await;
    super::report(
        "postgres",
        "garbage instead of a ClientHello",
        "closed",
        &closed,
    );

    // Plaintext where TLS is required.
    let closed = send_then_closed(&mut tcp(port).await, &login(), "plaintext").await;
    assert_code(&closed, "28000", "plaintext StartupMessage");

    // Length prefixes: u32::MAX, negative as i32, 16 MiB + 1, and shorter than the header itself.
    for (name, len, code) in [
        ("length u32::MAX", u32::MAX, "08P01"),
        ("length negative (i32)", 0x8000_0000, "08P01"),
        ("length 16 MiB + 1", 16 * 1024 * 1024 + 1, "54000"),
        ("length 3 (below the header)", 3, "08P01"),
    ] {
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0, 3, 0, 0]);
        let closed = send_then_closed(&mut tcp(port).await, &bytes, name).await;
        assert_code(&closed, code, name);
    }

    // An unknown request code where the StartupMessage belongs.
    let unknown = [0, 0, 0, 8, 0x12, 0x34, 0x56, 0x78];
    let closed = send_then_closed(&mut tcp(port).await, &unknown, "unknown code").await;
    assert_code(&closed, "0A000", "unknown protocol / request code");

    // Truncated: half a StartupMessage, then end of file; half a TLS record, then end of file.
    truncated(
        tcp(port).await,
        &login()[..7],
        "postgres",
        "truncated StartupMessage, then EOF",
    )
    .await;
    truncated(
        after_ssl_request(rig).await,
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00],
        "postgres",
        "truncated ClientHello, then EOF",
    )
    .await;

    // Huge parameter counts: 10,000 startup parameters, inside TLS.
    let params: Vec<_> = (0..10_000)
        .map(|i| (format!("p{i}"), "v".to_owned()))
        .chain([("user".into(), IAM_USER.into())])
        .collect();
    let mut s = rig.tls(after_ssl_request(rig).await).await.unwrap();
    let closed = send_then_closed(&mut s, &startup(&params), "10,000 parameters").await;
    assert_code(&closed, "54000", "StartupMessage with 10,000 parameters");

    // Repeated negotiation: SSLRequest again inside TLS; 100 GSSENCRequests; 100 SSLRequests at once
    // (the bytes after the first are data sent before TLS began).
    let mut s = rig.tls(after_ssl_request(rig).await).await.unwrap();
    let closed = send_then_closed(&mut s, &SSL_REQUEST, "SSLRequest inside TLS").await;
    assert_code(&closed, "08P01", "SSLRequest again inside TLS");
    let gss = GSSENC_REQUEST.repeat(100);
    let closed = send_then_closed(&mut tcp(port).await, &gss, "100 GSSENCRequests").await;
    assert!(
        closed.bytes.iter().take_while(|b| **b == b'N').count() <= 1,
        "{:?}",
        closed.bytes
    );
    assert_code(&closed, "08P01", "100 GSSENCRequests in a row");
    let ssl = SSL_REQUEST.repeat(100);
    let closed = send_then_closed(&mut tcp(port).await, &ssl, "100 SSLRequests").await;
    assert_code(
        &closed,
        "08P01",
        "100 SSLRequests at once (data before TLS)",
    );

    // Unknown message type after login (the database's own answer, relayed).
    let mut s = rig.tls(after_ssl_request(rig).await).await.unwrap();
    s.write_all(&login()).await.unwrap();
    let mut seen = Vec::new();
    let started = Instant::now();
    while !seen.windows(5).any(|w| w == b"Z\0\0\0\x05") {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(BOUND, s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0 && started.elapsed() < BOUND,
            "no ReadyForQuery: {seen:?}"
        );
        seen.extend_from_slice(&buf[..n]);
    }
    let closed = send_then_closed(&mut s, b"\x7f\0\0\0\x04", "unknown type").await;
    assert_code(&closed, "08P01", "unknown message type after login");

    // Slowloris and idle clients: the handshake timeout ends them.
    let started = Instant::now();
    let closed = slowloris(tcp(port).await, &login(), started, "postgres slowloris").await;
    assert_code(&closed, "08P01", "slowloris (a byte a second)");
    let started = Instant::now();
    let closed = idle(tcp(port).await, started, "idle").await;
    assert_code(&closed, "08P01", "idle, never sends a byte");
    let started = Instant::now();
    let closed = idle(
        rig.tls(after_ssl_request(rig).await).await.unwrap(),
        started,
        "idle in TLS",
    )
    .await;
    assert_code(&closed, "08P01", "TLS done, never sends a StartupMessage");
}
