//! A caller-owned, time-bounded cache of [`user_uses_iam`](super::user_uses_iam) answers.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::{CacheService, user_uses_iam};
use crate::aws_api::{ApiClient, ApiError, Call};

/// The most answers an [`IamUserCache`] keeps unless told otherwise.
pub const DEFAULT_MAX_ENTRIES: usize = 4096;

/// What an answer is about: service, region, where (account id or endpoint), and user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IamUserKey {
    service: CacheService,
    region: String,
    scope: String,
    user: String,
}

impl IamUserKey {
    /// The key for `user` in `service` / `region`, in `scope` (an account id, or an endpoint URL).
    pub fn new(service: CacheService, region: &str, scope: &str, user: &str) -> Self {
        Self {
            service,
            region: region.to_owned(),
            scope: scope.to_owned(),
            user: user.to_owned(),
        }
    }

    /// The key for a call: its endpoint override if it has one, else its credentials' account id, else
    /// their access key id (which changes when they are refreshed: a miss, never a wrong answer).
    pub fn for_call(service: CacheService, call: &Call<'_>, user: &str) -> Self {
        let scope = call
            .endpoint_override()
            .or_else(|| call.account_id())
            .unwrap_or_else(|| call.access_key_id());
        Self::new(service, call.region(), scope, user)
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    uses_iam: bool,
    expires: SystemTime,
}

/// Answers of [`user_uses_iam`], each kept for a TTL. The caller owns it and passes the time in.
///
/// Concurrent misses for one key may each ask the service; the answers agree, so the last one wins.
#[derive(Debug)]
pub struct IamUserCache {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<IamUserKey, Entry>>,
}

impl IamUserCache {
    /// A cache keeping each answer for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            max_entries: DEFAULT_MAX_ENTRIES,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// This cache holding at most `max` answers (at least 1).
    pub fn with_max_entries(mut self, max: usize) -> Self {
        self.max_entries = max.max(1);
        self
    }

    /// The TTL of an answer.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The cached answer for `key`, if it is still fresh at `now`.
    pub fn get(&self, key: &IamUserKey, now: SystemTime) -> Option<bool> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(key)
            .filter(|e| now < e.expires)
            .map(|e| e.uses_iam)
    }

    /// Remember `uses_iam` for `key`, learnt at `now`.
    pub fn insert(&self, key: IamUserKey, uses_iam: bool, now: SystemTime) {
        let Some(expires) = now.checked_add(self.ttl) else {
            return;
        };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            entries.retain(|_, e| now < e.expires);
            if entries.len() >= self.max_entries {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(key, Entry { uses_iam, expires });
    }

    /// Forget the answer for `key` (e.g. after the upstream refused a login).
    pub fn invalidate(&self, key: &IamUserKey) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// How many answers are held (fresh or not).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no answers are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`user_uses_iam`] through this cache: the fresh cached answer at the call's time, else ask and
    /// remember. Errors are not cached.
    pub async fn user_uses_iam(
        &self,
        client: &ApiClient,
        call: Call<'_>,
        service: CacheService,
        user: &str,
    ) -> Result<bool, ApiError> {
        let key = IamUserKey::for_call(service, &call, user);
        if let Some(hit) = self.get(&key, call.time()) {
            return Ok(hit);
        }
        let answer = user_uses_iam(client, call, service, user).await?;
        self.insert(key, answer, call.time());
        Ok(answer)
    }
}

#[cfg(test)]
mod tests;
