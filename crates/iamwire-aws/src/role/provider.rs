//! [`CachingRoleProvider`] and the [`ProvideCredentials`] adapter [`ChainCredentialsProvider`].

use std::error::Error as _;
use std::fmt;
use std::sync::Arc;

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};

use super::{AssumeRoleApi, CredentialsFuture, RoleChain, RoleError, RoleProvider};
use crate::cache::{CredentialCache, Fetch};

/// A [`RoleProvider`] that walks a chain hop by hop from base credentials, calling `A` for each
/// AssumeRole and caching every chain prefix (the base credentials included) in a [`CredentialCache`].
///
/// Hop 2 is always assumed with hop 1's credentials. Cheap to clone; clones share the cache.
pub struct CachingRoleProvider<A> {
    inner: Arc<Inner<A>>,
}

struct Inner<A> {
    api: A,
    base: SharedCredentialsProvider,
    cache: CredentialCache,
}

impl<A: AssumeRoleApi + 'static> CachingRoleProvider<A> {
    /// A provider assuming roles through `api`, starting from the credentials of `base` (e.g. the
    /// AWS SDK's default chain), caching in `cache`.
    pub fn new(api: A, base: impl ProvideCredentials + 'static, cache: CredentialCache) -> Self {
        Self {
            inner: Arc::new(Inner {
                api,
                base: SharedCredentialsProvider::new(base),
                cache,
            }),
        }
    }

    /// The cache this provider fills.
    pub fn cache(&self) -> &CredentialCache {
        &self.inner.cache
    }

    /// Fetch (and cache) the credentials of `chain` now, so a role that cannot be assumed shows up at
    /// start-up rather than at a client's first login.
    ///
    /// # Errors
    ///
    /// The [`RoleError`] of the first hop that failed.
    pub async fn prefetch(&self, chain: &RoleChain) -> Result<(), RoleError> {
        Inner::get(&self.inner, chain).await.map(drop)
    }
}

impl<A: AssumeRoleApi + 'static> Inner<A> {
    async fn get(this: &Arc<Self>, chain: &RoleChain) -> Result<Credentials, RoleError> {
        let inner = Arc::clone(this);
        let prefix = chain.clone();
        let fetch: Fetch = Arc::new(move || fetch_prefix(Arc::clone(&inner), prefix.clone()));
        this.cache.get(&chain.key(), fetch).await
    }
}

/// Fetch the credentials at the end of `chain`, taking the source of its last hop from the cache.
fn fetch_prefix<A: AssumeRoleApi + 'static>(
    inner: Arc<Inner<A>>,
    chain: RoleChain,
) -> CredentialsFuture<'static> {
    Box::pin(async move {
        let Some((hop, _)) = chain.hops().split_last() else {
            return inner.base.provide_credentials().await.map_err(base_error);
        };
        let source_chain = chain.prefix(chain.len() - 1);
        let source = Inner::get(&inner, &source_chain).await?;
        inner.api.assume_role(&source, hop).await
    })
}

/// A [`RoleError`] for a base credentials provider's failure, keeping its whole cause chain as text.
fn base_error(err: CredentialsError) -> RoleError {
    let retryable = matches!(
        err,
        CredentialsError::ProviderTimedOut(_) | CredentialsError::ProviderError(_)
    );
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    RoleError::BaseCredentials { message, retryable }
}

impl<A> Clone for CachingRoleProvider<A> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<A: fmt::Debug> fmt::Debug for CachingRoleProvider<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingRoleProvider")
            .field("api", &self.inner.api)
            .field("base", &self.inner.base)
            .field("cache", &self.inner.cache)
            .finish()
    }
}

impl<A: AssumeRoleApi + 'static> RoleProvider for CachingRoleProvider<A> {
    fn credentials<'a>(&'a self, chain: &'a RoleChain) -> CredentialsFuture<'a> {
        Box::pin(Inner::get(&self.inner, chain))
    }
}

/// "The credentials at the end of `chain` from `provider`" as a [`ProvideCredentials`], to hand to an
/// AWS SDK client (e.g. a Redshift or RDS client that must act as the database's role).
#[derive(Debug, Clone)]
pub struct ChainCredentialsProvider {
    provider: Arc<dyn RoleProvider>,
    chain: RoleChain,
}

impl ChainCredentialsProvider {
    /// Credentials of `chain`, from `provider`.
    pub fn new(provider: Arc<dyn RoleProvider>, chain: RoleChain) -> Self {
        Self { provider, chain }
    }

    /// The chain whose credentials this provides.
    pub fn chain(&self) -> &RoleChain {
        &self.chain
    }
}

impl ProvideCredentials for ChainCredentialsProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.provider
                .credentials(&self.chain)
                .await
                .map_err(CredentialsError::provider_error)
        })
    }
}
