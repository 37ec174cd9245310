//! The MySQL protocol's own errors ([`MyError`]), classified by side, and the one function that puts
//! any session error on the wire as an ERR packet with a real MySQL error code and SQLSTATE
//! ([`error_packet`]).

use iamwire_core::{Denied, InjectErrorKind};
use iamwire_proxy::{ProtocolError, Seconds, SessionError, Side};

use crate::codec::{Capabilities, CodecError, ErrPacket};

/// MySQL error codes the proxy answers with (server `ER_*` and client `CR_*` numbers).
pub mod code {
    /// `ER_CON_COUNT_ERROR`: too many connections.
    pub const TOO_MANY_CONNECTIONS: u16 = 1040;
    /// `ER_HANDSHAKE_ERROR`: bad handshake.
    pub const HANDSHAKE: u16 = 1043;
    /// `ER_DBACCESS_DENIED_ERROR`: access denied to a database.
    pub const DB_ACCESS_DENIED: u16 = 1044;
    /// `ER_ACCESS_DENIED_ERROR`: access denied.
    pub const ACCESS_DENIED: u16 = 1045;
    /// `ER_SERVER_SHUTDOWN`: shutdown in progress.
    pub const SHUTDOWN: u16 = 1053;
    /// `ER_NO_SUCH_THREAD`: unknown thread id.
    pub const NO_SUCH_THREAD: u16 = 1094;
    /// `ER_UNKNOWN_ERROR`.
    pub const UNKNOWN: u16 = 1105;
    /// `ER_NET_PACKET_TOO_LARGE`.
    pub const PACKET_TOO_LARGE: u16 = 1153;
    /// `ER_NET_PACKETS_OUT_OF_ORDER`: bad packets.
    pub const PACKETS_OUT_OF_ORDER: u16 = 1156;
    /// `ER_NET_READ_INTERRUPTED`: timeout reading packets.
    pub const READ_INTERRUPTED: u16 = 1159;
    /// `ER_NOT_SUPPORTED_YET`.
    pub const NOT_SUPPORTED: u16 = 1235;
    /// `ER_ACCESS_DENIED_NO_PASSWORD_ERROR`.
    pub const ACCESS_DENIED_NO_PASSWORD: u16 = 1698;
    /// `ER_CONNECTION_KILLED` (MariaDB).
    pub const CONNECTION_KILLED: u16 = 1927;
    /// `CR_CONN_HOST_ERROR`: cannot connect to the server.
    pub const CONNECT: u16 = 2003;
    /// `CR_SERVER_LOST`: lost connection to the server.
    pub const SERVER_LOST: u16 = 2013;
    /// `CR_SSL_CONNECTION_ERROR`.
    pub const SSL_CONNECTION: u16 = 2026;
    /// `CR_MALFORMED_PACKET`.
    pub const MALFORMED_PACKET: u16 = 2027;
    /// `CR_AUTH_PLUGIN_CANNOT_LOAD`.
    pub const AUTH_PLUGIN: u16 = 2059;
    /// `ER_SERVER_OFFLINE_MODE`: the server takes no new connections (MySQL's `offline_mode`).
    pub const OFFLINE_MODE: u16 = 3032;
    /// `ER_SECURE_TRANSPORT_REQUIRED`.
    pub const SECURE_TRANSPORT_REQUIRED: u16 = 3159;
}

/// What can go wrong in the MySQL parts of a session. No variant carries a password, token, AWS
/// secret or external ID.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum MyError {
    /// The client sent bytes that are not a valid packet at this point.
    #[error("invalid packet from the client: {cause}")]
    ClientProtocol {
        /// What the codec found wrong.
        cause: CodecError,
    },
    /// The client tried to log in without TLS.
    #[error(
        "this proxy requires TLS: connect with --ssl-mode=REQUIRED (or ssl=true / ssl-verify-server-cert)"
    )]
    TlsRequired,
    /// The client failed the proxy's own password check.
    #[error("Access denied for user '{user}' (using password: YES)")]
    ClientAuth {
        /// The user the client named.
        user: String,
    },
    /// The database sent bytes that are not a valid packet at this point.
    #[error("invalid packet from the database: {cause}")]
    UpstreamProtocol {
        /// What the codec found wrong.
        cause: CodecError,
    },
    /// The database does not offer TLS; the proxy never sends credentials without it.
    #[error("the database at {addr} does not offer TLS; credentials are never sent without it")]
    UpstreamNoTls {
        /// Where the proxy dialed.
        addr: String,
    },
    /// The database asked for an auth plugin the proxy does not speak.
    #[error("the database asked for auth plugin '{plugin}', which the proxy does not speak")]
    UpstreamAuthPlugin {
        /// The plugin.
        plugin: String,
    },
    /// The database refused the login or a command with an ERR, relayed with its code.
    #[error("the database refused: {} ({})", err.message, err.code)]
    UpstreamRejected {
        /// The database's error.
        err: ErrPacket,
    },
    /// The database lacks a capability the client was told about and that changes what the database
    /// sends; the proxy now knows, and offers it no more.
    #[error("the database does not support {missing}, which this client negotiated with the proxy")]
    CapabilityMismatch {
        /// The capabilities missing.
        missing: Capabilities,
    },
    /// `KILL` named a connection id that is not one of this identity's sessions on this proxy.
    #[error("Unknown thread id: {id}")]
    KillRefused {
        /// The id the client named.
        id: u64,
    },
    /// A `KILL` the proxy cannot map to the database's thread id.
    #[error(
        "KILL through this proxy takes one connection id the proxy gave: KILL [CONNECTION | QUERY] <id>"
    )]
    KillUnsupported,
}

impl ProtocolError for MyError {
    fn side(&self) -> Side {
        match self {
            Self::ClientProtocol { .. }
            | Self::TlsRequired
            | Self::ClientAuth { .. }
            | Self::KillRefused { .. }
            | Self::KillUnsupported => Side::Client,
            _ => Side::Upstream,
        }
    }

    fn is_login_rejected(&self) -> bool {
        matches!(self, Self::UpstreamRejected { err }
            if matches!(err.code, code::ACCESS_DENIED | code::ACCESS_DENIED_NO_PASSWORD))
    }
}

impl MyError {
    fn code(&self) -> (u16, &'static str) {
        match self {
            Self::ClientProtocol {
                cause: CodecError::TooLarge { .. },
            } => (code::PACKET_TOO_LARGE, "08S01"),
            Self::ClientProtocol {
                cause: CodecError::OutOfOrder { .. },
            } => (code::PACKETS_OUT_OF_ORDER, "08S01"),
            // A packet cut short, a field the protocol does not allow, another packet than was due:
            // what MySQL and MariaDB call a bad handshake (not "packets out of order", which sends the
            // reader looking at sequence ids).
            Self::ClientProtocol { .. } => (code::HANDSHAKE, "08S01"),
            Self::TlsRequired => (code::SECURE_TRANSPORT_REQUIRED, "HY000"),
            Self::ClientAuth { .. } => (code::ACCESS_DENIED, "28000"),
            Self::UpstreamProtocol { .. } => (code::MALFORMED_PACKET, "HY000"),
            Self::UpstreamNoTls { .. } => (code::SSL_CONNECTION, "HY000"),
            Self::UpstreamAuthPlugin { .. } => (code::AUTH_PLUGIN, "HY000"),
            Self::UpstreamRejected { .. } => (code::UNKNOWN, "HY000"),
            Self::CapabilityMismatch { .. } => (code::HANDSHAKE, "08S01"),
            Self::KillRefused { .. } => (code::NO_SUCH_THREAD, "HY000"),
            Self::KillUnsupported => (code::NOT_SUPPORTED, "42000"),
        }
    }
}

/// `message`, then what to do about it.
fn with_hint(message: String, hint: Option<&str>) -> String {
    match hint {
        Some(hint) => format!("{message}. Hint: {hint}"),
        None => message,
    }
}

/// The ERR packet a client sees for `error`: the one place a session error takes its MySQL wire
/// form. The database's own errors keep their code and SQLSTATE (the injector's hint is added); every
/// other message says what went wrong and what to do, and never carries a secret. `None`: the client
/// is gone, there is nothing to say.
pub fn error_packet(error: &SessionError<MyError>) -> Option<ErrPacket> {
    let message = error.to_string();
    let cant_connect = |hint: &str| {
        ErrPacket::new(
            code::CONNECT,
            "08001",
            with_hint(
                format!("Can't connect to the database: {message}"),
                Some(hint),
            ),
        )
    };
    Some(match error {
        SessionError::ClientIo { .. } => return None,
        SessionError::HandshakeTimeout { .. } => {
            ErrPacket::new(code::READ_INTERRUPTED, "08S01", message)
        }
        SessionError::DataBeforeTls => ErrPacket::new(code::HANDSHAKE, "08S01", message),
        SessionError::ClientTls { .. } | SessionError::NoClientIdentity => ErrPacket::new(
            code::ACCESS_DENIED,
            "28000",
            with_hint(
                message,
                Some(
                    "present a client certificate issued by this proxy's client CA, or a proxy password",
                ),
            ),
        ),
        SessionError::TooManyConnections { .. } => {
            ErrPacket::new(code::TOO_MANY_CONNECTIONS, "08004", message)
        }
        SessionError::Denied { reason } => match reason {
            Denied::DbName { .. } => ErrPacket::new(code::DB_ACCESS_DENIED, "42000", message),
            _ => ErrPacket::new(code::ACCESS_DENIED, "28000", message),
        },
        SessionError::CredentialTimeout { timeout } => cant_connect(&format!(
            "AWS STS did not answer within {}: check the proxy's network path to STS; nothing in \
             IAM needs to change, and the next connection tries again",
            Seconds(*timeout)
        )),
        SessionError::Credentials { source } => {
            let text = with_hint(source.message().to_owned(), source.hint());
            match source.kind() {
                InjectErrorKind::AccessDenied => ErrPacket::new(code::ACCESS_DENIED, "28000", text),
                _ => ErrPacket::new(
                    code::CONNECT,
                    "08001",
                    format!("Can't connect to the database: {text}"),
                ),
            }
        }
        SessionError::Connect { addr, .. } | SessionError::ConnectTimeout { addr, .. } => {
            cant_connect(&format!(
                "check that the database is up and that the proxy can reach {addr}"
            ))
        }
        SessionError::UpstreamTls { .. } => cant_connect(
            "check the database's certificate against the proxy's tls.ca_cert_file and tls.server_name",
        ),
        SessionError::UpstreamIo { .. } => ErrPacket::new(code::SERVER_LOST, "08S01", message),
        SessionError::LoginTimeout { .. } => cant_connect("check the database's load and its logs"),
        SessionError::Protocol { error, hint, .. } => match error {
            MyError::UpstreamRejected { err } => {
                let mut err = err.clone();
                err.message = with_hint(err.message, hint.as_deref());
                err
            }
            MyError::UpstreamNoTls { .. } => {
                let (code, state) = error.code();
                ErrPacket::new(
                    code,
                    state,
                    with_hint(
                        message,
                        Some("enable TLS on the database (RDS always offers it)"),
                    ),
                )
            }
            MyError::UpstreamAuthPlugin { .. } => {
                let (code, state) = error.code();
                ErrPacket::new(
                    code,
                    state,
                    with_hint(
                        message,
                        Some(
                            "create the database user with mysql_clear_password (IAM), \
                              caching_sha2_password or mysql_native_password",
                        ),
                    ),
                )
            }
            MyError::CapabilityMismatch { .. } => {
                let (code, state) = error.code();
                ErrPacket::new(code, state, with_hint(message, Some("connect again")))
            }
            _ => {
                let (code, state) = error.code();
                ErrPacket::new(code, state, message)
            }
        },
        SessionError::ShuttingDown => ErrPacket::new(
            code::SHUTDOWN,
            "08S01",
            "Server shutdown in progress: the proxy is shutting down",
        ),
        // An operator paused the database: like MySQL's offline_mode, new sessions are refused and live
        // ones go on.
        SessionError::Paused => ErrPacket::new(code::OFFLINE_MODE, "HY000", message),
        SessionError::Killed => ErrPacket::new(
            code::CONNECTION_KILLED,
            "70100",
            "Connection was killed by a proxy operator",
        ),
        _ => ErrPacket::new(code::UNKNOWN, "HY000", message),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use iamwire_core::InjectError;
    use iamwire_proxy::Phase;

    use super::*;

    fn packet(error: SessionError<MyError>) -> ErrPacket {
        error_packet(&error).unwrap()
    }

    #[test]
    fn denials_are_1045_or_1044() {
        let user = packet(SessionError::Denied {
            reason: Denied::UnknownIdentity {
                identity: "mallory".into(),
            },
        });
        assert_eq!((user.code, user.sql_state()), (1045, "28000"));
        assert!(user.message.contains("mallory"));
        let db = packet(SessionError::Denied {
            reason: Denied::DbName {
                identity: "alice".into(),
                database: "db".into(),
                db_name: "other".into(),
            },
        });
        assert_eq!((db.code, db.sql_state()), (1044, "42000"));
    }

    #[test]
    fn credentials_name_the_remedy() {
        let denied = packet(SessionError::Credentials {
            source: InjectError::new(InjectErrorKind::AccessDenied, "could not assume role X")
                .with_hint("fix the trust policy of X"),
        });
        assert_eq!((denied.code, denied.sql_state()), (1045, "28000"));
        assert!(
            denied.message.contains("trust policy"),
            "{}",
            denied.message
        );
        let down = packet(SessionError::Credentials {
            source: InjectError::new(InjectErrorKind::Unavailable, "STS unreachable"),
        });
        assert_eq!((down.code, down.sql_state()), (2003, "08001"));
        let slow = packet(SessionError::CredentialTimeout {
            timeout: Duration::from_secs(3),
        });
        assert_eq!(slow.code, 2003);
        assert!(slow.message.contains("3s"), "{}", slow.message);
    }

    #[test]
    fn the_databases_errors_keep_their_code_and_get_the_hint() {
        let theirs = ErrPacket::new(1045, "28000", "Access denied for user 'iam'@'10.0.0.1'");
        let out = packet(SessionError::Protocol {
            phase: Phase::Login,
            error: MyError::UpstreamRejected { err: theirs },
            hint: Some("check rds-db:connect".into()),
        });
        assert_eq!((out.code, out.sql_state()), (1045, "28000"));
        assert!(
            out.message.ends_with("Hint: check rds-db:connect"),
            "{}",
            out.message
        );
        assert!(
            MyError::UpstreamRejected {
                err: ErrPacket::new(1045, "28000", "")
            }
            .is_login_rejected()
        );
    }

    #[test]
    fn limits_protocol_and_ends() {
        assert_eq!(
            packet(SessionError::TooManyConnections { limit: 1 }).code,
            1040
        );
        let bad = packet(SessionError::from(MyError::ClientProtocol {
            cause: CodecError::OutOfOrder {
                expected: 1,
                got: 3,
            },
        }));
        assert_eq!((bad.code, bad.sql_state()), (1156, "08S01"));
        let short = packet(SessionError::from(MyError::ClientProtocol {
            cause: CodecError::Truncated {
                message: "handshake response",
                field: "capability flags",
            },
        }));
        assert_eq!((short.code, short.sql_state()), (1043, "08S01"));
        assert_eq!(packet(SessionError::from(MyError::TlsRequired)).code, 3159);
        assert_eq!(packet(SessionError::ShuttingDown).code, 1053);
        assert_eq!(packet(SessionError::Killed).code, 1927);
        assert_eq!(packet(SessionError::Paused).code, 3032);
        let gone = SessionError::<MyError>::ClientIo {
            source: std::io::ErrorKind::UnexpectedEof.into(),
        };
        assert!(error_packet(&gone).is_none());
        let reach = packet(SessionError::Connect {
            addr: "db:3306".into(),
            source: std::io::ErrorKind::ConnectionRefused.into(),
        });
        assert_eq!(reach.code, 2003);
        assert!(reach.message.contains("db:3306"));
    }
}
