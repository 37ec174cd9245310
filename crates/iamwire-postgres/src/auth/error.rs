//! The one error type of the authentication exchanges, and the small enums it carries.

use std::fmt;

/// An authentication method of the Postgres protocol, as named in errors and logs.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// `AuthenticationCleartextPassword`: the password itself (an IAM token, for RDS).
    Cleartext,
    /// `AuthenticationMD5Password`: `md5(md5(password + user) + salt)`.
    Md5,
    /// SASL `SCRAM-SHA-256` without channel binding.
    ScramSha256,
    /// SASL `SCRAM-SHA-256-PLUS` with `tls-server-end-point` channel binding.
    ScramSha256Plus,
}

impl AuthMethod {
    /// The method's name as Postgres spells it (the SASL mechanism name for SCRAM).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Cleartext => "cleartext password",
            AuthMethod::Md5 => "md5",
            AuthMethod::ScramSha256 => super::SCRAM_SHA_256,
            AuthMethod::ScramSha256Plus => super::SCRAM_SHA_256_PLUS,
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which SCRAM message of RFC 5802 an error is about.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramMessage {
    /// `client-first-message` (in `SASLInitialResponse`).
    ClientFirst,
    /// `server-first-message` (in `AuthenticationSASLContinue`).
    ServerFirst,
    /// `client-final-message` (in `SASLResponse`).
    ClientFinal,
    /// `server-final-message` (in `AuthenticationSASLFinal`).
    ServerFinal,
}

impl fmt::Display for ScramMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScramMessage::ClientFirst => "client-first",
            ScramMessage::ServerFirst => "server-first",
            ScramMessage::ClientFinal => "client-final",
            ScramMessage::ServerFinal => "server-final",
        })
    }
}

/// A `server-error-value` of RFC 5802 (`e=...` in a server-final message), sent or received.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramServerError {
    /// `invalid-encoding`
    InvalidEncoding,
    /// `extensions-not-supported`
    ExtensionsNotSupported,
    /// `invalid-proof`
    InvalidProof,
    /// `channel-bindings-dont-match`
    ChannelBindingsDontMatch,
    /// `server-does-support-channel-binding`
    ServerDoesSupportChannelBinding,
    /// `channel-binding-not-supported`
    ChannelBindingNotSupported,
    /// `unsupported-channel-binding-type`
    UnsupportedChannelBindingType,
    /// `unknown-user`
    UnknownUser,
    /// `invalid-username-encoding`
    InvalidUsernameEncoding,
    /// `no-resources`
    NoResources,
    /// `other-error`, or a value this crate does not know (not echoed: it came from the network).
    OtherError,
}

impl ScramServerError {
    /// The value as it appears after `e=`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScramServerError::InvalidEncoding => "invalid-encoding",
            ScramServerError::ExtensionsNotSupported => "extensions-not-supported",
            ScramServerError::InvalidProof => "invalid-proof",
            ScramServerError::ChannelBindingsDontMatch => "channel-bindings-dont-match",
            ScramServerError::ServerDoesSupportChannelBinding => {
                "server-does-support-channel-binding"
            }
            ScramServerError::ChannelBindingNotSupported => "channel-binding-not-supported",
            ScramServerError::UnsupportedChannelBindingType => "unsupported-channel-binding-type",
            ScramServerError::UnknownUser => "unknown-user",
            ScramServerError::InvalidUsernameEncoding => "invalid-username-encoding",
            ScramServerError::NoResources => "no-resources",
            ScramServerError::OtherError => "other-error",
        }
    }

    /// Parse an `e=` value; anything unknown becomes [`ScramServerError::OtherError`].
    pub fn from_wire(value: &str) -> Self {
        const ALL: [ScramServerError; 10] = [
            ScramServerError::InvalidEncoding,
            ScramServerError::ExtensionsNotSupported,
            ScramServerError::InvalidProof,
            ScramServerError::ChannelBindingsDontMatch,
            ScramServerError::ServerDoesSupportChannelBinding,
            ScramServerError::ChannelBindingNotSupported,
            ScramServerError::UnsupportedChannelBindingType,
            ScramServerError::UnknownUser,
            ScramServerError::InvalidUsernameEncoding,
            ScramServerError::NoResources,
        ];
        ALL.into_iter()
            .find(|e| e.as_str() == value)
            .unwrap_or(ScramServerError::OtherError)
    }
}

impl fmt::Display for ScramServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why mutual authentication of the upstream server failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MutualAuthFailure {
    /// The server said `AuthenticationOk` without first proving it knows the password
    /// (no `AuthenticationSASLFinal`).
    SkippedFinal,
    /// The server's signature (`v=`) does not match: it does not know the password.
    BadSignature,
}

impl fmt::Display for MutualAuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MutualAuthFailure::SkippedFinal => "the server skipped its final SCRAM message",
            MutualAuthFailure::BadSignature => "the server's SCRAM signature is wrong",
        })
    }
}

/// What went wrong in an authentication exchange, on either side of the proxy.
///
/// No variant carries a password, token, SCRAM key or proof, nor text chosen by the peer.
/// [`AuthError::sqlstate`] gives the SQLSTATE for the `ErrorResponse` sent to a client.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The upstream asked for a cleartext password over a connection without TLS; the
    /// proxy refuses rather than expose the password or IAM token.
    #[error(
        "refusing to send a cleartext password over an unencrypted upstream connection; \
         connect to the database with TLS"
    )]
    CleartextWithoutTls,
    /// The upstream asked for an authentication method the proxy cannot perform
    /// (Kerberos, SCM credentials, GSSAPI, SSPI, or an unknown code).
    #[error(
        "the database asked for authentication request {code}, which the proxy does not support"
    )]
    UnsupportedMethod {
        /// The `Authentication*` request code (2 = Kerberos V5, 7 = GSSAPI, 9 = SSPI, ...).
        code: i32,
    },
    /// The upstream offered no SASL mechanism the proxy supports.
    #[error(
        "the database offered no supported SASL mechanism \
         (the proxy supports SCRAM-SHA-256 and SCRAM-SHA-256-PLUS)"
    )]
    NoCommonMechanism,
    /// Channel binding is required by policy, but the connection cannot provide it.
    #[error("channel binding is required, but {reason}")]
    ChannelBindingRequired {
        /// Why channel binding is impossible here.
        reason: &'static str,
    },
    /// The upstream failed to prove that it knows the password.
    #[error("{method}: mutual authentication of the database failed: {reason}")]
    MutualAuthFailed {
        /// The SASL mechanism in use.
        method: AuthMethod,
        /// What the server did wrong.
        reason: MutualAuthFailure,
    },
    /// The SCRAM peer ended the exchange with an `e=` error.
    #[error("{method}: the peer rejected the exchange ({error})")]
    PeerRejected {
        /// The SASL mechanism in use.
        method: AuthMethod,
        /// The RFC 5802 error value it sent.
        error: ScramServerError,
    },
    /// The server-first message asks for more PBKDF2 iterations than the proxy allows
    /// (a malicious server could otherwise burn the proxy's CPU), or for zero.
    #[error("{method}: the database asked for {iterations} iterations (allowed: 1 to {max})")]
    IterationsOutOfRange {
        /// The SASL mechanism in use.
        method: AuthMethod,
        /// The requested count.
        iterations: u64,
        /// The configured maximum.
        max: u32,
    },
    /// A SCRAM message does not follow RFC 5802's grammar.
    #[error("{method}: malformed {message} message: {what}")]
    Malformed {
        /// The SASL mechanism in use.
        method: AuthMethod,
        /// Which message.
        message: ScramMessage,
        /// Which part is wrong.
        what: &'static str,
    },
    /// The nonce in a SCRAM message does not continue the exchange's nonce.
    #[error("{method}: SCRAM nonce mismatch in the {message} message")]
    NonceMismatch {
        /// The SASL mechanism in use.
        method: AuthMethod,
        /// Which message.
        message: ScramMessage,
    },
    /// A message arrived that the exchange does not allow at this point.
    #[error("unexpected {got} while {expected}")]
    UnexpectedMessage {
        /// What the exchange was waiting for.
        expected: &'static str,
        /// What arrived.
        got: &'static str,
    },
    /// The client's SCRAM proof is wrong: wrong password, or unknown user (indistinguishable).
    #[error("{method}: password authentication failed")]
    InvalidProof {
        /// The SASL mechanism in use.
        method: AuthMethod,
    },
    /// The client's channel binding data is not this connection's.
    #[error("{method}: SCRAM channel binding check failed")]
    ChannelBindingMismatch {
        /// The SASL mechanism in use.
        method: AuthMethod,
    },
    /// The client says it supports channel binding but thinks the server does not, although
    /// SCRAM-SHA-256-PLUS was offered: something stripped it (downgrade attack).
    #[error("{method}: client supports SCRAM-SHA-256-PLUS, but thinks the proxy does not")]
    ChannelBindingDowngrade {
        /// The SASL mechanism in use.
        method: AuthMethod,
    },
    /// The client's channel binding choice contradicts its mechanism or this connection
    /// (binding data without PLUS, PLUS without binding data, binding without TLS).
    #[error("{method}: channel binding negotiation error: {what}")]
    ChannelBindingNegotiation {
        /// The SASL mechanism the client chose.
        method: AuthMethod,
        /// What contradicts what.
        what: &'static str,
    },
    /// The client asked for a channel binding type other than `tls-server-end-point`.
    #[error("{method}: unsupported SCRAM channel-binding type")]
    UnsupportedChannelBindingType {
        /// The SASL mechanism in use.
        method: AuthMethod,
    },
    /// The client chose a SASL mechanism that was not offered.
    #[error("the client selected a SASL mechanism the proxy did not offer")]
    UnsupportedMechanism,
    /// The peer requires a SCRAM extension (`m=`) that is not supported.
    #[error("{method}: the peer requires an unsupported SCRAM extension")]
    UnsupportedExtension {
        /// The SASL mechanism in use.
        method: AuthMethod,
    },
    /// The client sent an authorization identity (`a=`), which Postgres does not support.
    #[error("{method}: the client uses an authorization identity, which is not supported")]
    AuthzidNotSupported {
        /// The SASL mechanism in use.
        method: AuthMethod,
    },
    /// A nonce given to the proxy is empty or has characters SCRAM does not allow.
    #[error("a SCRAM nonce must be non-empty printable ASCII without ','")]
    InvalidNonce,
    /// A stored SCRAM secret is not in Postgres' `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` form.
    #[error("invalid SCRAM secret: {what}")]
    InvalidScramSecret {
        /// Which part is wrong.
        what: &'static str,
    },
    /// A certificate given for `tls-server-end-point` cannot be used.
    #[error("cannot compute tls-server-end-point channel binding: {what}")]
    CertificateHash {
        /// Why (malformed DER, or a signature algorithm without a single hash such as Ed25519).
        what: &'static str,
    },
}

impl From<iamwire_proxy::scram::ScramSecretError> for AuthError {
    fn from(error: iamwire_proxy::scram::ScramSecretError) -> Self {
        Self::InvalidScramSecret { what: error.what }
    }
}

impl AuthError {
    /// The authentication method the failure belongs to, when there is one.
    pub fn method(&self) -> Option<AuthMethod> {
        match self {
            AuthError::CleartextWithoutTls => Some(AuthMethod::Cleartext),
            AuthError::MutualAuthFailed { method, .. }
            | AuthError::PeerRejected { method, .. }
            | AuthError::IterationsOutOfRange { method, .. }
            | AuthError::Malformed { method, .. }
            | AuthError::NonceMismatch { method, .. }
            | AuthError::InvalidProof { method }
            | AuthError::ChannelBindingMismatch { method }
            | AuthError::ChannelBindingDowngrade { method }
            | AuthError::ChannelBindingNegotiation { method, .. }
            | AuthError::UnsupportedChannelBindingType { method }
            | AuthError::UnsupportedExtension { method }
            | AuthError::AuthzidNotSupported { method } => Some(*method),
            _ => None,
        }
    }

    /// The SQLSTATE Postgres uses for this failure, for the `ErrorResponse` to a client:
    /// `28P01` for a wrong password, `08P01` for protocol violations, `28000` otherwise.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            AuthError::InvalidProof { .. } => "28P01",
            AuthError::Malformed { .. }
            | AuthError::NonceMismatch { .. }
            | AuthError::UnexpectedMessage { .. }
            | AuthError::ChannelBindingMismatch { .. }
            | AuthError::ChannelBindingDowngrade { .. }
            | AuthError::ChannelBindingNegotiation { .. }
            | AuthError::UnsupportedChannelBindingType { .. }
            | AuthError::UnsupportedMechanism
            | AuthError::UnsupportedExtension { .. }
            | AuthError::AuthzidNotSupported { .. } => "08P01",
            _ => "28000",
        }
    }

    /// The RFC 5802 `e=` value a SCRAM server would send for this failure, if it is one.
    ///
    /// Postgres itself never sends `e=`; it answers with an `ErrorResponse` instead, which
    /// is what clients expect. This is for drivers that want the RFC behaviour.
    pub fn scram_server_error(&self) -> Option<ScramServerError> {
        Some(match self {
            AuthError::InvalidProof { .. } => ScramServerError::InvalidProof,
            AuthError::Malformed { .. } | AuthError::NonceMismatch { .. } => {
                ScramServerError::InvalidEncoding
            }
            AuthError::ChannelBindingMismatch { .. } => ScramServerError::ChannelBindingsDontMatch,
            AuthError::ChannelBindingDowngrade { .. } => {
                ScramServerError::ServerDoesSupportChannelBinding
            }
            AuthError::ChannelBindingNegotiation { .. } => {
                ScramServerError::ChannelBindingNotSupported
            }
            AuthError::UnsupportedChannelBindingType { .. } => {
                ScramServerError::UnsupportedChannelBindingType
            }
            AuthError::UnsupportedExtension { .. } => ScramServerError::ExtensionsNotSupported,
            AuthError::AuthzidNotSupported { .. } => ScramServerError::OtherError,
            _ => return None,
        })
    }
}
