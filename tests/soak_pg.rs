//! Soak through `iamwire run`: many concurrent tokio-postgres sessions, each running a steady query
//! loop through the proxy to an RDS-like PostgreSQL 15 (IAM tokens checked by botocore against moto),
//! while a churn task logs in and out without pause. Zero errors are allowed; the proxy's resident
//! memory and open file descriptors (read from /proc) are sampled throughout and must stay flat, and
//! the descriptors must return to their idle level once the sessions end.
//!
//! CI runs the short variant (100 sessions, 60 s). The long one is one command:
//!
//! ```text
//! IAMWIRE_SOAK_SECS=600 IAMWIRE_SOAK_SESSIONS=190 cargo test --release --test soak_pg -- --nocapture
//! ```
//!
//! (The rig's PostgreSQL allows 200 connections: sessions + churn must stay below that.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod e2e_run_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use e2e_run_support::Stack;
use iamwire_testkit::postgres::IAM_USER;

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

async fn connect(stack: &Stack) -> tokio_postgres::Client {
    stack
        .tokio_pg("alice", IAM_USER, Some("app"))
        .await
        .unwrap_or_else(|e| panic!("login: {e:?}"))
}

#[test]
fn concurrent_sessions_run_without_an_error_and_memory_and_descriptors_stay_flat() {
    let sessions = setting("IAMWIRE_SOAK_SESSIONS", 100);
    let duration = Duration::from_secs(setting("IAMWIRE_SOAK_SECS", 60));
    let stack = Stack::start();
    stack.proxy.wait_stderr("AWS credentials ready");
    let pid = stack.proxy.pid();
    let idle = usage(pid);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (queries, logins, errors) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(std::sync::Mutex::new(Vec::<String>::new())),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let samples = rt.block_on(async {
        // Open the sessions one after another (each is a full login: TLS, token, database).
        let mut clients = Vec::new();
        for _ in 0..sessions {
            clients.push(connect(&stack).await);
        }
        let mut loops = tokio::task::JoinSet::new();
        for (i, client) in clients.into_iter().enumerate() {
            let (stop, queries, errors) = (stop.clone(), queries.clone(), errors.clone());
            loops.spawn(async move {
                let mut n = i32::try_from(i).unwrap();
                while !stop.load(Ordering::SeqCst) {
                    n = n.wrapping_add(7);
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&n];
                    let query = client.query_one("SELECT $1::int4 + 1", &params);
                    match tokio::time::timeout(Duration::from_secs(30), query).await {
                        Ok(Ok(row)) if row.get::<_, i32>(0) == n.wrapping_add(1) => {
                            queries.fetch_add(1, Ordering::Relaxed);
                        }
                        other => errors.lock().unwrap().push(format!("{other:?}")),
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
        }
        // Churn: log in, query, log out, over and over.
        let churn = {
            let tls = stack.tokio_pg_tls("alice");
            let config = stack.tokio_pg_config(stack.port());
            let (stop, logins, errors) = (stop.clone(), logins.clone(), errors.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    match config.connect(tls.clone()).await {
                        Ok((client, connection)) => {
                            let task = tokio::spawn(connection);
                            match client.simple_query("SELECT 1").await {
                                Ok(_) => {
                                    logins.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) => errors.lock().unwrap().push(format!("churn: {e:?}")),
                            }
                            drop(client);
                            let _ = task.await;
                        }
                        Err(e) => errors.lock().unwrap().push(format!("churn login: {e:?}")),
                    }
                }
            })
        };
        // Sample every tenth of the run.
        let started = Instant::now();
        let mut samples = Vec::new();
        while started.elapsed() < duration {
            tokio::time::sleep(duration / 10).await;
            samples.push((started.elapsed(), usage(pid)));
        }
        stop.store(true, Ordering::SeqCst);
        while loops.join_next().await.is_some() {}
        churn.await.unwrap();
        samples
    });

    eprintln!(
        "soak: {sessions} sessions for {duration:?}: {} queries, {} churn logins",
        queries.load(Ordering::Relaxed),
        logins.load(Ordering::Relaxed)
    );
    eprintln!("idle: rss {} KiB, {} fds", idle.0, idle.1);
    for (at, (rss, fds)) in &samples {
        eprintln!("{:>6.1} s: rss {rss} KiB, {fds} fds", at.as_secs_f64());
    }
    let errors = errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    let seconds = duration.as_secs().max(1);
    assert!(
        queries.load(Ordering::Relaxed) >= sessions * seconds,
        "only {} queries",
        queries.load(Ordering::Relaxed)
    );
    assert!(logins.load(Ordering::Relaxed) > 0, "no churn login");
    // Flat: after the first tenth (buffers allocated, allocator warmed), the second half never
    // exceeds the first half's peak by more than a quarter (plus 8 MiB of slack) in memory, or by more
    // than 10 descriptors (the churn's connections in flight).
    let half = samples.len() / 2;
    let peak = |range: &[(Duration, (u64, usize))]| {
        range
            .iter()
            .fold((0, 0), |(r, f), (_, (rss, fds))| (r.max(*rss), f.max(*fds)))
    };
    let (early_rss, early_fds) = peak(&samples[..half]);
    let (late_rss, late_fds) = peak(&samples[half..]);
    assert!(
        late_rss <= early_rss + early_rss / 4 + 8 * 1024,
        "memory grew: {early_rss} KiB -> {late_rss} KiB"
    );
    assert!(
        late_fds <= early_fds + 10,
        "descriptors grew: {early_fds} -> {late_fds}"
    );
    // The sessions are gone (the loops dropped their clients): descriptors come back to idle.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, fds) = usage(pid);
        if fds <= idle.1 + 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{fds} descriptors open after the sessions ended (idle: {})",
            idle.1
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
