//! The cross-account role provider: role chains, the [`RoleProvider`] seam, and its caching
//! implementation over an [`AssumeRoleApi`].
//!
//! A [`RoleChain`] is at most two `sts:AssumeRole` hops: the database's `assume_role_arn`, then, for
//! databases that log in *as an IAM role*, the database-user role. The external ID is sent exactly once:
//! on the first hop. [`CachingRoleProvider`] walks a chain from base credentials (any
//! [`ProvideCredentials`](aws_credential_types::provider::ProvideCredentials)), caching every prefix of
//! the chain in a caller-owned [`CredentialCache`](crate::cache::CredentialCache).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_credential_types::Credentials;

mod builder;
mod chain;
mod error;
mod provider;
mod session_name;

pub use builder::{
    MAX_CHAINED_SESSION_DURATION, MAX_SESSION_DURATION, MAX_SESSION_TAGS, MAX_TAG_KEY_LEN,
    MAX_TAG_VALUE_LEN, MIN_SESSION_DURATION, RoleChainBuilder,
};
pub use chain::{ChainKey, Hop, HopKind, RoleChain};
pub use error::{AssumeRoleFailure, ChainError, RoleError};
pub use provider::{CachingRoleProvider, ChainCredentialsProvider};
pub use session_name::{
    DEFAULT_SESSION_NAME, MAX_SESSION_NAME_LEN, MIN_SESSION_NAME_LEN, SessionName,
};

/// The future of credentials returned by [`RoleProvider`] and [`AssumeRoleApi`]: boxed and named so the
/// traits stay object-safe.
pub type CredentialsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Credentials, RoleError>> + Send + 'a>>;

/// Where an `AuthInjector` gets the AWS credentials of a database's role chain.
///
/// Implementations cache and refresh; callers ask on every login.
pub trait RoleProvider: fmt::Debug + Send + Sync {
    /// The credentials at the end of `chain` (≤ 2 AssumeRole hops; the base credentials if empty).
    fn credentials<'a>(&'a self, chain: &'a RoleChain) -> CredentialsFuture<'a>;
}

impl<T: RoleProvider + ?Sized> RoleProvider for Arc<T> {
    fn credentials<'a>(&'a self, chain: &'a RoleChain) -> CredentialsFuture<'a> {
        (**self).credentials(chain)
    }
}

/// One `sts:AssumeRole` call: the seam between the cache and STS (an SDK client, or a fake in tests).
pub trait AssumeRoleApi: fmt::Debug + Send + Sync {
    /// Assume `hop` with `source` credentials, sending exactly the hop's role ARN, external ID, session
    /// name, tags, transitive tag keys and duration.
    ///
    /// The credentials returned must carry their expiry. Failures should be built with
    /// [`RoleError::assume_role`], which keeps the external ID out of the message.
    fn assume_role<'a>(&'a self, source: &'a Credentials, hop: &'a Hop) -> CredentialsFuture<'a>;
}

impl<T: AssumeRoleApi + ?Sized> AssumeRoleApi for Arc<T> {
    fn assume_role<'a>(&'a self, source: &'a Credentials, hop: &'a Hop) -> CredentialsFuture<'a> {
        (**self).assume_role(source, hop)
    }
}

#[cfg(test)]
mod tests;
