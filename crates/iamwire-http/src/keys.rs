//! Access keys the proxy issues: an AWS-style key id and secret per identity and database-user role,
//! which an unchanged AWS SDK or CLI signs its requests with.
//!
//! Nothing secret is stored with the keys. A key's secret is derived from a master key (kept in its own
//! file, readable by the proxy only) and the key's id, identity and role:
//! `base64(HMAC-SHA256(master, "iamwire-http-key-v1" ‖ 0 ‖ id ‖ 0 ‖ identity ‖ 0 ‖ role)[..30])`. The list of
//! keys (id → identity, role) can sit in the config file: leaking it reveals no secret, and editing a
//! key's identity or role invalidates its secret. Removing a key from the list revokes it.
//!
//! **The convention**: the database user of a request is the IAM role its access key was issued for.
//! A client uses the AWS CLI or boto3 unchanged, with `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` from
//! `iamwire keys create` and `--endpoint-url` / `endpoint_url` pointing at the proxy; to act as another
//! role it uses another key. A client identified by its certificate instead names the role in
//! `AWS_SESSION_TOKEN` (`aws_session_token`), which the SDKs send as `X-Amz-Security-Token`.

use std::collections::HashMap;
use std::fmt;

use aws_credential_types::Credentials;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use iamwire_core::{RandomError, Randomness, Secret};
use sha2::Sha256;

/// How key ids begin (AWS's own start `AKIA` / `ASIA`; ours are recognisably the proxy's).
pub const KEY_ID_PREFIX: &str = "AKIW";
/// The length of a key id, as AWS's.
pub const KEY_ID_LEN: usize = 20;
/// The shortest master key accepted, in bytes.
pub const MIN_MASTER_KEY_LEN: usize = 32;

const DOMAIN: &[u8] = b"iamwire-http-key-v1";
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Who a key was issued to, and as which role it acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    /// The identity (what `proxy.identities` rules name).
    pub identity: String,
    /// The database-user role: a role name in the database's account, or a role ARN.
    pub role: String,
}

/// Why a key list or master key was refused (carried by [`HttpError::AccessKeys`](crate::HttpError)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyProblem {
    /// The master key is too short.
    ShortMasterKey,
    /// A key id is not `AKIW` and 16 characters of `A-Z2-7`.
    BadKeyId {
        /// The id.
        id: String,
    },
    /// A key id is listed twice.
    Duplicate {
        /// The id.
        id: String,
    },
    /// An identity or role is empty or has characters outside printable ASCII.
    BadField {
        /// The id.
        id: String,
        /// `identity` or `role`.
        field: &'static str,
    },
    /// No randomness for a new key.
    Random,
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ShortMasterKey => write!(
                f,
                "the master key must be at least {MIN_MASTER_KEY_LEN} bytes"
            ),
            Self::BadKeyId { id } => write!(
                f,
                "access key id {id:?} is not one iamwire issues (AKIW and 16 characters A-Z, 2-7)"
            ),
            Self::Duplicate { id } => write!(f, "access key id {id} is listed twice"),
            Self::BadField { id, field } => write!(
                f,
                "access key {id}: the {field} must be printable ASCII and not empty"
            ),
            Self::Random => f.write_str("no randomness for a new key id"),
        }
    }
}

impl std::error::Error for KeyProblem {}

/// The keys a proxy accepts, and the master key their secrets derive from. `Debug` shows the ids and
/// grants, never the master key.
#[derive(Clone)]
pub struct AccessKeys {
    master: Secret,
    keys: HashMap<String, KeyGrant>,
}

impl AccessKeys {
    /// No keys yet, secrets derived from `master`.
    ///
    /// # Errors
    /// [`KeyProblem::ShortMasterKey`].
    pub fn new(master: Secret) -> Result<Self, KeyProblem> {
        if master.len() < MIN_MASTER_KEY_LEN {
            return Err(KeyProblem::ShortMasterKey);
        }
        Ok(Self {
            master,
            keys: HashMap::new(),
        })
    }

    /// Accept key `id`, issued to `identity` for `role`.
    ///
    /// # Errors
    /// [`KeyProblem`] for a malformed id, identity or role, or an id listed before.
    pub fn insert(&mut self, id: &str, identity: &str, role: &str) -> Result<(), KeyProblem> {
        if !is_key_id(id) {
            return Err(KeyProblem::BadKeyId { id: id.to_owned() });
        }
        for (field, value) in [("identity", identity), ("role", role)] {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(KeyProblem::BadField {
                    id: id.to_owned(),
                    field,
                });
            }
        }
        let grant = KeyGrant {
            identity: identity.to_owned(),
            role: role.to_owned(),
        };
        if self.keys.insert(id.to_owned(), grant).is_some() {
            return Err(KeyProblem::Duplicate { id: id.to_owned() });
        }
        Ok(())
    }

    /// Who key `id` was issued to, if the proxy accepts it.
    pub fn grant(&self, id: &str) -> Option<&KeyGrant> {
        self.keys.get(id)
    }

    /// The number of keys accepted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is accepted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The credentials of key `id` (to verify a signature with), if the proxy accepts it.
    pub fn credentials(&self, id: &str) -> Option<Credentials> {
        let grant = self.keys.get(id)?;
        let secret = derive_secret(&self.master, id, &grant.identity, &grant.role);
        Some(Credentials::new(
            id,
            secret,
            None,
            None,
            "iamwire-access-key",
        ))
    }

    /// A new key for `identity` and `role`: its id and its secret (shown to the operator once, to hand to
    /// the client; never stored). The key is not added: list its id in the configuration.
    ///
    /// # Errors
    /// [`KeyProblem`] for a bad identity or role, or no randomness.
    pub fn mint(
        &self,
        identity: &str,
        role: &str,
        random: &dyn Randomness,
    ) -> Result<(String, Secret), KeyProblem> {
        let bytes: [u8; 16] = random.array().map_err(|RandomError| KeyProblem::Random)?;
        let mut id = String::from(KEY_ID_PREFIX);
        id.extend(
            bytes
                .iter()
                .map(|b| char::from(BASE32[usize::from(b & 31)])),
        );
        let mut check = self.clone();
        check.keys.clear();
        check.insert(&id, identity, role)?;
        let secret = derive_secret(&self.master, &id, identity, role);
        Ok((id, Secret::from(secret)))
    }
}

impl fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.keys.iter().collect();
        ids.sort_by(|a, b| a.0.cmp(b.0));
        f.debug_struct("AccessKeys")
            .field("keys", &ids)
            .field("master", &self.master)
            .finish()
    }
}

/// Whether `id` has the shape of a key id iamwire issues.
pub fn is_key_id(id: &str) -> bool {
    id.len() == KEY_ID_LEN
        && id.starts_with(KEY_ID_PREFIX)
        && id
            .bytes()
            .skip(KEY_ID_PREFIX.len())
            .all(|b| BASE32.contains(&b))
}

fn derive_secret(master: &Secret, id: &str, identity: &str, role: &str) -> String {
    // HMAC accepts keys of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(master.expose()) else {
        return String::new();
    };
    for part in [DOMAIN, id.as_bytes(), identity.as_bytes(), role.as_bytes()] {
        mac.update(part);
        mac.update(&[0]);
    }
    let digest = mac.finalize().into_bytes();
    base64::engine::general_purpose::STANDARD.encode(&digest[..30])
}

#[cfg(test)]
mod tests {
    use super::*;
    use iamwire_core::SystemRandom;

    fn keys() -> AccessKeys {
        AccessKeys::new(Secret::from(vec![7u8; 32])).unwrap()
    }

    #[test]
    fn minted_keys_verify_only_with_their_grant() {
        let mut keys = keys();
        let (id, secret) = keys.mint("alice", "orders-rw", &SystemRandom).unwrap();
        assert!(is_key_id(&id), "{id}");
        assert_eq!(secret.len(), 40);
        keys.insert(&id, "alice", "orders-rw").unwrap();
        let creds = keys.credentials(&id).unwrap();
        assert_eq!(creds.secret_access_key().as_bytes(), secret.expose());
        // Another grant under the same id derives another secret: editing the list breaks the key.
        let mut edited = self::keys();
        edited.insert(&id, "alice", "admin").unwrap();
        assert_ne!(
            edited.credentials(&id).unwrap().secret_access_key(),
            creds.secret_access_key()
        );
        // Another master key, another secret.
        let mut other = AccessKeys::new(Secret::from(vec![8u8; 32])).unwrap();
        other.insert(&id, "alice", "orders-rw").unwrap();
        assert_ne!(
            other.credentials(&id).unwrap().secret_access_key(),
            creds.secret_access_key()
        );
        assert!(keys.credentials("AKIWAAAAAAAAAAAAAAAA").is_none());
    }

    #[test]
    fn bad_lists_are_refused_and_debug_hides_the_master() {
        let mut keys = keys();
        assert!(matches!(
            keys.insert("AKIAIOSFODNN7EXAMPLE", "a", "r"),
            Err(KeyProblem::BadKeyId { .. })
        ));
        assert!(matches!(
            keys.insert("AKIWAAAAAAAAAAAAAAAA", "", "r"),
            Err(KeyProblem::BadField {
                field: "identity",
                ..
            })
        ));
        keys.insert("AKIWAAAAAAAAAAAAAAAA", "a", "r").unwrap();
        assert!(matches!(
            keys.insert("AKIWAAAAAAAAAAAAAAAA", "a", "r"),
            Err(KeyProblem::Duplicate { .. })
        ));
        assert!(matches!(
            AccessKeys::new(Secret::from(vec![1u8; 31])),
            Err(KeyProblem::ShortMasterKey)
        ));
        let shown = format!("{keys:?}");
        assert!(
            shown.contains("AKIWAAAAAAAAAAAAAAAA") && !shown.contains("7, 7"),
            "{shown}"
        );
        let secret = keys.credentials("AKIWAAAAAAAAAAAAAAAA").unwrap();
        assert!(!format!("{secret:?}").contains(secret.secret_access_key()));
    }
}
