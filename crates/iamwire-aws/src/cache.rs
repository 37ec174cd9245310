//! [`CredentialCache`]: refresh-ahead, single-flight caching of credentials per chain prefix.
//!
//! The caller owns the cache (there is no global one) and hands it to a
//! [`CachingRoleProvider`](crate::role::CachingRoleProvider). Per [`ChainKey`]:
//!
//! - **single-flight**: at most one fetch runs, however many callers wait for it;
//! - **refresh ahead**: from `expiry - min(remaining / 2, refresh_before)` on, the first caller starts a
//!   refresh in a spawned task and everyone keeps getting the old credentials, without waiting, while
//!   they have more than the safety margin left;
//! - **bounded fetches**: a fetch that takes longer than the fetch timeout counts as failed, so its
//!   waiters are released and the next caller tries again;
//! - **retry with backoff**: a failed refresh is retried (jittered exponential backoff, bounded) while
//!   the old credentials last; once they are unusable callers get the error (with the role ARN and
//!   the AWS error code) until the next attempt is due;
//! - **never expired**: credentials within the safety margin of their expiry are never handed out;
//! - **bounded**: keys nobody asked for within the idle TTL are evicted.
//!
//! Wall-clock expiry is compared against a [`Clock`] input; retries sleep on Tokio's timer, so a test
//! with `tokio::time::pause()` and a [`TokioClock`] drives both.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aws_credential_types::Credentials;
use tokio::sync::watch;
use tokio::time::Instant;

mod clock;
mod config;
mod entry;

pub use clock::TokioClock;
pub use config::CacheConfig;
pub use iamwire_core::{Clock, SystemClock};

use crate::role::{ChainKey, CredentialsFuture, RoleError};
use entry::{Entry, Next, Task};

/// How the cache fetches the credentials of one key: called once per attempt, from a spawned task.
pub type Fetch = Arc<dyn Fn() -> CredentialsFuture<'static> + Send + Sync>;

/// A cache of credentials per chain prefix; cheap to clone (clones share the entries).
#[derive(Clone)]
pub struct CredentialCache {
    shared: Arc<Shared>,
}

struct Shared {
    config: CacheConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    jitter: AtomicU64,
}

#[derive(Default)]
struct State {
    entries: HashMap<ChainKey, Entry>,
    next_id: u64,
    last_sweep: Option<Instant>,
    stats: std::collections::BTreeMap<String, RoleStats>,
}

/// What the cache did for one role (the last role of a chain; `base` for the proxy's own credentials).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleStats {
    /// Callers served from the cache without waiting for a fetch.
    pub hits: u64,
    /// Fetches that succeeded (an STS call per hop, for roles).
    pub fetches: u64,
    /// Of those, refreshes of credentials still held.
    pub refreshes: u64,
    /// Fetches that failed (or timed out).
    pub failures: u64,
}

/// The stats label of a key: its last role, or `base`.
fn stats_label(key: &ChainKey) -> String {
    key.last_role_arn()
        .map_or_else(|| "base".to_owned(), ToString::to_string)
}

/// What a caller does next.
enum Step {
    Ready(Credentials),
    Wait(watch::Receiver<u64>),
}

impl CredentialCache {
    /// An empty cache timed by `config`, comparing expiry against `clock`.
    pub fn new(config: CacheConfig, clock: Arc<dyn Clock>) -> Self {
        let jitter = AtomicU64::new(config.jitter_seed);
        Self {
            shared: Arc::new(Shared {
                config,
                clock,
                state: Mutex::new(State::default()),
                jitter,
            }),
        }
    }

    /// The configuration this cache runs with.
    pub fn config(&self) -> &CacheConfig {
        &self.shared.config
    }

    /// How many keys the cache holds.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the cache holds no key.
    pub fn is_empty(&self) -> bool {
        self.lock().entries.is_empty()
    }

    /// What the cache did per role so far (hits, fetches, refreshes, failures).
    pub fn stats(&self) -> Vec<(String, RoleStats)> {
        self.lock()
            .stats
            .iter()
            .map(|(role, stats)| (role.clone(), *stats))
            .collect()
    }

    /// Forget `key` (e.g. when its database is deleted); a fetch in flight for it is discarded.
    /// Returns whether it was there.
    pub fn invalidate(&self, key: &ChainKey) -> bool {
        let removed = self.lock().entries.remove(key);
        removed.is_some()
    }

    /// Evict every key unused for the idle TTL now (the cache also does this as it is used).
    /// Returns how many were evicted.
    pub fn evict_idle(&self) -> usize {
        let ttl = self.shared.config.idle_ttl;
        self.lock().evict_idle(Instant::now(), ttl)
    }

    /// The credentials of `key`: cached if usable (starting a refresh in the background when due),
    /// else from `fetch`, shared with every other caller waiting for the same key.
    ///
    /// # Errors
    ///
    /// The fetch's [`RoleError`] when there are no usable credentials; [`RoleError::NoRuntime`] outside
    /// a Tokio runtime.
    pub async fn get(&self, key: &ChainKey, fetch: Fetch) -> Result<Credentials, RoleError> {
        loop {
            let mut outcome = match self.step(key, &fetch)? {
                Step::Ready(creds) => return Ok(creds),
                Step::Wait(outcome) => outcome,
            };
            if outcome.changed().await.is_err() {
                continue; // the key was invalidated or evicted: start over
            }
            let now = self.shared.clock.now();
            let margin = self.shared.config.safety_margin;
            let state = self.lock();
            if let Some(entry) = state.entries.get(key) {
                if let Some(fresh) = entry.usable(now, margin) {
                    return Ok(fresh.creds.clone());
                }
                if let Some(err) = &entry.error {
                    return Err(err.clone());
                }
            }
        }
    }

    /// Under the lock: hand out usable credentials, or start or join a fetch.
    fn step(&self, key: &ChainKey, fetch: &Fetch) -> Result<Step, RoleError> {
        let config = &self.shared.config;
        let wall = self.shared.clock.now();
        let now = Instant::now();
        let mut state = self.lock();
        let sweep_every = config.idle_ttl.min(Duration::from_secs(60));
        if state
            .last_sweep
            .is_none_or(|t| now.saturating_duration_since(t) >= sweep_every)
        {
            state.evict_idle(now, config.idle_ttl);
            state.last_sweep = Some(now);
        }
        let State {
            entries,
            next_id,
            stats,
            ..
        } = &mut *state;
        let entry = entries.entry(key.clone()).or_insert_with(|| {
            *next_id += 1;
            Entry::new(*next_id, now)
        });
        entry.last_used = now;
        let retry_due = entry.retry_at.is_none_or(|t| now >= t);
        if let Some(fresh) = entry.usable(wall, config.safety_margin) {
            let creds = fresh.creds.clone();
            stats.entry(stats_label(key)).or_default().hits += 1;
            if wall >= fresh.refresh_at && entry.task == Task::Idle && retry_due {
                // Without a runtime the refresh waits for a caller that has one; the credentials
                // are still good.
                let _ = self.spawn_fetch(entry, key, fetch);
            }
            return Ok(Step::Ready(creds));
        }
        match (entry.task, &entry.error) {
            (Task::Fetching, _) => {}
            (Task::Backoff, Some(err)) => return Err(err.clone()),
            (Task::Idle, Some(err)) if !retry_due => return Err(err.clone()),
            (Task::Idle | Task::Backoff, _) => self.spawn_fetch(entry, key, fetch)?,
        }
        Ok(Step::Wait(entry.outcome.subscribe()))
    }

    fn spawn_fetch(
        &self,
        entry: &mut Entry,
        key: &ChainKey,
        fetch: &Fetch,
    ) -> Result<(), RoleError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| RoleError::NoRuntime)?;
        entry.task = Task::Fetching;
        let cache = self.clone();
        let key = key.clone();
        let fetch = Arc::clone(fetch);
        let id = entry.id;
        handle.spawn(async move { cache.run_fetch(key, id, fetch).await });
        Ok(())
    }

    /// The fetch task of one entry: fetch, record, and retry with backoff while that is worthwhile.
    async fn run_fetch(self, key: ChainKey, id: u64, fetch: Fetch) {
        let mut guard = InterruptGuard {
            cache: &self,
            key: &key,
            id,
            armed: true,
        };
        let limit = self.shared.config.fetch_timeout;
        loop {
            let result = match tokio::time::timeout(limit, fetch()).await {
                Ok(result) => result,
                Err(_) => Err(RoleError::Timeout {
                    role_arn: key.last_role_arn().cloned(),
                    after: limit,
                }),
            };
            match self.record(&key, id, Some(result)) {
                Next::Done => break,
                Next::RetryAfter(delay) => {
                    tokio::time::sleep(delay).await;
                    let mut state = self.lock();
                    match state.entries.get_mut(&key).filter(|e| e.id == id) {
                        Some(entry) => entry.task = Task::Fetching,
                        None => break,
                    }
                }
            }
        }
        guard.armed = false;
    }

    /// Record an outcome for entry `id` of `key` (`None`: the task was interrupted).
    fn record(
        &self,
        key: &ChainKey,
        id: u64,
        result: Option<Result<Credentials, RoleError>>,
    ) -> Next {
        let jitter = self.next_jitter();
        let wall = self.shared.clock.now();
        let mut state = self.lock();
        let State { entries, stats, .. } = &mut *state;
        let Some(entry) = entries.get_mut(key).filter(|e| e.id == id) else {
            return Next::Done;
        };
        let interrupted = result.is_none();
        let result = result.unwrap_or_else(|| {
            Err(RoleError::Interrupted {
                role_arn: key.last_role_arn().cloned(),
            })
        });
        let role = || key.last_role_arn().cloned();
        let who = key
            .last_role_arn()
            .map_or_else(|| "base identity".to_owned(), ToString::to_string);
        let counted = stats.entry(stats_label(key)).or_default();
        match &result {
            Ok(_) => {
                counted.fetches += 1;
                if entry.fresh.is_some() {
                    counted.refreshes += 1;
                }
            }
            Err(_) if !interrupted => counted.failures += 1,
            Err(_) => {}
        }
        match &result {
            Ok(creds) => tracing::info!(
                role = %who,
                expires_in_s = creds
                    .expiry()
                    .and_then(|e| e.duration_since(wall).ok())
                    .map(|d| d.as_secs()),
                refresh = entry.fresh.is_some(),
                "AWS credentials fetched"
            ),
            Err(error) if !interrupted => tracing::warn!(
                role = %who,
                code = error.code(),
                error = %error,
                failures = entry.failures + 1,
                "AWS credential fetch failed"
            ),
            Err(_) => {}
        }
        let next = entry.record(
            result,
            &self.shared.config,
            wall,
            Instant::now(),
            role,
            jitter,
        );
        if interrupted {
            entry.task = Task::Idle;
            return Next::Done;
        }
        next
    }

    /// A fraction in `[0, 1)` from a SplitMix64 sequence seeded by the config.
    fn next_jitter(&self) -> f64 {
        const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut z = self
            .shared
            .jitter
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic (every update is a plain field write), so a
        // poisoned lock is still good to use.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn evict_idle(&mut self, now: Instant, ttl: Duration) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| {
            e.task != Task::Idle || now.saturating_duration_since(e.last_used) < ttl
        });
        before - self.entries.len()
    }
}

/// Records an interruption if a fetch task ends without an outcome (it panicked or was dropped), so
/// waiters wake and the next caller fetches again.
struct InterruptGuard<'a> {
    cache: &'a CredentialCache,
    key: &'a ChainKey,
    id: u64,
    armed: bool,
}

impl Drop for InterruptGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.cache.record(self.key, self.id, None);
        }
    }
}

impl fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialCache")
            .field("config", &self.shared.config)
            .field("clock", &self.shared.clock)
            .field("entries", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
