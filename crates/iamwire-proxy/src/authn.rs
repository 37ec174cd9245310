//! Who the client is: the [`ClientAuthenticator`] seam, with mutual TLS ([`MtlsAuthenticator`]) and
//! proxy-side passwords ([`ProxyPasswordAuthenticator`]).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;

use iamwire_core::tls::PeerCertificate;
use iamwire_core::{ClientIdentity, IdentitySource};

use crate::local::LocalUser;
use crate::scram::{DEFAULT_ITERATIONS, MockKey, ScramSecret};

/// What the proxy knows about a client when it decides who it is.
#[derive(Debug, Clone, Copy)]
pub struct ClientHello<'a> {
    /// The verified client certificate, if the client presented one.
    pub certificate: Option<&'a PeerCertificate>,
    /// The database user it asked for (protocol defaults applied).
    pub user: &'a str,
    /// Its address (`None` on a unix socket).
    pub peer: Option<SocketAddr>,
    /// On a unix socket: the operating-system user of the process on the other end.
    pub local_user: Option<&'a LocalUser>,
}

/// How the framework is to establish the client's identity.
#[non_exhaustive]
pub enum ClientCheck {
    /// Already established (e.g. by the client certificate).
    Identified(ClientIdentity),
    /// Established once the client proves, in its protocol, that it knows the password behind `secret`;
    /// `identity` is who it is then.
    Password {
        /// The identity the password proves.
        identity: ClientIdentity,
        /// The stored secret to check against (a mock one for unknown users).
        secret: ScramSecret,
    },
    /// Not established: the client is refused.
    Refused,
}

impl fmt::Debug for ClientCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Identified(identity) => f.debug_tuple("Identified").field(identity).finish(),
            Self::Password { identity, .. } => f
                .debug_struct("Password")
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

/// Identity from the verified client certificate (its CN, else its first DNS SAN); on a unix socket
/// without one, the operating-system user of the process on the other end.
#[derive(Debug, Clone, Copy, Default)]
pub struct MtlsAuthenticator;

impl ClientAuthenticator for MtlsAuthenticator {
    fn check(&self, hello: &ClientHello<'_>) -> ClientCheck {
        hello
            .certificate
            .and_then(PeerCertificate::identity)
            .or_else(|| hello.local_user.map(LocalUser::identity))
            .map_or(ClientCheck::Refused, ClientCheck::Identified)
    }
}

/// A client certificate if there is one, else a proxy-side password per user (never a database
/// password), proven in the client's protocol (SCRAM where the protocol has it). Unknown users get a
/// mock secret that fails like a wrong password, so user names cannot be probed.
pub struct ProxyPasswordAuthenticator {
    users: HashMap<String, ScramSecret>,
    mock_key: MockKey,
    iterations: NonZeroU32,
}

impl ProxyPasswordAuthenticator {
    /// No users yet; `mock_key` is random, from the caller, and ideally stable across restarts.
    pub fn new(mock_key: MockKey) -> Self {
        Self {
            users: HashMap::new(),
            mock_key,
            iterations: DEFAULT_ITERATIONS,
        }
    }

    /// Add `user` with its stored secret.
    #[must_use]
    pub fn user(mut self, user: impl Into<String>, secret: ScramSecret) -> Self {
        self.users.insert(user.into(), secret);
        self
    }
}

impl fmt::Debug for ProxyPasswordAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<_> = self.users.keys().collect();
        users.sort();
        f.debug_struct("ProxyPasswordAuthenticator")
            .field("users", &users)
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
        ClientCheck::Password {
            identity: ClientIdentity::new(hello.user, IdentitySource::ProxyPassword),
            secret,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello<'a>(cert: Option<&'a PeerCertificate>, user: &'a str) -> ClientHello<'a> {
        ClientHello {
            certificate: cert,
            user,
            peer: None,
            local_user: None,
        }
    }

    #[test]
    fn mtls_needs_a_named_certificate() {
        assert!(matches!(
            MtlsAuthenticator.check(&hello(None, "app")),
            ClientCheck::Refused
        ));
        let cert = PeerCertificate {
            common_name: Some("alice".into()),
            dns_names: vec![],
        };
        let ClientCheck::Identified(identity) = MtlsAuthenticator.check(&hello(Some(&cert), "app"))
        else {
            panic!("a certificate with a CN identifies");
        };
        assert_eq!(identity.name(), "alice");
    }

    #[test]
    fn passwords_for_known_and_unknown_users_look_alike() {
        let secret = ScramSecret::from_password(b"pw", b"0123456789abcdef", DEFAULT_ITERATIONS);
        let auth = ProxyPasswordAuthenticator::new(MockKey::from_random_bytes([3; 32]))
            .user("alice", secret);
        for user in ["alice", "mallory"] {
            let ClientCheck::Password { identity, secret } = auth.check(&hello(None, user)) else {
                panic!("a password is asked of {user}");
            };
            assert_eq!(identity.name(), user);
            assert_eq!(secret.salt().len(), 16);
        }
        let shown = format!("{auth:?}");
        assert!(
            shown.contains("alice") && !shown.contains("mallory"),
            "{shown}"
        );
    }
}
