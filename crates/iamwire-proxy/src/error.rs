//! How a session fails: the [`Phase`] it was in, the [`Side`] at fault, and [`SessionError`], which
//! carries either a failure the framework itself detects (timeouts, TLS, identity, authorization,
//! credentials, dialing) or the protocol's own error.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use iamwire_core::{Denied, InjectError};

/// The phases of a session, in the order the framework runs them.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Protocol negotiation, TLS, and what the client asks for; a proxy-side password proof.
    ClientHandshake,
    /// The Authorizer's decision.
    Authorize,
    /// Credentials from the injector (role provider, STS, token minting).
    Credentials,
    /// TCP, protocol negotiation and TLS toward the database.
    Connect,
    /// The login with the injected credentials, up to telling the client it is in.
    Login,
    /// Bytes (or messages) relayed both ways.
    Relay,
}

impl Phase {
    /// A short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientHandshake => "client_handshake",
            Self::Authorize => "authorize",
            Self::Credentials => "credentials",
            Self::Connect => "connect",
            Self::Login => "login",
            Self::Relay => "relay",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side of the proxy a failure belongs to.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client did something wrong or is not allowed.
    Client,
    /// The database, the way to it, or its credentials failed.
    Upstream,
    /// The proxy itself (limits, shutdown, randomness).
    Internal,
}

impl Side {
    /// A short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Upstream => "upstream",
            Self::Internal => "internal",
        }
    }
}

/// What the framework needs to know about a protocol's own errors.
pub trait ProtocolError: StdError + Send + Sync + 'static {
    /// Which side is at fault.
    fn side(&self) -> Side;

    /// Whether the database refused the proxy's login (wrong token, unknown user): then the injector's
    /// hint for such refusals applies (e.g. the IAM permission an RDS login needs).
    fn is_login_rejected(&self) -> bool {
        false
    }
}

/// Why a session ended before (or instead of) its relay, or why the relay was cut.
///
/// No variant carries a password, token, AWS secret or external ID. Each protocol turns it into its
/// wire error in exactly one function ([`Protocol::refusal`](crate::Protocol::refusal)).
#[non_exhaustive]
#[derive(Debug)]
pub enum SessionError<E> {
    /// The client did not complete its side of the handshake in time.
    HandshakeTimeout {
        /// The limit in force.
        timeout: Duration,
    },
    /// The TLS handshake with the client failed (no or an untrusted certificate, not TLS at all).
    ClientTls {
        /// The TLS or I/O error.
        source: io::Error,
    },
    /// The client sent bytes before the TLS handshake that it had no business sending (they would
    /// be taken as if protected by TLS).
    DataBeforeTls,
    /// The client closed its connection or failed at the I/O level.
    ClientIo {
        /// The I/O error.
        source: io::Error,
    },
    /// Neither a client certificate nor another method established who the client is.
    NoClientIdentity,
    /// The proxy holds as many sessions as it is configured for.
    TooManyConnections {
        /// The configured limit.
        limit: usize,
    },
    /// The authorizer refused the request.
    Denied {
        /// Why (safe to show the client).
        reason: Denied,
    },
    /// Credentials did not arrive within the credential timeout (e.g. STS does not answer).
    CredentialTimeout {
        /// The limit in force.
        timeout: Duration,
    },
    /// The injector could not produce credentials.
    Credentials {
        /// Why, classified by kind; its message is safe to show the client.
        source: InjectError,
    },
    /// The database could not be reached.
    Connect {
        /// Where the proxy dialed.
        addr: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The database did not accept the connection (or finish TLS) in time.
    ConnectTimeout {
        /// Where the proxy dialed.
        addr: String,
        /// The limit in force.
        timeout: Duration,
    },
    /// The TLS handshake with the database failed (e.g. its certificate did not verify).
    UpstreamTls {
        /// Where the proxy dialed.
        addr: String,
        /// The TLS or I/O error.
        source: io::Error,
    },
    /// The database closed its connection or failed at the I/O level before the relay.
    UpstreamIo {
        /// The I/O error.
        source: io::Error,
    },
    /// The database did not complete the login in time.
    LoginTimeout {
        /// The limit in force.
        timeout: Duration,
    },
    /// The protocol's own error, with the phase it happened in and, for a login the database
    /// refused, what the injector says to check.
    Protocol {
        /// The phase.
        phase: Phase,
        /// The protocol's error (its causes are its own `source()`).
        error: E,
        /// The injector's hint for a refused login.
        hint: Option<String>,
    },
    /// An operator paused new sessions to this database (existing ones go on).
    Paused,
    /// The proxy is shutting down and its drain deadline has passed.
    ShuttingDown,
    /// An operator ended the session.
    Killed,
    /// The proxy's random source failed.
    Randomness,
}

impl<E: ProtocolError> fmt::Display for SessionError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HandshakeTimeout { timeout } => write!(
                f,
                "the client did not complete the handshake within {}",
                Seconds(*timeout)
            ),
            Self::ClientTls { .. } => f.write_str("TLS handshake with the client failed"),
            Self::DataBeforeTls => {
                f.write_str("the client sent unencrypted data before the TLS handshake")
            }
            Self::ClientIo { .. } => f.write_str("connection to the client lost"),
            Self::NoClientIdentity => f.write_str(
                "no client identity: present a client certificate issued by this proxy's client CA",
            ),
            Self::TooManyConnections { limit } => {
                write!(f, "too many connections to this proxy (limit {limit})")
            }
            Self::Denied { reason } => write!(f, "access denied: {reason}"),
            Self::CredentialTimeout { timeout } => write!(
                f,
                "the proxy could not get credentials for the database within {}",
                Seconds(*timeout)
            ),
            Self::Credentials { source } => fmt::Display::fmt(source, f),
            Self::Connect { addr, .. } => write!(f, "cannot reach the database at {addr}"),
            Self::ConnectTimeout { addr, timeout } => write!(
                f,
                "cannot reach the database at {addr}: no connection within {}",
                Seconds(*timeout)
            ),
            Self::UpstreamTls { addr, .. } => {
                write!(f, "TLS handshake with the database at {addr} failed")
            }
            Self::UpstreamIo { .. } => {
                f.write_str("connection to the database lost during the handshake")
            }
            Self::LoginTimeout { timeout } => write!(
                f,
                "the database did not complete the login within {}",
                Seconds(*timeout)
            ),
            Self::Protocol { error, .. } => fmt::Display::fmt(error, f),
            Self::Paused => f.write_str(
                "new sessions to this database are paused by an operator; try again later",
            ),
            Self::ShuttingDown => f.write_str("the proxy is shutting down"),
            Self::Killed => f.write_str("the session was ended by an operator"),
            Self::Randomness => f.write_str("the proxy's random number source failed"),
        }
    }
}

impl<E: ProtocolError> StdError for SessionError<E> {
    /// The cause, never repeated in `Display`: for credentials and protocol errors, *their* causes
    /// (their own text is this error's `Display`).
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::ClientTls { source }
            | Self::ClientIo { source }
            | Self::Connect { source, .. }
            | Self::UpstreamTls { source, .. }
            | Self::UpstreamIo { source } => Some(source),
            Self::Credentials { source } => source.source(),
            Self::Protocol { error, .. } => error.source(),
            _ => None,
        }
    }
}

/// A duration as people write it in config files: `30s`, `1.5s`, `250ms`.
#[derive(Debug, Clone, Copy)]
pub struct Seconds(pub Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_millis() == 0 && d.as_secs() > 0 {
            write!(f, "{}s", d.as_secs())
        } else if d.as_secs() == 0 {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{:.1}s", d.as_secs_f64())
        }
    }
}

impl<E: ProtocolError> From<E> for SessionError<E> {
    /// A protocol error; the framework fills in the phase it was returned from.
    fn from(error: E) -> Self {
        Self::Protocol {
            phase: Phase::ClientHandshake,
            error,
            hint: None,
        }
    }
}

impl<E> SessionError<E> {
    /// The TLS handshake with the database at `addr` failed with `source`. A connection closed or
    /// reset in the middle of it is [`Self::UpstreamIo`]: the database went away (or restarted), and
    /// its certificate is not at fault; anything else (a certificate that does not verify, an alert)
    /// is [`Self::UpstreamTls`].
    pub fn upstream_tls(addr: impl Into<String>, source: io::Error) -> Self {
        use io::ErrorKind as K;
        match source.kind() {
            K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                Self::UpstreamIo { source }
            }
            _ => Self::UpstreamTls {
                addr: addr.into(),
                source,
            },
        }
    }
}

impl<E> From<iamwire_core::RandomError> for SessionError<E> {
    fn from(_: iamwire_core::RandomError) -> Self {
        Self::Randomness
    }
}

impl<E: ProtocolError> SessionError<E> {
    /// The phase the failure belongs to.
    pub fn phase(&self) -> Phase {
        match self {
            Self::HandshakeTimeout { .. }
            | Self::ClientTls { .. }
            | Self::DataBeforeTls
            | Self::ClientIo { .. }
            | Self::NoClientIdentity
            | Self::TooManyConnections { .. }
            | Self::Paused => Phase::ClientHandshake,
            Self::Denied { .. } => Phase::Authorize,
            Self::CredentialTimeout { .. } | Self::Credentials { .. } => Phase::Credentials,
            Self::Connect { .. } | Self::ConnectTimeout { .. } | Self::UpstreamTls { .. } => {
                Phase::Connect
            }
            Self::UpstreamIo { .. } | Self::LoginTimeout { .. } => Phase::Login,
            Self::Protocol { phase, .. } => *phase,
            Self::ShuttingDown | Self::Killed | Self::Randomness => Phase::Relay,
        }
    }

    /// Which side is at fault.
    pub fn side(&self) -> Side {
        match self {
            Self::HandshakeTimeout { .. }
            | Self::ClientTls { .. }
            | Self::DataBeforeTls
            | Self::ClientIo { .. }
            | Self::NoClientIdentity
            | Self::Denied { .. } => Side::Client,
            Self::CredentialTimeout { .. }
            | Self::Credentials { .. }
            | Self::Connect { .. }
            | Self::ConnectTimeout { .. }
            | Self::UpstreamTls { .. }
            | Self::UpstreamIo { .. }
            | Self::LoginTimeout { .. } => Side::Upstream,
            Self::Protocol { error, .. } => error.side(),
            Self::TooManyConnections { .. }
            | Self::Paused
            | Self::ShuttingDown
            | Self::Killed
            | Self::Randomness => Side::Internal,
        }
    }

    /// The same error, placed in `phase` if it is the protocol's own.
    #[must_use]
    pub fn in_phase(self, phase: Phase) -> Self {
        match self {
            Self::Protocol { error, hint, .. } => Self::Protocol { phase, error, hint },
            other => other,
        }
    }

    /// Whether this is the client going away (nothing to tell it, nothing to log loudly).
    pub fn is_client_gone(&self) -> bool {
        matches!(self, Self::ClientIo { .. })
    }
}

/// `error` and its causes, as one line: `what: cause: cause`. For logs.
pub fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("bad frame")]
    struct Bad;

    impl ProtocolError for Bad {
        fn side(&self) -> Side {
            Side::Upstream
        }
    }

    #[test]
    fn phases_and_sides() {
        let e: SessionError<Bad> = Bad.into();
        assert_eq!(e.phase(), Phase::ClientHandshake);
        let e = e.in_phase(Phase::Login);
        assert_eq!(e.phase(), Phase::Login);
        assert_eq!(e.side(), Side::Upstream);
        let timeout = SessionError::<Bad>::CredentialTimeout {
            timeout: Duration::from_secs(1),
        };
        assert_eq!(timeout.phase(), Phase::Credentials);
        assert_eq!(timeout.side(), Side::Upstream);
        assert_eq!(SessionError::<Bad>::NoClientIdentity.side(), Side::Client);
    }

    #[test]
    fn error_chain_joins_causes_once() {
        let e = SessionError::<Bad>::ClientTls {
            source: io::Error::other("unknown ca"),
        };
        assert_eq!(
            error_chain(&e),
            "TLS handshake with the client failed: unknown ca"
        );
    }
}
