//! [`Proxy`]: one database, one protocol, every phase in order; built with [`ProxyBuilder`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use iamwire_core::{AuthInjector, Authorizer, Database, Randomness, SystemRandom};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{ClientConfig, ServerConfig};

use crate::authn::{ClientAuthenticator, MtlsAuthenticator};
use crate::listener::{self, Handler, Incoming, Listener, ListenerLimits};
use crate::metrics::{MetricsSnapshot, ProxyMetrics};
use crate::protocol::Protocol;
use crate::registry::SessionRegistry;
use crate::session;
use crate::shutdown::Drain;
use crate::upstream::{Dialer, EndpointError, TcpDialer, UpstreamEndpoint};

/// How long each phase of a session may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The client's side of the handshake: negotiation, TLS, what it asks for, a proxy password.
    pub handshake: Duration,
    /// Getting credentials (role provider, STS, Redshift, token minting).
    pub credentials: Duration,
    /// TCP, negotiation and TLS toward the database.
    pub connect: Duration,
    /// The login with the injected credentials, until the session is ready.
    pub login: Duration,
    /// Writing a refusal or goodbye to a client before closing anyway.
    pub goodbye: Duration,
}

impl Default for Timeouts {
    /// Handshake 30 s, credentials 15 s, connect 10 s, login 15 s, goodbye 2 s.
    fn default() -> Self {
        Self {
            handshake: Duration::from_secs(30),
            credentials: Duration::from_secs(15),
            connect: Duration::from_secs(10),
            login: Duration::from_secs(15),
            goodbye: Duration::from_secs(2),
        }
    }
}

/// Bounds on what a proxy holds at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sessions (past their client handshake, through their relay); more are refused in the protocol
    /// (Postgres `53300`).
    pub max_connections: usize,
    /// Out-of-band requests (cancel forwarding) in flight; more are dropped, as are repeats for a session
    /// that already has one in flight.
    pub max_out_of_band: usize,
    /// The shortest time between two out-of-band requests let through for one session (a second cancel
    /// within it would find nothing left to cancel); repeats within it are dropped.
    pub out_of_band_interval: Duration,
    /// The listener's bounds (handshakes, per source address, drain time).
    pub listener: ListenerLimits,
}

impl Default for Limits {
    /// 1000 sessions, 8 out-of-band requests in flight and one per session per second, and the
    /// listener defaults.
    fn default() -> Self {
        Self {
            max_connections: 1000,
            max_out_of_band: 8,
            out_of_band_interval: Duration::from_secs(1),
            listener: ListenerLimits::default(),
        }
    }
}

/// A proxy for one database speaking protocol `P`. Cheap to clone; clones share everything (registry,
/// limits).
pub struct Proxy<P: Protocol> {
    pub(crate) inner: Arc<Inner<P>>,
}

pub(crate) struct Inner<P: Protocol> {
    pub(crate) protocol: P,
    pub(crate) database: Database,
    pub(crate) endpoint: UpstreamEndpoint,
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) authorizer: Arc<dyn Authorizer>,
    pub(crate) injector: Arc<dyn AuthInjector>,
    pub(crate) authenticator: Arc<dyn ClientAuthenticator>,
    pub(crate) dialer: Arc<dyn Dialer>,
    pub(crate) random: Arc<dyn Randomness>,
    pub(crate) timeouts: Timeouts,
    pub(crate) limits: Limits,
    pub(crate) sessions: Arc<Semaphore>,
    pub(crate) out_of_band: Arc<Semaphore>,
    pub(crate) registry: Arc<SessionRegistry<P::Registered>>,
    pub(crate) metrics: Arc<ProxyMetrics>,
    pub(crate) paused: Arc<std::sync::atomic::AtomicBool>,
}

impl<P: Protocol> Clone for Proxy<P> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<P: Protocol> fmt::Debug for Proxy<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("protocol", &self.inner.protocol.name())
            .field("database", &self.inner.database.name)
            .field("upstream", &self.inner.endpoint)
            .field("injector", &self.inner.injector)
            .field("timeouts", &self.inner.timeouts)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl<P: Protocol> Proxy<P> {
    /// Start building a proxy for `database` speaking `protocol`: clients are accepted with
    /// `server_tls` (see [`iamwire_core::tls::server_config`]), authorized by `authorizer`, and logged in
    /// upstream with what `injector` provides.
    pub fn builder(
        protocol: P,
        database: Database,
        server_tls: Arc<ServerConfig>,
        authorizer: Arc<dyn Authorizer>,
        injector: Arc<dyn AuthInjector>,
    ) -> ProxyBuilder<P> {
        ProxyBuilder {
            protocol,
            database,
            server_tls,
            authorizer,
            injector,
            authenticator: Arc::new(MtlsAuthenticator),
            upstream: Upstream::Default,
            dialer: Arc::new(TcpDialer),
            random: Arc::new(SystemRandom),
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            predecessor: None,
        }
    }

    /// Accept from `listener` until `shutdown` resolves, then drain (see [`listener::serve`]): live
    /// sessions may finish until the shutdown timeout; then each remaining client is told in its
    /// protocol (Postgres `57P01`) and closed. Returns when every session has ended.
    pub async fn serve(
        &self,
        listener: impl Into<Listener>,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        listener::serve(
            listener,
            self.inner.limits.listener,
            Arc::clone(&self.inner),
            shutdown,
        )
        .await;
    }

    /// Accept from `listener` until `stop` resolves, with sessions that live under `drain` (shared by
    /// every listener of a process, so a listener stopped by a configuration reload leaves its sessions
    /// running until they end or the process drains). Returns once the listener is closed.
    pub async fn serve_until(
        &self,
        listener: impl Into<Listener>,
        stop: impl Future<Output = ()> + Send,
        drain: &Drain,
    ) {
        listener::serve_until(
            listener,
            self.inner.limits.listener,
            Arc::clone(&self.inner),
            stop,
            drain,
        )
        .await;
    }

    /// Accept from `listener` like [`serve_until`](Self::serve_until), but its sessions reach the
    /// database at `endpoint` instead of the proxy's own (the policy, limits, registry, metrics and
    /// pause are this proxy's): for a database that is many nodes, each given an address of the
    /// proxy's (Redis cluster mode). `endpoint` should come from [`UpstreamEndpoint::at`] on
    /// [`endpoint`](Self::endpoint), so it keeps the database's TLS policy.
    pub async fn serve_until_at(
        &self,
        listener: impl Into<Listener>,
        endpoint: UpstreamEndpoint,
        stop: impl Future<Output = ()> + Send,
        drain: &Drain,
    ) {
        let routed = Arc::new(Routed {
            inner: Arc::clone(&self.inner),
            endpoint,
        });
        listener::serve_until(listener, self.inner.limits.listener, routed, stop, drain).await;
    }

    /// Fetch what every login will need ahead of the first client (the database's role credentials),
    /// so a broken trust policy shows up now.
    ///
    /// # Errors
    /// The injector's error.
    pub async fn warm_up(&self) -> Result<(), iamwire_core::InjectError> {
        self.inner.injector.warm_up(&self.inner.database).await
    }

    /// The database served.
    pub fn database(&self) -> &Database {
        &self.inner.database
    }

    /// How the database is reached (its address, TLS name and policy).
    pub fn endpoint(&self) -> &UpstreamEndpoint {
        &self.inner.endpoint
    }

    /// The proxy's bounds (sessions, handshakes, drain time).
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The live sessions.
    pub fn registry(&self) -> &Arc<SessionRegistry<P::Registered>> {
        &self.inner.registry
    }

    /// The protocol.
    pub fn protocol(&self) -> &P {
        &self.inner.protocol
    }

    /// Refuse new sessions (in the protocol, after the client's hello) until [`resume`](Self::resume);
    /// live sessions go on.
    pub fn pause(&self) {
        self.inner
            .paused
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Accept new sessions again.
    pub fn resume(&self) {
        self.inner
            .paused
            .store(false, std::sync::atomic::Ordering::Release);
    }

    /// Whether new sessions are paused.
    pub fn is_paused(&self) -> bool {
        self.inner.paused.load(std::sync::atomic::Ordering::Acquire)
    }

    /// What this proxy has counted so far (sessions by outcome, bytes, phase latencies).
    pub fn metrics(&self) -> MetricsSnapshot {
        let live = self
            .inner
            .registry
            .list()
            .iter()
            .fold((0, 0), |(up, down), s| {
                (
                    up + s.bytes_up.load(std::sync::atomic::Ordering::Relaxed),
                    down + s.bytes_down.load(std::sync::atomic::Ordering::Relaxed),
                )
            });
        self.inner.metrics.snapshot(live)
    }
}

impl<P: Protocol> Handler for Inner<P> {
    fn handle(self: Arc<Self>, incoming: Incoming) -> impl Future<Output = ()> + Send {
        session::run(self, incoming)
    }

    fn client_speaks_first(&self) -> Option<Duration> {
        self.protocol
            .client_speaks_first()
            .then_some(self.timeouts.handshake)
    }
}

/// The sessions of a listener served by [`Proxy::serve_until_at`]: the proxy's, reaching `endpoint`.
struct Routed<P: Protocol> {
    inner: Arc<Inner<P>>,
    endpoint: UpstreamEndpoint,
}

impl<P: Protocol> Handler for Routed<P> {
    fn handle(self: Arc<Self>, incoming: Incoming) -> impl Future<Output = ()> + Send {
        session::run_at(
            Arc::clone(&self.inner),
            incoming,
            Some(self.endpoint.clone()),
        )
    }

    fn client_speaks_first(&self) -> Option<Duration> {
        self.inner.client_speaks_first()
    }
}

enum Upstream {
    Default,
    Ca(Vec<u8>),
    Config(Arc<ClientConfig>),
    Endpoint(UpstreamEndpoint),
}

/// Configures a [`Proxy`]; made by [`Proxy::builder`].
pub struct ProxyBuilder<P: Protocol> {
    protocol: P,
    database: Database,
    server_tls: Arc<ServerConfig>,
    authorizer: Arc<dyn Authorizer>,
    injector: Arc<dyn AuthInjector>,
    authenticator: Arc<dyn ClientAuthenticator>,
    upstream: Upstream,
    dialer: Arc<dyn Dialer>,
    random: Arc<dyn Randomness>,
    timeouts: Timeouts,
    limits: Limits,
    predecessor: Option<Proxy<P>>,
}

impl<P: Protocol> fmt::Debug for ProxyBuilder<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyBuilder")
            .field("protocol", &self.protocol.name())
            .field("database", &self.database.name)
            .finish_non_exhaustive()
    }
}

impl<P: Protocol> ProxyBuilder<P> {
    /// Trust `ca_pem` (the bytes of the database's `tls.ca_cert_file`) for the upstream, verified per
    /// the database's `tls.mode`.
    #[must_use]
    pub fn upstream_tls(mut self, ca_pem: impl Into<Vec<u8>>) -> Self {
        self.upstream = Upstream::Ca(ca_pem.into());
        self
    }

    /// Use a ready-made upstream TLS configuration instead (e.g. with a client certificate).
    #[must_use]
    pub fn upstream_tls_config(mut self, config: Arc<ClientConfig>) -> Self {
        self.upstream = Upstream::Config(config);
        self
    }

    /// Reach the database at `endpoint` instead of its URI.
    #[must_use]
    pub fn endpoint(mut self, endpoint: UpstreamEndpoint) -> Self {
        self.upstream = Upstream::Endpoint(endpoint);
        self
    }

    /// How clients prove who they are (default: [`MtlsAuthenticator`]).
    #[must_use]
    pub fn client_authenticator(mut self, authenticator: Arc<dyn ClientAuthenticator>) -> Self {
        self.authenticator = authenticator;
        self
    }

    /// How TCP connections to the database are opened (default: [`TcpDialer`]).
    #[must_use]
    pub fn dialer(mut self, dialer: Arc<dyn Dialer>) -> Self {
        self.dialer = dialer;
        self
    }

    /// The random source for keys and nonces (default: [`SystemRandom`]).
    #[must_use]
    pub fn randomness(mut self, random: Arc<dyn Randomness>) -> Self {
        self.random = random;
        self
    }

    /// Every phase's timeout at once.
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// How long a client has for its side of the handshake.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.handshake = timeout;
        self
    }

    /// How long getting credentials may take.
    #[must_use]
    pub fn credential_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.credentials = timeout;
        self
    }

    /// How long the connection to the database (TCP and TLS) may take.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    /// How long the database login may take.
    #[must_use]
    pub fn login_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.login = timeout;
        self
    }

    /// Every bound at once.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The most concurrent sessions.
    #[must_use]
    pub fn max_connections(mut self, max: usize) -> Self {
        self.limits.max_connections = max;
        self
    }

    /// The most connections still in their handshake.
    #[must_use]
    pub fn max_handshakes(mut self, max: usize) -> Self {
        self.limits.listener.max_handshakes = max;
        self
    }

    /// The most connections from one source address.
    #[must_use]
    pub fn max_per_peer(mut self, max: Option<usize>) -> Self {
        self.limits.listener.max_per_peer = max;
        self
    }

    /// How long sessions may go on after shutdown starts.
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.limits.listener.shutdown_timeout = timeout;
        self
    }

    /// The new proxy takes over from `previous` (the same database, reconfigured — a configuration
    /// reload): it shares `previous`'s session registry (session ids stay unique, and out-of-band
    /// requests such as a Postgres cancel reach sessions `previous` still serves), its counters, and
    /// whether new sessions are paused. Each keeps its own session bound.
    #[must_use]
    pub fn succeed(mut self, previous: &Proxy<P>) -> Self {
        self.predecessor = Some(previous.clone());
        self
    }

    /// Check the configuration and build the proxy.
    ///
    /// # Errors
    /// An [`EndpointError`] for an invalid URI, server name or upstream TLS setting.
    pub fn build(self) -> Result<Proxy<P>, EndpointError> {
        let database = self.database;
        let endpoint = match self.upstream {
            Upstream::Endpoint(endpoint) => endpoint,
            Upstream::Config(config) => UpstreamEndpoint::for_database(&database, config)?,
            Upstream::Ca(ca) => UpstreamEndpoint::for_database_with_ca(&database, Some(&ca))?,
            Upstream::Default => UpstreamEndpoint::for_database_with_ca(&database, None)?,
        };
        let limits = self.limits;
        let capacity = limits
            .max_connections
            .saturating_add(limits.listener.max_handshakes)
            .saturating_add(1);
        let (registry, metrics, paused) = match self.predecessor {
            Some(previous) => (
                Arc::clone(&previous.inner.registry),
                Arc::clone(&previous.inner.metrics),
                Arc::clone(&previous.inner.paused),
            ),
            None => (
                Arc::new(SessionRegistry::new(capacity)),
                Arc::default(),
                Arc::default(),
            ),
        };
        Ok(Proxy {
            inner: Arc::new(Inner {
                protocol: self.protocol,
                database,
                endpoint,
                acceptor: TlsAcceptor::from(self.server_tls),
                authorizer: self.authorizer,
                injector: self.injector,
                authenticator: self.authenticator,
                dialer: self.dialer,
                random: self.random,
                timeouts: self.timeouts,
                limits,
                sessions: Arc::new(Semaphore::new(limits.max_connections)),
                out_of_band: Arc::new(Semaphore::new(limits.max_out_of_band)),
                registry,
                metrics,
                paused,
            }),
        })
    }
}
