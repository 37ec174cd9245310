//! SCRAM-SHA-256 building blocks shared by the server and the client: keys, nonces,
//! the stored secret, and the RFC 5802 attribute grammar.

use std::fmt;

pub use iamwire_proxy::scram::{DEFAULT_ITERATIONS, ScramSecret};
pub(crate) use iamwire_proxy::scram::{
    Key, b64_decode, b64_encode, ct_eq, salted_password, sha256,
};

use super::AuthError;

/// SASL mechanism name of SCRAM-SHA-256 without channel binding.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
/// SASL mechanism name of SCRAM-SHA-256 with channel binding.
pub const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";
/// The only channel binding type Postgres supports (RFC 5929).
pub(crate) const TLS_SERVER_END_POINT: &str = "tls-server-end-point";

/// A SCRAM nonce (client or server part): printable ASCII except `,`, never empty.
/// Nonces are random; the caller supplies them, so exchanges are reproducible in tests.
#[derive(Clone, PartialEq, Eq)]
pub struct Nonce(String);

impl Nonce {
    /// A nonce from a string chosen by the caller (e.g. a test vector).
    pub fn new(nonce: impl Into<String>) -> Result<Self, AuthError> {
        let nonce = nonce.into();
        if is_printable(&nonce) {
            Ok(Nonce(nonce))
        } else {
            Err(AuthError::InvalidNonce)
        }
    }

    /// A nonce from 18 random bytes, base64-encoded as Postgres does (24 characters).
    pub fn from_random_bytes(bytes: [u8; 18]) -> Self {
        Nonce(b64_encode(&bytes))
    }

    /// The nonce text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Nonce").field(&self.0).finish()
    }
}

/// RFC 5802 `printable`: `%x21-2B / %x2D-7E`, at least one character.
pub(crate) fn is_printable(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// The GS2 header's channel binding flag (RFC 5802 `gs2-cbind-flag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gs2Flag {
    /// `n`: the client does not support channel binding.
    NotSupported,
    /// `y`: the client supports it but thinks the server does not.
    ClientOnly,
    /// `p=tls-server-end-point`: channel binding is used.
    TlsServerEndPoint,
}

impl Gs2Flag {
    /// The GS2 header (without authzid) that prefixes the client-first message and is
    /// echoed, with the binding data, in `c=`.
    pub(crate) fn header(self) -> &'static str {
        match self {
            Gs2Flag::NotSupported => "n,,",
            Gs2Flag::ClientOnly => "y,,",
            Gs2Flag::TlsServerEndPoint => "p=tls-server-end-point,,",
        }
    }

    /// The `c=` value: base64 of the GS2 header followed by the binding data.
    pub(crate) fn channel_binding_attr(self, cbind_data: &[u8]) -> String {
        let mut input = self.header().as_bytes().to_vec();
        if self == Gs2Flag::TlsServerEndPoint {
            input.extend_from_slice(cbind_data);
        }
        b64_encode(&input)
    }
}

/// HMAC-SHA-256 of the concatenation of `parts`.
pub(crate) fn hmac(key: &[u8], parts: &[&[u8]]) -> Key {
    iamwire_proxy::scram::hmac_sha256(key, parts)
}

/// Take the attribute `name=` off the front of `attrs` (the remaining items of a message
/// split on `,`), returning its value.
pub(crate) fn take_attr<'a>(
    attrs: &mut std::iter::Peekable<std::str::Split<'a, char>>,
    name: char,
) -> Option<&'a str> {
    let item = attrs.peek()?;
    let value = item.strip_prefix(name)?.strip_prefix('=')?;
    attrs.next();
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_validation() {
        assert!(Nonce::new("abc").is_ok());
        assert_eq!(Nonce::new(""), Err(AuthError::InvalidNonce));
        assert_eq!(Nonce::new("a,b"), Err(AuthError::InvalidNonce));
        assert_eq!(Nonce::new("a b"), Err(AuthError::InvalidNonce));
        assert_eq!(Nonce::from_random_bytes([0; 18]).as_str().len(), 24);
    }
}
