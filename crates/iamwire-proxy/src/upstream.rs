//! Where a session's database is and how to get there: [`UpstreamEndpoint`] (address, TLS name and
//! policy) and the [`Dialer`] seam that opens TCP connections to it.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use iamwire_core::Database;
use iamwire_core::tls::{TlsError, upstream_config};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

/// Why an [`UpstreamEndpoint`] could not be made.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The database URI is not `host:port`.
    #[error("the URI of database \"{database}\" is not host:port")]
    BadUri {
        /// The database resource.
        database: String,
    },
    /// The name to verify is not a valid DNS name or IP address.
    #[error("\"{name}\" is not a valid TLS server name for database \"{database}\"")]
    ServerName {
        /// The database resource.
        database: String,
        /// The name.
        name: String,
    },
    /// A host learned at run time (a cluster node) is not a valid TLS server name.
    #[error("\"{host}\" is not a valid host name to verify a certificate against")]
    BadHost {
        /// The host.
        host: String,
    },
    /// The upstream TLS configuration is invalid (e.g. no CA for `verify-full`).
    #[error("upstream TLS for database \"{database}\"")]
    Tls {
        /// The database resource.
        database: String,
        /// What is wrong.
        #[source]
        source: TlsError,
    },
}

/// How to reach a database: its address, the name its certificate must carry, and the TLS policy (CA,
/// verification mode). Cheap to clone.
#[derive(Clone)]
pub struct UpstreamEndpoint {
    host: String,
    port: u16,
    addr: String,
    server_name: ServerName<'static>,
    connector: TlsConnector,
}

impl UpstreamEndpoint {
    /// The endpoint of `database`: its URI's host and port, verified as `tls.server_name` (else the
    /// host) with `tls` (see [`upstream_config`]).
    ///
    /// # Errors
    /// [`EndpointError`] for a URI that is not `host:port` or an invalid server name.
    pub fn for_database(
        database: &Database,
        tls: Arc<ClientConfig>,
    ) -> Result<Self, EndpointError> {
        let (host, port) = database.host_port().ok_or_else(|| EndpointError::BadUri {
            database: database.name.clone(),
        })?;
        let name = database.tls.server_name.as_deref().unwrap_or(host);
        let server_name =
            ServerName::try_from(name.to_owned()).map_err(|_| EndpointError::ServerName {
                database: database.name.clone(),
                name: name.to_owned(),
            })?;
        Ok(Self::new(host, port, server_name, tls))
    }

    /// Like [`for_database`](Self::for_database), trusting `ca_pem` per the database's `tls.mode`.
    ///
    /// # Errors
    /// As [`for_database`](Self::for_database), and [`EndpointError::Tls`] for an unusable CA.
    pub fn for_database_with_ca(
        database: &Database,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, EndpointError> {
        let tls = upstream_config(database.tls.mode, ca_pem, None).map_err(|source| {
            EndpointError::Tls {
                database: database.name.clone(),
                source,
            }
        })?;
        Self::for_database(database, tls)
    }

    /// An endpoint at `host:port`, verified as `server_name` with `tls`.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        server_name: ServerName<'static>,
        tls: Arc<ClientConfig>,
    ) -> Self {
        let host = host.into();
        let addr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Self {
            host,
            port,
            addr,
            server_name,
            connector: TlsConnector::from(tls),
        }
    }

    /// Another address with this endpoint's TLS policy, verified as `host`: for the nodes of a cluster
    /// that a protocol learns of while it runs.
    ///
    /// # Errors
    /// [`EndpointError::BadHost`] if `host` is not a DNS name or IP address.
    pub fn at(&self, host: &str, port: u16) -> Result<Self, EndpointError> {
        let server_name =
            ServerName::try_from(host.to_owned()).map_err(|_| EndpointError::BadHost {
                host: host.to_owned(),
            })?;
        Ok(Self::new(
            host,
            port,
            server_name,
            self.connector.config().clone(),
        ))
    }

    /// The host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port` (`[v6]:port`), as dialed.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The name the database's certificate must carry.
    pub fn server_name(&self) -> ServerName<'static> {
        self.server_name.clone()
    }

    /// The TLS connector with the endpoint's policy.
    pub fn connector(&self) -> &TlsConnector {
        &self.connector
    }
}

impl fmt::Debug for UpstreamEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamEndpoint")
            .field("addr", &self.addr)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// The future of a TCP connection, returned by [`Dialer::dial`]: boxed and named so the trait stays
/// object-safe.
pub type DialFuture<'a> = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send + 'a>>;

/// Opens TCP connections to databases: the seam where tests (or an embedder's egress policy) step in.
/// The framework puts its connect timeout around it.
pub trait Dialer: fmt::Debug + Send + Sync {
    /// A TCP connection to `endpoint`.
    fn dial<'a>(&'a self, endpoint: &'a UpstreamEndpoint) -> DialFuture<'a>;
}

/// Dials the endpoint's address with the operating system's resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpDialer;

impl Dialer for TcpDialer {
    fn dial<'a>(&'a self, endpoint: &'a UpstreamEndpoint) -> DialFuture<'a> {
        Box::pin(async move {
            let tcp = TcpStream::connect((endpoint.host(), endpoint.port())).await?;
            let _ = tcp.set_nodelay(true);
            Ok(tcp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iamwire_core::{Protocol, TlsMode};

    #[test]
    fn endpoint_from_database() {
        let mut db = Database::new("pg", Protocol::Postgres, "db.example.com");
        db.tls.mode = TlsMode::Insecure;
        let endpoint = UpstreamEndpoint::for_database_with_ca(&db, None).unwrap();
        assert_eq!(endpoint.addr(), "db.example.com:5432");
        let v6 = Database::new("pg", Protocol::MySql, "[::1]");
        let tls = upstream_config(TlsMode::Insecure, None, None).unwrap();
        assert_eq!(
            UpstreamEndpoint::for_database(&v6, tls.clone())
                .unwrap()
                .addr(),
            "[::1]:3306"
        );
        let node = endpoint.at("node-2.example.com", 6380).unwrap();
        assert_eq!(node.addr(), "node-2.example.com:6380");
        assert!(matches!(
            endpoint.at("not a host", 1),
            Err(EndpointError::BadHost { .. })
        ));
        let bad = Database::new("pg", Protocol::Postgres, "h:port");
        assert!(matches!(
            UpstreamEndpoint::for_database(&bad, tls),
            Err(EndpointError::BadUri { .. })
        ));
        let mut no_ca = Database::new("pg", Protocol::Postgres, "h:1");
        no_ca.tls.mode = TlsMode::VerifyFull;
        assert!(matches!(
            UpstreamEndpoint::for_database_with_ca(&no_ca, None),
            Err(EndpointError::Tls { .. })
        ));
    }
}
