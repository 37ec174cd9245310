//! Attacks on the MySQL listener, on raw sockets (the proxy greets first; TLS starts after the client's
//! SSLRequest packet), and COM_CHANGE_USER with mysql_async: each must end in an ERR packet with the right
//! errno or a close, within the handshake timeout (give or take the rig's generous bound).

use std::time::Instant;

use mysql_async::prelude::Queryable;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::steady::my_session;
use super::{BOUND, Closed, IAM_USER, Rig, idle, send_then_closed, slowloris, tcp, truncated};
use crate::my_support::async_code;

/// CLIENT_LONG_PASSWORD | CONNECT_WITH_DB | PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH |
/// CONNECT_ATTRS | PLUGIN_AUTH_LENENC_CLIENT_DATA; with or without CLIENT_SSL.
const CAPS: u32 = 0x1 | 0x8 | 0x200 | 0x8000 | 0x8_0000 | 0x10_0000 | 0x20_0000;
const CLIENT_SSL: u32 = 0x800;

/// A packet: 3-byte length, sequence id, payload.
fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
    let mut out = vec![len[0], len[1], len[2], seq];
    out.extend_from_slice(payload);
    out
}

/// The 32 bytes every handshake response (and the SSLRequest) starts with.
fn fixed(caps: u32) -> Vec<u8> {
    let mut out = caps.to_le_bytes().to_vec();
    out.extend_from_slice(&(16u32 << 20).to_le_bytes());
    out.push(45); // utf8mb4
    out.extend_from_slice(&[0; 23]);
    out
}

/// A length-encoded integer (lengths below 2^24 here).
fn lenenc(n: usize, out: &mut Vec<u8>) {
    if n < 251 {
        out.push(u8::try_from(n).unwrap());
    } else if n < 1 << 16 {
        out.push(0xfc);
        out.extend_from_slice(&u16::try_from(n).unwrap().to_le_bytes());
    } else {
        out.push(0xfd);
        out.extend_from_slice(&u32::try_from(n).unwrap().to_le_bytes()[..3]);
    }
}

/// HandshakeResponse41 as `iam_user` on `app` (empty password: the certificate is the credential) with
/// `attrs` connection attributes.
fn response(caps: u32, attrs: usize) -> Vec<u8> {
    let mut out = fixed(caps);
    out.extend_from_slice(IAM_USER.as_bytes());
    out.extend_from_slice(b"\0\0app\0mysql_native_password\0");
    let mut kv = Vec::new();
    for i in 0..attrs {
        let key = format!("k{i}");
        lenenc(key.len(), &mut kv);
        kv.extend_from_slice(key.as_bytes());
        lenenc(1, &mut kv);
        kv.push(b'v');
    }
    lenenc(kv.len(), &mut out);
    out.extend_from_slice(&kv);
    out
}

/// The errno of the first ERR packet in `bytes` (after the greeting, or alone).
fn errno(bytes: &[u8]) -> Option<u16> {
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let len = usize::from(bytes[at])
            | usize::from(bytes[at + 1]) << 8
            | usize::from(bytes[at + 2]) << 16;
        let payload = bytes.get(at + 4..at + 4 + len)?;
        if payload.first() == Some(&0xff) && payload.len() >= 3 {
            return Some(u16::from_le_bytes([payload[1], payload[2]]));
        }
        at += 4 + len;
    }
    None
}

/// `closed` carries an ERR packet with `code`.
fn assert_errno(closed: &Closed, code: u16, what: &str) {
    assert_eq!(
        errno(&closed.bytes),
        Some(code),
        "mysql {what}: {:?}",
        String::from_utf8_lossy(&closed.bytes)
    );
    super::report("mysql", what, &format!("ERR `{code}`, closed"), closed);
}

/// Read one packet (the greeting, an OK).
async fn read_packet<S: AsyncRead + Unpin>(s: &mut S) -> Vec<u8> {
    let mut header = [0u8; 4];
    tokio::time::timeout(BOUND, s.read_exact(&mut header))
        .await
        .unwrap()
        .unwrap();
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    let mut payload = vec![0u8; len];
    tokio::time::timeout(BOUND, s.read_exact(&mut payload))
        .await
        .unwrap()
        .unwrap();
    payload
}

/// A connection whose greeting has been read.
async fn greeted(rig: &Rig) -> tokio::net::TcpStream {
    let mut s = tcp(rig.ports[1]).await;
    let greeting = read_packet(&mut s).await;
    assert_eq!(
        greeting.first(),
        Some(&10),
        "protocol 10 greeting: {greeting:?}"
    );
    s
}

/// A connection that sent its SSLRequest (its bytes still plaintext).
async fn ssl_requested(rig: &Rig) -> tokio::net::TcpStream {
    let mut s = greeted(rig).await;
    s.write_all(&packet(1, &fixed(CAPS | CLIENT_SSL)))
        .await
        .unwrap();
    s
}

/// TLS started.
async fn in_tls(rig: &Rig) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    rig.tls(ssl_requested(rig).await).await.unwrap()
}

/// Every attack, one after another.
pub(crate) async fn attacks(rig: &Rig) {
    // Garbage where the TLS ClientHello belongs.
    let mut s = ssl_requested(rig).await;
    let closed = send_then_closed(&mut s, &[0x42; 512], "garbage ClientHello").await;
    super::report(
        "mysql",
        "garbage instead of a ClientHello",
        "closed",
        &closed,
    );

    // Plaintext where TLS is required.
    let mut s = greeted(rig).await;
    let closed = send_then_closed(&mut s, &packet(1, &response(CAPS, 0)), "plaintext").await;
    assert_errno(&closed, 3159, "plaintext HandshakeResponse");

    // Length prefixes: 16 MiB - 1 (the largest, "more follows"), a packet that is too short to be an
    // SSLRequest, and a sequence id out of order.
    let mut s = greeted(rig).await;
    let closed = send_then_closed(&mut s, &[0xff, 0xff, 0xff, 1, 0, 0], "16 MiB").await;
    assert_errno(&closed, 1153, "length 16 MiB - 1 (a continued packet)");
    let mut s = greeted(rig).await;
    let closed = send_then_closed(&mut s, &packet(1, &[0xee]), "1-byte response").await;
    assert_errno(&closed, 1043, "unknown 1-byte response");
    let mut s = greeted(rig).await;
    let closed = send_then_closed(&mut s, &packet(7, &fixed(CAPS | CLIENT_SSL)), "seq").await;
    assert_errno(&closed, 1156, "sequence id out of order");

    // Truncated: half an SSLRequest, then end of file.
    truncated(
        greeted(rig).await,
        &packet(1, &fixed(CAPS | CLIENT_SSL))[..14],
        "mysql",
        "truncated SSLRequest, then EOF",
    )
    .await;

    // Repeated negotiation: a second SSLRequest inside TLS.
    let mut s = in_tls(rig).await;
    let closed = send_then_closed(&mut s, &packet(2, &fixed(CAPS | CLIENT_SSL)), "SSL twice").await;
    assert_errno(&closed, 1043, "SSLRequest twice");

    // Huge parameter counts: 10,000 connection attributes.
    let mut s = in_tls(rig).await;
    let big = packet(2, &response(CAPS | CLIENT_SSL, 10_000));
    let closed = send_then_closed(&mut s, &big, "10,000 attributes").await;
    assert_errno(&closed, 1153, "10,000 connection attributes (79 kB)");

    // Unknown command after a login: the database's own error, relayed; the session goes on.
    let mut s = in_tls(rig).await;
    s.write_all(&packet(2, &response(CAPS | CLIENT_SSL, 2)))
        .await
        .unwrap();
    let ok = read_packet(&mut s).await;
    assert_eq!(ok.first(), Some(&0), "OK after login: {ok:?}");
    s.write_all(&packet(0, &[0xee])).await.unwrap();
    let err = read_packet(&mut s).await;
    assert_eq!(err.first(), Some(&0xff), "{err:?}");
    assert_eq!(u16::from_le_bytes([err[1], err[2]]), 1047, "{err:?}");
    s.write_all(&packet(0, &[0x0e])).await.unwrap(); // COM_PING
    assert_eq!(
        read_packet(&mut s).await.first(),
        Some(&0),
        "the session goes on"
    );
    let closed = send_then_closed(&mut s, &packet(0, &[0x01]), "COM_QUIT").await;
    super::report(
        "mysql",
        "unknown command 0xEE after login",
        "ERR `1047`, session goes on",
        &closed,
    );

    // Identity change mid-session: COM_CHANGE_USER to a user alice may not be.
    let mut conn = my_session(rig).await.unwrap();
    let started = Instant::now();
    let to = mysql_async::ChangeUserOpts::default()
        .with_user(Some("native_user".into()))
        .with_pass(Some("native-pass".into()));
    let error = conn
        .change_user(to)
        .await
        .expect_err("alice may not be native_user");
    assert_eq!(async_code(&error), Some(1045), "{error:?}");
    let closed = Closed {
        bytes: Vec::new(),
        after: started.elapsed(),
    };
    super::report(
        "mysql",
        "COM_CHANGE_USER to a user the identity may not be",
        "ERR `1045`",
        &closed,
    );

    // Slowloris and idle clients: the handshake timeout ends them.
    let started = Instant::now();
    let s = greeted(rig).await;
    let request = packet(1, &fixed(CAPS | CLIENT_SSL));
    let closed = slowloris(s, &request, started, "mysql slowloris").await;
    assert_errno(&closed, 1159, "slowloris (a byte a second)");
    let started = Instant::now();
    let closed = idle(greeted(rig).await, started, "idle").await;
    assert_errno(&closed, 1159, "idle after the greeting");
    let started = Instant::now();
    let closed = idle(in_tls(rig).await, started, "idle in TLS").await;
    assert_errno(&closed, 1159, "TLS done, never sends a HandshakeResponse");

    // After all that, the session whose COM_CHANGE_USER was refused still works.
    let one: Option<u32> = conn.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
}
