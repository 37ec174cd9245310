//! The proxy's base AWS credentials: the standard AWS chain, fed an explicit environment.
//!
//! [`BaseCredentialsConfig`] takes the environment as a value (the binary passes `std::env::vars()`,
//! perhaps after loading an env file); this crate never reads the process environment. The AWS SDK's
//! default chain then resolves, in order:
//!
//! 1. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`;
//! 2. the shared credentials and config files (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`, else
//!    under `HOME`) with `AWS_PROFILE`, including `role_arn` + `source_profile` + `external_id`;
//! 3. web identity / IRSA (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`);
//! 4. container credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`);
//! 5. EC2 instance metadata, IMDSv2 (`AWS_EC2_METADATA_SERVICE_ENDPOINT` overrides the address).
//!
//! The STS calls the chain itself makes (profile roles, web identity) and the [`StsAssumeRole`] built
//! from it honour the same `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL`, so one environment points the
//! whole proxy at one STS.
//!
//! ```no_run
//! use std::sync::Arc;
//! use iamwire_aws::base::BaseCredentialsConfig;
//! use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // In the binary, not in a library:
//! let base = BaseCredentialsConfig::from_env(std::env::vars()).load().await;
//! let cache = CredentialCache::new(CacheConfig::default(), Arc::new(SystemClock));
//! let provider = base.role_provider(cache)?;
//! # drop(provider);
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_types::SdkConfig;
use aws_types::os_shim_internal::{Env, Fs};
use aws_types::region::Region;

use crate::cache::CredentialCache;
use crate::sts::{CallerIdentity, StsAssumeRole, StsError, StsRoleProvider};

/// The environment variable that points the chain's and the proxy's STS calls elsewhere.
pub const ENDPOINT_URL_STS: &str = "AWS_ENDPOINT_URL_STS";
/// The environment variable that points the EC2 instance metadata client elsewhere.
pub const IMDS_ENDPOINT: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";

/// The default time to wait for a TCP + TLS connection to an AWS endpoint (STS, the chain's own calls).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// The default time to wait for the next bytes of a response once connected.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The default time one attempt of an AWS call may take.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time an AWS call may take, retries included.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(25);

/// The timeouts every AWS call the proxy makes (its STS client and the credential chain's own calls)
/// runs with unless [`BaseCredentialsConfig::timeouts`] sets others: without them an endpoint that
/// accepts and never answers would hold a call forever.
pub fn default_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
        .read_timeout(DEFAULT_READ_TIMEOUT)
        .operation_attempt_timeout(DEFAULT_ATTEMPT_TIMEOUT)
        .operation_timeout(DEFAULT_OPERATION_TIMEOUT)
        .build()
}

/// Where the base credentials come from: an explicit environment plus overrides.
///
/// `Debug` shows the names of the environment variables, never their values.
#[derive(Clone, Default)]
pub struct BaseCredentialsConfig {
    env: HashMap<String, String>,
    region: Option<String>,
    profile: Option<String>,
    sts_endpoint: Option<String>,
    imds_endpoint: Option<String>,
    timeouts: Option<TimeoutConfig>,
}

impl BaseCredentialsConfig {
    /// A config resolving from `vars` (e.g. `std::env::vars()` in the binary), as the AWS CLI would
    /// in that environment.
    pub fn from_env<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            env: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            ..Self::default()
        }
    }

    /// Set (or replace) one environment variable.
    pub fn var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Use `region` instead of resolving it (`AWS_REGION`, profile, instance metadata).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Use profile `name` instead of `AWS_PROFILE` / `default`.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// Send every STS call (the chain's and the role provider's) to `url`; overrides
    /// `AWS_ENDPOINT_URL_STS` in the environment.
    pub fn sts_endpoint(mut self, url: impl Into<String>) -> Self {
        self.sts_endpoint = Some(url.into());
        self
    }

    /// Ask instance metadata at `url` (e.g. `http://127.0.0.1:1338`); overrides
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT` in the environment.
    pub fn imds_endpoint(mut self, url: impl Into<String>) -> Self {
        self.imds_endpoint = Some(url.into());
        self
    }

    /// Connect, read, attempt and operation timeouts for every AWS call (default:
    /// [`default_timeouts`]).
    pub fn timeouts(mut self, timeouts: TimeoutConfig) -> Self {
        self.timeouts = Some(timeouts);
        self
    }

    /// Resolve the configuration (region, endpoints, profile) and set up the credential chain.
    ///
    /// Credentials themselves are fetched lazily, on the first
    /// [`provide_credentials`](ProvideCredentials::provide_credentials); without an explicit
    /// region this may ask instance metadata for one.
    pub async fn load(self) -> BaseCredentials {
        let Self {
            mut env,
            region,
            profile,
            sts_endpoint,
            imds_endpoint,
            timeouts,
        } = self;
        if let Some(url) = sts_endpoint {
            env.insert(ENDPOINT_URL_STS.to_owned(), url);
        }
        if let Some(url) = imds_endpoint {
            env.insert(IMDS_ENDPOINT.to_owned(), url);
        }
        let sts_endpoint = env
            .get(ENDPOINT_URL_STS)
            .or_else(|| env.get("AWS_ENDPOINT_URL"))
            .cloned();
        // `ConfigLoader::env` / `fs` are the SDK's only way to hand the whole chain (profile role
        // STS calls and IMDS included) an environment other than the process's.
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .env(Env::from(env))
            .fs(Fs::real())
            .timeout_config(timeouts.unwrap_or_else(default_timeouts));
        if let Some(region) = region {
            loader = loader.region(Region::new(region));
        }
        if let Some(profile) = profile {
            loader = loader.profile_name(profile);
        }
        let sdk_config = loader.load().await;
        let provider = sdk_config
            .credentials_provider()
            .unwrap_or_else(|| SharedCredentialsProvider::new(NoCredentials));
        BaseCredentials {
            provider,
            sdk_config,
            sts_endpoint,
        }
    }
}

impl fmt::Debug for BaseCredentialsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: BTreeSet<&str> = self.env.keys().map(String::as_str).collect();
        f.debug_struct("BaseCredentialsConfig")
            .field("env_names", &names)
            .field("region", &self.region)
            .field("profile", &self.profile)
            .field("sts_endpoint", &self.sts_endpoint)
            .field("imds_endpoint", &self.imds_endpoint)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

/// The proxy's base credentials: the AWS SDK's default chain over an explicit environment.
///
/// A [`ProvideCredentials`], so it plugs straight into
/// [`CachingRoleProvider::new`](crate::role::CachingRoleProvider::new) (which caches what it
/// provides); [`role_provider`](Self::role_provider) builds the default [`StsRoleProvider`]. Cheap to
/// clone.
#[derive(Clone)]
pub struct BaseCredentials {
    provider: SharedCredentialsProvider,
    sdk_config: SdkConfig,
    sts_endpoint: Option<String>,
}

impl BaseCredentials {
    /// The credential chain, for other SDK clients.
    pub fn provider(&self) -> SharedCredentialsProvider {
        self.provider.clone()
    }

    /// Everything resolved from the environment (region, endpoints, retries, the chain), for building
    /// other AWS SDK clients consistently.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk_config
    }

    /// The resolved region, if any.
    pub fn region(&self) -> Option<&str> {
        self.sdk_config.region().map(Region::as_ref)
    }

    /// The STS endpoint override from the environment or the config, if any.
    pub fn sts_endpoint(&self) -> Option<&str> {
        self.sts_endpoint.as_deref()
    }

    /// An STS client for the role provider, with this configuration's region and endpoints.
    ///
    /// # Errors
    ///
    /// [`StsError::NoRegion`] if no region could be resolved.
    pub fn sts(&self) -> Result<StsAssumeRole, StsError> {
        StsAssumeRole::from_sdk_config(&self.sdk_config)
    }

    /// The default role provider: AssumeRole through [`sts`](Self::sts), starting from these
    /// credentials, caching in `cache`.
    ///
    /// # Errors
    ///
    /// [`StsError::NoRegion`] if no region could be resolved.
    pub fn role_provider(&self, cache: CredentialCache) -> Result<StsRoleProvider, StsError> {
        Ok(StsRoleProvider::new(self.sts()?, self.clone(), cache))
    }

    /// Who the base credentials are (`sts:GetCallerIdentity`), for `whoami` and start-up checks.
    ///
    /// # Errors
    ///
    /// [`StsError::Credentials`] if the chain yields no credentials, else as
    /// [`StsAssumeRole::caller_identity`].
    pub async fn caller_identity(&self) -> Result<CallerIdentity, StsError> {
        let creds =
            self.provider
                .provide_credentials()
                .await
                .map_err(|err| StsError::Credentials {
                    message: error_chain(&err),
                })?;
        self.sts()?.caller_identity(&creds).await
    }
}

impl ProvideCredentials for BaseCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.provider.provide_credentials()
    }
}

impl fmt::Debug for BaseCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BaseCredentials")
            .field("region", &self.region())
            .field("sts_endpoint", &self.sts_endpoint)
            .finish_non_exhaustive()
    }
}

/// Stands in when the SDK configured no chain at all (it always does with the default loader).
#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::ready(Err(
            provider::error::CredentialsError::not_loaded("no credential chain is configured"),
        ))
    }
}

/// `err` and its causes, as one line.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests;
