//! Single-flight and key separation of the credential cache.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

#[path = "cache_support/fake.rs"]
mod fake;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_credential_types::Credentials;
use iamwire_aws::cache::{CacheConfig, Clock, Fetch};
use iamwire_aws::role::{CachingRoleProvider, RoleChain, RoleProvider};
use iamwire_core::{ExternalId, RoleArn};
use tokio::task::JoinSet;

use fake::FakeSts;

fn arn(s: &str) -> RoleArn {
    s.parse().unwrap()
}

fn chain() -> RoleChain {
    RoleChain::builder()
        .assume_role(arn("arn:aws:iam::123456789012:role/db-access"))
        .external_id(ExternalId::new("ext-1"))
        .session_name("alice")
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn two_hundred_callers_on_a_cold_key_cause_one_fetch() {
    let (cache, clock) = fake::cache(CacheConfig::default());
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let fetch: Fetch = Arc::new(move || {
        let counter = Arc::clone(&counter);
        Box::pin(async move {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(Credentials::new(
                "ASIAONE",
                "secret",
                Some("token".into()),
                Some(clock.now() + Duration::from_secs(3600)),
                "test",
            ))
        })
    });
    let key = chain().key();
    let mut callers = JoinSet::new();
    for _ in 0..200 {
        let (cache, key, fetch) = (cache.clone(), key.clone(), Arc::clone(&fetch));
        callers.spawn(async move { cache.get(&key, fetch).await });
    }
    let mut served = 0;
    while let Some(result) = callers.join_next().await {
        assert_eq!(result.unwrap().unwrap().access_key_id(), "ASIAONE");
        served += 1;
    }
    assert_eq!(served, 200);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn two_hundred_callers_through_the_provider_cause_one_assume_role() {
    let (cache, clock) = fake::cache(CacheConfig::default());
    let sts =
        Arc::new(FakeSts::new(clock, Duration::from_secs(3600)).with_delay(Duration::from_secs(2)));
    let provider = CachingRoleProvider::new(Arc::clone(&sts), fake::base(), cache);
    let chain = RoleChain::builder()
        .assume_role(arn("arn:aws:iam::123456789012:role/db-access"))
        .then_user_role("reader")
        .build()
        .unwrap();
    let mut callers = JoinSet::new();
    for _ in 0..200 {
        let (provider, chain) = (provider.clone(), chain.clone());
        callers.spawn(async move { provider.credentials(&chain).await });
    }
    while let Some(result) = callers.join_next().await {
        assert_eq!(result.unwrap().unwrap().access_key_id(), "ASIAreader1");
    }
    // One AssumeRole per hop, however many callers.
    let roles: Vec<_> = sts.calls().into_iter().map(|c| c.role_arn).collect();
    assert_eq!(
        roles,
        [
            "arn:aws:iam::123456789012:role/db-access",
            "arn:aws:iam::123456789012:role/reader"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn chains_that_differ_in_any_sent_field_do_not_share_credentials() {
    let (cache, clock) = fake::cache(CacheConfig::default());
    let sts = Arc::new(FakeSts::new(clock, Duration::from_secs(3600)));
    let provider = CachingRoleProvider::new(Arc::clone(&sts), fake::base(), cache.clone());
    let role = || {
        RoleChain::builder()
            .assume_role(arn("arn:aws:iam::123456789012:role/db-access"))
            .session_name("alice")
    };
    let chains = [
        role().build().unwrap(),
        role()
            .external_id(ExternalId::new("ext-a"))
            .build()
            .unwrap(),
        role()
            .external_id(ExternalId::new("ext-b"))
            .build()
            .unwrap(),
        role().session_tag("team", "a").build().unwrap(),
        role().session_tag("team", "b").build().unwrap(),
        role()
            .session_tag("team", "b")
            .transitive_tag_key("team")
            .build()
            .unwrap(),
        role().duration(Duration::from_secs(900)).build().unwrap(),
        role().session_name("bob").build().unwrap(),
        RoleChain::builder()
            .assume_role(arn("arn:aws:iam::123456789012:role/other"))
            .session_name("alice")
            .build()
            .unwrap(),
    ];
    let mut keys = std::collections::HashSet::new();
    for chain in &chains {
        provider.credentials(chain).await.unwrap();
        assert!(keys.insert(chain.key()), "{chain:?} shares a key");
    }
    assert_eq!(sts.count(), chains.len());
    // Asking again is served from the cache, one entry per chain plus the base credentials.
    for chain in &chains {
        provider.credentials(chain).await.unwrap();
    }
    assert_eq!(sts.count(), chains.len());
    assert_eq!(cache.len(), chains.len() + 1);
    // An equal chain built separately shares its entry.
    let again = role()
        .external_id(ExternalId::new("ext-a"))
        .build()
        .unwrap();
    provider.credentials(&again).await.unwrap();
    assert_eq!(sts.count(), chains.len());
}

#[tokio::test(start_paused = true)]
async fn keys_unused_for_the_idle_ttl_are_evicted() {
    let config = CacheConfig::default().idle_ttl(Duration::from_secs(600));
    let (cache, clock) = fake::cache(config);
    let sts = Arc::new(FakeSts::new(clock, Duration::from_secs(3600)));
    let provider = CachingRoleProvider::new(Arc::clone(&sts), fake::base(), cache.clone());
    let old = chain();
    provider.credentials(&old).await.unwrap();
    assert_eq!(cache.len(), 2);
    tokio::time::advance(Duration::from_secs(601)).await;
    let other = RoleChain::builder()
        .assume_role(arn("arn:aws:iam::123456789012:role/other"))
        .build()
        .unwrap();
    provider.credentials(&other).await.unwrap();
    // The old chain's entry went; the base entry was just used again for `other`.
    assert_eq!(cache.len(), 2);
    assert!(!cache.invalidate(&old.key()));
    tokio::time::advance(Duration::from_secs(601)).await;
    assert_eq!(cache.evict_idle(), 2);
    assert!(cache.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_fetch_that_never_answers_releases_its_waiters_and_the_next_caller_retries() {
    let config = CacheConfig::default()
        .fetch_timeout(Duration::from_secs(5))
        .retry_backoff(Duration::from_secs(1), Duration::from_secs(1));
    let (cache, clock) = fake::cache(config);
    let answering = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (flag, counter) = (Arc::clone(&answering), Arc::clone(&fetches));
    let fetch: Fetch = Arc::new(move || {
        let (flag, counter) = (Arc::clone(&flag), Arc::clone(&counter));
        Box::pin(async move {
            counter.fetch_add(1, Ordering::SeqCst);
            if !flag.load(Ordering::SeqCst) {
                // STS accepted the connection and says nothing, ever.
                std::future::pending::<()>().await;
            }
            Ok(Credentials::new(
                "ASIAOK",
                "secret",
                Some("token".into()),
                Some(clock.now() + Duration::from_secs(3600)),
                "test",
            ))
        })
    });
    let key = chain().key();
    let mut callers = JoinSet::new();
    for _ in 0..20 {
        let (cache, key, fetch) = (cache.clone(), key.clone(), Arc::clone(&fetch));
        callers.spawn(async move { cache.get(&key, fetch).await });
    }
    while let Some(result) = callers.join_next().await {
        let error = result.unwrap().unwrap_err();
        assert!(
            matches!(error, iamwire_aws::role::RoleError::Timeout { .. }),
            "{error:?}"
        );
        assert!(error.is_retryable());
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "one fetch for all 20");

    // STS answers again: after the backoff, the next caller fetches anew and succeeds.
    answering.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let creds = cache.get(&key, Arc::clone(&fetch)).await.unwrap();
    assert_eq!(creds.access_key_id(), "ASIAOK");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    let stats = cache.stats();
    let (role, counted) = &stats[0];
    assert_eq!(role, "arn:aws:iam::123456789012:role/db-access");
    assert_eq!((counted.fetches, counted.failures), (1, 1));
}
