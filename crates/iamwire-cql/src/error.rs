//! The CQL protocol's own errors ([`CqlError`]), classified by side, and the one function that puts any
//! session error on the wire as a CQL ERROR frame with a real error code ([`error_message`]).

use bytes::{BufMut, BytesMut};
use iamwire_core::{InjectError, InjectErrorKind};
use iamwire_proxy::{ProtocolError, SessionError, Side};

use crate::codec::{ErrorBody, Malformed, error_code};

/// The protocol versions the proxy speaks, as a CQL server names them in a version error.
fn supported(max: u8) -> String {
    (3..=max)
        .map(|v| format!("{v}/v{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What can go wrong in the CQL parts of a session. No variant carries a password, token, signature or
/// AWS secret.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CqlError {
    /// The client sent bytes that are not a valid frame or handshake message.
    #[error("invalid frame from the client: {cause}")]
    ClientProtocol {
        /// What was wrong.
        cause: Malformed,
    },
    /// The client speaks a protocol version the proxy does not. The text is what drivers look for to
    /// retry with a lower version.
    #[error(
        "Invalid or unsupported protocol version ({version}); supported versions are ({})",
        supported(*max)
    )]
    UnsupportedVersion {
        /// The client's version.
        version: u8,
        /// The highest version the proxy speaks.
        max: u8,
    },
    /// The client sent a message the handshake does not allow at this point.
    #[error("the client sent opcode {opcode:#04x} where the handshake expected {expected}")]
    UnexpectedClientMessage {
        /// What arrived.
        opcode: u8,
        /// What the proxy waited for.
        expected: &'static str,
    },
    /// The client asked for compression, which the proxy does not offer (its SUPPORTED lists none).
    #[error("compression \"{name}\" is not offered by this proxy; connect without compression")]
    Compression {
        /// The algorithm asked for.
        name: String,
    },
    /// The client's AUTH_RESPONSE is not SASL PLAIN (`[authzid]\0user\0password`) with a user.
    #[error(
        "authenticate with a user name and password (PasswordAuthenticator): the user is the \
         database user (IAM role) to log in as"
    )]
    BadPlainToken,
    /// The client failed the proxy's own password check.
    #[error("Provided username {user} and/or password are incorrect")]
    BadPassword {
        /// The user the client named.
        user: String,
    },
    /// The database sent bytes that are not a valid frame or handshake message.
    #[error("invalid frame from the database: {cause}")]
    UpstreamProtocol {
        /// What was wrong.
        cause: Malformed,
    },
    /// The database sent a message the handshake does not allow at this point.
    #[error("the database sent opcode {opcode:#04x} during the handshake ({expected} expected)")]
    UnexpectedUpstreamMessage {
        /// What arrived.
        opcode: u8,
        /// What the proxy waited for.
        expected: &'static str,
    },
    /// The database answered the login with an ERROR, passed on to the client with its own code.
    #[error("the database refused the session (error {code:#06x}): {message}")]
    UpstreamRejected {
        /// The database's error code.
        code: i32,
        /// The database's message.
        message: String,
    },
    /// The database went on challenging past the proxy's bound on rounds.
    #[error("the database asked for more than {rounds} authentication rounds")]
    TooManyRounds {
        /// The bound.
        rounds: usize,
    },
    /// The signer for the database's challenge failed (its message is safe to show; its cause is
    /// this error's `source()`).
    #[error(transparent)]
    Signer {
        /// Why.
        source: InjectError,
    },
}

impl ProtocolError for CqlError {
    fn side(&self) -> Side {
        match self {
            Self::ClientProtocol { .. }
            | Self::UnsupportedVersion { .. }
            | Self::UnexpectedClientMessage { .. }
            | Self::Compression { .. }
            | Self::BadPlainToken
            | Self::BadPassword { .. } => Side::Client,
            Self::UpstreamProtocol { .. }
            | Self::UnexpectedUpstreamMessage { .. }
            | Self::UpstreamRejected { .. }
            | Self::TooManyRounds { .. } => Side::Upstream,
            Self::Signer { source } if source.kind() == InjectErrorKind::Internal => Side::Internal,
            Self::Signer { .. } => Side::Upstream,
        }
    }

    fn is_login_rejected(&self) -> bool {
        matches!(self, Self::UpstreamRejected { code, .. } if *code == error_code::BAD_CREDENTIALS)
    }
}

/// The ERROR a client is told for `error`: a real CQL error code, a message that says what went wrong
/// and what to do, never a secret. `None` when there is nobody to tell (TLS never came up).
pub fn error_message(error: &SessionError<CqlError>) -> Option<ErrorBody> {
    use error_code::{BAD_CREDENTIALS, OVERLOADED, PROTOCOL_ERROR, SERVER_ERROR, UNAVAILABLE};
    let with_hint = |message: String, hint: Option<&str>| match hint {
        Some(hint) if !hint.is_empty() => format!("{message}; {hint}"),
        _ => message,
    };
    let text = error.to_string();
    let (code, message) = match error {
        SessionError::ClientTls { .. } | SessionError::ClientIo { .. } => return None,
        SessionError::DataBeforeTls | SessionError::HandshakeTimeout { .. } => {
            (PROTOCOL_ERROR, text)
        }
        SessionError::NoClientIdentity | SessionError::Denied { .. } => (BAD_CREDENTIALS, text),
        SessionError::TooManyConnections { .. }
        | SessionError::ShuttingDown
        | SessionError::Paused => (OVERLOADED, text),
        SessionError::Credentials { source } => {
            let code = match source.kind() {
                InjectErrorKind::AccessDenied => BAD_CREDENTIALS,
                InjectErrorKind::Unavailable => UNAVAILABLE,
                _ => SERVER_ERROR,
            };
            (code, with_hint(text, source.hint()))
        }
        SessionError::Protocol { error, hint, .. } => match error {
            CqlError::ClientProtocol { .. }
            | CqlError::UnsupportedVersion { .. }
            | CqlError::UnexpectedClientMessage { .. }
            | CqlError::Compression { .. } => (PROTOCOL_ERROR, text),
            CqlError::BadPlainToken | CqlError::BadPassword { .. } => (BAD_CREDENTIALS, text),
            CqlError::UpstreamRejected { code, message } => {
                (*code, with_hint(message.clone(), hint.as_deref()))
            }
            CqlError::Signer { source } if source.kind() == InjectErrorKind::Internal => {
                (SERVER_ERROR, text)
            }
            _ => (UNAVAILABLE, text),
        },
        SessionError::Killed | SessionError::Randomness => (SERVER_ERROR, text),
        _ => (UNAVAILABLE, text),
    };
    let mut rest = BytesMut::new();
    if code == UNAVAILABLE {
        // consistency ONE, 1 replica required, none alive: the fields an Unavailable error carries.
        rest.put_u16(0x0001);
        rest.put_i32(1);
        rest.put_i32(0);
    }
    Some(ErrorBody {
        code,
        message,
        rest: rest.freeze(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use iamwire_core::Denied;
    use iamwire_proxy::Phase;

    use super::*;

    fn code(error: &SessionError<CqlError>) -> i32 {
        error_message(error).expect("a message").code
    }

    #[test]
    fn each_failure_gets_its_cql_code_and_unavailable_its_fields() {
        let credentials = |kind| SessionError::<CqlError>::Credentials {
            source: InjectError::new(
                kind,
                "access denied: the proxy could not assume role arn:aws:iam::2:role/r",
            )
            .with_hint("fix the trust policy"),
        };
        let protocol = |error| SessionError::Protocol {
            phase: Phase::Login,
            error,
            hint: Some("the role needs cassandra:Select".to_owned()),
        };
        let cases = [
            (
                credentials(InjectErrorKind::AccessDenied),
                error_code::BAD_CREDENTIALS,
            ),
            (
                credentials(InjectErrorKind::Unavailable),
                error_code::UNAVAILABLE,
            ),
            (
                credentials(InjectErrorKind::Misconfigured),
                error_code::SERVER_ERROR,
            ),
            (SessionError::NoClientIdentity, error_code::BAD_CREDENTIALS),
            (
                SessionError::Denied {
                    reason: Denied::UnknownIdentity {
                        identity: "mallory".into(),
                    },
                },
                error_code::BAD_CREDENTIALS,
            ),
            (
                SessionError::ConnectTimeout {
                    addr: "db:9142".into(),
                    timeout: Duration::from_secs(10),
                },
                error_code::UNAVAILABLE,
            ),
            (
                SessionError::TooManyConnections { limit: 3 },
                error_code::OVERLOADED,
            ),
            (
                protocol(CqlError::UnsupportedVersion { version: 5, max: 4 }),
                error_code::PROTOCOL_ERROR,
            ),
            (
                protocol(CqlError::BadPassword { user: "r".into() }),
                error_code::BAD_CREDENTIALS,
            ),
            (
                protocol(CqlError::UpstreamRejected {
                    code: error_code::BAD_CREDENTIALS,
                    message: "Authentication failure".into(),
                }),
                error_code::BAD_CREDENTIALS,
            ),
            (
                protocol(CqlError::UpstreamProtocol {
                    cause: Malformed::Checksum("header"),
                }),
                error_code::UNAVAILABLE,
            ),
        ];
        for (error, expected) in &cases {
            let body = error_message(error).unwrap();
            assert_eq!(body.code, *expected, "{error}");
            assert_eq!(!body.rest.is_empty(), *expected == error_code::UNAVAILABLE);
        }
        let denied = error_message(&cases[0].0).unwrap();
        assert!(
            denied.message.contains("arn:aws:iam::2:role/r")
                && denied.message.contains("trust policy")
        );
        let rejected = error_message(&cases[9].0).unwrap();
        assert!(
            rejected.message.contains("cassandra:Select"),
            "{}",
            rejected.message
        );
        let version = error_message(&cases[7].0).unwrap();
        assert!(version.message.contains("unsupported protocol version (5)"));
        assert!(version.message.contains("3/v3, 4/v4"));
        let tls = SessionError::<CqlError>::ClientTls {
            source: std::io::Error::other("bad cert"),
        };
        assert!(error_message(&tls).is_none());
        assert_eq!(code(&SessionError::ShuttingDown), error_code::OVERLOADED);
    }
}
