//! The crate-level error of a proxied connection, classified by side, and the one function that
//! turns it into the `ErrorResponse` a client sees ([`ProxyError::error_fields`]).

use std::io;
use std::time::Duration;

use iamwire_core::Denied;

use crate::auth::AuthError;
use crate::codec::{CodecError, ErrorFields, Severity, sqlstate};
use crate::inject::InjectError;

/// Which side of the proxy a failure belongs to.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client did something wrong or is not allowed.
    Client,
    /// The database (or the way to it, or its credentials) failed.
    Upstream,
    /// The proxy itself (configuration, limits, randomness).
    Internal,
}

/// Why a proxied connection ended before (or instead of) its relay.
///
/// No variant carries a password, token, AWS secret or external ID.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The client sent bytes that are not a valid startup message.
    #[error("invalid startup packet from the client")]
    ClientProtocol {
        /// What the codec found wrong.
        #[source]
        source: CodecError,
    },
    /// The client sent a message that the handshake does not allow at this point.
    #[error("the client sent {what} where the handshake expected {expected}")]
    UnexpectedClientMessage {
        /// What arrived.
        what: &'static str,
        /// What the proxy waited for.
        expected: &'static str,
    },
    /// The client sent bytes after its SSLRequest, before the TLS handshake (CVE-2021-23214).
    #[error("the client sent unencrypted data after its SSLRequest")]
    DataAfterSslRequest,
    /// The client did not finish its side of the handshake in time.
    #[error("the client did not complete the handshake within {timeout:?}")]
    HandshakeTimeout {
        /// The limit in force.
        timeout: Duration,
    },
    /// The client tried to start a session without TLS.
    #[error("this proxy requires TLS: connect with sslmode=require or sslmode=verify-full")]
    TlsRequired,
    /// The TLS handshake with the client failed (e.g. no or an untrusted client certificate).
    #[error("TLS handshake with the client failed")]
    ClientTls {
        /// The TLS or I/O error.
        #[source]
        source: io::Error,
    },
    /// Neither a client certificate nor another method established who the client is.
    #[error("no client identity: present a client certificate issued by this proxy's client CA")]
    NoClientIdentity,
    /// The client failed the proxy's own password check.
    #[error("password authentication failed for user \"{user}\"")]
    ClientAuth {
        /// The user the client named.
        user: String,
        /// What went wrong in the exchange.
        #[source]
        source: AuthError,
    },
    /// The authorizer refused the request.
    #[error("access denied: {reason}")]
    Denied {
        /// Why (safe to show the client).
        reason: Denied,
    },
    /// The client closed its connection or failed at the I/O level.
    #[error("connection to the client lost")]
    ClientIo {
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The proxy holds as many connections as it is configured for.
    #[error("too many connections to this proxy (limit {limit})")]
    TooManyConnections {
        /// The configured limit.
        limit: usize,
    },
    /// The database could not be reached.
    #[error("cannot reach the database at {addr}")]
    Connect {
        /// Where the proxy dialed.
        addr: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The database did not accept the TCP connection in time.
    #[error("cannot reach the database at {addr}: no connection within {timeout:?}")]
    ConnectTimeout {
        /// Where the proxy dialed.
        addr: String,
        /// The limit in force.
        timeout: Duration,
    },
    /// The database refused TLS; the proxy never sends credentials without it.
    #[error("the database at {addr} does not accept TLS; credentials are never sent without it")]
    UpstreamNoTls {
        /// Where the proxy dialed.
        addr: String,
    },
    /// The TLS handshake with the database failed (e.g. its certificate did not verify).
    #[error("TLS handshake with the database at {addr} failed")]
    UpstreamTls {
        /// Where the proxy dialed.
        addr: String,
        /// The TLS or I/O error.
        #[source]
        source: io::Error,
    },
    /// The database sent bytes that are not valid protocol messages.
    #[error("invalid message from the database")]
    UpstreamProtocol {
        /// What the codec found wrong.
        #[source]
        source: CodecError,
    },
    /// The database sent a message that the handshake does not allow at this point.
    #[error("the database sent {what} during the handshake")]
    UnexpectedUpstreamMessage {
        /// What arrived.
        what: &'static str,
    },
    /// The proxy's login exchange with the database failed on the proxy's side.
    #[error("login to the database failed")]
    UpstreamAuth {
        /// What went wrong in the exchange.
        #[source]
        source: AuthError,
    },
    /// The database refused the login or the session with an `ErrorResponse`, relayed as is.
    #[error("the database refused the session (SQLSTATE {})", fields.code)]
    UpstreamRejected {
        /// The database's error, passed to the client unchanged (plus `hint`, if it had none).
        fields: Box<ErrorFields>,
        /// What to check, from the injector (e.g. the IAM policy an RDS login needs).
        hint: Option<String>,
    },
    /// The database closed its connection or failed at the I/O level during the handshake.
    #[error("connection to the database lost during the handshake")]
    UpstreamIo {
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The database did not complete the handshake in time.
    #[error("the database did not complete the handshake within {timeout:?}")]
    UpstreamTimeout {
        /// The limit in force.
        timeout: Duration,
    },
    /// The credentials for the database could not be had.
    #[error(transparent)]
    Inject(#[from] InjectError),
    /// The proxy's random source failed.
    #[error("the proxy's random number source failed")]
    Randomness,
}

impl ProxyError {
    /// Which side the failure belongs to.
    pub fn side(&self) -> Side {
        match self {
            Self::ClientProtocol { .. }
            | Self::UnexpectedClientMessage { .. }
            | Self::DataAfterSslRequest
            | Self::HandshakeTimeout { .. }
            | Self::TlsRequired
            | Self::ClientTls { .. }
            | Self::NoClientIdentity
            | Self::ClientAuth { .. }
            | Self::Denied { .. }
            | Self::ClientIo { .. } => Side::Client,
            Self::Connect { .. }
            | Self::ConnectTimeout { .. }
            | Self::UpstreamNoTls { .. }
            | Self::UpstreamTls { .. }
            | Self::UpstreamProtocol { .. }
            | Self::UnexpectedUpstreamMessage { .. }
            | Self::UpstreamAuth { .. }
            | Self::UpstreamRejected { .. }
            | Self::UpstreamIo { .. }
            | Self::UpstreamTimeout { .. }
            | Self::Inject(_) => Side::Upstream,
            Self::TooManyConnections { .. } | Self::Randomness => Side::Internal,
        }
    }

    /// The SQLSTATE the client sees for this failure.
    pub fn sqlstate(&self) -> &str {
        match self {
            Self::ClientProtocol { source } | Self::UpstreamProtocol { source } => {
                source.sql_state()
            }
            Self::UnexpectedClientMessage { .. }
            | Self::DataAfterSslRequest
            | Self::HandshakeTimeout { .. }
            | Self::ClientIo { .. }
            | Self::UnexpectedUpstreamMessage { .. } => sqlstate::PROTOCOL_VIOLATION,
            Self::TlsRequired
            | Self::ClientTls { .. }
            | Self::NoClientIdentity
            | Self::Denied { .. } => sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
            Self::ClientAuth { source, .. } | Self::UpstreamAuth { source } => source.sqlstate(),
            Self::TooManyConnections { .. } => sqlstate::TOO_MANY_CONNECTIONS,
            Self::Connect { .. }
            | Self::ConnectTimeout { .. }
            | Self::UpstreamNoTls { .. }
            | Self::UpstreamTls { .. }
            | Self::UpstreamIo { .. }
            | Self::UpstreamTimeout { .. } => sqlstate::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
            Self::UpstreamRejected { fields, .. } => &fields.code,
            Self::Inject(e) => e.sqlstate(),
            Self::Randomness => sqlstate::INTERNAL_ERROR,
        }
    }

    /// The `ErrorResponse` for the client: the one place a proxy error takes its wire form.
    ///
    /// The database's own errors pass through unchanged (an injector's hint is added only when
    /// the database gave none); every other message says what went wrong and what to do, and
    /// never carries a secret.
    pub fn error_fields(&self) -> ErrorFields {
        match self {
            Self::UpstreamRejected { fields, hint } => {
                let mut fields = (**fields).clone();
                if fields.hint.is_none() {
                    fields.hint.clone_from(hint);
                }
                fields
            }
            Self::Inject(e) => {
                let fields = ErrorFields::new(Severity::Fatal, e.sqlstate(), e.to_string());
                match e.hint() {
                    Some(hint) => fields.hint(hint),
                    None => fields,
                }
            }
            Self::ClientTls { .. } => {
                ErrorFields::new(Severity::Fatal, self.sqlstate(), self.to_string())
                    .hint("present a client certificate issued by this proxy's client CA")
            }
            Self::UpstreamAuth { source } => ErrorFields::new(
                Severity::Fatal,
                self.sqlstate(),
                format!("login to the database failed: {source}"),
            ),
            Self::ClientProtocol { source } | Self::UpstreamProtocol { source } => {
                ErrorFields::new(
                    Severity::Fatal,
                    self.sqlstate(),
                    format!("{self}: {source}"),
                )
            }
            _ => ErrorFields::new(Severity::Fatal, self.sqlstate(), self.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_is_28000_and_names_the_reason() {
        let error = ProxyError::Denied {
            reason: Denied::UnknownIdentity {
                identity: "mallory".into(),
            },
        };
        let fields = error.error_fields();
        assert_eq!(fields.code, sqlstate::INVALID_AUTHORIZATION_SPECIFICATION);
        assert!(fields.message.contains("mallory"));
        assert_eq!(error.side(), Side::Client);
    }

    #[test]
    fn upstream_errors_pass_through_with_a_hint_only_if_missing() {
        let theirs = ErrorFields::new(Severity::Fatal, "28P01", "password authentication failed");
        let error = ProxyError::UpstreamRejected {
            fields: Box::new(theirs.clone()),
            hint: Some("check rds-db:connect".into()),
        };
        let fields = error.error_fields();
        assert_eq!(fields.code, "28P01");
        assert_eq!(fields.message, theirs.message);
        assert_eq!(fields.hint.as_deref(), Some("check rds-db:connect"));
        let with_hint = ProxyError::UpstreamRejected {
            fields: Box::new(theirs.hint("theirs")),
            hint: Some("ours".into()),
        };
        assert_eq!(with_hint.error_fields().hint.as_deref(), Some("theirs"));
    }

    #[test]
    fn too_many_connections_is_53300() {
        let error = ProxyError::TooManyConnections { limit: 3 };
        assert_eq!(error.error_fields().code, sqlstate::TOO_MANY_CONNECTIONS);
        assert_eq!(error.side(), Side::Internal);
    }
}
