//! The Redis proxy in-process in front of the rig's real Redis 7 (TLS, ACL users), driven byte by byte
//! with a raw TLS client: the handshake split at every offset, what comes before AUTH, proxy passwords,
//! HELLO 3, the unauthenticated limits, implicit users, and the drain.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use iamwire_core::tls::{ClientAuth, server_config, upstream_config};
use iamwire_core::{
    AllowList, Database, Glob, IdentityRules, Protocol, StaticPasswordInjector, TlsMode,
};
use iamwire_proxy::ProxyPasswordAuthenticator;
use iamwire_proxy::scram::{DEFAULT_ITERATIONS, MockKey, ScramSecret};
use iamwire_redis::{Redis, RedisProxy};
use iamwire_testkit::redis::Redis as RedisServer;
use iamwire_testkit::{LOCAL_NAMES, TestCa};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;

struct Rig {
    ca: TestCa,
    _server: RedisServer,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

/// A proxy for the rig's Redis that logs in with the rig's password for the user the client names.
async fn rig(client_auth: ClientAuth, tweak: impl FnOnce(Redis) -> Redis, passwords: bool) -> Rig {
    let ca = TestCa::new().unwrap();
    let server = RedisServer::start(&ca).unwrap();
    let db = Database::new(
        "cache",
        Protocol::Redis,
        format!("localhost:{}", server.port()),
    );
    let allow = AllowList::new(vec![IdentityRules {
        name: "alice".into(),
        db_labels: [("*".to_owned(), Glob::new("*"))].into(),
        db_users: vec![Glob::new("app"), Glob::new("alice")],
        db_names: vec![],
    }]);
    let cert = ca.server(LOCAL_NAMES).unwrap();
    let tls = server_config(
        cert.cert_pem.as_bytes(),
        cert.key_pem.as_bytes(),
        Some(ca.cert_pem().as_bytes()),
        client_auth,
    )
    .unwrap();
    let injector = StaticPasswordInjector::new("app-pass").as_user("app");
    let mut builder = RedisProxy::builder(
        tweak(Redis::new()),
        db,
        tls,
        Arc::new(allow),
        Arc::new(injector),
    )
    .upstream_tls(ca.cert_pem().as_bytes().to_vec())
    .shutdown_timeout(Duration::from_millis(300));
    if passwords {
        let secret = ScramSecret::from_password(b"s3cret", b"0123456789abcdef", DEFAULT_ITERATIONS);
        let authn = ProxyPasswordAuthenticator::new(MockKey::from_random_bytes([7; 32]))
            .user("alice", secret);
        builder = builder.client_authenticator(Arc::new(authn));
    }
    let proxy = builder.build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        proxy
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    Rig {
        ca,
        _server: server,
        addr,
        stop: Some(stop),
    }
}

impl Rig {
    async fn connect(&self, cert: Option<&str>) -> TlsStream<tokio::net::TcpStream> {
        let client = cert.map(|name| self.ca.client(name, &[]).unwrap());
        let pair = client
            .as_ref()
            .map(|c| (c.cert_pem.as_bytes(), c.key_pem.as_bytes()));
        let config = upstream_config(
            TlsMode::VerifyFull,
            Some(self.ca.cert_pem().as_bytes()),
            pair,
        )
        .unwrap();
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        TlsConnector::from(config)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap()
    }
}

fn cmd(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n{a}\r\n", a.len()).into_bytes());
    }
    out
}

/// Read until `want` bytes arrived (or the peer closed); what arrived.
async fn read_n(s: &mut TlsStream<tokio::net::TcpStream>, want: usize) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want {
        match tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "no reply within 30 s; so far {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_split_at_every_offset() {
    let rig = rig(ClientAuth::Required, |r| r, false).await;
    let exchange = [
        cmd(&["AUTH", "app", "x"]),
        cmd(&["SET", "app:k", "v"]),
        cmd(&["GET", "app:k"]),
    ]
    .concat();
    let expected = "+OK\r\n+OK\r\n$1\r\nv\r\n";
    for split in 0..=exchange.len() {
        let mut s = rig.connect(Some("alice")).await;
        s.write_all(&exchange[..split]).await.unwrap();
        s.flush().await.unwrap();
        tokio::task::yield_now().await;
        s.write_all(&exchange[split..]).await.unwrap();
        assert_eq!(
            read_n(&mut s, expected.len()).await,
            expected,
            "split at {split}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_auth_only_auth_hello_and_quit() {
    let rig = rig(ClientAuth::Required, |r| r, false).await;
    let mut s = rig.connect(Some("alice")).await;
    s.write_all(&cmd(&["GET", "k"])).await.unwrap();
    assert_eq!(
        read_n(&mut s, 34).await,
        "-NOAUTH Authentication required.\r\n"
    );
    s.write_all(&cmd(&["HELLO", "3"])).await.unwrap();
    assert!(
        read_n(&mut s, 10)
            .await
            .starts_with("-NOAUTH HELLO must be called")
    );
    s.write_all(&cmd(&["HELLO", "4", "AUTH", "app", "x"]))
        .await
        .unwrap();
    assert!(read_n(&mut s, 9).await.starts_with("-NOPROTO "));
    // HELLO 3 AUTH: the proxy logs in the same way, and the client gets Redis's RESP3 map.
    s.write_all(&cmd(&["HELLO", "3", "AUTH", "app", "x", "SETNAME", "t"]))
        .await
        .unwrap();
    let hello = read_n(&mut s, 1).await;
    assert!(hello.starts_with('%'), "{hello}");
    s.write_all(&cmd(&["CLIENT", "GETNAME"])).await.unwrap();
    assert_eq!(read_n(&mut s, 7).await, "$1\r\nt\r\n");
    // Before authentication, Redis's own caps: 10 arguments.
    let mut s = rig.connect(Some("alice")).await;
    let many: Vec<String> = (0..11).map(|i| i.to_string()).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    s.write_all(&cmd(&many)).await.unwrap();
    let error = read_n(&mut s, 10_000).await;
    assert!(
        error.starts_with("-ERR Protocol error: invalid multibulk length 11"),
        "{error}"
    );
    let mut s = rig.connect(Some("alice")).await;
    s.write_all(&cmd(&["QUIT"])).await.unwrap();
    assert_eq!(read_n(&mut s, 100).await, "+OK\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_passwords_are_checked_and_never_sent_upstream() {
    let rig = rig(ClientAuth::Optional, |r| r, true).await;
    let mut s = rig.connect(None).await;
    s.write_all(&[cmd(&["AUTH", "alice", "s3cret"]), cmd(&["ACL", "WHOAMI"])].concat())
        .await
        .unwrap();
    // The proxy logs in with its own password for the database (as `app`, the injector's user).
    assert_eq!(read_n(&mut s, 14).await, "+OK\r\n$3\r\napp\r\n");
    for (user, password) in [("alice", "wrong"), ("mallory", "s3cret")] {
        let mut s = rig.connect(None).await;
        s.write_all(&cmd(&["AUTH", user, password])).await.unwrap();
        let wrong = read_n(&mut s, 10_000).await;
        assert_eq!(
            wrong,
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
    }
    // A certificate identity asking for a user it may not be.
    let mut s = rig.connect(Some("alice")).await;
    s.write_all(&cmd(&["AUTH", "admin", "x"])).await.unwrap();
    let refused = read_n(&mut s, 10_000).await;
    assert!(refused.starts_with("-NOPERM access denied: "), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_a_certificate_may_skip_auth_when_a_default_user_is_set() {
    let rig = rig(ClientAuth::Required, |r| r.default_user("app"), false).await;
    let mut s = rig.connect(Some("alice")).await;
    s.write_all(&cmd(&["ACL", "WHOAMI"])).await.unwrap();
    assert_eq!(read_n(&mut s, 9).await, "$3\r\napp\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_answers_a_waiting_command_and_closes_idle_clients_quietly() {
    let mut rig = rig(ClientAuth::Required, |r| r, false).await;
    let mut waiting = rig.connect(Some("alice")).await;
    waiting
        .write_all(
            &[
                cmd(&["AUTH", "app", "x"]),
                cmd(&["BLPOP", "app:never", "0"]),
            ]
            .concat(),
        )
        .await
        .unwrap();
    assert_eq!(read_n(&mut waiting, 5).await, "+OK\r\n");
    let mut idle = rig.connect(Some("alice")).await;
    idle.write_all(&cmd(&["AUTH", "app", "x"])).await.unwrap();
    assert_eq!(read_n(&mut idle, 5).await, "+OK\r\n");
    let _ = rig.stop.take().unwrap().send(());
    let said = read_n(&mut waiting, 10_000).await;
    assert_eq!(said, "-ERR the proxy is shutting down\r\n");
    assert_eq!(read_n(&mut idle, 10_000).await, "");
}
