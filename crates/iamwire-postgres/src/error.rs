//! The Postgres protocol's own errors ([`PgError`]), classified by side, and the one function that puts
//! any session error on the wire as an `ErrorResponse` with a real SQLSTATE ([`error_fields`]).

use iamwire_core::InjectErrorKind;
use iamwire_proxy::{ProtocolError, Seconds, SessionError, Side};

use crate::auth::AuthError;
use crate::codec::{CodecError, ErrorFields, Severity, sqlstate};

/// What can go wrong in the Postgres parts of a session. No variant carries a password, token, AWS
/// secret or external ID.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The client sent bytes that are not a valid startup or authentication message.
    #[error("invalid message from the client: {cause}")]
    ClientProtocol {
        /// What the codec found wrong.
        cause: CodecError,
    },
    /// The client sent a message that the handshake does not allow at this point.
    #[error("the client sent {what} where the handshake expected {expected}")]
    UnexpectedClientMessage {
        /// What arrived.
        what: &'static str,
        /// What the proxy waited for.
        expected: &'static str,
    },
    /// The client tried to start a session without TLS.
    #[error("this proxy requires TLS: connect with sslmode=require or sslmode=verify-full")]
    TlsRequired,
    /// The client failed the proxy's own password check.
    #[error("password authentication failed for user \"{user}\"")]
    ClientAuth {
        /// The user the client named.
        user: String,
        /// What went wrong in the exchange.
        #[source]
        source: AuthError,
    },
    /// The database sent bytes that are not valid protocol messages.
    #[error("invalid message from the database: {cause}")]
    UpstreamProtocol {
        /// What the codec found wrong.
        cause: CodecError,
    },
    /// The database sent a message that the handshake does not allow at this point.
    #[error("the database sent {what} during the handshake")]
    UnexpectedUpstreamMessage {
        /// What arrived.
        what: &'static str,
    },
    /// The database refused TLS; the proxy never sends credentials without it.
    #[error("the database at {addr} does not accept TLS; credentials are never sent without it")]
    UpstreamNoTls {
        /// Where the proxy dialed.
        addr: String,
    },
    /// The proxy's login exchange with the database failed on the proxy's side.
    #[error("login to the database failed: {cause}")]
    UpstreamAuth {
        /// What went wrong in the exchange.
        cause: AuthError,
    },
    /// The database refused the login or the session with an `ErrorResponse`, relayed as is.
    #[error("the database refused the session (SQLSTATE {})", fields.code)]
    UpstreamRejected {
        /// The database's error, passed to the client unchanged (plus the injector's hint, if it had
        /// none).
        fields: Box<ErrorFields>,
    },
}

impl ProtocolError for PgError {
    fn side(&self) -> Side {
        match self {
            Self::ClientProtocol { .. }
            | Self::UnexpectedClientMessage { .. }
            | Self::TlsRequired
            | Self::ClientAuth { .. } => Side::Client,
            _ => Side::Upstream,
        }
    }

    fn is_login_rejected(&self) -> bool {
        // Class 28: invalid authorization (a refused token or an unknown user), where the injector's
        // hint (the IAM permission, the database user's setup) applies.
        matches!(self, Self::UpstreamRejected { fields } if fields.code.starts_with("28"))
    }
}

impl PgError {
    fn sqlstate(&self) -> &str {
        match self {
            Self::ClientProtocol { cause } | Self::UpstreamProtocol { cause } => cause.sql_state(),
            Self::UnexpectedClientMessage { .. } | Self::UnexpectedUpstreamMessage { .. } => {
                sqlstate::PROTOCOL_VIOLATION
            }
            Self::TlsRequired => sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
            Self::ClientAuth { source, .. } => source.sqlstate(),
            Self::UpstreamAuth { cause } => cause.sqlstate(),
            Self::UpstreamNoTls { .. } => sqlstate::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
            Self::UpstreamRejected { fields } => &fields.code,
        }
    }
}

/// The `ErrorResponse` a client sees for `error`: the one place a session error takes its Postgres wire
/// form. The database's own errors pass through unchanged (the injector's hint is added only when the
/// database gave none); every other message says what went wrong and what to do, and never carries a
/// secret. `None`: the client is gone, there is nothing to say.
pub fn error_fields(error: &SessionError<PgError>) -> Option<ErrorFields> {
    let fatal = |code: &str, message: String| ErrorFields::new(Severity::Fatal, code, message);
    let message = error.to_string();
    Some(match error {
        SessionError::ClientIo { .. } => return None,
        SessionError::HandshakeTimeout { .. } | SessionError::DataBeforeTls => {
            fatal(sqlstate::PROTOCOL_VIOLATION, message)
        }
        SessionError::ClientTls { .. } => {
            fatal(sqlstate::INVALID_AUTHORIZATION_SPECIFICATION, message)
                .hint("present a client certificate issued by this proxy's client CA")
        }
        SessionError::NoClientIdentity | SessionError::Denied { .. } => {
            fatal(sqlstate::INVALID_AUTHORIZATION_SPECIFICATION, message)
        }
        SessionError::TooManyConnections { .. } => fatal(sqlstate::TOO_MANY_CONNECTIONS, message),
        SessionError::CredentialTimeout { timeout } => fatal(
            sqlstate::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
            format!(
                "the proxy could not get AWS credentials for this database within {}",
                Seconds(*timeout)
            ),
        )
        .hint(
            "AWS STS did not answer in time: check the proxy's network path to STS; \
             nothing in IAM needs to change, and the next connection tries again",
        ),
        SessionError::Credentials { source } => {
            let code = match source.kind() {
                InjectErrorKind::AccessDenied => sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
                _ => sqlstate::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
            };
            let fields = fatal(code, source.message().to_owned());
            match source.hint() {
                Some(hint) => fields.hint(hint),
                None => fields,
            }
        }
        SessionError::Connect { addr, .. } | SessionError::ConnectTimeout { addr, .. } => fatal(
            sqlstate::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
            message,
        )
        .hint(format!(
            "check that the database is up and that the proxy can reach {addr}"
        )),
        SessionError::UpstreamTls { .. } => fatal(
            sqlstate::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
            message,
        )
        .hint("check the database's certificate against the proxy's tls.ca_cert_file and tls.server_name"),
        SessionError::UpstreamIo { .. } => fatal(sqlstate::CONNECTION_FAILURE, message).hint(
            "the database closed the connection before the login finished: check that it is up and \
             that its logs do not refuse the proxy's address or TLS",
        ),
        SessionError::LoginTimeout { .. } => fatal(
            sqlstate::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
            message,
        ),
        SessionError::Protocol { error, hint, .. } => match error {
            PgError::UpstreamRejected { fields } => {
                let mut fields = (**fields).clone();
                if fields.hint.is_none() {
                    fields.hint.clone_from(hint);
                }
                fields
            }
            _ => fatal(error.sqlstate(), message),
        },
        SessionError::Paused => fatal(sqlstate::CANNOT_CONNECT_NOW, message),
        SessionError::ShuttingDown => fatal(
            sqlstate::ADMIN_SHUTDOWN,
            "terminating connection because the proxy is shutting down".to_owned(),
        ),
        SessionError::Killed => fatal(
            sqlstate::ADMIN_SHUTDOWN,
            "terminating connection due to administrator command".to_owned(),
        ),
        _ => fatal(sqlstate::INTERNAL_ERROR, message),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use iamwire_core::{Denied, InjectError};

    use super::*;

    #[test]
    fn denied_is_28000_and_names_the_reason() {
        let error = SessionError::<PgError>::Denied {
            reason: Denied::UnknownIdentity {
                identity: "mallory".into(),
            },
        };
        let fields = error_fields(&error).unwrap();
        assert_eq!(fields.code, sqlstate::INVALID_AUTHORIZATION_SPECIFICATION);
        assert!(fields.message.contains("mallory"));
    }

    #[test]
    fn upstream_errors_pass_through_with_a_hint_only_if_missing() {
        let theirs = ErrorFields::new(Severity::Fatal, "28P01", "password authentication failed");
        let error = SessionError::Protocol {
            phase: iamwire_proxy::Phase::Login,
            error: PgError::UpstreamRejected {
                fields: Box::new(theirs.clone()),
            },
            hint: Some("check rds-db:connect".into()),
        };
        let fields = error_fields(&error).unwrap();
        assert_eq!(fields.code, "28P01");
        assert_eq!(fields.message, theirs.message);
        assert_eq!(fields.hint.as_deref(), Some("check rds-db:connect"));
        let with_hint = SessionError::Protocol {
            phase: iamwire_proxy::Phase::Login,
            error: PgError::UpstreamRejected {
                fields: Box::new(theirs.hint("theirs")),
            },
            hint: Some("ours".into()),
        };
        assert_eq!(
            error_fields(&with_hint).unwrap().hint.as_deref(),
            Some("theirs")
        );
    }

    #[test]
    fn credential_kinds_choose_the_sqlstate_and_the_hint() {
        let denied = SessionError::<PgError>::Credentials {
            source: InjectError::new(InjectErrorKind::AccessDenied, "access denied: role X")
                .with_hint("fix the trust policy of X"),
        };
        let fields = error_fields(&denied).unwrap();
        assert_eq!(fields.code, "28000");
        assert_eq!(fields.hint.as_deref(), Some("fix the trust policy of X"));
        let unreachable = SessionError::<PgError>::Credentials {
            source: InjectError::new(InjectErrorKind::Unavailable, "STS unreachable"),
        };
        assert_eq!(error_fields(&unreachable).unwrap().code, "08001");
        let slow = SessionError::<PgError>::CredentialTimeout {
            timeout: Duration::from_secs(3),
        };
        let fields = error_fields(&slow).unwrap();
        assert_eq!(fields.code, "08001");
        assert!(fields.message.contains("within 3s"), "{}", fields.message);
        assert!(!fields.hint.unwrap().contains("trust policy"));
    }

    #[test]
    fn limits_shutdown_and_kill() {
        let full = SessionError::<PgError>::TooManyConnections { limit: 3 };
        assert_eq!(error_fields(&full).unwrap().code, "53300");
        assert_eq!(
            error_fields(&SessionError::<PgError>::ShuttingDown)
                .unwrap()
                .code,
            "57P01"
        );
        assert_eq!(
            error_fields(&SessionError::<PgError>::Killed).unwrap().code,
            "57P01"
        );
        let gone = SessionError::<PgError>::ClientIo {
            source: std::io::ErrorKind::UnexpectedEof.into(),
        };
        assert!(error_fields(&gone).is_none());
    }
}
