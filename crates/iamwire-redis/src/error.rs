//! The Redis protocol's own errors ([`RedisError`]), classified by side, and the one function that puts
//! any session error on the wire as a one-line RESP error a Redis client understands ([`error_reply`]).

use iamwire_core::InjectErrorKind;
use iamwire_proxy::{ProtocolError, Seconds, SessionError, Side};

use crate::codec::{RespViolation, error_line};

/// What can go wrong in the Redis parts of a session. No variant carries a password, token, AWS secret
/// or external ID.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The client sent bytes that are not RESP commands, or broke a limit.
    #[error("Protocol error: {violation}")]
    ClientProtocol {
        /// What was wrong.
        violation: RespViolation,
    },
    /// The client failed the proxy's own password check.
    #[error("invalid username-password pair or user is disabled.")]
    WrongPass {
        /// The user it named.
        user: String,
    },
    /// The client ended the handshake (`QUIT`, or it closed).
    #[error("the client quit before authenticating")]
    Quit,
    /// The database sent bytes that are not RESP, or broke a limit.
    #[error("invalid RESP from the database: {violation}")]
    UpstreamProtocol {
        /// What was wrong.
        violation: RespViolation,
    },
    /// The database refused the proxy's login (its error code and message, passed on).
    #[error("the database refused the login: {code} {message}")]
    UpstreamRejected {
        /// The error code (`WRONGPASS`, `NOPERM`, `ERR`, ...).
        code: String,
        /// The database's message (one line; Redis never echoes the password).
        message: String,
    },
    /// The database answered the login with something other than a reply to it.
    #[error("the database answered the login with {what}")]
    UnexpectedUpstream {
        /// What it sent.
        what: &'static str,
    },
}

impl ProtocolError for RedisError {
    fn side(&self) -> Side {
        match self {
            Self::ClientProtocol { .. } | Self::WrongPass { .. } | Self::Quit => Side::Client,
            _ => Side::Upstream,
        }
    }

    fn is_login_rejected(&self) -> bool {
        matches!(self, Self::UpstreamRejected { code, .. }
            if matches!(code.as_str(), "WRONGPASS" | "NOPERM" | "NOAUTH"))
    }
}

/// The RESP error a client sees for `error`: the one place a session error takes its Redis wire form.
/// One line, with a code a Redis client maps to its own error types (`WRONGPASS`: who you are;
/// `NOPERM`: what you may do; `ERR`: anything else), what went wrong and what to do about it, never a
/// secret. `None`: the client is gone, or its connection is mid-reply and must just close.
pub fn error_reply(error: &SessionError<RedisError>) -> Option<Vec<u8>> {
    let message = error.to_string();
    let with = |text: String, hint: Option<&str>| match hint {
        Some(hint) => format!("{text}; {hint}"),
        None => text,
    };
    let (code, text) = match error {
        SessionError::ClientIo { .. } | SessionError::ClientTls { .. } => return None,
        SessionError::NoClientIdentity => ("WRONGPASS", message),
        SessionError::Denied { .. } => ("NOPERM", message),
        SessionError::TooManyConnections { limit } => (
            "ERR",
            format!("max number of clients reached (this proxy serves {limit} at once)"),
        ),
        SessionError::CredentialTimeout { timeout } => (
            "ERR",
            format!(
                "the proxy could not get AWS credentials for this database within {}; AWS STS did \
                 not answer in time: check the proxy's network path to STS (nothing in IAM needs to \
                 change, the next connection tries again)",
                Seconds(*timeout)
            ),
        ),
        SessionError::Credentials { source } => (
            match source.kind() {
                InjectErrorKind::AccessDenied => "NOPERM",
                _ => "ERR",
            },
            with(source.message().to_owned(), source.hint()),
        ),
        SessionError::Connect { addr, .. } | SessionError::ConnectTimeout { addr, .. } => (
            "ERR",
            format!("{message}; check that the database is up and that the proxy can reach {addr}"),
        ),
        SessionError::UpstreamTls { .. } => (
            "ERR",
            format!(
                "{message}; check the database's certificate against the proxy's tls.ca_cert_file \
                 and tls.server_name"
            ),
        ),
        SessionError::Protocol { error, hint, .. } => match error {
            RedisError::UpstreamRejected { code, message } => {
                let text = with(message.clone(), hint.as_deref());
                return Some(error_line(code, &text));
            }
            RedisError::WrongPass { .. } => ("WRONGPASS", message),
            RedisError::Quit => return None,
            _ => ("ERR", message),
        },
        SessionError::ShuttingDown => ("ERR", "the proxy is shutting down".to_owned()),
        SessionError::Killed => ("ERR", "the session was ended by an operator".to_owned()),
        _ => ("ERR", message),
    };
    Some(error_line(code, &text))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use iamwire_core::{Denied, InjectError};
    use iamwire_proxy::Phase;

    use super::*;

    fn text(e: &SessionError<RedisError>) -> String {
        String::from_utf8(error_reply(e).unwrap()).unwrap()
    }

    #[test]
    fn codes_by_kind_of_failure() {
        let denied = SessionError::Denied {
            reason: Denied::UnknownIdentity {
                identity: "mallory".into(),
            },
        };
        assert!(text(&denied).starts_with("-NOPERM "), "{}", text(&denied));
        assert!(text(&SessionError::NoClientIdentity).starts_with("-WRONGPASS "));
        let refused = InjectError::new(InjectErrorKind::AccessDenied, "could not assume role r")
            .with_hint("the trust policy of r must allow this proxy");
        let line = text(&SessionError::Credentials { source: refused });
        assert!(
            line.starts_with("-NOPERM could not assume role r; the trust policy"),
            "{line}"
        );
        let timeout = SessionError::<RedisError>::CredentialTimeout {
            timeout: Duration::from_secs(3),
        };
        assert!(text(&timeout).starts_with("-ERR "));
        assert!(
            error_reply(&SessionError::<RedisError>::ClientIo {
                source: std::io::ErrorKind::UnexpectedEof.into()
            })
            .is_none()
        );
    }

    #[test]
    fn database_refusals_pass_through_with_the_hint() {
        let error = SessionError::Protocol {
            phase: Phase::Login,
            error: RedisError::UpstreamRejected {
                code: "WRONGPASS".into(),
                message: "invalid username-password pair or user is disabled.".into(),
            },
            hint: Some("the proxy's role needs elasticache:Connect on arn:x".into()),
        };
        let line = text(&error);
        assert!(
            line.starts_with("-WRONGPASS invalid username-password pair"),
            "{line}"
        );
        assert!(line.contains("elasticache:Connect on arn:x"), "{line}");
        assert!(line.ends_with("\r\n") && line.matches('\n').count() == 1);
        assert!(error.to_string().contains("refused the login"));
    }
}
