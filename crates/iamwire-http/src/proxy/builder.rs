//! [`HttpProxyBuilder`].

use std::sync::{Arc, Mutex};

use iamwire_aws::endpoint_check::EndpointGuard;
use iamwire_aws::role::RoleProvider;
use iamwire_core::{Authorizer, Clock, Database, Secret, SystemClock};
use iamwire_proxy::{ClientAuthenticator, Dialer, MtlsAuthenticator, TcpDialer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{ClientConfig, ServerConfig};

use super::{HttpLimits, HttpProxy, HttpTimeouts, Inner};
use crate::HttpError;
use crate::client::{ClientTimeouts, Upstream};
use crate::keys::AccessKeys;
use crate::route::Routes;

/// Builds an [`HttpProxy`]; see [`HttpProxy::builder`].
pub struct HttpProxyBuilder {
    database: Database,
    roles: Arc<dyn RoleProvider>,
    authorizer: Arc<dyn Authorizer>,
    server_tls: Option<Arc<ServerConfig>>,
    authenticator: Arc<dyn ClientAuthenticator>,
    keys: Option<AccessKeys>,
    upstream_tls: Option<Arc<ClientConfig>>,
    dialer: Arc<dyn Dialer>,
    limits: HttpLimits,
    timeouts: HttpTimeouts,
    clock: Arc<dyn Clock>,
    stats: Option<Arc<super::stats::Stats>>,
    guard: Option<EndpointGuard>,
}

impl std::fmt::Debug for HttpProxyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProxyBuilder")
            .field("database", &self.database.name)
            .finish_non_exhaustive()
    }
}

impl HttpProxyBuilder {
    pub(super) fn new(
        database: Database,
        roles: Arc<dyn RoleProvider>,
        authorizer: Arc<dyn Authorizer>,
    ) -> Self {
        Self {
            database,
            roles,
            authorizer,
            server_tls: None,
            authenticator: Arc::new(MtlsAuthenticator),
            keys: None,
            upstream_tls: None,
            dialer: Arc::new(TcpDialer),
            limits: HttpLimits::default(),
            timeouts: HttpTimeouts::default(),
            clock: Arc::new(SystemClock),
            stats: None,
            guard: None,
        }
    }

    /// The new proxy takes over from `previous` (the same database, reconfigured — a configuration
    /// reload): it shares its counters and whether new requests are paused.
    #[must_use]
    pub fn succeed(mut self, previous: &HttpProxy) -> Self {
        self.stats = Some(Arc::clone(&previous.inner.stats));
        self
    }

    /// Confirm the database's endpoint with `guard` before any request is signed for it: for a
    /// discovered or dynamic database, whose endpoint is not the operator's own word. A refused endpoint
    /// answers `403 AccessDeniedException` naming the claimed account and region, and no credential
    /// of the database's role is fetched, let alone sent.
    #[must_use]
    pub fn endpoint_guard(mut self, guard: EndpointGuard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// The listener's TLS (with client-certificate verification if it asks for certificates). Without
    /// it the listener is plaintext: only for a proxy behind a TLS-terminating load balancer, or tests.
    #[must_use]
    pub fn server_tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.server_tls = Some(config);
        self
    }

    /// How a client certificate becomes an identity (default: its CN, else its first DNS SAN).
    #[must_use]
    pub fn authenticator(mut self, authenticator: Arc<dyn ClientAuthenticator>) -> Self {
        self.authenticator = authenticator;
        self
    }

    /// The access keys clients sign with (see [`crate::keys`]). Without them, only clients with a
    /// certificate are served.
    #[must_use]
    pub fn access_keys(mut self, keys: AccessKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// How the database's certificate is verified (required).
    #[must_use]
    pub fn upstream_tls(mut self, config: Arc<ClientConfig>) -> Self {
        self.upstream_tls = Some(config);
        self
    }

    /// How TCP connections to the database are opened (default: the system resolver).
    #[must_use]
    pub fn dialer(mut self, dialer: Arc<dyn Dialer>) -> Self {
        self.dialer = dialer;
        self
    }

    /// Bounds.
    #[must_use]
    pub fn limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Deadlines.
    #[must_use]
    pub fn timeouts(mut self, timeouts: HttpTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The clock signatures are checked and made with (default: the system's).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The proxy.
    ///
    /// # Errors
    /// [`HttpError::Config`] for a database that is not served over HTTP, whose region is unknown, or
    /// without an upstream TLS configuration.
    pub fn build(self) -> Result<HttpProxy, HttpError> {
        let upstream_tls = self.upstream_tls.ok_or_else(|| HttpError::Config {
            database: self.database.name.clone(),
            reason: "no upstream TLS configuration".into(),
        })?;
        let routes = Routes::for_database(&self.database, upstream_tls)?;
        let tls = self.server_tls.map(|config| {
            let mut config = (*config).clone();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            TlsAcceptor::from(Arc::new(config))
        });
        let keys = match self.keys {
            Some(keys) => keys,
            // No keys: every signature is from an unknown key. The master key is never used.
            None => AccessKeys::new(Secret::from(vec![0u8; crate::keys::MIN_MASTER_KEY_LEN]))
                .map_err(|problem| HttpError::AccessKeys { problem })?,
        };
        let upstream = Upstream::new(
            routes.endpoints(),
            self.dialer,
            self.limits.max_in_flight,
            self.timeouts.pool_idle,
            ClientTimeouts {
                connect: self.timeouts.connect,
                response: self.timeouts.response,
                queue: self.timeouts.queue,
            },
        );
        Ok(HttpProxy {
            inner: Arc::new(Inner {
                database: self.database,
                routes,
                tls,
                authenticator: self.authenticator,
                keys,
                authorizer: self.authorizer,
                roles: self.roles,
                upstream,
                limits: self.limits,
                timeouts: self.timeouts,
                clock: self.clock,
                chains: Mutex::default(),
                stats: self.stats.unwrap_or_default(),
                guard: self.guard,
            }),
        })
    }
}
