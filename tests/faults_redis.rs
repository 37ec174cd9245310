//! The fault suite for Redis, through `iamwire run`: a fault-injecting TCP relay between the proxy and
//! the ElastiCache-like cache (the IAM stand-in, which checks tokens with botocore, in front of a real
//! Redis 7 over TLS), with redis-rs as the client. The cache is killed mid-session, down, silent, slow,
//! and back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;
mod redis_support;

use std::time::{Duration, Instant};

use iamwire_testkit::Fault;
use redis_support::{CacheOptions, CacheStack, PROMPT};

/// A redis-rs connection through the proxy as `app` with alice's certificate.
async fn connect(stack: &CacheStack) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis_support::tls_client(stack.port(), &stack.file(""), "alice", "app").await
}

/// `PING` on `con`, answered (or failed) within [`PROMPT`].
async fn ping(con: &mut redis::aio::MultiplexedConnection) -> redis::RedisResult<String> {
    tokio::time::timeout(PROMPT, redis::cmd("PING").query_async(con))
        .await
        .expect("a command on a session whose cache went away hung")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_killed_or_cut_off_mid_session_errs_its_clients_and_serves_again_once_back() {
    let mut stack = CacheStack::start(CacheOptions {
        db_fault: Some(Fault::Forward),
        ..CacheOptions::default()
    });
    let relay = stack.db_relay.take().unwrap();

    // Killed mid-session: each client gets an error, not a hang.
    let mut a = connect(&stack).await.unwrap();
    let mut b = connect(&stack).await.unwrap();
    assert_eq!(ping(&mut a).await.unwrap(), "PONG");
    assert_eq!(ping(&mut b).await.unwrap(), "PONG");
    relay.reset_all();
    for con in [&mut a, &mut b] {
        let error = ping(con).await.expect_err("the cache is gone");
        eprintln!("killed mid-session: {error:?}");
    }
    drop((a, b));

    // Down (reset or closed mid-handshake) or unreachable (silent): a prompt error reply, then close.
    for fault in [Fault::Reset, Fault::Close, Fault::Blackhole] {
        relay.set(fault);
        let started = Instant::now();
        let error = match connect(&stack).await {
            Ok(mut con) => ping(&mut con).await.expect_err("no cache, no session"),
            Err(e) => e,
        };
        let took = started.elapsed();
        assert!(took < PROMPT, "{fault:?}: {took:?}");
        eprintln!("cache {fault:?}: {error:?} after {took:?}");
        // redis-cli shows the error reply the proxy sends before it closes.
        let cli = redis_support::text(&stack.cli("alice", "app", &[], &["PING"]));
        assert!(cli.contains("AUTH failed: ERR "), "{fault:?}: {cli}");
        if fault == Fault::Blackhole {
            assert!(cli.contains("cannot reach the database"), "{cli}");
        } else {
            // Gone (refused, or cut mid-TLS-handshake): never said as a certificate to check.
            assert!(
                cli.contains("lost during the handshake") || cli.contains("cannot reach"),
                "{fault:?}: {cli}"
            );
            assert!(!cli.contains("certificate"), "{fault:?}: {cli}");
        }
    }

    // Back: new sessions succeed in the same process; over a slow path (200 ms per chunk) too.
    relay.set(Fault::Forward);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut c = loop {
        if let Ok(mut con) = connect(&stack).await
            && ping(&mut con).await.is_ok()
        {
            break con;
        }
        assert!(Instant::now() < deadline, "still refused");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    relay.set(Fault::Delay(Duration::from_millis(200)));
    let mut slow = connect(&stack).await.unwrap();
    assert_eq!(ping(&mut slow).await.unwrap(), "PONG");
    relay.set(Fault::Forward);

    // The cache ends its side (FIN) mid-session: those sessions err, the proxy carries on.
    relay.half_close_all();
    ping(&mut c).await.expect_err("the cache ended the session");
    let mut d = connect(&stack).await.unwrap();
    assert_eq!(ping(&mut d).await.unwrap(), "PONG");
    assert!(stack.proxy.is_running(), "{}", stack.proxy.stderr());
}
