//! The guard's memory of verdicts: bounded, with one TTL for confirmations and a shorter one for
//! refusals, and one check in flight per key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::error::Mismatch;
use crate::role::ChainKey;

/// What a verdict is about: the host, what the database claims, and the role that asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) host: String,
    pub(crate) account: Option<String>,
    pub(crate) region: String,
    pub(crate) chain: ChainKey,
}

/// A verdict: confirmed, or refused for a mismatch.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    Confirmed,
    Refused(Box<Mismatch>),
}

#[derive(Debug)]
struct Entry {
    verdict: Verdict,
    at: SystemTime,
}

/// Verdicts by key, at most `max` of them.
#[derive(Debug)]
pub(crate) struct Verdicts {
    entries: Mutex<HashMap<Key, Entry>>,
    in_flight: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) ttl: Duration,
    pub(crate) refusal_ttl: Duration,
    pub(crate) max: usize,
}

impl Verdicts {
    pub(crate) fn new(ttl: Duration, refusal_ttl: Duration, max: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            ttl,
            refusal_ttl,
            max: max.max(1),
        }
    }

    fn fresh(&self, entry: &Entry, now: SystemTime) -> bool {
        let ttl = match entry.verdict {
            Verdict::Confirmed => self.ttl,
            Verdict::Refused(_) => self.refusal_ttl,
        };
        now.duration_since(entry.at).is_ok_and(|age| age < ttl)
    }

    /// The verdict on `key`, if still fresh at `now`.
    pub(crate) fn get(&self, key: &Key, now: SystemTime) -> Option<Verdict> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(key)
            .filter(|e| self.fresh(e, now))
            .map(|e| e.verdict.clone())
    }

    /// Remember `verdict` on `key` from `now`, making room first: stale entries go, then the oldest.
    pub(crate) fn put(&self, key: Key, verdict: Verdict, now: SystemTime) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.max && !entries.contains_key(&key) {
            entries.retain(|_, e| self.fresh(e, now));
            if entries.len() >= self.max
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.at)
                    .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, Entry { verdict, at: now });
    }

    /// Forget every verdict on `host`.
    pub(crate) fn forget_host(&self, host: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|k, _| k.host != host);
    }

    /// How many verdicts are held.
    pub(crate) fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The lock that lets one check of `key` run at a time (the others wait, then read its verdict).
    pub(crate) fn flight(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Keys nobody waits on any more are dropped, so the map stays as small as the checks running.
        flights.retain(|_, lock| Arc::strong_count(lock) > 1);
        Arc::clone(flights.entry(key.clone()).or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(host: &str) -> Key {
        Key {
            host: host.to_owned(),
            account: Some("222222222222".to_owned()),
            region: "us-east-1".to_owned(),
            chain: ChainKey::base(),
        }
    }

    fn refused() -> Verdict {
        Verdict::Refused(Box::new(Mismatch {
            host: "h".into(),
            claimed_account: None,
            claimed_region: "us-east-1".into(),
            actual_account: None,
            actual_region: None,
            reason: "test",
        }))
    }

    #[test]
    fn verdicts_expire_and_the_map_stays_bounded() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let v = Verdicts::new(Duration::from_secs(600), Duration::from_secs(30), 3);
        v.put(key("a"), Verdict::Confirmed, t0);
        v.put(key("b"), refused(), t0);
        assert!(matches!(
            v.get(&key("a"), t0 + Duration::from_secs(599)),
            Some(Verdict::Confirmed)
        ));
        assert!(v.get(&key("a"), t0 + Duration::from_secs(600)).is_none());
        assert!(v.get(&key("b"), t0 + Duration::from_secs(29)).is_some());
        assert!(v.get(&key("b"), t0 + Duration::from_secs(30)).is_none());
        // A clock that went backwards is not "fresh".
        assert!(v.get(&key("a"), t0 - Duration::from_secs(1)).is_none());
        for (i, host) in ["c", "d", "e", "f"].iter().enumerate() {
            v.put(
                key(host),
                Verdict::Confirmed,
                t0 + Duration::from_secs(i as u64),
            );
            assert!(v.len() <= 3);
        }
        assert!(v.get(&key("f"), t0 + Duration::from_secs(5)).is_some());
        assert!(
            v.get(&key("c"), t0 + Duration::from_secs(5)).is_none(),
            "the oldest went first"
        );
        v.forget_host("f");
        assert!(v.get(&key("f"), t0 + Duration::from_secs(5)).is_none());
    }
}
