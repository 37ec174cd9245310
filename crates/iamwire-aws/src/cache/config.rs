//! [`CacheConfig`]: the timing of refresh, retry and eviction.

use std::time::Duration;

/// How a [`CredentialCache`](super::CredentialCache) times refreshes, retries and evictions.
///
/// Start from [`CacheConfig::default`] and change what you need:
///
/// ```
/// use std::time::Duration;
/// use iamwire_aws::cache::CacheConfig;
///
/// let config = CacheConfig::default().refresh_before(Duration::from_secs(600));
/// assert_eq!(config.refresh_before_value(), Duration::from_secs(600));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    pub(super) refresh_before: Duration,
    pub(super) safety_margin: Duration,
    pub(super) retry_initial: Duration,
    pub(super) retry_max: Duration,
    pub(super) idle_ttl: Duration,
    pub(super) no_expiry_lifetime: Duration,
    pub(super) fetch_timeout: Duration,
    pub(super) jitter_seed: u64,
}

impl Default for CacheConfig {
    /// Refresh 5 minutes before expiry (at most half the lifetime ahead), never hand out credentials
    /// with less than 1 minute left, retry from 1 s doubling to 1 minute, evict keys unused for 1 hour,
    /// treat credentials without an expiry as valid for 15 minutes, give up on a fetch after 30 s.
    fn default() -> Self {
        Self {
            refresh_before: Duration::from_secs(300),
            safety_margin: Duration::from_secs(60),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            idle_ttl: Duration::from_secs(3600),
            no_expiry_lifetime: Duration::from_secs(900),
            fetch_timeout: Duration::from_secs(30),
            jitter_seed: 0,
        }
    }
}

impl CacheConfig {
    /// Refresh this long before expiry, or half the remaining lifetime before it if that is shorter.
    pub fn refresh_before(mut self, ahead: Duration) -> Self {
        self.refresh_before = ahead;
        self
    }

    /// Never hand out credentials with this little left (or less).
    pub fn safety_margin(mut self, margin: Duration) -> Self {
        self.safety_margin = margin;
        self
    }

    /// Retry a failed fetch after about `initial`, doubling per failure up to `max` (jittered within
    /// the upper half of each step).
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry_initial = initial;
        self.retry_max = max.max(initial);
        self
    }

    /// Forget keys nobody asked for in this long.
    pub fn idle_ttl(mut self, ttl: Duration) -> Self {
        self.idle_ttl = ttl;
        self
    }

    /// How long to use credentials that carry no expiry (static keys) before fetching them again.
    pub fn no_expiry_lifetime(mut self, lifetime: Duration) -> Self {
        self.no_expiry_lifetime = lifetime;
        self
    }

    /// Give up on one fetch (AssumeRole, base credentials) after this long: its waiters get
    /// [`RoleError::Timeout`](crate::role::RoleError::Timeout) and the next caller tries again (after the
    /// usual backoff), so an STS that accepts connections and never answers cannot wedge a key.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// The configured fetch timeout.
    pub fn fetch_timeout_value(&self) -> Duration {
        self.fetch_timeout
    }

    /// Seed of the retry jitter; give each replica its own (randomness is an input).
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = seed;
        self
    }

    /// The configured refresh lead.
    pub fn refresh_before_value(&self) -> Duration {
        self.refresh_before
    }

    /// The configured safety margin.
    pub fn safety_margin_value(&self) -> Duration {
        self.safety_margin
    }

    /// The configured idle time after which a key is evicted.
    pub fn idle_ttl_value(&self) -> Duration {
        self.idle_ttl
    }

    /// The retry delay after `failures` consecutive failures, before jitter: `initial · 2^(failures-1)`,
    /// at most `max`.
    pub fn backoff_ceiling(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(31);
        self.retry_initial
            .checked_mul(1u32 << exp)
            .map_or(self.retry_max, |d| d.min(self.retry_max))
    }
}
