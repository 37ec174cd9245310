//! Walking role chains through the caching provider: the external ID is sent once, hop 2 is assumed
//! with hop 1's credentials, and the `ProvideCredentials` adapters work both ways.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

#[path = "cache_support/fake.rs"]
mod fake;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use iamwire_aws::cache::CacheConfig;
use iamwire_aws::role::{
    CachingRoleProvider, ChainCredentialsProvider, RoleChain, RoleError, RoleProvider,
};
use iamwire_core::{ExternalId, Partition};

use fake::FakeSts;

const HOUR: Duration = Duration::from_secs(3600);
const SECRET_ID: &str = "very-secret-external-id";

fn provider(
    sts: &Arc<FakeSts>,
    base: impl ProvideCredentials + 'static,
) -> CachingRoleProvider<Arc<FakeSts>> {
    let (cache, _) = fake::cache(CacheConfig::default());
    CachingRoleProvider::new(Arc::clone(sts), base, cache)
}

#[tokio::test(start_paused = true)]
async fn external_id_goes_on_hop_one_only_and_hop_two_uses_hop_one_credentials() {
    let (_, clock) = fake::cache(CacheConfig::default());
    let sts = Arc::new(FakeSts::new(clock, HOUR));
    let provider = provider(&sts, fake::base());
    let chain = RoleChain::builder()
        .assume_role("arn:aws:iam::222233334444:role/db-access".parse().unwrap())
        .external_id(ExternalId::new(SECRET_ID))
        .session_name("alice")
        .then_user_role("reader")
        .build()
        .unwrap();
    let creds = provider.credentials(&chain).await.unwrap();
    let calls = sts.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].role_arn,
        "arn:aws:iam::222233334444:role/db-access"
    );
    assert_eq!(calls[0].external_id.as_deref(), Some(SECRET_ID));
    assert_eq!(calls[0].source_access_key, "AKIDBASE");
    assert_eq!(calls[1].role_arn, "arn:aws:iam::222233334444:role/reader");
    assert_eq!(calls[1].external_id, None);
    assert_eq!(calls[1].source_access_key, "ASIAdb-access0");
    assert_eq!(calls[1].session_name, "alice");
    assert_eq!(creds.access_key_id(), "ASIAreader1");
}

#[tokio::test(start_paused = true)]
async fn without_assume_role_the_external_id_goes_on_the_user_role() {
    let (_, clock) = fake::cache(CacheConfig::default());
    let sts = Arc::new(FakeSts::new(clock, HOUR));
    let provider = provider(&sts, fake::base());
    let chain = RoleChain::builder()
        .account(Partition::Aws, "222233334444")
        .external_id(ExternalId::new(SECRET_ID))
        .then_user_role("reader")
        .build()
        .unwrap();
    provider.credentials(&chain).await.unwrap();
    let calls = sts.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].role_arn, "arn:aws:iam::222233334444:role/reader");
    assert_eq!(calls[0].external_id.as_deref(), Some(SECRET_ID));
    assert_eq!(calls[0].source_access_key, "AKIDBASE");
}

#[tokio::test(start_paused = true)]
async fn the_empty_chain_is_the_base_credentials() {
    let (_, clock) = fake::cache(CacheConfig::default());
    let sts = Arc::new(FakeSts::new(clock, HOUR));
    let provider = provider(&sts, fake::base());
    let creds = provider.credentials(&RoleChain::base()).await.unwrap();
    assert_eq!(creds.access_key_id(), "AKIDBASE");
    assert_eq!(sts.count(), 0);
}

/// A base provider that counts its calls and can fail.
#[derive(Debug, Default)]
struct CountingBase {
    calls: AtomicUsize,
    fail: bool,
}

impl ProvideCredentials for CountingBase {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.calls.fetch_add(1, Ordering::SeqCst);
        future::ProvideCredentials::ready(if self.fail {
            Err(CredentialsError::not_loaded(
                "no credentials in the environment",
            ))
        } else {
            Ok(Credentials::new("AKIDCOUNTED", "s", None, None, "counted"))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn base_credentials_come_from_any_provide_credentials_and_are_cached() {
    let (_, clock) = fake::cache(CacheConfig::default());
    let sts = Arc::new(FakeSts::new(clock, HOUR));
    let base = Arc::new(CountingBase::default());
    let shared: Arc<dyn ProvideCredentials> = base.clone();
    let provider = provider(&sts, shared);
    for role in ["a", "b", "c"] {
        let chain = RoleChain::builder()
            .assume_role(
                format!("arn:aws:iam::222233334444:role/{role}")
                    .parse()
                    .unwrap(),
            )
            .build()
            .unwrap();
        provider.credentials(&chain).await.unwrap();
    }
    assert_eq!(base.calls.load(Ordering::SeqCst), 1);
    assert!(
        sts.calls()
            .iter()
            .all(|c| c.source_access_key == "AKIDCOUNTED")
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_base_provider_is_a_base_credentials_error() {
    let (_, clock) = fake::cache(CacheConfig::default());
    let sts = Arc::new(FakeSts::new(clock, HOUR));
    let base = CountingBase {
        fail: true,
        ..CountingBase::default()
    };
    let provider = provider(&sts, base);
    let chain = RoleChain::builder()
        .assume_role("arn:aws:iam::222233334444:role/a".parse().unwrap())
        .build()
        .unwrap();
    let err = provider.prefetch(&chain).await.unwrap_err();
    assert!(
        matches!(
            err,
            RoleError::BaseCredentials {
                retryable: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(sts.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_chain_is_a_provide_credentials_for_sdk_clients() {
    let (_, clock) = fake::cache(CacheConfig::default());
    let sts = Arc::new(FakeSts::new(clock, HOUR));
    let provider: Arc<dyn RoleProvider> = Arc::new(provider(&sts, fake::base()));
    let chain = RoleChain::builder()
        .assume_role("arn:aws:iam::222233334444:role/db-access".parse().unwrap())
        .then_user_role("reader")
        .build()
        .unwrap();
    let adapter = ChainCredentialsProvider::new(Arc::clone(&provider), chain.clone());
    let via_adapter = adapter.provide_credentials().await.unwrap();
    let direct = provider.credentials(&chain).await.unwrap();
    assert_eq!(via_adapter, direct);
    assert_eq!(sts.count(), 2);

    // Errors come through as the SDK's provider error, with ours as the source.
    sts.fail_with(Some(("AccessDenied", false)));
    let denied = RoleChain::builder()
        .assume_role("arn:aws:iam::222233334444:role/denied".parse().unwrap())
        .build()
        .unwrap();
    let err = ChainCredentialsProvider::new(provider, denied)
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(matches!(err, CredentialsError::ProviderError(_)), "{err:?}");
    let source = std::error::Error::source(&err).unwrap();
    let ours = source.downcast_ref::<RoleError>().unwrap();
    assert_eq!(ours.code(), Some("AccessDenied"));
}

#[tokio::test(start_paused = true)]
async fn debug_output_never_shows_the_external_id_or_secrets() {
    let (_, clock) = fake::cache(CacheConfig::default());
    let sts = Arc::new(FakeSts::new(clock, HOUR));
    let provider = provider(&sts, fake::base());
    let chain = RoleChain::builder()
        .assume_role("arn:aws:iam::222233334444:role/db-access".parse().unwrap())
        .external_id(ExternalId::new(SECRET_ID))
        .build()
        .unwrap();
    provider.credentials(&chain).await.unwrap();
    let rendered = format!(
        "{chain:?} {:?} {:?} {provider:?} {:#?}",
        chain.key(),
        chain.hops(),
        ChainCredentialsProvider::new(Arc::new(provider.clone()), chain.clone()),
    );
    assert!(rendered.contains("db-access"));
    assert!(!rendered.contains(SECRET_ID), "{rendered}");
    assert!(!rendered.contains("base-secret"), "{rendered}");
}
