//! A fake STS for the cache tests: counts and records every AssumeRole, and can be slow or fail.
#![allow(dead_code)] // each test binary uses part of the fake

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use iamwire_aws::cache::{CacheConfig, Clock, CredentialCache, TokioClock};
use iamwire_aws::role::{AssumeRoleApi, CredentialsFuture, Hop, RoleError};

/// Where every test's wall clock starts.
pub(crate) fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// A cache with `config`, on a clock that follows Tokio's (paused) time.
pub(crate) fn cache(config: CacheConfig) -> (CredentialCache, TokioClock) {
    let clock = TokioClock::starting_at(start());
    (
        CredentialCache::new(config, std::sync::Arc::new(clock)),
        clock,
    )
}

/// The base credentials: static keys without an expiry.
pub(crate) fn base() -> Credentials {
    Credentials::new("AKIDBASE", "base-secret", None, None, "test-base")
}

/// One recorded AssumeRole call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) role_arn: String,
    pub(crate) external_id: Option<String>,
    pub(crate) session_name: String,
    pub(crate) source_access_key: String,
    pub(crate) at: SystemTime,
}

/// The fake STS. Its `Debug` is opaque: it records external IDs, which must not leak into the
/// `Debug` of what holds it.
pub(crate) struct FakeSts {
    clock: TokioClock,
    lifetime: Duration,
    delay: Duration,
    issued: AtomicUsize,
    calls: Mutex<Vec<Call>>,
    failing: Mutex<Option<(&'static str, bool)>>,
}

impl FakeSts {
    /// Issues credentials valid for `lifetime` from the moment it answers.
    pub(crate) fn new(clock: TokioClock, lifetime: Duration) -> Self {
        Self {
            clock,
            lifetime,
            delay: Duration::ZERO,
            issued: AtomicUsize::new(0),
            calls: Mutex::new(Vec::new()),
            failing: Mutex::new(None),
        }
    }

    /// Takes `delay` (Tokio time) to answer.
    pub(crate) fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// From now on, fail with AWS error `code` (`None`: succeed again).
    pub(crate) fn fail_with(&self, failure: Option<(&'static str, bool)>) {
        *self.failing.lock().unwrap() = failure;
    }

    /// Every call so far.
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// How many calls so far.
    pub(crate) fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

impl std::fmt::Debug for FakeSts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeSts")
    }
}

impl AssumeRoleApi for FakeSts {
    fn assume_role<'a>(&'a self, source: &'a Credentials, hop: &'a Hop) -> CredentialsFuture<'a> {
        Box::pin(async move {
            self.calls.lock().unwrap().push(Call {
                role_arn: hop.role_arn().to_string(),
                external_id: hop.external_id().map(|e| e.expose().to_owned()),
                session_name: hop.session_name().as_str().to_owned(),
                source_access_key: source.access_key_id().to_owned(),
                at: self.clock.now(),
            });
            tokio::time::sleep(self.delay).await;
            let failing = *self.failing.lock().unwrap();
            if let Some((code, retryable)) = failing {
                return Err(RoleError::assume_role(
                    hop,
                    Some(code),
                    format!("fake STS says {code}"),
                    retryable,
                ));
            }
            let n = self.issued.fetch_add(1, Ordering::SeqCst);
            Ok(Credentials::new(
                format!("ASIA{}{n}", hop.role_arn().name()),
                format!("secret-{n}"),
                Some(format!("token-{n}")),
                Some(self.clock.now() + self.lifetime),
                "fake-sts",
            ))
        })
    }
}
