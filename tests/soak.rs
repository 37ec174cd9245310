//! Soak through `iamwire run`, across protocols: one proxy serving PostgreSQL, MySQL (MariaDB) and
//! Redis (the hostile suite's deployment: RDS-like servers taking IAM tokens checked by botocore, a
//! Redis with the listener's password), many concurrent sessions of each running a steady query loop
//! with real clients (tokio-postgres, mysql_async, redis-rs), while a churn task per protocol logs in
//! and out without pause. Zero errors are allowed; the proxy's resident memory and open file
//! descriptors (from /proc) are sampled throughout and must stay flat, and the descriptors must return
//! to their idle level once the sessions end.
//!
//! CI runs the short variant (300 sessions: 100 per protocol, 60 s). The long one is one command
//! (the test process holds a socket per session, hence the descriptor limit):
//!
//! ```text
//! ulimit -n 8192; IAMWIRE_SOAK_SECS=600 IAMWIRE_SOAK_SESSIONS=1000 \
//!   cargo test --release --test soak -- --nocapture
//! ```
//!
//! Sessions are shared out as the rig's servers allow: PostgreSQL at most 180 (it allows 200),
//! MariaDB at most 280 (it allows 300), Redis the rest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;
mod hostile_support;
#[path = "../crates/iamwire-mysql/tests/e2e_support/mod.rs"]
mod my_support;
mod py_session;
mod redis_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hostile_support::Rig;
use hostile_support::steady::{my_session, pg_login, redis_session};
use mysql_async::prelude::Queryable;
use tokio::task::JoinSet;

/// A value from the environment, or `default`.
fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The proxy's resident memory (KiB) and open descriptors.
fn usage(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (rss, fds)
}

/// Generous: one answer on a loaded 2-core machine with a thousand sessions.
const ANSWER: Duration = Duration::from_secs(30);
/// Between two queries of one session.
const PACE: Duration = Duration::from_millis(200);

/// Counters shared by every loop.
#[derive(Default)]
struct Tally {
    queries: [AtomicU64; 3],
    logins: [AtomicU64; 3],
    errors: Mutex<Vec<String>>,
}

impl Tally {
    fn ok(&self, protocol: usize) {
        self.queries[protocol].fetch_add(1, Ordering::Relaxed);
    }

    fn error(&self, what: String) {
        self.errors.lock().unwrap().push(what);
    }
}

const PG: usize = 0;
const MY: usize = 1;
const REDIS: usize = 2;
const NAMES: [&str; 3] = ["postgres", "mysql", "redis"];

/// One query of `protocol` on a fresh or a held session: the loop body, shared by sessions and churn.
enum Session {
    Pg(tokio_postgres::Client),
    My(mysql_async::Conn),
    Redis(redis::aio::MultiplexedConnection),
}

impl Session {
    async fn open(rig: &Rig, protocol: usize) -> Result<Self, String> {
        let opened = match protocol {
            PG => pg_login(rig)
                .await
                .map(Self::Pg)
                .map_err(|e| format!("{e:?}")),
            MY => my_session(rig)
                .await
                .map(Self::My)
                .map_err(|e| format!("{e:?}")),
            _ => redis_session(rig)
                .await
                .map(Self::Redis)
                .map_err(|e| format!("{e:?}")),
        };
        opened.map_err(|e| format!("{} login: {e}", NAMES[protocol]))
    }

    /// `n + 1` computed by the database.
    async fn query(&mut self, n: i32) -> Result<(), String> {
        let got: i64 = match self {
            Self::Pg(client) => {
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&n];
                let row = client
                    .query_one("SELECT $1::int4 + 1", &params)
                    .await
                    .map_err(|e| format!("postgres: {e:?}"))?;
                i64::from(row.get::<_, i32>(0))
            }
            Self::My(conn) => conn
                .exec_first::<i64, _, _>("SELECT ? + 1", (n,))
                .await
                .map_err(|e| format!("mysql: {e:?}"))?
                .unwrap_or_default(),
            Self::Redis(conn) => {
                let key = format!("soak:{n}");
                redis::cmd("SET")
                    .arg(&key)
                    .arg(n)
                    .query_async::<()>(conn)
                    .await
                    .map_err(|e| format!("redis: {e:?}"))?;
                redis::cmd("INCR")
                    .arg(&key)
                    .query_async(conn)
                    .await
                    .map_err(|e| format!("redis: {e:?}"))?
            }
        };
        if got == i64::from(n) + 1 {
            Ok(())
        } else {
            Err(format!("{n} + 1 = {got}?"))
        }
    }

    async fn close(self) {
        match self {
            Self::Pg(client) => drop(client),
            Self::My(conn) => {
                let _ = conn.disconnect().await;
            }
            Self::Redis(conn) => drop(conn),
        }
    }
}

#[test]
fn sessions_of_every_protocol_run_without_an_error_and_memory_and_descriptors_stay_flat() {
    let sessions = setting("IAMWIRE_SOAK_SESSIONS", 300);
    let duration = Duration::from_secs(setting("IAMWIRE_SOAK_SECS", 60));
    let pg = (sessions / 3).min(180);
    let my = (sessions / 3).min(280);
    let counts = [pg, my, sessions - pg - my];
    let rig = Arc::new(Rig::start_with_handshake(Duration::from_secs(30)));
    rig.proxy.wait_stderr("AWS credentials ready");
    let pid = rig.proxy.pid();
    let idle = usage(pid);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (samples, opened_in) = rt.block_on(async {
        // Open every session (each a full login: TLS, authorization, token, database), 16 at a time.
        let opening = Instant::now();
        let gate = Arc::new(tokio::sync::Semaphore::new(16));
        let mut logins = JoinSet::new();
        for (protocol, count) in counts.iter().enumerate() {
            for _ in 0..*count {
                let (rig, gate) = (rig.clone(), gate.clone());
                logins.spawn(async move {
                    let _permit = gate.acquire_owned().await.unwrap();
                    (protocol, Session::open(&rig, protocol).await.unwrap())
                });
            }
        }
        let mut held = Vec::new();
        while let Some(opened) = logins.join_next().await {
            held.push(opened.unwrap());
        }
        let opened_in = opening.elapsed();
        let mut loops = JoinSet::new();
        for (i, (protocol, mut session)) in held.into_iter().enumerate() {
            let (stop, tally) = (stop.clone(), tally.clone());
            loops.spawn(async move {
                let mut n = i32::try_from(i).unwrap() * 1000;
                while !stop.load(Ordering::Relaxed) {
                    n = n.wrapping_add(1) % 1_000_000_000;
                    match tokio::time::timeout(ANSWER, session.query(n)).await {
                        Ok(Ok(())) => tally.ok(protocol),
                        Ok(Err(e)) => tally.error(e),
                        Err(_) => {
                            tally.error(format!("{}: no answer in {ANSWER:?}", NAMES[protocol]))
                        }
                    }
                    tokio::time::sleep(PACE).await;
                }
                session.close().await;
            });
        }
        // Churn, per protocol: log in, one query, log out, over and over.
        for protocol in [PG, MY, REDIS] {
            let (stop, tally, rig) = (stop.clone(), tally.clone(), rig.clone());
            loops.spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    match Session::open(&rig, protocol).await {
                        Ok(mut session) => {
                            match session.query(n).await {
                                Ok(()) => {
                                    tally.logins[protocol].fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) => tally.error(format!("churn {e}")),
                            }
                            session.close().await;
                        }
                        Err(e) => tally.error(format!("churn {e}")),
                    }
                }
            });
        }
        // Sample every tenth of the run.
        let started = Instant::now();
        let mut samples = Vec::new();
        while started.elapsed() < duration {
            tokio::time::sleep(duration / 10).await;
            samples.push((started.elapsed(), usage(pid)));
        }
        stop.store(true, Ordering::SeqCst);
        while loops.join_next().await.is_some() {}
        (samples, opened_in)
    });

    let queries: Vec<u64> = tally
        .queries
        .iter()
        .map(|q| q.load(Ordering::Relaxed))
        .collect();
    let logins: Vec<u64> = tally
        .logins
        .iter()
        .map(|q| q.load(Ordering::Relaxed))
        .collect();
    eprintln!(
        "soak: {sessions} sessions ({} postgres, {} mysql, {} redis) opened in {opened_in:?}, held \
         {duration:?}: queries {queries:?}, churn logins {logins:?}",
        counts[PG], counts[MY], counts[REDIS]
    );
    eprintln!("idle: {} KiB RSS, {} fds", idle.0, idle.1);
    for (at, (rss, fds)) in &samples {
        eprintln!("{:>6.1}s: {rss} KiB RSS, {fds} fds", at.as_secs_f64());
    }
    let errors = tally.errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    // Every session worked: at least one query per session every ~2 s on average.
    let expected = duration.as_secs() / 2;
    for (protocol, count) in counts.iter().enumerate() {
        assert!(
            queries[protocol] >= count * expected,
            "{}: {} queries from {count} sessions in {duration:?}",
            NAMES[protocol],
            queries[protocol]
        );
        assert!(logins[protocol] > 0, "{}: no churn login", NAMES[protocol]);
    }
    // Flat: the second half no higher than the first half's peak (with slack for allocator noise,
    // and the churn's sessions in flight).
    let half = samples.len() / 2;
    let peak = |s: &[(Duration, (u64, usize))]| {
        s.iter()
            .fold((0, 0), |(r, f), (_, (rss, fds))| (r.max(*rss), f.max(*fds)))
    };
    let (first, second) = (peak(&samples[..half]), peak(&samples[half..]));
    assert!(
        second.0 <= first.0 + first.0 / 4 + 8 * 1024,
        "RSS grew: {first:?} -> {second:?}"
    );
    assert!(
        second.1 <= first.1 + 10,
        "descriptors grew: {first:?} -> {second:?}"
    );
    // Back to idle once the sessions are gone.
    let start = Instant::now();
    while usage(pid).1 > idle.1 + 4 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "descriptors stay open: {} (idle {})",
            usage(pid).1,
            idle.1
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut proxy = Arc::try_unwrap(rig).ok().unwrap().proxy;
    assert!(proxy.is_running(), "{}", proxy.stderr());
}
