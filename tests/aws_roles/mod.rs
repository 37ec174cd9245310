//! The proxy's role provider for tests that run the Postgres proxy in-process against the emulator:
//! the rig's proxy user key as base credentials, STS at the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::sync::Arc;

use iamwire_aws::base::BaseCredentialsConfig;
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_aws::role::RoleProvider;

/// Credentials of `cross`'s proxy user, assuming roles through `moto`'s STS in `region`.
pub async fn roles(
    moto: &iamwire_testkit::moto::Moto,
    cross: &iamwire_testkit::moto::CrossAccount,
    region: &str,
) -> Arc<dyn RoleProvider> {
    let base = BaseCredentialsConfig::from_env([
        ("AWS_ACCESS_KEY_ID", cross.proxy.access_key_id.clone()),
        (
            "AWS_SECRET_ACCESS_KEY",
            cross.proxy.secret_access_key.clone(),
        ),
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ])
    .region(region)
    .load()
    .await;
    let cache = CredentialCache::new(CacheConfig::default(), Arc::new(SystemClock));
    Arc::new(base.role_provider(cache).unwrap())
}
