//! Who the client is: the [`ClientAuthenticator`] seam, with mutual TLS and proxy-side SCRAM
//! passwords.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;

use iamwire_core::tls::PeerCertificate;
use iamwire_core::{ClientIdentity, IdentitySource};

use crate::auth::{DEFAULT_ITERATIONS, MockKey, ScramSecret};

/// What the proxy knows about a client when it decides who it is.
#[derive(Debug, Clone, Copy)]
pub struct ClientHello<'a> {
    /// The verified client certificate, if the client presented one.
    pub certificate: Option<&'a PeerCertificate>,
    /// The `user` of its StartupMessage.
    pub user: &'a str,
    /// Its address.
    pub peer: Option<SocketAddr>,
}

/// How the driver is to establish the client's identity.
#[non_exhaustive]
pub enum ClientCheck {
    /// Already established (e.g. by the client certificate).
    Identified(ClientIdentity),
    /// Established once the client proves it knows the password behind `secret` with SCRAM;
    /// `identity` is who it is then.
    ScramPassword {
        /// The identity the password proves.
        identity: ClientIdentity,
        /// The stored SCRAM secret to check against.
        secret: ScramSecret,
    },
    /// Not established: the client is refused.
    Refused,
}

impl fmt::Debug for ClientCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Identified(identity) => f.debug_tuple("Identified").field(identity).finish(),
            Self::ScramPassword { identity, .. } => f
                .debug_struct("ScramPassword")
                .field("identity", identity)
                .finish_non_exhaustive(),
            Self::Refused => f.write_str("Refused"),
        }
    }
}

/// Decides how a client proves who it is.
pub trait ClientAuthenticator: fmt::Debug + Send + Sync {
    /// The identity of the client, or what it must prove to have one.
    fn check(&self, hello: &ClientHello<'_>) -> ClientCheck;
}

/// Identity from the verified client certificate (its CN, else its first DNS SAN).
#[derive(Debug, Clone, Copy, Default)]
pub struct MtlsAuthenticator;

impl ClientAuthenticator for MtlsAuthenticator {
    fn check(&self, hello: &ClientHello<'_>) -> ClientCheck {
        hello
            .certificate
            .and_then(PeerCertificate::identity)
            .map_or(ClientCheck::Refused, ClientCheck::Identified)
    }
}

/// A client certificate if there is one, else a proxy-side SCRAM-SHA-256 password per user
/// (never a database password). Unknown users go through a mock exchange that fails like a
/// wrong password, so user names cannot be probed.
pub struct ProxyPasswordAuthenticator {
    users: HashMap<String, ScramSecret>,
    mock_key: MockKey,
    iterations: NonZeroU32,
}

impl ProxyPasswordAuthenticator {
    /// No users yet; `mock_key` is random, from the caller, and stable across restarts ideally.
    pub fn new(mock_key: MockKey) -> Self {
        Self {
            users: HashMap::new(),
            mock_key,
            iterations: DEFAULT_ITERATIONS,
        }
    }

    /// Add `user` with its stored SCRAM secret.
    pub fn user(mut self, user: impl Into<String>, secret: ScramSecret) -> Self {
        self.users.insert(user.into(), secret);
        self
    }
}

impl fmt::Debug for ProxyPasswordAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyPasswordAuthenticator")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ClientAuthenticator for ProxyPasswordAuthenticator {
    fn check(&self, hello: &ClientHello<'_>) -> ClientCheck {
        if let ClientCheck::Identified(identity) = MtlsAuthenticator.check(hello) {
            return ClientCheck::Identified(identity);
        }
        let secret = self
            .users
            .get(hello.user)
            .cloned()
            .unwrap_or_else(|| ScramSecret::mock(&self.mock_key, hello.user, self.iterations));
        ClientCheck::ScramPassword {
            identity: ClientIdentity::new(hello.user, IdentitySource::ProxyPassword),
            secret,
        }
    }
}
