use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;

use super::*;

fn key(user: &str) -> IamUserKey {
    IamUserKey::new(CacheService::ElastiCache, "us-east-1", "111111111111", user)
}

#[test]
fn answers_expire_after_the_ttl() {
    let cache = IamUserCache::new(Duration::from_secs(60));
    let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
    assert_eq!(cache.get(&key("a"), t0), None);
    cache.insert(key("a"), true, t0);
    assert_eq!(
        cache.get(&key("a"), t0 + Duration::from_secs(59)),
        Some(true)
    );
    assert_eq!(cache.get(&key("a"), t0 + Duration::from_secs(60)), None);
    cache.invalidate(&key("a"));
    assert!(cache.is_empty());
}

#[test]
fn keys_differ_by_service_region_scope_and_user() {
    let cache = IamUserCache::new(Duration::from_secs(60));
    let t0 = UNIX_EPOCH;
    cache.insert(key("a"), true, t0);
    let others = [
        IamUserKey::new(CacheService::MemoryDb, "us-east-1", "111111111111", "a"),
        IamUserKey::new(CacheService::ElastiCache, "eu-west-1", "111111111111", "a"),
        IamUserKey::new(CacheService::ElastiCache, "us-east-1", "222222222222", "a"),
        key("b"),
    ];
    for other in &others {
        assert_eq!(cache.get(other, t0), None, "{other:?}");
    }
}

#[test]
fn size_is_bounded_and_the_oldest_goes_first() {
    let cache = IamUserCache::new(Duration::from_secs(60)).with_max_entries(2);
    let t0 = UNIX_EPOCH;
    cache.insert(key("a"), true, t0);
    cache.insert(key("b"), false, t0 + Duration::from_secs(1));
    cache.insert(key("c"), true, t0 + Duration::from_secs(2));
    assert_eq!(cache.len(), 2);
    let now = t0 + Duration::from_secs(3);
    assert_eq!(cache.get(&key("a"), now), None);
    assert_eq!(cache.get(&key("b"), now), Some(false));
    assert_eq!(cache.get(&key("c"), now), Some(true));
}

#[test]
fn key_for_call_prefers_endpoint_then_account() {
    let plain = Credentials::new("AKID1", "s", None, None, "t");
    let call = Call::new(&plain, "us-east-1", UNIX_EPOCH);
    assert_eq!(
        IamUserKey::for_call(CacheService::MemoryDb, &call, "u"),
        IamUserKey::new(CacheService::MemoryDb, "us-east-1", "AKID1", "u")
    );
    let with_account = Credentials::builder()
        .access_key_id("AKID2")
        .secret_access_key("s")
        .account_id("333333333333")
        .provider_name("t")
        .build();
    let call = Call::new(&with_account, "us-east-1", UNIX_EPOCH);
    assert_eq!(
        IamUserKey::for_call(CacheService::MemoryDb, &call, "u"),
        IamUserKey::new(CacheService::MemoryDb, "us-east-1", "333333333333", "u")
    );
    let call = call.endpoint("http://127.0.0.1:1");
    assert_eq!(
        IamUserKey::for_call(CacheService::MemoryDb, &call, "u"),
        IamUserKey::new(
            CacheService::MemoryDb,
            "us-east-1",
            "http://127.0.0.1:1",
            "u"
        )
    );
}
