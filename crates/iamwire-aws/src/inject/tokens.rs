//! [`TokenMap`]: the one map of minted IAM tokens, shared by the RDS and the ElastiCache / MemoryDB
//! injectors, so a burst of connections to one endpoint as one user signs once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use crate::token::{AuthToken, TokenReuse};

/// Which service a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// RDS / Aurora / RDS Proxy (`rds-db:connect`).
    Rds,
    /// ElastiCache (`elasticache:Connect`).
    ElastiCache,
    /// MemoryDB (`memorydb:Connect`).
    MemoryDb,
}

/// What a token was minted for: the service, the endpoint (or cache name), the user, and the role whose
/// credentials signed it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    /// The service.
    pub kind: TokenKind,
    /// The host (RDS) or cache / cluster name (ElastiCache, MemoryDB).
    pub target: String,
    /// The port (RDS); 0 where the token names none.
    pub port: u16,
    /// The database user.
    pub user: String,
    /// The role at the end of the chain that signed it (`None`: the base identity).
    pub role: Option<String>,
}

/// Tokens by [`TokenKey`], each reused while [`TokenReuse`] allows. Entries past their reuse margin are
/// dropped whenever a token is added, so the map holds at most the tokens still worth reusing.
#[derive(Debug, Default)]
pub struct TokenMap {
    reuse: TokenReuse,
    tokens: Mutex<HashMap<TokenKey, AuthToken>>,
    minted: AtomicU64,
    reused: AtomicU64,
}

impl TokenMap {
    /// An empty map with the given reuse policy.
    pub fn new(reuse: TokenReuse) -> Self {
        Self {
            reuse,
            tokens: Mutex::default(),
            minted: AtomicU64::new(0),
            reused: AtomicU64::new(0),
        }
    }

    /// The policy.
    pub fn reuse(&self) -> TokenReuse {
        self.reuse
    }

    /// A token for `key` that may still be reused at `now`.
    pub fn get(&self, key: &TokenKey, now: SystemTime) -> Option<AuthToken> {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        let found = tokens
            .get(key)
            .filter(|t| t.is_reusable(self.reuse, now))
            .cloned();
        if found.is_some() {
            self.reused.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Remember `token` for `key`, forgetting those no longer reusable at `now`.
    pub fn put(&self, key: TokenKey, token: AuthToken, now: SystemTime) {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.retain(|_, t| t.is_reusable(self.reuse, now));
        tokens.insert(key, token);
        self.minted.fetch_add(1, Ordering::Relaxed);
    }

    /// Tokens minted (put in the map) so far.
    pub fn minted(&self) -> u64 {
        self.minted.load(Ordering::Relaxed)
    }

    /// Logins that reused a token instead of minting one.
    pub fn reused(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    /// How many tokens are held.
    pub fn len(&self) -> usize {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_credential_types::Credentials;

    use super::*;
    use crate::token::rds_auth_token;

    #[test]
    fn tokens_are_reused_per_key_until_the_margin() {
        let creds = Credentials::new("AKID", "secret", None, None, "t");
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = rds_auth_token(&creds, "db", 5432, "app", "us-west-2", t0).unwrap();
        let map = TokenMap::default();
        let key = |user: &str| TokenKey {
            kind: TokenKind::Rds,
            target: "db".into(),
            port: 5432,
            user: user.into(),
            role: None,
        };
        map.put(key("app"), token.clone(), t0);
        assert!(
            map.get(&key("app"), t0 + Duration::from_secs(600))
                .is_some()
        );
        assert!(map.get(&key("other"), t0).is_none());
        // 15-minute tokens are not reused within the default 2-minute margin of expiry.
        assert!(
            map.get(&key("app"), t0 + Duration::from_secs(800))
                .is_none()
        );
        let later = t0 + Duration::from_secs(800);
        let fresh = rds_auth_token(&creds, "db", 5432, "b", "us-west-2", later).unwrap();
        map.put(key("b"), fresh, later);
        assert_eq!(map.len(), 1, "the stale token was dropped");
        assert_eq!((map.minted(), map.reused()), (2, 1));
    }
}
