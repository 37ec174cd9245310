//! The connection driver: accepts clients over TLS, establishes who they are, authorizes them,
//! logs in to the database with injected credentials, and relays bytes.
//!
//! The client hears `AuthenticationOk` only after the database has accepted the proxy's login;
//! query cancellation goes through a proxy-owned [`CancelMap`](crate::cancel::CancelMap).

mod authn;
mod client;
mod io;
mod random;
mod session;
mod upstream;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use iamwire_core::tls::{TlsError, upstream_config};
use iamwire_core::{Authorizer, Database};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, ServerConfig};

pub use authn::{
    ClientAuthenticator, ClientCheck, ClientHello, MtlsAuthenticator, ProxyPasswordAuthenticator,
};
pub use random::{RandomError, Randomness, SystemRandom};
pub use upstream::UpstreamEndpoint;

use crate::auth::ChannelBindingPolicy;
use crate::cancel::CancelMap;
use crate::codec::Limits;
use crate::error::ProxyError;
use crate::inject::{AuthInjector, host_port};

/// The default time a client has to complete its side of the handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// The default time to wait for the database's TCP connection (and its answer to SSLRequest).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time for getting credentials and logging in to the database.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The default number of concurrent sessions.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

/// Why a [`PgProxy`] could not be built.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The upstream TLS configuration is invalid (e.g. no CA for `verify-full`).
    #[error("upstream TLS for database \"{database}\"")]
    Tls {
        /// The database resource.
        database: String,
        /// What is wrong.
        #[source]
        source: TlsError,
    },
    /// The database URI is not `host:port`.
    #[error("the URI of database \"{database}\" is not host:port")]
    BadUri {
        /// The database resource.
        database: String,
    },
    /// The server name to verify is not a valid DNS name or IP address.
    #[error("\"{name}\" is not a valid TLS server name for database \"{database}\"")]
    ServerName {
        /// The database resource.
        database: String,
        /// The name.
        name: String,
    },
}

/// A Postgres proxy for one database. Cheap to clone; clones share the cancel map and limits.
#[derive(Clone)]
pub struct PgProxy {
    inner: Arc<Inner>,
}

struct Inner {
    database: Database,
    acceptor: TlsAcceptor,
    endpoint: UpstreamEndpoint,
    authorizer: Arc<dyn Authorizer>,
    injector: Arc<dyn AuthInjector>,
    authenticator: Arc<dyn ClientAuthenticator>,
    cancel: CancelMap,
    random: Arc<dyn Randomness>,
    limits: Limits,
    channel_binding: ChannelBindingPolicy,
    handshake_timeout: Duration,
    login_timeout: Duration,
    connections: Arc<Semaphore>,
    max_connections: usize,
}

impl fmt::Debug for PgProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgProxy")
            .field("database", &self.inner.database.name)
            .field("upstream", &self.inner.endpoint)
            .field("injector", &self.inner.injector)
            .finish_non_exhaustive()
    }
}

impl PgProxy {
    /// Start building a proxy for `database`, accepting clients with `server_tls` (see
    /// [`iamwire_core::tls::server_config`]), authorizing with `authorizer` and logging in with
    /// `injector`.
    pub fn builder(
        database: Database,
        server_tls: Arc<ServerConfig>,
        authorizer: Arc<dyn Authorizer>,
        injector: Arc<dyn AuthInjector>,
    ) -> PgProxyBuilder {
        PgProxyBuilder {
            database,
            server_tls,
            authorizer,
            injector,
            authenticator: Arc::new(MtlsAuthenticator),
            upstream_ca: None,
            upstream_tls: None,
            cancel: CancelMap::new(),
            random: Arc::new(SystemRandom),
            limits: Limits::default(),
            channel_binding: ChannelBindingPolicy::Prefer,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// Accept connections from `listener` forever, one task per connection.
    pub async fn serve(&self, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, peer) = listener.accept().await?;
            let proxy = self.clone();
            tokio::spawn(async move {
                if let Err(error) = proxy.handle(stream).await {
                    tracing::info!(%peer, side = ?error.side(), %error, "connection ended with an error");
                }
            });
        }
    }

    /// Serve one client connection to its end (handshake, then relay).
    ///
    /// # Errors
    /// Why the session could not be established; the client has been told when possible.
    pub async fn handle(&self, stream: TcpStream) -> Result<(), ProxyError> {
        let _ = stream.set_nodelay(true);
        session::run(&self.inner, stream).await
    }

    /// The map of live sessions' cancel keys.
    pub fn cancel_map(&self) -> &CancelMap {
        &self.inner.cancel
    }
}

/// Configures a [`PgProxy`]; made by [`PgProxy::builder`].
pub struct PgProxyBuilder {
    database: Database,
    server_tls: Arc<ServerConfig>,
    authorizer: Arc<dyn Authorizer>,
    injector: Arc<dyn AuthInjector>,
    authenticator: Arc<dyn ClientAuthenticator>,
    upstream_ca: Option<Vec<u8>>,
    upstream_tls: Option<Arc<ClientConfig>>,
    cancel: CancelMap,
    random: Arc<dyn Randomness>,
    limits: Limits,
    channel_binding: ChannelBindingPolicy,
    handshake_timeout: Duration,
    connect_timeout: Duration,
    login_timeout: Duration,
    max_connections: usize,
}

impl fmt::Debug for PgProxyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgProxyBuilder")
            .field("database", &self.database.name)
            .finish_non_exhaustive()
    }
}

impl PgProxyBuilder {
    /// Trust `ca_pem` (the bytes of the database's `tls.ca_cert_file`) for the upstream,
    /// verified per the database's `tls.mode`.
    pub fn upstream_tls(mut self, ca_pem: impl Into<Vec<u8>>) -> Self {
        self.upstream_ca = Some(ca_pem.into());
        self
    }

    /// Use a ready-made upstream TLS configuration instead (e.g. with a client certificate).
    pub fn upstream_tls_config(mut self, config: Arc<ClientConfig>) -> Self {
        self.upstream_tls = Some(config);
        self
    }

    /// How clients prove who they are (default: [`MtlsAuthenticator`]).
    pub fn client_authenticator(mut self, authenticator: Arc<dyn ClientAuthenticator>) -> Self {
        self.authenticator = authenticator;
        self
    }

    /// Share `cancel` with other proxies (default: a map of this proxy's own).
    pub fn cancel_map(mut self, cancel: CancelMap) -> Self {
        self.cancel = cancel;
        self
    }

    /// The random source for cancel keys and nonces (default: [`SystemRandom`]).
    pub fn randomness(mut self, random: Arc<dyn Randomness>) -> Self {
        self.random = random;
        self
    }

    /// Codec limits for both sides.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether to use SCRAM channel binding with the database (default: prefer it).
    pub fn channel_binding(mut self, policy: ChannelBindingPolicy) -> Self {
        self.channel_binding = policy;
        self
    }

    /// How long a client has for its side of the handshake.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long to wait for the database's TCP connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long credentials plus the database login may take.
    pub fn login_timeout(mut self, timeout: Duration) -> Self {
        self.login_timeout = timeout;
        self
    }

    /// The most concurrent sessions; more are refused with SQLSTATE 53300.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Check the configuration and build the proxy.
    ///
    /// # Errors
    /// A [`BuildError`] for an invalid URI, server name or upstream TLS setting.
    pub fn build(self) -> Result<PgProxy, BuildError> {
        let database = self.database;
        let (host, port) = host_port(&database.uri).ok_or_else(|| BuildError::BadUri {
            database: database.name.clone(),
        })?;
        let name = database
            .tls
            .server_name
            .as_deref()
            .unwrap_or(host)
            .to_owned();
        let server_name =
            ServerName::try_from(name.clone()).map_err(|_| BuildError::ServerName {
                database: database.name.clone(),
                name,
            })?;
        let tls = match self.upstream_tls {
            Some(config) => config,
            None => upstream_config(database.tls.mode, self.upstream_ca.as_deref(), None).map_err(
                |source| BuildError::Tls {
                    database: database.name.clone(),
                    source,
                },
            )?,
        };
        let addr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let endpoint = UpstreamEndpoint {
            addr,
            server_name,
            tls,
            connect_timeout: self.connect_timeout,
        };
        Ok(PgProxy {
            inner: Arc::new(Inner {
                database,
                acceptor: TlsAcceptor::from(self.server_tls),
                endpoint,
                authorizer: self.authorizer,
                injector: self.injector,
                authenticator: self.authenticator,
                cancel: self.cancel,
                random: self.random,
                limits: self.limits,
                channel_binding: self.channel_binding,
                handshake_timeout: self.handshake_timeout,
                login_timeout: self.login_timeout,
                connections: Arc::new(Semaphore::new(self.max_connections)),
                max_connections: self.max_connections,
            }),
        })
    }
}
