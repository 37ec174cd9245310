//! Unit tests of the cache's timing arithmetic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use tokio::time::Instant;

use super::entry::{Entry, Next, Task};
use super::*;

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn creds(expiry: SystemTime) -> Credentials {
    Credentials::new("ASIA", "secret", None, Some(expiry), "test")
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let config =
        CacheConfig::default().retry_backoff(Duration::from_secs(1), Duration::from_secs(30));
    let steps: Vec<u64> = (1..=7)
        .map(|n| config.backoff_ceiling(n).as_secs())
        .collect();
    assert_eq!(steps, [1, 2, 4, 8, 16, 30, 30]);
    assert_eq!(config.backoff_ceiling(u32::MAX), Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn refresh_point_is_the_earlier_of_half_life_and_the_lead() {
    let config = CacheConfig::default();
    let mut entry = Entry::new(1, Instant::now());
    let next = entry.record(
        Ok(creds(t0() + Duration::from_secs(3600))),
        &config,
        t0(),
        Instant::now(),
        || None,
        0.5,
    );
    assert_eq!(next, Next::Done);
    let fresh = entry.fresh.clone().unwrap();
    assert_eq!(fresh.refresh_at, t0() + Duration::from_secs(3300));

    let next = entry.record(
        Ok(creds(t0() + Duration::from_secs(240))),
        &config,
        t0(),
        Instant::now(),
        || None,
        0.5,
    );
    assert_eq!(next, Next::Done);
    assert_eq!(
        entry.fresh.unwrap().refresh_at,
        t0() + Duration::from_secs(120)
    );
}

#[tokio::test(start_paused = true)]
async fn credentials_inside_the_safety_margin_are_an_error_not_a_result() {
    let config = CacheConfig::default().safety_margin(Duration::from_secs(60));
    let mut entry = Entry::new(1, Instant::now());
    let next = entry.record(
        Ok(creds(t0() + Duration::from_secs(60))),
        &config,
        t0(),
        Instant::now(),
        || None,
        0.0,
    );
    assert_eq!(next, Next::Done);
    assert!(entry.fresh.is_none());
    assert!(matches!(entry.error, Some(RoleError::Expired { .. })));
    assert_eq!(entry.task, Task::Idle);
}

#[tokio::test(start_paused = true)]
async fn a_failure_retries_only_while_the_old_credentials_last() {
    let config = CacheConfig::default()
        .safety_margin(Duration::from_secs(60))
        .retry_backoff(Duration::from_secs(10), Duration::from_secs(10));
    let mut entry = Entry::new(1, Instant::now());
    entry.record(
        Ok(creds(t0() + Duration::from_secs(600))),
        &config,
        t0(),
        Instant::now(),
        || None,
        0.0,
    );
    let failure = || Err(RoleError::NoRuntime);
    // 500 s later: 100 s left, 40 s of it usable; a retry within 10 s is worthwhile.
    let later = t0() + Duration::from_secs(500);
    assert_eq!(
        entry.record(failure(), &config, later, Instant::now(), || None, 0.0),
        Next::RetryAfter(Duration::from_secs(5))
    );
    assert_eq!(entry.task, Task::Backoff);
    // 535 s: the next retry would land past the usable window; stop, and let callers decide.
    let late = t0() + Duration::from_secs(535);
    assert_eq!(
        entry.record(failure(), &config, late, Instant::now(), || None, 0.99),
        Next::Done
    );
    assert_eq!(entry.task, Task::Idle);
    assert_eq!(entry.failures, 2);
}

#[test]
fn jitter_is_a_fraction_and_follows_the_seed() {
    let make = |seed| {
        CredentialCache::new(
            CacheConfig::default().jitter_seed(seed),
            Arc::new(SystemClock),
        )
    };
    let (a, b, c) = (make(1), make(1), make(2));
    let xs: Vec<f64> = (0..100).map(|_| a.next_jitter()).collect();
    let ys: Vec<f64> = (0..100).map(|_| b.next_jitter()).collect();
    let zs: Vec<f64> = (0..100).map(|_| c.next_jitter()).collect();
    assert_eq!(xs, ys);
    assert_ne!(xs, zs);
    assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
}

#[test]
fn outside_a_runtime_the_cache_says_so() {
    let cache = CredentialCache::new(CacheConfig::default(), Arc::new(SystemClock));
    let fetch: Fetch = Arc::new(|| Box::pin(async { Err(RoleError::NoRuntime) }));
    let key = ChainKey::base();
    let result = futures_lite_block_on(cache.get(&key, fetch));
    assert_eq!(result, Err(RoleError::NoRuntime));
}

/// Poll a future that must complete without waking (no runtime involved).
fn futures_lite_block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the future waited"),
    }
}
