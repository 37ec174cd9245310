//! One key's state in the cache, and what a fetch's outcome does to it.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use tokio::sync::watch;
use tokio::time::Instant;

use super::config::CacheConfig;
use crate::role::RoleError;

/// Credentials with the times that govern them.
#[derive(Debug, Clone)]
pub(super) struct Fresh {
    pub(super) creds: Credentials,
    /// When they stop working.
    pub(super) expiry: SystemTime,
    /// When to start fetching their successor.
    pub(super) refresh_at: SystemTime,
}

/// What the key's fetch task is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Task {
    /// No task.
    Idle,
    /// A fetch is running: callers without usable credentials wait for its outcome.
    Fetching,
    /// The last fetch failed; the task sleeps before retrying while the old credentials last.
    Backoff,
}

/// Whether the fetch task goes on after recording an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Stop: success, or a failure with no usable credentials left to protect.
    Done,
    /// Sleep this long, then fetch again.
    RetryAfter(Duration),
}

/// One key of the cache.
#[derive(Debug)]
pub(super) struct Entry {
    /// Tells this entry from a later one for the same key (after invalidation or eviction).
    pub(super) id: u64,
    pub(super) fresh: Option<Fresh>,
    pub(super) error: Option<RoleError>,
    pub(super) failures: u32,
    /// No caller-triggered fetch before this, after a failure.
    pub(super) retry_at: Option<Instant>,
    pub(super) task: Task,
    /// Bumped on every outcome; callers waiting for a fetch watch it.
    pub(super) outcome: watch::Sender<u64>,
    pub(super) last_used: Instant,
}

impl Entry {
    pub(super) fn new(id: u64, now: Instant) -> Self {
        Self {
            id,
            fresh: None,
            error: None,
            failures: 0,
            retry_at: None,
            task: Task::Idle,
            outcome: watch::Sender::new(0),
            last_used: now,
        }
    }

    /// The credentials, if they have more than `margin` left at `now`.
    pub(super) fn usable(&self, now: SystemTime, margin: Duration) -> Option<&Fresh> {
        self.fresh
            .as_ref()
            .filter(|f| is_usable(f.expiry, now, margin))
    }

    /// Record a fetch's result at wall time `now` / instant `instant`, and say whether to retry.
    ///
    /// `role` names the key's last role for errors the cache itself raises; `jitter` is a fraction in
    /// `[0, 1)` that spreads the retry.
    pub(super) fn record(
        &mut self,
        result: Result<Credentials, RoleError>,
        config: &CacheConfig,
        now: SystemTime,
        instant: Instant,
        role: impl FnOnce() -> Option<iamwire_core::RoleArn>,
        jitter: f64,
    ) -> Next {
        let result = result.and_then(|creds| {
            let expiry = creds.expiry().unwrap_or(now + config.no_expiry_lifetime);
            if is_usable(expiry, now, config.safety_margin) {
                Ok((creds, expiry))
            } else {
                Err(RoleError::Expired {
                    role_arn: role(),
                    expiry,
                })
            }
        });
        self.outcome.send_modify(|n| *n = n.wrapping_add(1));
        match result {
            Ok((creds, expiry)) => {
                let remaining = expiry.duration_since(now).unwrap_or_default();
                let ahead = (remaining / 2).min(config.refresh_before);
                self.fresh = Some(Fresh {
                    creds,
                    expiry,
                    refresh_at: expiry - ahead,
                });
                self.error = None;
                self.failures = 0;
                self.retry_at = None;
                self.task = Task::Idle;
                Next::Done
            }
            Err(err) => {
                self.failures = self.failures.saturating_add(1);
                let ceiling = config.backoff_ceiling(self.failures);
                // Equal jitter: somewhere in the upper half of the step, so retries stay spread out and
                // never shorter than half the step.
                let delay = ceiling / 2 + ceiling.mul_f64(jitter.clamp(0.0, 1.0) / 2.0);
                self.error = Some(err);
                self.retry_at = Some(instant + delay);
                if self.usable(now + delay, config.safety_margin).is_some() {
                    self.task = Task::Backoff;
                    Next::RetryAfter(delay)
                } else {
                    self.task = Task::Idle;
                    Next::Done
                }
            }
        }
    }
}

/// Whether credentials expiring at `expiry` have more than `margin` left at `now`.
pub(super) fn is_usable(expiry: SystemTime, now: SystemTime, margin: Duration) -> bool {
    expiry.duration_since(now).is_ok_and(|left| left > margin)
}
