//! [`Secret`]: the one type for passwords, tokens and other credentials on their way somewhere.

use std::fmt;

use zeroize::Zeroize;

/// What `Debug` prints instead of a secret.
pub const REDACTED: &str = "** redacted **";

/// A password, IAM token, SASL payload or other credential. `Debug` prints `Secret(** redacted **)`;
/// the bytes are wiped when the value is dropped. Read them with [`Secret::expose`] only where they
/// go on the wire.
///
/// ```
/// use iamwire_core::Secret;
///
/// let token = Secret::from("db.example.com:5432/?Action=connect&X-Amz-Signature=abc");
/// assert_eq!(format!("{token:?}"), "Secret(** redacted **)");
/// assert!(token.expose().starts_with(b"db.example.com"));
/// ```
///
/// `PartialEq` is a plain comparison, for tests and codecs; do not use it to check a guess against a
/// stored secret (it is not constant-time).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Box<[u8]>);

impl Secret {
    /// Wrap secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into().into_boxed_slice())
    }

    /// The secret bytes, for the one place that puts them on the wire.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret as text, when it is UTF-8 (tokens and most passwords are).
    #[must_use]
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Length in bytes (not secret).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<Vec<u8>> for Secret {
    fn from(v: Vec<u8>) -> Self {
        Self::new(v)
    }
}

impl From<&[u8]> for Secret {
    fn from(v: &[u8]) -> Self {
        Self::new(v)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_everywhere() {
        let secret = Secret::from("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(** redacted **)");
        assert_eq!(
            format!("{:?}", Some(&secret)),
            "Some(Secret(** redacted **))"
        );
        assert_eq!(format!("{secret:#?}"), "Secret(** redacted **)");
        assert_eq!(secret.expose(), b"hunter2");
        assert_eq!(secret.expose_str(), Some("hunter2"));
        assert_eq!(Secret::new(vec![0xff]).expose_str(), None);
    }

    #[test]
    fn clones_are_independent() {
        let a = Secret::from("token");
        let b = a.clone();
        drop(a);
        assert_eq!(b.expose(), b"token");
        assert_eq!(b.len(), 5);
        assert!(!b.is_empty());
    }
}
