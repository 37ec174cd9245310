//! The injectors' own memo of temporary Redshift credentials, reused until shortly before they expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::redshift::DatabaseCredentials;

/// Credentials are not handed out with less than this much life left.
pub(super) const REUSE_MARGIN: Duration = Duration::from_secs(60);

/// What a set of credentials was issued for: the operation, the cluster or workgroup, the
/// requested user and database name, and the role that asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct MemoKey {
    pub(super) operation: &'static str,
    pub(super) region: String,
    pub(super) target: String,
    pub(super) user: String,
    pub(super) db_name: Option<String>,
    pub(super) role: Option<String>,
}

/// A small map owned by one injector; entries past their reuse margin are dropped on insert.
#[derive(Default)]
pub(super) struct Memo {
    entries: Mutex<HashMap<MemoKey, DatabaseCredentials>>,
}

impl Memo {
    /// The credentials for `key`, if they have more than [`REUSE_MARGIN`] left at `now`.
    pub(super) fn get(&self, key: &MemoKey, now: SystemTime) -> Option<DatabaseCredentials> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|c| c.is_valid_at(now, REUSE_MARGIN))
            .cloned()
    }

    /// Remember `credentials` for `key`, forgetting any that are no longer reusable at `now`.
    pub(super) fn put(&self, key: MemoKey, credentials: DatabaseCredentials, now: SystemTime) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, c| c.is_valid_at(now, REUSE_MARGIN));
            if credentials.is_valid_at(now, REUSE_MARGIN) {
                entries.insert(key, credentials);
            }
        }
    }

    /// How many credentials are remembered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user: &str) -> MemoKey {
        MemoKey {
            operation: "GetClusterCredentials",
            region: "us-west-2".into(),
            target: "analytics".into(),
            user: user.into(),
            db_name: Some("dev".into()),
            role: None,
        }
    }

    #[test]
    fn reused_until_shortly_before_expiry_then_dropped() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let memo = Memo::default();
        let creds = DatabaseCredentials::new("IAM:app", "pw", t0 + Duration::from_secs(900));
        memo.put(key("app"), creds.clone(), t0);
        assert_eq!(memo.get(&key("app"), t0), Some(creds.clone()));
        assert_eq!(memo.get(&key("other"), t0), None);
        let late = t0 + Duration::from_secs(900) - REUSE_MARGIN;
        assert_eq!(
            memo.get(&key("app"), late - Duration::from_secs(1)),
            Some(creds)
        );
        assert_eq!(memo.get(&key("app"), late), None);
        // Inserting later drops what is no longer reusable.
        let fresh = DatabaseCredentials::new("IAM:b", "pw2", late + Duration::from_secs(900));
        memo.put(key("b"), fresh, late);
        assert_eq!(memo.len(), 1);
        // Already too close to expiry: not remembered at all.
        let stale = DatabaseCredentials::new("IAM:c", "pw3", late + Duration::from_secs(10));
        memo.put(key("c"), stale, late);
        assert_eq!(memo.get(&key("c"), late), None);
    }
}
