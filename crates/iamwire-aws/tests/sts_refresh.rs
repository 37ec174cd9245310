//! Refresh ahead of expiry against the real emulator: the cache's clock is moved forward (STS grants
//! at least 15 minutes), and a second AssumeRole must happen before the first credentials expire
//! while every caller keeps getting credentials that are valid by that clock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

#[path = "sts_support/common.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use iamwire_aws::cache::{CacheConfig, Clock};
use iamwire_aws::role::{RoleChain, RoleProvider};
use iamwire_core::ExternalId;
use iamwire_testkit::moto::Moto;
use tokio::task::JoinSet;

use common::{cache_on, provider, user_creds};

/// The real wall clock plus an offset the test moves forward (real time keeps HTTP I/O honest;
/// paused Tokio time would auto-advance while the emulator answers).
#[derive(Debug, Default)]
struct OffsetClock {
    offset: Mutex<Duration>,
}

impl OffsetClock {
    fn jump_to(&self, at: SystemTime) {
        let now = SystemTime::now();
        *self.offset.lock().unwrap() = at.duration_since(now).unwrap_or_default();
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + *self.offset.lock().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_before_expiry_and_no_caller_sees_expired_credentials() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("db-access", "ext-refresh").unwrap();
    let clock = Arc::new(OffsetClock::default());
    let cache = cache_on(Arc::clone(&clock) as Arc<dyn Clock>);
    let margin = CacheConfig::default().safety_margin_value();
    let ahead = CacheConfig::default().refresh_before_value();
    let provider = provider(&moto, user_creds(&setup.proxy), cache);
    let chain = RoleChain::builder()
        .assume_role(setup.role_arn.parse().unwrap())
        .external_id(ExternalId::new("ext-refresh"))
        .duration(Duration::from_secs(900))
        .build()
        .unwrap();

    let first = provider.credentials(&chain).await.unwrap();
    let first_expiry = first.expiry().unwrap();
    assert_eq!(moto.count("AssumeRole").unwrap(), 1);

    // Not yet due: nothing happens.
    clock.jump_to(first_expiry - ahead - Duration::from_secs(30));
    provider.credentials(&chain).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(moto.count("AssumeRole").unwrap(), 1);

    // Inside the refresh window, the first credentials still have 3 minutes: callers keep getting
    // valid credentials while one refresh runs.
    clock.jump_to(first_expiry - Duration::from_secs(180));
    let mut callers = JoinSet::new();
    for _ in 0..20 {
        let (provider, chain, clock) = (provider.clone(), chain.clone(), Arc::clone(&clock));
        callers.spawn(async move {
            let mut keys = Vec::new();
            for _ in 0..25 {
                let creds = provider.credentials(&chain).await.unwrap();
                let expiry = creds.expiry().unwrap();
                assert!(
                    expiry > clock.now() + margin,
                    "a caller got credentials within the safety margin of expiry"
                );
                keys.push(creds.access_key_id().to_owned());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            keys
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(joined) = callers.join_next().await {
        seen.extend(joined.unwrap());
    }
    // The refresh happened before the first credentials' expiry (by the cache's clock) ...
    assert!(clock.now() < first_expiry);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let second = loop {
        let creds = provider.credentials(&chain).await.unwrap();
        if creds.access_key_id() != first.access_key_id() {
            break creds;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no refresh happened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // ... exactly once, however many callers saw it due.
    assert_eq!(moto.count("AssumeRole").unwrap(), 2);
    assert!(seen.contains(first.access_key_id()));
    assert!(second.expiry().unwrap() > clock.now() + margin);
    // The new credentials are real: the emulator accepts them.
    let who = common::whoami(&moto, &second).await;
    assert!(who.arn.contains(":assumed-role/db-access/"), "{}", who.arn);
}
