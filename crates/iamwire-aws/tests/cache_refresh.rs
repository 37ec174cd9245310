//! Refresh-ahead, serving old credentials during a refresh, retries with backoff, and never handing out
//! expired credentials — all on Tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

#[path = "cache_support/fake.rs"]
mod fake;

use std::sync::Arc;
use std::time::Duration;

use iamwire_aws::cache::{CacheConfig, Clock};
use iamwire_aws::role::{CachingRoleProvider, HopKind, RoleChain, RoleError, RoleProvider};
use tokio::task::JoinSet;
use tokio::time::Instant;

use fake::FakeSts;

const HOUR: Duration = Duration::from_secs(3600);

fn chain() -> RoleChain {
    RoleChain::builder()
        .assume_role("arn:aws:iam::123456789012:role/db-access".parse().unwrap())
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn refresh_starts_before_expiry_and_callers_get_the_old_credentials_without_waiting() {
    let config = CacheConfig::default().refresh_before(Duration::from_secs(300));
    let (cache, clock) = fake::cache(config);
    let sts = Arc::new(FakeSts::new(clock, HOUR).with_delay(Duration::from_secs(30)));
    let provider = CachingRoleProvider::new(Arc::clone(&sts), fake::base(), cache);
    let chain = chain();

    let first = provider.credentials(&chain).await.unwrap();
    let first_expiry = first.expiry().unwrap();
    assert_eq!(sts.count(), 1);

    // Just before the refresh point nothing happens.
    let until = (first_expiry - Duration::from_secs(301))
        .duration_since(clock.now())
        .unwrap();
    tokio::time::advance(until).await;
    provider.credentials(&chain).await.unwrap();
    tokio::task::yield_now().await;
    assert_eq!(sts.count(), 1);

    // Past it (5 minutes before expiry), the first caller starts a refresh; the fetch takes 30 s, but
    // nobody waits for it: Tokio's paused clock would have moved if anyone had.
    tokio::time::advance(Duration::from_secs(2)).await;
    let mut callers = JoinSet::new();
    for _ in 0..50 {
        let (provider, chain) = (provider.clone(), chain.clone());
        callers.spawn(async move {
            let asked = Instant::now();
            let creds = provider.credentials(&chain).await.unwrap();
            (asked.elapsed(), creds)
        });
    }
    while let Some(joined) = callers.join_next().await {
        let (waited, creds) = joined.unwrap();
        assert_eq!(waited, Duration::ZERO, "a caller waited for the refresh");
        assert_eq!(creds.access_key_id(), first.access_key_id());
    }
    let calls = sts.calls();
    assert_eq!(calls.len(), 2, "exactly one refresh");
    assert!(calls[1].at <= first_expiry - Duration::from_secs(299));

    // Once the refresh lands, callers get the new credentials.
    tokio::time::sleep(Duration::from_secs(31)).await;
    let second = provider.credentials(&chain).await.unwrap();
    assert_ne!(second.access_key_id(), first.access_key_id());
    assert!(second.expiry().unwrap() > first_expiry);
    assert_eq!(sts.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn short_lived_credentials_refresh_at_half_their_remaining_life() {
    // 4-minute credentials, 5-minute refresh lead: refresh after 2 minutes, not immediately.
    let config = CacheConfig::default().safety_margin(Duration::from_secs(10));
    let (cache, clock) = fake::cache(config);
    let sts = Arc::new(FakeSts::new(clock, Duration::from_secs(240)));
    let provider = CachingRoleProvider::new(Arc::clone(&sts), fake::base(), cache);
    let chain = chain();
    provider.credentials(&chain).await.unwrap();
    tokio::time::advance(Duration::from_secs(119)).await;
    provider.credentials(&chain).await.unwrap();
    tokio::task::yield_now().await;
    assert_eq!(sts.count(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    provider.credentials(&chain).await.unwrap();
    tokio::task::yield_now().await;
    assert_eq!(sts.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn no_caller_ever_sees_expired_credentials_in_a_long_run() {
    let margin = Duration::from_secs(10);
    let config = CacheConfig::default().safety_margin(margin);
    let (cache, clock) = fake::cache(config);
    // Two-minute credentials that take 5 s to get: refreshed every minute or so, for 3 hours.
    let sts =
        Arc::new(FakeSts::new(clock, Duration::from_secs(120)).with_delay(Duration::from_secs(5)));
    let provider = CachingRoleProvider::new(Arc::clone(&sts), fake::base(), cache);
    let chain = RoleChain::builder()
        .assume_role("arn:aws:iam::123456789012:role/db-access".parse().unwrap())
        .then_user_role("reader")
        .build()
        .unwrap();
    let end = Instant::now() + 3 * HOUR;
    let mut served = 0u32;
    while Instant::now() < end {
        let mut callers = JoinSet::new();
        for _ in 0..3 {
            let (provider, chain) = (provider.clone(), chain.clone());
            callers.spawn(async move { provider.credentials(&chain).await });
        }
        while let Some(joined) = callers.join_next().await {
            let creds = joined.unwrap().unwrap();
            let left = creds.expiry().unwrap().duration_since(clock.now()).unwrap();
            assert!(left > margin, "handed out credentials with {left:?} left");
            served += 1;
        }
        tokio::time::sleep(Duration::from_secs(7)).await;
    }
    assert!(served > 4000);
    // About one refresh per minute per hop; far fewer than callers.
    let calls = sts.count();
    assert!((300..=420).contains(&calls), "{calls} AssumeRole calls");
}

#[tokio::test(start_paused = true)]
async fn a_failing_refresh_is_retried_with_backoff_then_reported_once_the_old_credentials_expire() {
    let margin = Duration::from_secs(60);
    let config = CacheConfig::default()
        .safety_margin(margin)
        .retry_backoff(Duration::from_secs(1), Duration::from_secs(8))
        .jitter_seed(7);
    let (cache, clock) = fake::cache(config.clone());
    let sts = Arc::new(FakeSts::new(clock, HOUR));
    let provider = CachingRoleProvider::new(Arc::clone(&sts), fake::base(), cache);
    let chain = chain();
    let old = provider.credentials(&chain).await.unwrap();

    sts.fail_with(Some(("AccessDenied", false)));
    tokio::time::advance(HOUR - Duration::from_secs(299)).await;
    // Past the refresh point: the old credentials, at once, while the refresh fails and retries.
    for _ in 0..30 {
        let asked = Instant::now();
        let creds = provider.credentials(&chain).await.unwrap();
        assert_eq!(asked.elapsed(), Duration::ZERO);
        assert_eq!(creds.access_key_id(), old.access_key_id());
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    // Retries back off: each gap lies in the upper half of its doubling step, capped at 8 s.
    let calls = sts.calls();
    assert!(calls.len() >= 2 + 15, "{} calls", calls.len());
    let failed = &calls[1..];
    for (i, pair) in failed.windows(2).enumerate() {
        let gap = pair[1].at.duration_since(pair[0].at).unwrap();
        let ceiling = config.backoff_ceiling(u32::try_from(i).unwrap() + 1);
        assert!(
            gap >= ceiling / 2 && gap <= ceiling,
            "retry {i}: gap {gap:?}, step {ceiling:?}"
        );
    }

    // Once the old credentials are within the safety margin of expiry, callers get the error, with
    // the role and the AWS error code, never the old credentials.
    let expiry = old.expiry().unwrap();
    let until_unusable = (expiry - margin).duration_since(clock.now()).unwrap();
    tokio::time::advance(until_unusable).await;
    let err = provider.credentials(&chain).await.unwrap_err();
    let RoleError::AssumeRole(failure) = &err else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(failure.code.as_deref(), Some("AccessDenied"));
    assert_eq!(failure.hop, HopKind::DatabaseRole);
    assert_eq!(err.role_arn(), chain.last_role_arn());
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("trust policy"));

    // Fixed upstream: the next attempt after the backoff succeeds.
    sts.fail_with(None);
    tokio::time::advance(Duration::from_secs(9)).await;
    let new = provider.credentials(&chain).await.unwrap();
    assert_ne!(new.access_key_id(), old.access_key_id());
}

#[tokio::test(start_paused = true)]
async fn a_cold_failure_is_served_to_callers_until_the_backoff_allows_another_attempt() {
    let config =
        CacheConfig::default().retry_backoff(Duration::from_secs(4), Duration::from_secs(60));
    let (cache, clock) = fake::cache(config);
    let sts = Arc::new(FakeSts::new(clock, HOUR));
    sts.fail_with(Some(("Throttling", true)));
    let provider = CachingRoleProvider::new(Arc::clone(&sts), fake::base(), cache);
    let chain = chain();
    let err = provider.prefetch(&chain).await.unwrap_err();
    assert_eq!(err.code(), Some("Throttling"));
    assert!(err.is_retryable());
    // Within the backoff, callers get the same error without another STS call.
    for _ in 0..10 {
        assert_eq!(provider.credentials(&chain).await.unwrap_err(), err);
    }
    assert_eq!(sts.count(), 1);
    tokio::time::advance(Duration::from_secs(5)).await;
    sts.fail_with(None);
    provider.credentials(&chain).await.unwrap();
    assert_eq!(sts.count(), 2);
}
