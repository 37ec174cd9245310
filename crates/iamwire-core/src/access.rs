//! Who the client is, what it asks for, and whether it may have it: the `ClientIdentity`, the
//! `SessionRequest`, and the `Authorizer` seam with the demo proxy's allow-list implementation.

mod allow_list;
mod glob;

use std::fmt;

use crate::Database;

pub use allow_list::{AllowList, IdentityRules};
pub use glob::Glob;

/// How the proxy established who the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentitySource {
    /// A client certificate issued by the proxy's client CA.
    ClientCertificate {
        /// The certificate's subject common name, if any.
        common_name: Option<String>,
        /// Its DNS subject alternative names.
        dns_names: Vec<String>,
    },
    /// A password the proxy itself checked (never a database password).
    ProxyPassword,
    /// A connection from the loopback interface, trusted by configuration.
    Loopback,
    /// A process on the proxy's own host, on a unix socket: the operating-system user that owns it
    /// (as PostgreSQL's `peer` authentication), the socket's file mode deciding who may connect at all.
    LocalUser {
        /// The user's id.
        uid: u32,
    },
}

/// The authenticated client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    name: String,
    source: IdentitySource,
}

impl ClientIdentity {
    /// An identity called `name`, established by `source`.
    pub fn new(name: impl Into<String>, source: IdentitySource) -> Self {
        Self {
            name: name.into(),
            source,
        }
    }

    /// The identity a client certificate proves: its common name, or else its first DNS SAN.
    pub fn from_certificate(common_name: Option<String>, dns_names: Vec<String>) -> Option<Self> {
        let name = common_name.clone().or_else(|| dns_names.first().cloned())?;
        Some(Self::new(
            name,
            IdentitySource::ClientCertificate {
                common_name,
                dns_names,
            },
        ))
    }

    /// The identity's name (what allow-lists refer to).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How it was established.
    pub fn source(&self) -> &IdentitySource {
        &self.source
    }

    /// Every name this identity answers to: the name, plus a certificate's DNS SANs.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let sans: &[String] = match &self.source {
            IdentitySource::ClientCertificate { dns_names, .. } => dns_names,
            _ => &[],
        };
        std::iter::once(self.name.as_str()).chain(sans.iter().map(String::as_str))
    }
}

impl fmt::Display for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// What a client asks for, as read from its protocol's handshake.
#[derive(Debug, Clone, Copy)]
pub struct SessionRequest<'a> {
    /// The database (resource) the client's listener or routing chose.
    pub database: &'a Database,
    /// The database user it wants to be (Postgres startup `user`, MySQL handshake user, Redis AUTH user, ...).
    pub db_user: &'a str,
    /// The database name it wants, where the protocol has one.
    pub db_name: Option<&'a str>,
}

/// Why a request was refused; safe to show the client (names only what the client itself sent or may know).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denied {
    /// The identity has no rules at all.
    #[error("identity \"{identity}\" is not known to this proxy")]
    UnknownIdentity {
        /// The identity.
        identity: String,
    },
    /// The identity may not use this database.
    #[error("identity \"{identity}\" may not use database \"{database}\"")]
    Database {
        /// The identity.
        identity: String,
        /// The database resource.
        database: String,
    },
    /// The identity may not log in as this database user.
    #[error(
        "identity \"{identity}\" may not log in as database user \"{db_user}\" on \"{database}\""
    )]
    DbUser {
        /// The identity.
        identity: String,
        /// The database resource.
        database: String,
        /// The requested database user.
        db_user: String,
    },
    /// The identity may not open this database name.
    #[error("identity \"{identity}\" may not open database name \"{db_name}\" on \"{database}\"")]
    DbName {
        /// The identity.
        identity: String,
        /// The database resource.
        database: String,
        /// The requested database name.
        db_name: String,
    },
}

/// Decides whether an identity may have what it asks for. Called before any upstream connection is made.
pub trait Authorizer: fmt::Debug + Send + Sync {
    /// `Ok(())` to allow, or the reason to refuse.
    fn authorize(&self, who: &ClientIdentity, want: &SessionRequest<'_>) -> Result<(), Denied>;
}

impl<T: Authorizer + ?Sized> Authorizer for std::sync::Arc<T> {
    fn authorize(&self, who: &ClientIdentity, want: &SessionRequest<'_>) -> Result<(), Denied> {
        (**self).authorize(who, want)
    }
}
