//! The backend's cancel key, which must never show up in logs. (Passwords and SASL payloads are
//! [`iamwire_core::Secret`]s.)

use std::fmt;

use bytes::Bytes;

use super::CodecError;

const REDACTED: &str = "** redacted **";

/// The secret key of a backend, sent in BackendKeyData and echoed in CancelRequest. 4 bytes in
/// protocol 3.0, 4 to 256 bytes from 3.2 on. Whoever holds it can cancel that backend's queries,
/// so `Debug` prints `** redacted **`.
#[derive(Clone, PartialEq, Eq)]
pub struct CancelKey(Bytes);

impl CancelKey {
    /// Shortest key the protocol allows.
    pub const MIN_LEN: usize = 4;
    /// Longest key the protocol allows.
    pub const MAX_LEN: usize = 256;

    /// Wraps a key of 4 to 256 bytes.
    ///
    /// # Errors
    /// [`CodecError::InvalidCancelKeyLength`] for any other length.
    pub fn new(bytes: impl Into<Bytes>) -> Result<Self, CodecError> {
        let bytes = bytes.into();
        if (Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            Ok(Self(bytes))
        } else {
            Err(CodecError::InvalidCancelKeyLength { len: bytes.len() })
        }
    }

    /// A protocol 3.0 key: one big-endian 32-bit integer.
    #[must_use]
    pub fn from_i32(key: i32) -> Self {
        Self(Bytes::copy_from_slice(&key.to_be_bytes()))
    }

    /// The key as a 32-bit integer, when it is 4 bytes long (protocol 3.0).
    #[must_use]
    pub fn to_i32(&self) -> Option<i32> {
        <[u8; 4]>::try_from(&self.0[..])
            .ok()
            .map(i32::from_be_bytes)
    }

    /// The key bytes.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for CancelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let key = CancelKey::from_i32(0x1234_5678);
        assert_eq!(format!("{key:?}"), "** redacted **");
    }

    #[test]
    fn cancel_key_lengths() {
        assert_eq!(
            CancelKey::new(&b"abc"[..]),
            Err(CodecError::InvalidCancelKeyLength { len: 3 })
        );
        assert!(CancelKey::new(vec![7; 256]).is_ok());
        assert_eq!(
            CancelKey::new(vec![7; 257]),
            Err(CodecError::InvalidCancelKeyLength { len: 257 })
        );
        assert_eq!(CancelKey::from_i32(-5).to_i32(), Some(-5));
        assert_eq!(CancelKey::new(vec![1; 32]).map(|k| k.to_i32()), Ok(None));
    }
}
