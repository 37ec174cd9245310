//! [`StsAssumeRole`]: the real [`AssumeRoleApi`], over the official AWS SDK's STS client, and
//! [`StsRoleProvider`], the default [`RoleProvider`](crate::role::RoleProvider) built on it.
//!
//! One SDK client (one connection pool, one TLS configuration) serves every call; the source
//! credentials of each hop are handed to that one call as a per-operation config override, so
//! nothing is reloaded or rebuilt per AssumeRole and no identity is cached inside the SDK (the
//! [`CredentialCache`] does that).
//!
//! ```no_run
//! use std::sync::Arc;
//! use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
//! use iamwire_aws::role::{RoleChain, RoleProvider};
//! use iamwire_aws::sts::{StsAssumeRole, StsRoleProvider};
//! use aws_credential_types::Credentials;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let base = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
//! let cache = CredentialCache::new(CacheConfig::default(), Arc::new(SystemClock));
//! let sts = StsAssumeRole::builder("eu-west-1").build();
//! let provider = StsRoleProvider::new(sts, base, cache);
//! let chain = RoleChain::builder()
//!     .assume_role("arn:aws:iam::123456789012:role/db-access".parse()?)
//!     .build()?;
//! let creds = provider.credentials(&chain).await?;
//! # drop(creds);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_sts::config::{BehaviorVersion, Region, timeout::TimeoutConfig};
use aws_sdk_sts::types::Tag;
use aws_types::SdkConfig;
use aws_types::service_config::ServiceConfigKey;

mod error;

pub use error::StsError;

use crate::cache::CredentialCache;
use crate::role::{AssumeRoleApi, CachingRoleProvider, CredentialsFuture, Hop, RoleError};
use error::{Failure, classify};

/// The provider name the SDK's [`Credentials`] carry for credentials from this module.
const PROVIDER_NAME: &str = "iamwire-sts";

/// The default time to wait for a TCP + TLS connection to STS.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// The default time one STS attempt (request and response) may take.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default role provider: [`CachingRoleProvider`] over STS.
///
/// Build one with [`StsRoleProvider::new`] from a [`StsAssumeRole`], base credentials and a cache,
/// with [`StsRoleProvider::for_region`], or from [`BaseCredentials::role_provider`](crate::base::BaseCredentials::role_provider).
pub type StsRoleProvider = CachingRoleProvider<StsAssumeRole>;

impl CachingRoleProvider<StsAssumeRole> {
    /// A provider assuming roles through the regional STS endpoint of `region` (or `endpoint_url`,
    /// e.g. `AWS_ENDPOINT_URL_STS` or a test emulator), starting from `base`, caching in `cache`.
    pub fn for_region(
        base: impl ProvideCredentials + 'static,
        region: &str,
        endpoint_url: Option<&str>,
        cache: CredentialCache,
    ) -> Self {
        let mut sts = StsAssumeRole::builder(region);
        if let Some(url) = endpoint_url {
            sts = sts.endpoint_url(url);
        }
        Self::new(sts.build(), base, cache)
    }
}

/// `sts:AssumeRole` (and `sts:GetCallerIdentity`) through the AWS SDK for Rust.
///
/// Cheap to clone; clones share the SDK client and its connections.
#[derive(Clone)]
pub struct StsAssumeRole {
    client: aws_sdk_sts::Client,
    region: Option<String>,
    endpoint_url: Option<String>,
}

/// Builds a [`StsAssumeRole`]; see [`StsAssumeRole::builder`].
#[derive(Debug, Clone)]
pub struct StsAssumeRoleBuilder {
    region: String,
    endpoint_url: Option<String>,
    connect_timeout: Duration,
    attempt_timeout: Duration,
    max_attempts: u32,
}

impl StsAssumeRoleBuilder {
    /// Send every call to `url` instead of the regional endpoint (`AWS_ENDPOINT_URL_STS`, a VPC
    /// endpoint, or a test emulator).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// How long to wait for a connection to STS. Default: [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one attempt may take. Default: [`DEFAULT_ATTEMPT_TIMEOUT`].
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// How many attempts the SDK makes per call on throttling and transient errors (at least 1;
    /// default 3). The [`CredentialCache`] retries failed fetches with its own backoff on top.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The STS client.
    pub fn build(self) -> StsAssumeRole {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .build();
        let mut config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .timeout_config(timeouts)
            .retry_config(
                aws_sdk_sts::config::retry::RetryConfig::standard()
                    .with_max_attempts(self.max_attempts),
            );
        config.set_endpoint_url(self.endpoint_url.clone());
        StsAssumeRole::from_config(config, Some(self.region), self.endpoint_url)
    }
}

impl StsAssumeRole {
    /// A builder for the regional STS endpoint of `region` (e.g. `eu-west-1`).
    pub fn builder(region: impl Into<String>) -> StsAssumeRoleBuilder {
        StsAssumeRoleBuilder {
            region: region.into(),
            endpoint_url: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            max_attempts: 3,
        }
    }

    /// An STS client with everything `config` resolved (region, `AWS_ENDPOINT_URL_STS` /
    /// `AWS_ENDPOINT_URL` / profile `endpoint_url`, retries, timeouts, HTTP client), except its
    /// credentials: each call brings its own.
    ///
    /// # Errors
    ///
    /// [`StsError::NoRegion`] if `config` has no region.
    pub fn from_sdk_config(config: &SdkConfig) -> Result<Self, StsError> {
        let region = config.region().ok_or(StsError::NoRegion)?.to_string();
        let builder = aws_sdk_sts::config::Builder::from(config);
        Ok(Self::from_config(
            builder,
            Some(region),
            sts_endpoint_url(config),
        ))
    }

    fn from_config(
        mut config: aws_sdk_sts::config::Builder,
        region: Option<String>,
        endpoint_url: Option<String>,
    ) -> Self {
        // Each call brings its source credentials; caching them inside the SDK would only grow a
        // partition per source without bound.
        config.set_credentials_provider(None);
        let config = config.identity_cache(aws_sdk_sts::config::IdentityCache::no_cache());
        Self {
            client: aws_sdk_sts::Client::from_conf(config.build()),
            region,
            endpoint_url,
        }
    }

    /// The region whose STS endpoint this calls.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The endpoint override, if any.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// Who `creds` are (`sts:GetCallerIdentity`): what `whoami` shows.
    ///
    /// # Errors
    ///
    /// [`StsError::Call`] with AWS's error code if STS refuses (e.g. `InvalidClientTokenId`).
    pub async fn caller_identity(&self, creds: &Credentials) -> Result<CallerIdentity, StsError> {
        let out = self
            .client
            .get_caller_identity()
            .customize()
            .config_override(with_credentials(creds))
            .send()
            .await
            .map_err(|err| {
                let Failure {
                    code,
                    message,
                    retryable,
                } = classify(&err);
                StsError::Call {
                    operation: "GetCallerIdentity",
                    code,
                    message,
                    retryable,
                }
            })?;
        let field = |value: Option<&str>, name: &'static str| {
            value.map(str::to_owned).ok_or(StsError::MissingField {
                operation: "GetCallerIdentity",
                field: name,
            })
        };
        Ok(CallerIdentity {
            arn: field(out.arn(), "Arn")?,
            account: field(out.account(), "Account")?,
            user_id: field(out.user_id(), "UserId")?,
        })
    }

    async fn call(&self, source: &Credentials, hop: &Hop) -> Result<Credentials, RoleError> {
        let mut request = self
            .client
            .assume_role()
            .role_arn(hop.role_arn().to_string())
            .role_session_name(hop.session_name().as_str());
        if let Some(id) = hop.external_id() {
            request = request.external_id(id.expose());
        }
        for (key, value) in hop.session_tags() {
            let tag = Tag::builder().key(key).value(value).build().map_err(|e| {
                RoleError::assume_role(hop, None, format!("bad session tag: {e}"), false)
            })?;
            request = request.tags(tag);
        }
        for key in hop.transitive_tag_keys() {
            request = request.transitive_tag_keys(key);
        }
        if let Some(duration) = hop.duration() {
            let seconds = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX);
            request = request.duration_seconds(seconds);
        }
        let out = request
            .customize()
            .config_override(with_credentials(source))
            .send()
            .await
            .map_err(|err| {
                let failure = classify(&err);
                RoleError::assume_role(
                    hop,
                    failure.code.as_deref(),
                    failure.message,
                    failure.retryable,
                )
            })?;
        let missing = |what: &str| {
            RoleError::assume_role(hop, None, format!("STS answered without {what}"), false)
        };
        let creds = out.credentials().ok_or_else(|| missing("credentials"))?;
        let expiry = SystemTime::try_from(*creds.expiration())
            .map_err(|_| missing("a usable expiration"))?;
        Ok(Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_owned()),
            Some(expiry),
            PROVIDER_NAME,
        ))
    }
}

/// The STS endpoint override the SDK takes from `config`: the client-level URL, else STS's own
/// (`AWS_ENDPOINT_URL_STS`, profile `services`), else the global one (`AWS_ENDPOINT_URL`).
fn sts_endpoint_url(config: &SdkConfig) -> Option<String> {
    if config.get_origin("endpoint_url").is_client_config() {
        return config.endpoint_url().map(str::to_owned);
    }
    let key = ServiceConfigKey::builder()
        .service_id("STS")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok();
    key.and_then(|key| config.service_config()?.load_config(key))
        .or_else(|| config.endpoint_url().map(str::to_owned))
}

/// A per-call config override carrying `creds` as the call's identity.
fn with_credentials(creds: &Credentials) -> aws_sdk_sts::config::Builder {
    aws_sdk_sts::config::Builder::default().credentials_provider(creds.clone())
}

impl AssumeRoleApi for StsAssumeRole {
    fn assume_role<'a>(&'a self, source: &'a Credentials, hop: &'a Hop) -> CredentialsFuture<'a> {
        Box::pin(self.call(source, hop))
    }
}

impl fmt::Debug for StsAssumeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StsAssumeRole")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .finish_non_exhaustive()
    }
}

/// Who a set of credentials belongs to, as `sts:GetCallerIdentity` answers.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The principal's ARN (`arn:aws:sts::<account>:assumed-role/<role>/<session>` for a role session).
    pub arn: String,
    /// The principal's 12-digit account id.
    pub account: String,
    /// The unique id of the principal (`AROA...:<session>` for a role session).
    pub user_id: String,
}

/// Who `creds` are, asked of the STS endpoint of `region` (or `endpoint_url`): for the `whoami` CLI.
///
/// Builds a one-off client; a long-running proxy should keep a [`StsAssumeRole`] and call
/// [`StsAssumeRole::caller_identity`].
///
/// # Errors
///
/// [`StsError::Call`] with AWS's error code if STS refuses.
pub async fn caller_identity(
    creds: &Credentials,
    region: &str,
    endpoint_url: Option<&str>,
) -> Result<CallerIdentity, StsError> {
    let mut sts = StsAssumeRole::builder(region);
    if let Some(url) = endpoint_url {
        sts = sts.endpoint_url(url);
    }
    sts.build().caller_identity(creds).await
}

#[cfg(test)]
mod tests;
