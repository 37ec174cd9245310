//! The fault suite, through `iamwire run` with real servers and clients: a fault-injecting TCP relay
//! (`iamwire_testkit::FaultRelay`) between the proxy and the AWS endpoint (moto, checking signatures),
//! between the proxy and an RDS-like PostgreSQL 15 (which checks the proxy's IAM tokens with botocore),
//! and between a tokio-postgres client and the proxy. Each test keeps a healthy session running a
//! steady query loop throughout and asserts it saw no error.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod e2e_run_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e_run_support::{Options, Stack};
use iamwire_testkit::postgres::IAM_USER;
use iamwire_testkit::{Fault, FaultRelay};

/// A refusal must come back well within this, even on a loaded 2-core machine.
const PROMPT: Duration = Duration::from_secs(30);
/// The lifetime of the role sessions the emulator issues in the STS test. The proxy never hands out
/// credentials with less than 60 s left, so they serve new sessions for about 60 s.
const STS_LIFETIME: u64 = 120;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What a failed login or query looked like to the client: SQLSTATE (if the proxy or database sent one)
/// and the message.
#[derive(Debug)]
struct Failure {
    sqlstate: Option<String>,
    message: String,
}

fn failure(error: &tokio_postgres::Error) -> Failure {
    match error.as_db_error() {
        Some(db) => Failure {
            sqlstate: Some(db.code().code().to_owned()),
            message: format!("{}: {}", db.message(), db.hint().unwrap_or_default()),
        },
        None => Failure {
            sqlstate: None,
            message: format!("{error:?}"),
        },
    }
}

/// Log in through the proxy as `alice` (on `port`, the proxy's unless a relay fronts it) and ask who we
/// are; the connection is dropped after.
async fn login(stack: &Stack, port: u16) -> Result<String, Failure> {
    let client = connect(stack, port).await.map_err(|e| failure(&e))?;
    let row = client
        .query_one("SELECT current_user::text", &[])
        .await
        .map_err(|e| failure(&e))?;
    Ok(row.get(0))
}

async fn connect(
    stack: &Stack,
    port: u16,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let config = stack.tokio_pg_config(port);
    let (client, connection) = config.connect(stack.tokio_pg_tls("alice")).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// A session that runs `SELECT 1` every 50 ms on a task of its own until stopped.
struct Steady {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(u64, Vec<String>)>,
}

impl Steady {
    async fn start(stack: &Stack) -> Self {
        let client = connect(stack, stack.port())
            .await
            .expect("the steady session");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let (mut answered, mut errors) = (0u64, Vec::new());
            while !flag.load(Ordering::SeqCst) {
                let query = client.query_one("SELECT 1::int4", &[]);
                match tokio::time::timeout(PROMPT, query).await {
                    Ok(Ok(row)) if row.get::<_, i32>(0) == 1 => answered += 1,
                    Ok(Ok(row)) => errors.push(format!("wrong answer {row:?}")),
                    Ok(Err(e)) => errors.push(format!("{:?}", failure(&e))),
                    Err(_) => errors.push("no answer within 30 s".into()),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (answered, errors)
        });
        Self { stop, task }
    }

    /// Stop the loop; it must have answered every query, at least `min` of them.
    async fn assert_clean(self, min: u64) {
        self.stop.store(true, Ordering::SeqCst);
        let (answered, errors) = self.task.await.unwrap();
        assert!(
            errors.is_empty(),
            "the steady session saw errors: {errors:?}"
        );
        assert!(
            answered >= min,
            "the steady session answered only {answered} queries"
        );
    }
}

/// A login refused for want of credentials: 08001, naming the role.
fn check_sts_failure(failure: &Failure, role: &str, fault: &str) {
    assert_eq!(
        failure.sqlstate.as_deref(),
        Some("08001"),
        "STS {fault}: {failure:?}"
    );
    assert!(failure.message.contains(role), "STS {fault}: {failure:?}");
}

/// Poll `login` every half second until it succeeds, for up to `limit`.
async fn login_until_it_succeeds(stack: &Stack, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        match login(stack, stack.port()).await {
            Ok(user) => {
                assert_eq!(user, IAM_USER);
                return;
            }
            Err(failure) => assert!(
                Instant::now() < deadline,
                "still refused after {limit:?}: {failure:?}\n{}",
                stack.proxy.stderr()
            ),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[test]
fn sts_refusing_erring_or_silent_serves_from_cache_then_names_the_role_and_recovers_without_restart()
 {
    let mut stack = Stack::with(Options {
        sts_fault: Some(Fault::Forward),
        sts_duration: Some(STS_LIFETIME),
        proxy_extra: "  credential_timeout: 3s".into(),
        env: vec![("RUST_LOG".into(), "trace".into())],
        ..Options::default()
    });
    let stderr = stack.proxy.wait_stderr("AWS credentials ready");
    assert!(stderr.contains("AWS credentials ready"), "{stderr}");
    // The credentials were issued before this: they are unusable at the latest 60 s from now.
    let issued_by = Instant::now();
    let role = stack.cross.role_arn.clone();
    let rt = runtime();
    let relay = stack.sts_relay.take().unwrap();
    let told = rt.block_on(async {
        let steady = Steady::start(&stack).await;
        let sts_calls = relay.accepted();

        // STS erring (503), resetting connections, or silent: new sessions are served from the
        // cached credentials, without a single connection to STS.
        for fault in [Fault::HttpError(503), Fault::Reset, Fault::Blackhole] {
            relay.set(fault);
            let started = Instant::now();
            let user = login(&stack, stack.port()).await;
            assert_eq!(user.as_deref().ok(), Some(IAM_USER), "{fault:?}: {user:?}");
            assert!(
                started.elapsed() < PROMPT,
                "{fault:?}: {:?}",
                started.elapsed()
            );
        }
        assert!(
            issued_by.elapsed() < Duration::from_secs(50),
            "the machine is too slow for this test's credential lifetime ({:?})",
            issued_by.elapsed()
        );
        assert_eq!(relay.accepted(), sts_calls, "a cached login called STS");

        // Once the credentials are too close to expiry, new sessions get a prompt error that names
        // the role, whichever way STS fails.
        relay.set(Fault::HttpError(503));
        let deadline = issued_by + Duration::from_secs(STS_LIFETIME + 60);
        let first = loop {
            match login(&stack, stack.port()).await {
                Ok(_) => assert!(
                    Instant::now() < deadline,
                    "credentials issued for {STS_LIFETIME} s still served after {:?}",
                    issued_by.elapsed()
                ),
                Err(failure) => break failure,
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        assert!(
            issued_by.elapsed() > Duration::from_secs(STS_LIFETIME - 70),
            "cached credentials were given up after only {:?}: {first:?}",
            issued_by.elapsed()
        );
        // Every login is refused promptly, naming the role. The cache answers with the last error
        // until its next attempt is due (backoff), so wait for an attempt made under each fault.
        let mut seen = vec![first.message.clone()];
        let mut last = first.message.clone();
        check_sts_failure(&first, &role, "503");
        for (fault, sign) in [(Fault::Reset, "reset"), (Fault::Blackhole, "silent")] {
            relay.set(fault);
            let calls = relay.accepted();
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let started = Instant::now();
                let failure = login(&stack, stack.port())
                    .await
                    .expect_err("no STS, no login");
                let took = started.elapsed();
                assert!(took < PROMPT, "{fault:?}: {took:?}");
                check_sts_failure(&failure, &role, sign);
                seen.push(failure.message.clone());
                if relay.accepted() > calls && failure.message != last {
                    eprintln!("STS {fault:?} after expiry: {failure:?} after {took:?}");
                    last = failure.message;
                    break;
                }
                assert!(Instant::now() < deadline, "{fault:?}: no new attempt");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }

        // STS answers again: new sessions get in, same process, with fresh credentials.
        let assumed = stack.moto.count("AssumeRole").unwrap();
        relay.set(Fault::Forward);
        login_until_it_succeeds(&stack, Duration::from_secs(120)).await;
        assert!(stack.moto.count("AssumeRole").unwrap() > assumed);

        // The open session outlived its credentials and every fault without a single error.
        steady.assert_clean(100).await;
        seen
    });
    // No secret in what clients were told or in the proxy's trace-level logs: the proxy's own key,
    // the external ID, and every secret key and session token STS handed out (read off the wire).
    let secrets = e2e_run_support::sts_secrets(&relay, &stack.cross.proxy.secret_access_key);
    let stderr = stack.proxy.stderr();
    assert!(
        stderr.contains("TRACE") || stderr.contains("trace"),
        "not a trace-level log"
    );
    for secret in &secrets {
        assert!(
            !stderr.contains(secret.as_str()),
            "a secret in the proxy's logs"
        );
        assert!(
            !told.iter().any(|m| m.contains(secret.as_str())),
            "a secret in a client's error"
        );
    }
    assert!(stack.proxy.is_running());
}

/// What the first query on `client` gets, within [`PROMPT`].
async fn next_query(client: &tokio_postgres::Client) -> Result<(), Failure> {
    match tokio::time::timeout(PROMPT, client.simple_query("SELECT 1")).await {
        Ok(result) => result.map(drop).map_err(|e| failure(&e)),
        Err(_) => panic!("a query on a session whose database went away hung"),
    }
}

#[test]
fn a_database_killed_or_cut_off_mid_session_errs_its_clients_and_serves_again_once_back() {
    let stack = Stack::with(Options {
        db_fault: Some(Fault::Forward),
        proxy_extra: "  connect_timeout: 3s\n  login_timeout: 5s".into(),
        ..Options::default()
    });
    let db = stack.db_relay.as_ref().unwrap();
    let rt = runtime();
    rt.block_on(async {
        // Killed mid-session (every connection reset): each client gets an error, not a hang.
        let (a, b) = (
            connect(&stack, stack.port()).await.unwrap(),
            connect(&stack, stack.port()).await.unwrap(),
        );
        next_query(&a).await.unwrap();
        next_query(&b).await.unwrap();
        db.reset_all();
        for client in [&a, &b] {
            let failure = next_query(client).await.expect_err("the database is gone");
            if let Some(state) = &failure.sqlstate {
                assert!(state.starts_with("08"), "{failure:?}");
            }
        }

        // Down (resetting or closing connections mid-handshake) or unreachable (silent): new sessions
        // get a prompt connection error (class 08), and nothing else changes.
        for fault in [Fault::Reset, Fault::Close, Fault::Blackhole] {
            db.set(fault);
            let started = Instant::now();
            let failure = login(&stack, stack.port())
                .await
                .expect_err("no database, no login");
            let took = started.elapsed();
            assert!(took < PROMPT, "{fault:?}: {took:?}");
            let state = failure.sqlstate.as_deref().unwrap_or_default();
            assert!(state.starts_with("08"), "{fault:?}: {failure:?}");
            eprintln!("database {fault:?}: {failure:?} after {took:?}");
        }

        // Back: new sessions succeed in the same process; a slow path (200 ms per chunk) too.
        db.set(Fault::Forward);
        login_until_it_succeeds(&stack, Duration::from_secs(60)).await;
        let steady = Steady::start(&stack).await;
        db.set(Fault::Delay(Duration::from_millis(200)));
        assert_eq!(login(&stack, stack.port()).await.unwrap(), IAM_USER);
        db.set(Fault::Forward);

        // The database ends its side mid-session (FIN, the way a server shutting down does): that
        // session errs too, and the proxy carries on.
        let c = connect(&stack, stack.port()).await.unwrap();
        next_query(&c).await.unwrap();
        // Cut the steady session's path last, after stopping it. It ran partly over the slow path
        // (200 ms per chunk): what counts is that every query was answered, not how many there were.
        steady.assert_clean(1).await;
        db.half_close_all();
        next_query(&c)
            .await
            .expect_err("the database ended the session");
        db.set(Fault::Forward);
        login_until_it_succeeds(&stack, Duration::from_secs(60)).await;
    });
    let mut stack = stack;
    assert!(stack.proxy.is_running(), "{}", stack.proxy.stderr());
}

/// How many server processes of [`IAM_USER`] the database has.
fn iam_backends(stack: &Stack) -> usize {
    let out = stack
        .pg
        .sql(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = '{IAM_USER}'"
        ))
        .unwrap();
    out.trim().parse().unwrap()
}

/// Wait (up to [`PROMPT`]) until `iam_backends` is `n`.
fn wait_backends(stack: &Stack, n: usize) {
    let deadline = Instant::now() + PROMPT;
    loop {
        let now = iam_backends(stack);
        if now == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{now} database sessions, not {n}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn clients_that_vanish_mid_session_free_their_database_sessions() {
    let stack = Stack::start();
    let proxy: SocketAddr = ([127, 0, 0, 1], stack.port()).into();
    let path = FaultRelay::start(proxy, Fault::Forward).unwrap();
    let rt = runtime();
    rt.block_on(async {
        let steady = Steady::start(&stack).await;
        wait_backends(&stack, 1);
        // A client whose host dies (reset), and one whose network drops everything but a FIN
        // (half-close: the client's way back ends).
        for cut in [FaultRelay::reset_all, FaultRelay::half_close_all] {
            let client = connect(&stack, path.port()).await.unwrap();
            next_query(&client).await.unwrap();
            wait_backends(&stack, 2);
            cut(&path);
            wait_backends(&stack, 1);
            drop(client);
        }
        // Many at once.
        let mut clients = Vec::new();
        for _ in 0..20 {
            clients.push(connect(&stack, path.port()).await.unwrap());
        }
        wait_backends(&stack, 21);
        path.reset_all();
        wait_backends(&stack, 1);
        drop(clients);
        steady.assert_clean(20).await;
    });
}
