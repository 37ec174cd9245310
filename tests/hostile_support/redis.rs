//! Attacks on the Redis listener (TLS from the first byte), on raw sockets: each must end in an error
//! reply with the right prefix (`-ERR`, `-NOAUTH`, ...) or a close, within the handshake timeout (give or
//! take the rig's generous bound).

use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{BOUND, Closed, Rig, idle, send_then_closed, slowloris, tcp, truncated, until_closed};

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A command as a RESP array of bulk strings.
fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

/// The first line the proxy sent.
fn first_line(bytes: &[u8]) -> String {
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line).trim_end().to_owned()
}

/// `closed` starts with an error reply beginning with `prefix`.
fn assert_reply(closed: &Closed, prefix: &str, what: &str) {
    let line = first_line(&closed.bytes);
    assert!(line.starts_with(prefix), "redis {what}: {line:?}");
    super::report("redis", what, &format!("`{prefix}`, closed"), closed);
}

/// One reply line (enough for the simple and error replies these attacks get).
async fn reply<S: AsyncRead + Unpin>(s: &mut S) -> String {
    let mut line = Vec::new();
    let started = Instant::now();
    while !line.ends_with(b"\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(BOUND, s.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert!(n == 1 && started.elapsed() < BOUND, "no reply: {line:?}");
        line.push(byte[0]);
    }
    String::from_utf8_lossy(&line).trim_end().to_owned()
}

/// `AUTH admin x` through the listener on `port`: the first line of the answer.
pub(crate) async fn auth_reply(rig: &Rig, port: u16) -> String {
    let mut s = rig.tls(tcp(port).await).await.unwrap();
    s.write_all(&command(&["AUTH", "admin", "x"]))
        .await
        .unwrap();
    reply(&mut s).await
}

/// TLS with alice's certificate, nothing said yet.
async fn in_tls(rig: &Rig) -> Tls {
    rig.tls(tcp(rig.ports[2]).await).await.unwrap()
}

/// Every attack, one after another.
pub(crate) async fn attacks(rig: &Rig) {
    let port = rig.ports[2];

    // Garbage instead of a ClientHello; plaintext RESP where TLS is required.
    let closed = send_then_closed(&mut tcp(port).await, &[0x42; 512], "garbage").await;
    super::report(
        "redis",
        "garbage instead of a ClientHello",
        "closed",
        &closed,
    );
    let ping = command(&["PING"]);
    let closed = send_then_closed(&mut tcp(port).await, &ping, "plaintext").await;
    super::report("redis", "plaintext PING", "closed", &closed);

    // Length prefixes, unknown types, deep nesting, huge argument counts, before AUTH.
    let deep = "*1\r\n".repeat(10_000);
    let many = format!("*1000000\r\n{}", "$1\r\na\r\n".repeat(10_000));
    for (what, bytes) in [
        ("array length u32::MAX", "*4294967295\r\n".to_owned()),
        // Redis skips a negative count as an empty command; so does the proxy, until the timeout.
        ("array length negative", "*-2\r\n".to_owned()),
        (
            "bulk length overflowing i64",
            "*1\r\n$99999999999999999999\r\n".to_owned(),
        ),
        ("bulk length 16 MiB + 1", "*1\r\n$16777217\r\n".to_owned()),
        ("unknown type byte", "\x01hello\r\n".to_owned()),
        (
            "RESP3 map where a command belongs",
            "%1\r\n+a\r\n+b\r\n".to_owned(),
        ),
        ("arrays nested 10,000 deep", deep),
        ("a command of 1,000,000 arguments", many),
    ] {
        let mut s = in_tls(rig).await;
        let closed = send_then_closed(&mut s, bytes.as_bytes(), what).await;
        assert_reply(&closed, "-ERR", what);
    }

    // Truncated: half a command, then end of file (close_notify); a ClientHello cut short.
    truncated(
        in_tls(rig).await,
        b"*2\r\n$4\r\nAU",
        "redis",
        "truncated command, then EOF",
    )
    .await;
    truncated(
        tcp(port).await,
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00],
        "redis",
        "truncated ClientHello, then EOF",
    )
    .await;

    // Repeated negotiation before AUTH: 100 HELLO 3 in one write; commands before AUTH.
    let mut s = in_tls(rig).await;
    let hellos = command(&["HELLO", "3"]).repeat(100);
    s.write_all(&hellos).await.unwrap();
    assert!(reply(&mut s).await.starts_with("-NOAUTH"));
    let closed = until_closed(&mut s, Instant::now(), "100 HELLO 3").await;
    super::report(
        "redis",
        "100 HELLO 3 before AUTH",
        "`-NOAUTH` each, closed at the timeout",
        &closed,
    );

    // Identity change mid-session: AUTH and HELLO AUTH as a user alice may not be are refused and the
    // session goes on as `admin`.
    let mut s = in_tls(rig).await;
    let started = Instant::now();
    s.write_all(&command(&["AUTH", "admin", "x"]))
        .await
        .unwrap();
    assert_eq!(reply(&mut s).await, "+OK");
    s.write_all(&command(&["AUTH", "app", "x"])).await.unwrap();
    let auth = reply(&mut s).await;
    s.write_all(&command(&["HELLO", "2", "AUTH", "app", "x"]))
        .await
        .unwrap();
    let hello = reply(&mut s).await;
    s.write_all(&command(&["ACL", "WHOAMI"])).await.unwrap();
    let whoami = (reply(&mut s).await, reply(&mut s).await);
    let closed = Closed {
        bytes: Vec::new(),
        after: started.elapsed(),
    };
    assert!(auth.starts_with("-NOPERM"), "{auth}");
    assert!(hello.starts_with("-NOPERM"), "{hello}");
    assert_eq!(whoami.1, "admin", "{whoami:?}");
    let result = "`-NOPERM`, session goes on as `admin`";
    super::report(
        "redis",
        "AUTH / HELLO AUTH as another user mid-session",
        result,
        &closed,
    );

    // Slowloris and idle clients: the handshake timeout ends them.
    let started = Instant::now();
    let auth = command(&["AUTH", "admin", "x"]);
    let closed = slowloris(in_tls(rig).await, &auth, started, "redis slowloris").await;
    assert_reply(&closed, "-ERR", "slowloris in TLS (a byte a second)");
    let started = Instant::now();
    let closed = slowloris(
        tcp(port).await,
        &[0x16, 0x03, 0x01],
        started,
        "tls slowloris",
    )
    .await;
    super::report(
        "redis",
        "slowloris ClientHello (a byte a second)",
        "closed",
        &closed,
    );
    let started = Instant::now();
    let closed = idle(tcp(port).await, started, "idle").await;
    super::report("redis", "idle, never sends a byte", "closed", &closed);
    let started = Instant::now();
    let closed = idle(in_tls(rig).await, started, "idle in TLS").await;
    assert_reply(&closed, "-ERR", "TLS done, never sends AUTH");
}
