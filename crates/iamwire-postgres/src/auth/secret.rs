//! Types that hold secrets: their `Debug` never prints the secret.

use std::fmt;

/// A password, IAM token or password hash on its way to a database. `Debug` prints
/// `Secret(** redacted **)`; read the bytes with [`Secret::expose`] only where they go on
/// the wire.
#[derive(Clone)]
pub struct Secret(Box<[u8]>);

impl Secret {
    /// Wrap secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into().into_boxed_slice())
    }

    /// The secret bytes, for the one place that puts them on the wire.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

impl From<Vec<u8>> for Secret {
    fn from(v: Vec<u8>) -> Self {
        Secret::new(v)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(** redacted **)")
    }
}

/// The credential the proxy logs in upstream with: the database user name it sends in the
/// startup message, and its password (an RDS IAM token, a Redshift temporary password, or
/// a static password). `Debug` shows the user and redacts the secret.
#[derive(Clone, Debug)]
pub struct UpstreamLogin {
    /// The database user, exactly as sent in the startup message (MD5 hashes it in).
    pub user: String,
    /// The password or token.
    pub secret: Secret,
}

impl UpstreamLogin {
    /// A login for `user` with `secret`.
    pub fn new(user: impl Into<String>, secret: impl Into<Secret>) -> Self {
        UpstreamLogin {
            user: user.into(),
            secret: secret.into(),
        }
    }
}

/// A random key, chosen once per proxy process, from which mock SCRAM salts for unknown
/// users are derived, so that the same unknown user always gets the same salt (as a real
/// one would). `Debug` redacts it.
#[derive(Clone)]
pub struct MockKey([u8; 32]);

impl MockKey {
    /// A key from 32 random bytes supplied by the caller (the library has no randomness).
    pub fn from_random_bytes(bytes: [u8; 32]) -> Self {
        MockKey(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for MockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MockKey(** redacted **)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let login = UpstreamLogin::new("alice", "rds-token-XYZ");
        let debug = format!("{login:?}");
        assert!(debug.contains("alice"), "{debug}");
        assert!(!debug.contains("rds-token-XYZ"), "{debug}");
        assert_eq!(
            format!("{:?}", Secret::from("hunter2")),
            "Secret(** redacted **)"
        );
        assert_eq!(
            format!("{:?}", MockKey::from_random_bytes([7; 32])),
            "MockKey(** redacted **)"
        );
    }
}
