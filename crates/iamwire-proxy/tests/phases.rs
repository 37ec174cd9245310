//! Every phase of the framework through a line-based test protocol and a fake database: the happy path,
//! each timeout, a denial, credential failures, a refused login with the injector's hint, the session
//! cap, the handshake bound, proxy passwords, cancel forwarding within its bound, an operator's kill,
//! and a drain.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lines;

use std::sync::Arc;
use std::time::{Duration, Instant};

use iamwire_core::InjectErrorKind;
use iamwire_core::tls::ClientAuth;
use iamwire_proxy::ProxyPasswordAuthenticator;
use iamwire_proxy::scram::{DEFAULT_ITERATIONS, MockKey, ScramSecret};
use iamwire_testkit::TestCa;
use lines::*;

const SHORT: Duration = Duration::from_millis(400);

fn ca() -> TestCa {
    TestCa::new().unwrap()
}

/// `ERR <phase> <side> ...` → (phase, side).
fn err_kind(line: &str) -> (&str, &str) {
    let mut words = line.split(' ');
    assert_eq!(words.next(), Some("ERR"), "{line}");
    (words.next().unwrap(), words.next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_goes_through_every_phase_and_relays() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let running = run(builder(&ca, db.addr, TestInjector::Password("right"))).await;
    let mut client = connect(running.addr, &ca, Some("alice")).await;
    let welcome = client.hello("app", "app").await.unwrap();
    assert!(welcome.starts_with("WELCOME "), "{welcome}");
    client.send("echo hello there").await;
    assert_eq!(client.line().await.as_deref(), Some("hello there"));
    assert_eq!(db.logins.lock().unwrap().as_slice(), ["app app"]);

    let sessions = running.proxy.registry().list();
    assert_eq!(sessions.len(), 1);
    let who = sessions[0].who().unwrap();
    assert_eq!(
        (who.identity.name(), who.db_user.as_str()),
        ("alice", "app")
    );
    assert!(
        sessions[0]
            .bytes_up
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_sees_the_protocol_default_database() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let running = run(builder(&ca, db.addr, TestInjector::Password("right"))).await;
    let mut client = connect(running.addr, &ca, Some("alice")).await;
    // No database named: the protocol's default (the user's name, `app`) is what is authorized.
    client.send("HELLO app").await;
    let welcome = client.line().await.unwrap();
    assert!(welcome.starts_with("WELCOME "), "{welcome}");
    assert_eq!(db.logins.lock().unwrap().as_slice(), ["app app"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_identity_never_reaches_the_database() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let running = run(builder(&ca, db.addr, TestInjector::Password("right"))).await;
    for (who, user, name) in [
        ("bob", "app", "app"),
        ("alice", "root", "app"),
        ("alice", "app", "other"),
    ] {
        let mut client = connect(running.addr, &ca, Some(who)).await;
        let answer = client.hello(user, name).await.unwrap();
        assert_eq!(err_kind(&answer), ("authorize", "client"), "{answer}");
        assert!(answer.contains("access denied"), "{answer}");
    }
    assert_eq!(running.proxy.metrics().denied, 3);
    // No certificate at all: refused at identification.
    let mut anonymous = connect(running.addr, &ca, None).await;
    anonymous.send("HELLO app app").await;
    let line = anonymous.line().await;
    // With client certificates required, TLS itself fails: there is nothing to read.
    assert!(
        line.is_none() || line.as_deref().is_some_and(|l| l.starts_with("ERR ")),
        "{line:?}"
    );
    assert_eq!(db.connection_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_told_when_its_handshake_time_is_up() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let running =
        run(builder(&ca, db.addr, TestInjector::Password("right")).handshake_timeout(SHORT)).await;
    let started = Instant::now();
    let mut client = connect(running.addr, &ca, Some("alice")).await;
    let answer = client.line().await.unwrap();
    assert_eq!(
        err_kind(&answer),
        ("client_handshake", "client"),
        "{answer}"
    );
    assert!(
        answer.contains("did not complete the handshake within 400ms"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // Before TLS too: the refusal comes in the clear.
    let plain = plain_answer(running.addr, b"").await;
    assert!(plain.starts_with("ERR client_handshake client"), "{plain}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_failures_say_which_kind_and_never_dial() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let denied = run(builder(
        &ca,
        db.addr,
        TestInjector::Fail(InjectErrorKind::AccessDenied),
    ))
    .await;
    let mut client = connect(denied.addr, &ca, Some("alice")).await;
    let answer = client.hello("app", "app").await.unwrap();
    assert_eq!(err_kind(&answer), ("credentials", "upstream"), "{answer}");
    assert!(answer.contains("no credentials for you"), "{answer}");

    let hanging = run(builder(&ca, db.addr, TestInjector::Hang).credential_timeout(SHORT)).await;
    let started = Instant::now();
    let mut client = connect(hanging.addr, &ca, Some("alice")).await;
    let answer = client.hello("app", "app").await.unwrap();
    assert_eq!(err_kind(&answer), ("credentials", "upstream"), "{answer}");
    assert!(answer.contains("within 400ms"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(db.connection_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_failures_and_timeouts_are_the_connect_phase() {
    let ca = ca();
    let silent = FakeDb::start(&ca, DbMode::SilentTls).await;
    let running =
        run(builder(&ca, silent.addr, TestInjector::Password("right")).connect_timeout(SHORT))
            .await;
    let mut client = connect(running.addr, &ca, Some("alice")).await;
    let answer = client.hello("app", "app").await.unwrap();
    assert_eq!(err_kind(&answer), ("connect", "upstream"), "{answer}");
    assert!(answer.contains("no connection within 400ms"), "{answer}");

    // Nothing listens on the port any more.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let running = run(builder(&ca, gone, TestInjector::Password("right"))).await;
    let mut client = connect(running.addr, &ca, Some("alice")).await;
    let answer = client.hello("app", "app").await.unwrap();
    assert_eq!(err_kind(&answer), ("connect", "upstream"), "{answer}");
    assert!(answer.contains("cannot reach the database"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_carries_the_injectors_hint_and_a_silent_one_times_out() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let running = run(builder(&ca, db.addr, TestInjector::Password("wrong"))).await;
    let mut client = connect(running.addr, &ca, Some("alice")).await;
    let answer = client.hello("app", "app").await.unwrap();
    assert_eq!(err_kind(&answer), ("login", "upstream"), "{answer}");
    assert!(answer.contains("(hint: grant app the login)"), "{answer}");

    let silent = FakeDb::start(&ca, DbMode::SilentLogin).await;
    let running =
        run(builder(&ca, silent.addr, TestInjector::Password("right")).login_timeout(SHORT)).await;
    let mut client = connect(running.addr, &ca, Some("alice")).await;
    let answer = client.hello("app", "app").await.unwrap();
    assert_eq!(err_kind(&answer), ("login", "upstream"), "{answer}");
    assert!(
        answer.contains("did not complete the login within 400ms"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_session_cap_is_refused_in_the_protocol() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let running =
        run(builder(&ca, db.addr, TestInjector::Password("right")).max_connections(1)).await;
    let mut first = connect(running.addr, &ca, Some("alice")).await;
    assert!(
        first
            .hello("app", "app")
            .await
            .unwrap()
            .starts_with("WELCOME")
    );
    let mut second = connect(running.addr, &ca, Some("alice")).await;
    let answer = second.hello("app", "app").await.unwrap();
    assert_eq!(
        err_kind(&answer),
        ("client_handshake", "internal"),
        "{answer}"
    );
    assert!(answer.contains("too many connections"), "{answer}");
    drop(first);
    // The place frees up when the first session ends.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = connect(running.addr, &ca, Some("alice")).await;
        if again
            .hello("app", "app")
            .await
            .unwrap()
            .starts_with("WELCOME")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the session's place was never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_are_bounded_before_tls_and_freed_by_the_timeout() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let running = run(builder(&ca, db.addr, TestInjector::Password("right"))
        .max_handshakes(2)
        .handshake_timeout(Duration::from_secs(2)))
    .await;
    // Two connections that say nothing hold both places.
    let idle: Vec<_> = futures_like_connect(running.addr, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A third is not accepted (it sits in the backlog) until a place frees up.
    let started = Instant::now();
    let mut client = connect(running.addr, &ca, Some("alice")).await;
    let welcome = client.hello("app", "app").await.unwrap();
    assert!(welcome.starts_with("WELCOME"), "{welcome}");
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "admitted after {:?}, while both places were held",
        started.elapsed()
    );
    drop(idle);
}

async fn futures_like_connect(addr: std::net::SocketAddr, n: usize) -> Vec<tokio::net::TcpStream> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_from_one_address_are_closed() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let running =
        run(builder(&ca, db.addr, TestInjector::Password("right")).max_per_peer(Some(1))).await;
    let mut first = connect(running.addr, &ca, Some("alice")).await;
    assert!(
        first
            .hello("app", "app")
            .await
            .unwrap()
            .starts_with("WELCOME")
    );
    // The second from 127.0.0.1 is closed before a word.
    assert_eq!(plain_answer(running.addr, b"STARTTLS\n").await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_password_identifies_and_a_wrong_one_does_not() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let secret = ScramSecret::from_password(b"pw", b"0123456789abcdef", DEFAULT_ITERATIONS);
    let authn =
        ProxyPasswordAuthenticator::new(MockKey::from_random_bytes([5; 32])).user("app", secret);
    let running = run(builder_full(
        &ca,
        db.addr,
        TestInjector::Password("right"),
        ClientAuth::Optional,
        allow(&["alice", "app", "nobody"]),
    )
    .client_authenticator(Arc::new(authn)))
    .await;
    for (user, password, welcome) in [
        ("app", "pw", true),
        ("app", "wrong", false),
        ("nobody", "", false),
    ] {
        let mut client = connect(running.addr, &ca, None).await;
        assert_eq!(
            client.hello(user, "app").await.as_deref(),
            Some("PASSWORD?"),
            "{user}"
        );
        client.send(&format!("PASSWORD {password}")).await;
        let answer = client.line().await.unwrap();
        if welcome {
            assert!(answer.starts_with("WELCOME"), "{answer}");
        } else {
            assert_eq!(
                err_kind(&answer),
                ("client_handshake", "client"),
                "{answer}"
            );
        }
    }
    // A client certificate still identifies without a password.
    let mut alice = connect(running.addr, &ca, Some("alice")).await;
    assert!(
        alice
            .hello("app", "app")
            .await
            .unwrap()
            .starts_with("WELCOME")
    );
    assert_eq!(db.logins.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancels_reach_the_database_within_their_bound() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let running = run(builder(&ca, db.addr, TestInjector::Password("right"))).await;
    let mut client = connect(running.addr, &ca, Some("alice")).await;
    let welcome = client.hello("app", "app").await.unwrap();
    let mut words = welcome.split(' ').skip(1);
    let (id, secret) = (
        words.next().unwrap().to_owned(),
        words.next().unwrap().to_owned(),
    );
    client.send("sleep 30000").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = db.connection_count();

    // A flood of valid cancels for the one session: at most one is in flight at a time.
    let mut floods = Vec::new();
    let ca = Arc::new(ca);
    for _ in 0..100 {
        let (addr, id, secret, ca) = (running.addr, id.clone(), secret.clone(), ca.clone());
        floods.push(tokio::spawn(async move {
            cancel(addr, &ca, &id, &secret).await;
        }));
    }
    for f in floods {
        let _ = f.await;
    }
    assert_eq!(client.line().await.as_deref(), Some("killed"));
    let opened = db.connection_count() - before;
    eprintln!("cancels opened {opened} database connections");
    assert!(opened >= 1, "the cancel never reached the database");
    assert!(
        opened <= 8,
        "{opened} database connections for one session's cancels"
    );
    // A wrong secret is dropped without a word and without a database connection.
    let before = db.connection_count();
    cancel(running.addr, &ca, &id, "00000000").await;
    assert_eq!(db.connection_count(), before);
}

/// Send `CANCEL id secret` over TLS and wait for the proxy to close the connection.
async fn cancel(addr: std::net::SocketAddr, ca: &TestCa, id: &str, secret: &str) {
    let mut client = connect(addr, ca, Some("alice")).await;
    client.send(&format!("CANCEL {id} {secret}")).await;
    assert_eq!(client.line().await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_can_end_a_session() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let running = run(builder(&ca, db.addr, TestInjector::Password("right"))).await;
    let mut client = connect(running.addr, &ca, Some("alice")).await;
    assert!(
        client
            .hello("app", "app")
            .await
            .unwrap()
            .starts_with("WELCOME")
    );
    let id = running.proxy.registry().list()[0].id();
    assert!(running.proxy.registry().kill(id));
    let answer = client.line().await.unwrap();
    assert_eq!(err_kind(&answer).0, "relay", "{answer}");
    assert!(answer.contains("ended by an operator"), "{answer}");
    assert_eq!(client.line().await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_database_refuses_new_sessions_and_keeps_live_ones() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let running = run(builder(&ca, db.addr, TestInjector::Password("right"))).await;
    let mut live = connect(running.addr, &ca, Some("alice")).await;
    assert!(
        live.hello("app", "app")
            .await
            .unwrap()
            .starts_with("WELCOME")
    );
    running.proxy.pause();
    let mut refused = connect(running.addr, &ca, Some("alice")).await;
    let answer = refused.hello("app", "app").await.unwrap();
    assert_eq!(
        err_kind(&answer),
        ("client_handshake", "internal"),
        "{answer}"
    );
    assert!(answer.contains("paused"), "{answer}");
    live.send("echo still here").await;
    assert_eq!(live.line().await.as_deref(), Some("still here"));
    running.proxy.resume();
    let mut again = connect(running.addr, &ca, Some("alice")).await;
    assert!(
        again
            .hello("app", "app")
            .await
            .unwrap()
            .starts_with("WELCOME")
    );
    assert_eq!(db.logins.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_lets_short_work_finish_and_ends_long_work_at_the_deadline() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let mut running = run(builder(&ca, db.addr, TestInjector::Password("right"))
        .shutdown_timeout(Duration::from_millis(1500)))
    .await;
    let mut short = connect(running.addr, &ca, Some("alice")).await;
    assert!(
        short
            .hello("app", "app")
            .await
            .unwrap()
            .starts_with("WELCOME")
    );
    let mut long = connect(running.addr, &ca, Some("alice")).await;
    assert!(
        long.hello("app", "app")
            .await
            .unwrap()
            .starts_with("WELCOME")
    );
    short.send("sleep 500").await;
    long.send("sleep 30000").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    running.stop();

    // New connections are no longer accepted.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(tokio::net::TcpStream::connect(running.addr).await.is_err());
    // The short request finishes during the drain.
    assert_eq!(short.line().await.as_deref(), Some("slept"));
    // The long one is ended at the deadline, with the protocol's goodbye on a line of its own.
    let goodbye = long.line().await.unwrap();
    assert_eq!(err_kind(&goodbye).0, "relay", "{goodbye}");
    assert!(goodbye.contains("shutting down"), "{goodbye}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1400),
        "ended after {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "ended after {waited:?}");
    tokio::time::timeout(Duration::from_secs(10), &mut running.served)
        .await
        .expect("serve returns after the drain")
        .unwrap();
}

/// Serve `proxy` on a fresh port under the process-wide `drain` until `stop` fires.
fn serve_under(
    proxy: &iamwire_proxy::Proxy<lines::Lines>,
    drain: &iamwire_proxy::Drain,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (proxy, drain) = (proxy.clone(), drain.clone());
    tokio::spawn(async move {
        proxy
            .serve_until(
                listener,
                async {
                    let _ = stopped.await;
                },
                &drain,
            )
            .await;
    });
    (addr, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successor_shares_the_registry_counters_and_pause_of_its_predecessor() {
    let ca = ca();
    let db = FakeDb::start(&ca, DbMode::Normal).await;
    let drain = iamwire_proxy::Drain::new();
    let first = builder(&ca, db.addr, TestInjector::Password("right"))
        .build()
        .unwrap();
    let (first_addr, first_stop) = serve_under(&first, &drain);
    let mut live = connect(first_addr, &ca, Some("alice")).await;
    let welcome = live.hello("app", "app").await.unwrap();
    assert!(welcome.starts_with("WELCOME"), "{welcome}");

    // A reload builds the successor; the predecessor's listener stops, its session goes on.
    let second = builder(&ca, db.addr, TestInjector::Password("right"))
        .succeed(&first)
        .build()
        .unwrap();
    let (second_addr, _second_stop) = serve_under(&second, &drain);
    let _ = first_stop.send(());
    let old_id = first.registry().list()[0].id();
    assert_eq!(
        second.registry().list()[0].id(),
        old_id,
        "the successor sees the live session"
    );
    let mut new = connect(second_addr, &ca, Some("alice")).await;
    assert!(
        new.hello("app", "app")
            .await
            .unwrap()
            .starts_with("WELCOME")
    );
    let ids: Vec<_> = second.registry().list().iter().map(|s| s.id()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_ne!(
        ids[0], ids[1],
        "session ids stay unique across the hand-over"
    );
    // Counted once the relay starts, just after the welcome.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while second.metrics().accepted < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(first.metrics().accepted, 2, "one set of counters");

    // Out-of-band requests (cancel) through the successor reach the predecessor's session.
    live.send("sleep 30000").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut words = welcome.split(' ').skip(1);
    let (id, secret) = (words.next().unwrap(), words.next().unwrap());
    cancel(second_addr, &ca, id, secret).await;
    assert_eq!(live.line().await.as_deref(), Some("killed"));

    // Pausing either pauses both.
    second.pause();
    assert!(first.is_paused());
    live.send("echo still here").await;
    assert_eq!(live.line().await.as_deref(), Some("still here"));
}
