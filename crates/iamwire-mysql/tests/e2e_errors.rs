//! How sessions fail, as clients see it: real MySQL error codes and SQLSTATEs, the database's own
//! refusals passed through, the remedy in the message, never a secret — and nothing sent to a
//! database that does not offer TLS. Fake databases here are built on mysql_common's packets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use e2e_support::*;
use iamwire_core::StaticPasswordInjector;
use iamwire_core::tls::ClientAuth;
use iamwire_mysql::codec::{ErrPacket, PacketDecoder};
use iamwire_testkit::TestCa;
use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};
use mysql_async::prelude::Queryable;
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::packets::{HandshakePacket, ServerError, SqlState};
use mysql_common::proto::MySerialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const USER: &str = mariadb::NATIVE_USER.0;

fn injector(password: &str) -> Arc<StaticPasswordInjector> {
    Arc::new(StaticPasswordInjector::new(password))
}

/// A fake database that sends `first` (a framed packet) to each connection and records what it gets.
async fn fake_database(first: Vec<u8>) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    tokio::spawn(async move {
        loop {
            let (mut tcp, _) = listener.accept().await.unwrap();
            tcp.write_all(&first).await.unwrap();
            let mut buf = Vec::new();
            let _ = tcp.read_to_end(&mut buf).await;
            sink.lock().unwrap().extend(buf);
        }
    });
    (port, received)
}

fn framed(packet: &impl MySerialize) -> Vec<u8> {
    let mut payload = Vec::new();
    packet.serialize(&mut payload);
    let mut out = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    out.push(0);
    out.extend(payload);
    out
}

async fn refused(login: &Login) -> (u16, String) {
    let error = async_conn(login).await.expect_err("refused");
    (async_code(&error).unwrap_or(0), error.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_goes_wrong_with_the_database_reaches_the_client_with_its_code() {
    let ca = TestCa::new().unwrap();
    let db = MariaDb::start(&ca, MariaDbOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let alice = client_files(&ca, dir.path(), "alice");
    let start = |port: u16, password: &str| {
        start_proxy(
            &ca,
            ClientAuth::Required,
            allow_alice(&[USER]),
            database(port),
            injector(password),
            |b| b,
        )
    };

    // The database refuses the login: its 1045 and message, never the password.
    let (_p, addr) = start(db.port(), "a-wrong-secret").await;
    let (code, text) = refused(&Login::mtls(addr, USER, &alice)).await;
    assert_eq!(code, 1045, "{text}");
    assert!(
        text.contains("Access denied for user 'native_user'"),
        "{text}"
    );
    assert!(!text.contains("a-wrong-secret"), "{text}");

    // Nothing listens: 2003, naming where the proxy dialed.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (_p, addr) = start(port, "pw").await;
    let (code, text) = refused(&Login::mtls(addr, USER, &alice)).await;
    assert_eq!(code, 2003, "{text}");
    assert!(text.contains(&format!("localhost:{port}")), "{text}");

    // A database without TLS: 2026, and not one byte of a login reaches it.
    let caps = CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH;
    let greeting = HandshakePacket::new(
        10,
        &b"8.0.36"[..],
        5,
        *b"abcdefgh",
        Some(&b"ijklmnopqrst\0"[..]),
        caps,
        45,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        Some(&b"mysql_native_password"[..]),
    );
    let (port, received) = fake_database(framed(&greeting)).await;
    let (_p, addr) = start(port, "must-never-travel").await;
    let (code, text) = refused(&Login::mtls(addr, USER, &alice)).await;
    assert_eq!(code, 2026, "{text}");
    assert!(text.contains("TLS"), "{text}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        received.lock().unwrap().is_empty(),
        "the proxy sent a login"
    );

    // A database that refuses before its greeting: its 1040 comes through.
    let err = mysql_common::packets::ErrPacket::Error(ServerError::new(
        1040,
        Some(SqlState::new(*b"08004")),
        &b"Too many connections"[..],
    ));
    let (port, _) = fake_database(framed(&err)).await;
    let (_p, addr) = start(port, "pw").await;
    let (code, text) = refused(&Login::mtls(addr, USER, &alice)).await;
    assert_eq!(code, 1040, "{text}");

    // The database's certificate does not verify: 2003 with what to check.
    let (_p, addr) = start_proxy(
        &ca,
        ClientAuth::Required,
        allow_alice(&[USER]),
        database(db.port()),
        injector("pw"),
        |b| b.upstream_tls(TestCa::new().unwrap().cert_pem().as_bytes().to_vec()),
    )
    .await;
    let (code, text) = refused(&Login::mtls(addr, USER, &alice)).await;
    assert_eq!(code, 2003, "{text}");
    assert!(text.contains("ca_cert_file"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_timeouts_drain_and_operators_speak_mysql() {
    let ca = TestCa::new().unwrap();
    let db = MariaDb::start(&ca, MariaDbOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let alice = client_files(&ca, dir.path(), "alice");
    let (proxy, addr) = start_proxy(
        &ca,
        ClientAuth::Required,
        allow_alice(&[USER]),
        database(db.port()),
        injector(mariadb::NATIVE_USER.1),
        |b| {
            b.max_connections(1)
                .handshake_timeout(Duration::from_millis(800))
        },
    )
    .await;
    let login = Login::mtls(addr, USER, &alice);

    // One session at a time: the second client hears 1040 from the proxy.
    let mut first = async_conn(&login).await.unwrap();
    let (code, _) = refused(&login).await;
    assert_eq!(code, 1040);

    // An operator ends the session: the client's next command gets 1927.
    let id = first.id();
    assert!(proxy.registry().kill(id));
    let error = first.query_drop("SELECT 1").await.unwrap_err();
    assert_eq!(async_code(&error), Some(1927), "{error}");
    drop(first);

    // A client that never answers the greeting: 1159 when its time is up, with the right sequence id.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = BytesMut::new();
    let mut decoder = PacketDecoder::new(1 << 16, "test", 0);
    let mut packets = Vec::new();
    while packets.len() < 2 {
        if let Some(p) = decoder.decode(&mut buf).unwrap() {
            packets.push(p);
            continue;
        }
        assert!(tcp.read_buf(&mut buf).await.unwrap() > 0, "closed early");
    }
    assert_eq!(packets[1].seq, 1);
    let err = ErrPacket::decode(&packets[1].payload).unwrap();
    assert_eq!((err.code, err.sql_state()), (1159, "08S01"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_drain_deadline_idle_clients_hear_1053() {
    let ca = TestCa::new().unwrap();
    let db = MariaDb::start(&ca, MariaDbOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let alice = client_files(&ca, dir.path(), "alice");
    let server = ca.server(iamwire_testkit::LOCAL_NAMES).unwrap();
    let tls = iamwire_core::tls::server_config(
        server.cert_pem.as_bytes(),
        server.key_pem.as_bytes(),
        Some(ca.cert_pem().as_bytes()),
        ClientAuth::Required,
    )
    .unwrap();
    let proxy = iamwire_mysql::MySqlProxy::builder(
        iamwire_mysql::MySql::new(),
        database(db.port()),
        tls,
        allow_alice(&[USER]),
        injector(mariadb::NATIVE_USER.1),
    )
    .upstream_tls(ca.cert_pem().as_bytes().to_vec())
    .shutdown_timeout(Duration::from_millis(300))
    .build()
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(async move {
        proxy
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    let mut conn = async_conn(&Login::mtls(addr, USER, &alice)).await.unwrap();
    conn.query_drop("SELECT 1").await.unwrap();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), serving)
        .await
        .expect("the drain ends")
        .unwrap();
    let error = conn.query_drop("SELECT 1").await.unwrap_err();
    assert_eq!(async_code(&error), Some(1053), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_without_a_capability_the_client_was_offered_is_learned() {
    let ca = TestCa::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let alice = client_files(&ca, dir.path(), "alice");
    // Like MySQL 5.6: TLS, but neither CLIENT_DEPRECATE_EOF nor CLIENT_SESSION_TRACK.
    let caps = CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_SSL
        | CapabilityFlags::CLIENT_LONG_PASSWORD;
    let greeting = HandshakePacket::new(
        10,
        &b"5.6.51-log"[..],
        5,
        *b"abcdefgh",
        Some(&b"ijklmnopqrst\0"[..]),
        caps,
        45,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        Some(&b"mysql_native_password"[..]),
    );
    let (port, _) = fake_database(framed(&greeting)).await;
    let (_p, addr) = start_proxy(
        &ca,
        ClientAuth::Required,
        allow_alice(&[USER]),
        database(port),
        injector("pw"),
        |b| b,
    )
    .await;
    let login = Login::mtls(addr, USER, &alice);
    // The first client was offered CLIENT_DEPRECATE_EOF: told to connect again, before any login.
    let (code, text) = refused(&login).await;
    assert_eq!(code, 1043, "{text}");
    assert!(text.contains("DEPRECATE_EOF"), "{text}");
    // The next is offered what the database has, and its version.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = BytesMut::new();
    let mut decoder = PacketDecoder::new(1 << 16, "greeting", 0);
    let packet = loop {
        if let Some(p) = decoder.decode(&mut buf).unwrap() {
            break p;
        }
        assert!(tcp.read_buf(&mut buf).await.unwrap() > 0);
    };
    let offered = iamwire_mysql::codec::Handshake::decode(&packet.payload).unwrap();
    assert_eq!(offered.server_version, "5.6.51-log-iamwire");
    use iamwire_mysql::codec::Capabilities;
    assert!(
        !offered
            .capabilities
            .intersects(Capabilities::DEPRECATE_EOF | Capabilities::SESSION_TRACK)
    );
    assert!(
        offered
            .capabilities
            .contains(Capabilities::SSL | Capabilities::PLUGIN_AUTH)
    );
}
