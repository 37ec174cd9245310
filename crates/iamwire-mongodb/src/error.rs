//! The MongoDB protocol's own errors ([`MongoError`]), classified by side, and the one function that
//! turns any session error into a MongoDB command error — `{ok: 0, errmsg, code, codeName}` with a real
//! server error code ([`error_reply`]).

use iamwire_core::{InjectError, InjectErrorKind};
use iamwire_proxy::{ProtocolError, SessionError, Side};

use crate::bson::DocBuf;
use crate::codec::Malformed;

/// MongoDB server error codes the proxy answers with.
pub mod code {
    /// `InternalError`.
    pub const INTERNAL_ERROR: i32 = 1;
    /// `BadValue`: a command's fields are wrong.
    pub const BAD_VALUE: i32 = 2;
    /// `HostUnreachable`: the database (or AWS) cannot be reached now; drivers retry.
    pub const HOST_UNREACHABLE: i32 = 6;
    /// `Unauthorized`: not allowed (before authenticating, or by the proxy's rules).
    pub const UNAUTHORIZED: i32 = 13;
    /// `ProtocolError`: the bytes are not the MongoDB wire protocol.
    pub const PROTOCOL_ERROR: i32 = 17;
    /// `AuthenticationFailed`.
    pub const AUTHENTICATION_FAILED: i32 = 18;
    /// `NetworkTimeout`.
    pub const NETWORK_TIMEOUT: i32 = 89;
    /// `ShutdownInProgress`.
    pub const SHUTDOWN_IN_PROGRESS: i32 = 91;
    /// `MechanismUnavailable`: a SASL mechanism the proxy does not offer.
    pub const MECHANISM_UNAVAILABLE: i32 = 334;
    /// `Interrupted`.
    pub const INTERRUPTED: i32 = 11601;

    /// The name drivers show for a code the proxy sends (`UnknownError` for others).
    pub fn name(code: i32) -> &'static str {
        match code {
            INTERNAL_ERROR => "InternalError",
            BAD_VALUE => "BadValue",
            HOST_UNREACHABLE => "HostUnreachable",
            UNAUTHORIZED => "Unauthorized",
            PROTOCOL_ERROR => "ProtocolError",
            AUTHENTICATION_FAILED => "AuthenticationFailed",
            NETWORK_TIMEOUT => "NetworkTimeout",
            SHUTDOWN_IN_PROGRESS => "ShutdownInProgress",
            MECHANISM_UNAVAILABLE => "MechanismUnavailable",
            INTERRUPTED => "Interrupted",
            _ => "UnknownError",
        }
    }
}

/// How to log in through the proxy, for messages that must say it.
pub(crate) const HOW_TO_LOG_IN: &str = "log in with authMechanism=PLAIN and authSource=$external \
    over TLS: the user name is the database user (the IAM role) to become, the password is your \
    proxy password (with a client certificate, any password)";

/// What can go wrong in the MongoDB parts of a session. No variant carries a password, token,
/// signature or AWS secret.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum MongoError {
    /// The client sent bytes that are not a valid message.
    #[error("invalid message from the client: {cause}")]
    ClientProtocol {
        /// What was wrong.
        cause: Malformed,
    },
    /// The client sent too many commands without authenticating.
    #[error("command {command:?} requires authentication; {HOW_TO_LOG_IN}")]
    NotAuthenticated {
        /// The command.
        command: String,
    },
    /// The client chose a mechanism the proxy does not offer.
    #[error("authentication mechanism {mechanism:?} is not offered by this proxy; {HOW_TO_LOG_IN}")]
    UnsupportedMechanism {
        /// The mechanism it asked for.
        mechanism: String,
    },
    /// The client's PLAIN payload is not `[authzid] NUL user NUL password` with a user.
    #[error("the PLAIN payload names no valid user; {HOW_TO_LOG_IN}")]
    BadPlainPayload,
    /// The client failed the proxy's own password check.
    #[error("Authentication failed.")]
    BadPassword {
        /// The user the client named.
        user: String,
    },
    /// After the handshake, the client sent a command the proxy does not pass on (a second login,
    /// a logout, compressed messages).
    #[error(
        "command {command:?} is not allowed through this proxy: a session stays the database user \
         it logged in as; open a new connection to be another"
    )]
    CommandRefused {
        /// The command (or `OP_COMPRESSED`).
        command: String,
    },
    /// The database sent bytes that are not a valid message.
    #[error("invalid message from the database: {cause}")]
    UpstreamProtocol {
        /// What was wrong.
        cause: Malformed,
    },
    /// The database answered the handshake with something out of place.
    #[error("the database answered the handshake unexpectedly ({expected} expected)")]
    UnexpectedUpstreamReply {
        /// What the proxy waited for.
        expected: &'static str,
    },
    /// The database's `MONGODB-AWS` challenge is invalid (its nonce does not extend the proxy's, or
    /// has the wrong length; the STS host is missing).
    #[error("the database's MONGODB-AWS challenge is invalid: {what}")]
    BadChallenge {
        /// What was wrong.
        what: &'static str,
    },
    /// The database refused the login (or a handshake command) with a command error.
    #[error("the database refused the login (code {code}): {message}")]
    UpstreamRejected {
        /// The database's error code.
        code: i32,
        /// The database's message.
        message: String,
    },
    /// The signer for the database's challenge failed (its message is safe to show; its cause is
    /// this error's `source()`).
    #[error(transparent)]
    Signer {
        /// Why.
        source: InjectError,
    },
}

impl ProtocolError for MongoError {
    fn side(&self) -> Side {
        match self {
            Self::ClientProtocol { .. }
            | Self::NotAuthenticated { .. }
            | Self::UnsupportedMechanism { .. }
            | Self::BadPlainPayload
            | Self::BadPassword { .. }
            | Self::CommandRefused { .. } => Side::Client,
            Self::UpstreamProtocol { .. }
            | Self::UnexpectedUpstreamReply { .. }
            | Self::BadChallenge { .. }
            | Self::UpstreamRejected { .. } => Side::Upstream,
            Self::Signer { source } if source.kind() != InjectErrorKind::Internal => Side::Upstream,
            Self::Signer { .. } => Side::Internal,
        }
    }

    fn is_login_rejected(&self) -> bool {
        matches!(self, Self::UpstreamRejected { code, .. } if *code == code::AUTHENTICATION_FAILED)
    }
}

/// The command error a client is told for `error`: `{ok: 0.0, errmsg, code, codeName}` with a real
/// MongoDB error code and a message that says what went wrong and what to do, never a secret. `None`
/// when there is nobody to tell (TLS never came up, or the client is gone).
pub fn error_reply(error: &SessionError<MongoError>) -> Option<Vec<u8>> {
    use code::{
        AUTHENTICATION_FAILED, BAD_VALUE, HOST_UNREACHABLE, INTERNAL_ERROR, INTERRUPTED,
        MECHANISM_UNAVAILABLE, NETWORK_TIMEOUT, PROTOCOL_ERROR, SHUTDOWN_IN_PROGRESS, UNAUTHORIZED,
    };
    let with_hint = |message: String, hint: Option<&str>| match hint {
        Some(hint) if !hint.is_empty() => format!("{message}; {hint}"),
        _ => message,
    };
    let text = error.to_string();
    let (code, message) = match error {
        SessionError::ClientTls { .. }
        | SessionError::ClientIo { .. }
        | SessionError::DataBeforeTls => return None,
        SessionError::NoClientIdentity => {
            (AUTHENTICATION_FAILED, format!("{text}, or {HOW_TO_LOG_IN}"))
        }
        SessionError::Denied { .. } => (UNAUTHORIZED, text),
        SessionError::HandshakeTimeout { .. }
        | SessionError::CredentialTimeout { .. }
        | SessionError::ConnectTimeout { .. }
        | SessionError::LoginTimeout { .. } => (NETWORK_TIMEOUT, text),
        SessionError::TooManyConnections { .. } | SessionError::Paused => (HOST_UNREACHABLE, text),
        SessionError::ShuttingDown => (SHUTDOWN_IN_PROGRESS, text),
        SessionError::Killed => (INTERRUPTED, text),
        SessionError::Credentials { source } => {
            let code = match source.kind() {
                InjectErrorKind::AccessDenied | InjectErrorKind::Misconfigured => {
                    AUTHENTICATION_FAILED
                }
                InjectErrorKind::Unavailable => HOST_UNREACHABLE,
                _ => INTERNAL_ERROR,
            };
            (code, with_hint(text, source.hint()))
        }
        SessionError::Protocol { error, hint, .. } => match error {
            MongoError::ClientProtocol { .. } => (PROTOCOL_ERROR, text),
            MongoError::NotAuthenticated { .. } | MongoError::CommandRefused { .. } => {
                (UNAUTHORIZED, text)
            }
            MongoError::UnsupportedMechanism { .. } => (MECHANISM_UNAVAILABLE, text),
            MongoError::BadPlainPayload => (BAD_VALUE, text),
            MongoError::BadPassword { .. } => (AUTHENTICATION_FAILED, text),
            MongoError::UpstreamRejected { code, .. } => (*code, with_hint(text, hint.as_deref())),
            MongoError::BadChallenge { .. } | MongoError::Signer { .. } => {
                (AUTHENTICATION_FAILED, text)
            }
            _ => (HOST_UNREACHABLE, text),
        },
        SessionError::Randomness => (INTERNAL_ERROR, text),
        _ => (HOST_UNREACHABLE, text),
    };
    Some(command_error(code, &message))
}

/// `{ok: 0.0, errmsg, code, codeName}`.
pub(crate) fn command_error(code: i32, message: &str) -> Vec<u8> {
    let mut doc = DocBuf::new();
    doc.f64("ok", 0.0)
        .str("errmsg", message)
        .i32("code", code)
        .str("codeName", code::name(code));
    doc.finish()
}

#[cfg(test)]
mod tests;
