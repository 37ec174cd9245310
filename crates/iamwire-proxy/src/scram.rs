//! SCRAM-SHA-256 building blocks (RFC 5802, RFC 7677) shared by every protocol that checks proxy-side
//! passwords: the stored [`ScramSecret`] (which never holds the password), the [`MockKey`] that makes
//! unknown users indistinguishable from known ones, and the key derivation itself. The SASL exchanges
//! live with the protocols that frame them.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The iteration count PostgreSQL uses by default (`scram_iterations`).
pub const DEFAULT_ITERATIONS: NonZeroU32 = match NonZeroU32::new(4096) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};
/// Salt length for new secrets, also used for mock salts.
pub const SALT_LEN: usize = 16;

/// A 32-byte SCRAM key (SHA-256 sized).
pub type Key = [u8; 32];

/// Why a stored secret could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SCRAM secret: {what}")]
pub struct ScramSecretError {
    /// What is wrong with it.
    pub what: &'static str,
}

/// A user's stored SCRAM-SHA-256 credential: salt, iteration count, StoredKey and ServerKey. A server
/// verifies proofs with it without knowing the password. `Debug` shows the salt and iteration count and
/// redacts the keys.
#[derive(Clone)]
pub struct ScramSecret {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    stored_key: Key,
    server_key: Key,
}

impl ScramSecret {
    /// Derive the secret from a plaintext password the way PostgreSQL does: SASLprep the password if it
    /// is valid UTF-8 and SASLprep accepts it, else use the raw bytes. `salt` is random and supplied by
    /// the caller ([`SALT_LEN`] bytes is usual).
    pub fn from_password(password: &[u8], salt: &[u8], iterations: NonZeroU32) -> Self {
        let salted = salted_password(password, salt, iterations);
        let client_key = hmac_sha256(&salted, &[b"Client Key"]);
        Self {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(&salted, &[b"Server Key"]),
        }
    }

    /// Parse PostgreSQL's stored form `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (as in
    /// `pg_authid.rolpassword`).
    ///
    /// # Errors
    /// [`ScramSecretError`] naming what is malformed.
    pub fn parse(s: &str) -> Result<Self, ScramSecretError> {
        let bad = |what| ScramSecretError { what };
        let rest = s
            .strip_prefix("SCRAM-SHA-256$")
            .ok_or(bad("missing SCRAM-SHA-256$ prefix"))?;
        let (params, keys) = rest
            .split_once('$')
            .ok_or(bad("missing '$' before the keys"))?;
        let (iterations, salt) = params
            .split_once(':')
            .ok_or(bad("missing ':' after the iteration count"))?;
        let (stored_key, server_key) = keys
            .split_once(':')
            .ok_or(bad("missing ':' between StoredKey and ServerKey"))?;
        let iterations = iterations
            .parse::<NonZeroU32>()
            .map_err(|_| bad("iteration count is not a positive integer"))?;
        let salt = b64_decode(salt).ok_or(bad("salt is not base64"))?;
        let key = |k: &str, what| {
            b64_decode(k)
                .and_then(|v| Key::try_from(v.as_slice()).ok())
                .ok_or(bad(what))
        };
        Ok(Self {
            iterations,
            salt,
            stored_key: key(stored_key, "StoredKey is not 32 bytes of base64")?,
            server_key: key(server_key, "ServerKey is not 32 bytes of base64")?,
        })
    }

    /// The secret in PostgreSQL's stored form (this string is itself sensitive: it allows an offline
    /// attack on the password and impersonating the server).
    pub fn to_postgres_format(&self) -> String {
        format!(
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }

    /// A secret for a user that does not exist: a salt that is stable per user name (so probing twice
    /// does not reveal the user is fake) and keys nobody knows.
    pub fn mock(key: &MockKey, user: &str, iterations: NonZeroU32) -> Self {
        let digest = hmac_sha256(&key.0, &[b"iamwire mock salt\0", user.as_bytes()]);
        Self {
            iterations,
            salt: digest.get(..SALT_LEN).unwrap_or(&digest).to_vec(),
            stored_key: hmac_sha256(&key.0, &[b"iamwire mock stored key\0", user.as_bytes()]),
            server_key: hmac_sha256(&key.0, &[b"iamwire mock server key\0", user.as_bytes()]),
        }
    }

    /// Whether `password` is the one this secret was derived from (for protocols whose clients send
    /// the password itself, over TLS). Costs one key derivation; constant-time comparison.
    pub fn verify_password(&self, password: &[u8]) -> bool {
        let salted = salted_password(password, &self.salt, self.iterations);
        let stored = sha256(&hmac_sha256(&salted, &[b"Client Key"]));
        ct_eq(&stored, &self.stored_key)
    }

    /// The PBKDF2 iteration count.
    pub fn iterations(&self) -> NonZeroU32 {
        self.iterations
    }

    /// The salt.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// `StoredKey = H(ClientKey)`: verifies client proofs.
    pub fn stored_key(&self) -> &Key {
        &self.stored_key
    }

    /// `ServerKey`: signs the server's final message.
    pub fn server_key(&self) -> &Key {
        &self.server_key
    }
}

impl FromStr for ScramSecret {
    type Err = ScramSecretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Debug for ScramSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramSecret")
            .field("iterations", &self.iterations)
            .field("salt", &B64.encode(&self.salt))
            .field("keys", &iamwire_core::REDACTED)
            .finish()
    }
}

/// A random key, chosen once per proxy process, from which mock secrets for unknown users are derived,
/// so that the same unknown user always gets the same salt (as a real one would). `Debug` redacts it.
#[derive(Clone)]
pub struct MockKey([u8; 32]);

impl MockKey {
    /// A key from 32 random bytes supplied by the caller (the library has no randomness of its own).
    pub fn from_random_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for MockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MockKey({})", iamwire_core::REDACTED)
    }
}

/// `Hi(password, salt, i)` of RFC 5802 (PBKDF2-HMAC-SHA-256, one block), on the SASLprep'd password.
pub fn salted_password(password: &[u8], salt: &[u8], iterations: NonZeroU32) -> Key {
    let password = saslprep(password);
    let prf = keyed(&password);
    let mut mac = prf.clone();
    mac.update(salt);
    mac.update(&[0, 0, 0, 1]);
    let mut u: Key = mac.finalize().into_bytes().into();
    let mut hi = u;
    for _ in 1..iterations.get() {
        let mut mac = prf.clone();
        mac.update(&u);
        u = mac.finalize().into_bytes().into();
        hi.iter_mut().zip(u.iter()).for_each(|(h, x)| *h ^= x);
    }
    hi
}

/// SASLprep as PostgreSQL applies it: normalize valid UTF-8 that SASLprep accepts, and use anything else
/// unchanged.
pub fn saslprep(password: &[u8]) -> Cow<'_, [u8]> {
    match std::str::from_utf8(password).map(stringprep::saslprep) {
        Ok(Ok(Cow::Owned(prepped))) => Cow::Owned(prepped.into_bytes()),
        _ => Cow::Borrowed(password),
    }
}

/// HMAC-SHA-256 keyed with `key` (any length; longer keys are hashed, as HMAC specifies).
fn keyed(key: &[u8]) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&sha256(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    // A key of exactly the block size is used as is, so this equals HMAC with `key`.
    Hmac::<Sha256>::new(&block.into())
}

/// HMAC-SHA-256 of the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Key {
    let mut mac = keyed(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> Key {
    Sha256::digest(data).into()
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Strict base64 (standard alphabet, canonical padding).
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

/// Base64 encoding (standard alphabet, padded).
pub fn b64_encode(data: &[u8]) -> String {
    B64.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_6_long_key() {
        // RFC 4231 test case 6: 131-byte key, longer than the block size.
        let key = [0xaa; 131];
        let mac = hmac_sha256(
            &key,
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            mac,
            [
                0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f, 0x0d, 0x8a, 0x26, 0xaa, 0xcb, 0xf5,
                0xb7, 0x7f, 0x8e, 0x0b, 0xc6, 0x21, 0x37, 0x28, 0xc5, 0x14, 0x05, 0x46, 0x04, 0x0f,
                0x0e, 0xe3, 0x7f, 0x54
            ]
        );
    }

    #[test]
    fn secret_round_trips_postgres_format_and_redacts_keys() {
        let secret = ScramSecret::from_password(b"pencil", b"0123456789abcdef", DEFAULT_ITERATIONS);
        let text = secret.to_postgres_format();
        let parsed = ScramSecret::parse(&text).unwrap();
        assert_eq!(parsed.to_postgres_format(), text);
        let debug = format!("{parsed:?}");
        assert!(debug.contains("redacted"), "{debug}");
        assert!(!debug.contains(&b64_encode(parsed.stored_key())), "{debug}");
        assert!(!debug.contains(&b64_encode(parsed.server_key())), "{debug}");
    }

    #[test]
    fn secret_parse_rejects_malformed() {
        for bad in [
            "",
            "md5abc",
            "SCRAM-SHA-256$4096:c2FsdA==",
            "SCRAM-SHA-256$0:c2FsdA==$AAAA:AAAA",
            "SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA",
            "SCRAM-SHA-256$x:c2FsdA==$AAAA:AAAA",
            "SCRAM-SHA-256$4096:!!$AAAA:AAAA",
        ] {
            assert!(ScramSecret::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plaintext_verification() {
        let secret = ScramSecret::from_password(b"pencil", b"0123456789abcdef", DEFAULT_ITERATIONS);
        assert!(secret.verify_password(b"pencil"));
        assert!(!secret.verify_password(b"pencil "));
        let mock = ScramSecret::mock(
            &MockKey::from_random_bytes([1; 32]),
            "nobody",
            DEFAULT_ITERATIONS,
        );
        assert!(!mock.verify_password(b""));
    }

    #[test]
    fn saslprep_applies_to_valid_utf8_only() {
        // U+00AA (feminine ordinal) NFKC-normalizes to "a".
        assert_eq!(&*saslprep("\u{aa}".as_bytes()), b"a");
        assert_eq!(&*saslprep(b"\xff\xfe"), b"\xff\xfe");
        // Prohibited output (a control character) falls back to the raw bytes.
        assert_eq!(&*saslprep(b"a\x07b"), b"a\x07b");
    }

    #[test]
    fn mock_salt_is_stable_per_user() {
        let key = MockKey::from_random_bytes([9; 32]);
        let a1 = ScramSecret::mock(&key, "alice", DEFAULT_ITERATIONS);
        let a2 = ScramSecret::mock(&key, "alice", DEFAULT_ITERATIONS);
        let b = ScramSecret::mock(&key, "bob", DEFAULT_ITERATIONS);
        assert_eq!(a1.salt(), a2.salt());
        assert_ne!(a1.salt(), b.salt());
        assert_eq!(a1.salt().len(), SALT_LEN);
        assert_eq!(format!("{key:?}"), "MockKey(** redacted **)");
    }
}
