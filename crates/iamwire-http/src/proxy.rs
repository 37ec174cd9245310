//! [`HttpProxy`]: one database served over HTTP on the framework's listener.

mod builder;
mod check;
mod idle;
mod request;
mod stats;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Request;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use iamwire_aws::role::{RoleChain, RoleProvider};
use iamwire_core::{Authorizer, ClientIdentity, Clock, Database};
use iamwire_proxy::listener::{self, Handler};
use iamwire_proxy::{
    ClientAuthenticator, ClientCheck, ClientHello, ClientStream, Listener, ListenerLimits,
};
use tokio_rustls::TlsAcceptor;

pub use builder::HttpProxyBuilder;
pub use check::CheckAnswer;
pub use stats::HttpMetrics;

use crate::client::Upstream;
use crate::keys::AccessKeys;
use crate::route::Routes;

/// Bounds of an [`HttpProxy`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpLimits {
    /// The listener's bounds (handshakes, per-address connections, drain time).
    pub listener: ListenerLimits,
    /// The largest request body, in bytes: larger ones get `413` as soon as the cap is crossed.
    pub max_body: u64,
    /// How much of a body that must be hashed before it is sent is kept in memory; the rest waits in an
    /// unnamed temporary file in `spool_dir`.
    pub spool_in_memory: usize,
    /// Where spooled bodies wait.
    pub spool_dir: PathBuf,
    /// Requests in flight to the database at once (more wait up to the queue timeout, then get `503`).
    pub max_in_flight: usize,
    /// The largest request head (HTTP/1.1 buffer; HTTP/2 header list), in bytes.
    pub max_head: usize,
    /// Concurrent HTTP/2 streams per client connection.
    pub max_streams: u32,
}

impl Default for HttpLimits {
    /// 32 MiB bodies, 256 KiB of each in memory, 256 requests in flight, 64 KiB heads, 128 streams.
    fn default() -> Self {
        Self {
            listener: ListenerLimits::default(),
            max_body: 32 << 20,
            spool_in_memory: 256 << 10,
            spool_dir: std::env::temp_dir(),
            max_in_flight: 256,
            max_head: 64 << 10,
            max_streams: 128,
        }
    }
}

/// Deadlines of an [`HttpProxy`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct HttpTimeouts {
    /// The client's TLS handshake, and its first request: a connection that has sent no whole
    /// request head this long after its TLS handshake is closed. Also the grace a connection shut
    /// down for idleness (below) has to close.
    pub handshake: Duration,
    /// How long a keep-alive connection may sit with no request in progress once it has had one: its
    /// next request head must be complete by then, or it is shut down (HTTP/2 gets GOAWAY) and closed
    /// one handshake timeout later. At least `handshake` in effect (a smaller value is raised to it).
    pub idle: Duration,
    /// Getting the role's credentials (AssumeRole, cached per chain).
    pub credentials: Duration,
    /// TCP and TLS to the database.
    pub connect: Duration,
    /// The database's answer head, from the moment the request is sent.
    pub response: Duration,
    /// How long a request waits for a place among those in flight.
    pub queue: Duration,
    /// How long an idle pooled connection to the database is kept.
    pub pool_idle: Duration,
}

impl Default for HttpTimeouts {
    /// 30 s handshake, 60 s keep-alive idle (as an AWS load balancer), 15 s credentials, 10 s
    /// connect, 60 s answer, 10 s queue, 90 s pooled.
    fn default() -> Self {
        Self {
            handshake: Duration::from_secs(30),
            idle: Duration::from_secs(60),
            credentials: Duration::from_secs(15),
            connect: Duration::from_secs(10),
            response: Duration::from_secs(60),
            queue: Duration::from_secs(10),
            pool_idle: Duration::from_secs(90),
        }
    }
}

/// Serves one DynamoDB or OpenSearch database: verifies each client, re-signs each request as the
/// database-user role, and streams both ways. Cheap to clone.
#[derive(Clone)]
pub struct HttpProxy {
    inner: Arc<Inner>,
}

struct Inner {
    database: Database,
    routes: Routes,
    tls: Option<TlsAcceptor>,
    authenticator: Arc<dyn ClientAuthenticator>,
    keys: AccessKeys,
    authorizer: Arc<dyn Authorizer>,
    roles: Arc<dyn RoleProvider>,
    upstream: Upstream<Incoming>,
    limits: HttpLimits,
    timeouts: HttpTimeouts,
    clock: Arc<dyn Clock>,
    chains: Mutex<std::collections::HashMap<(String, String), RoleChain>>,
    stats: Arc<stats::Stats>,
    guard: Option<iamwire_aws::endpoint_check::EndpointGuard>,
}

impl std::fmt::Debug for HttpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProxy")
            .field("database", &self.inner.database.name)
            .field("routes", &self.inner.routes)
            .field("keys", &self.inner.keys.len())
            .field("limits", &self.inner.limits)
            .field("timeouts", &self.inner.timeouts)
            .finish_non_exhaustive()
    }
}

impl HttpProxy {
    /// A builder for a proxy to `database` (`protocol: dynamodb` or `opensearch`) that gets role
    /// credentials from `roles` and authorizes with `authorizer`.
    pub fn builder(
        database: Database,
        roles: Arc<dyn RoleProvider>,
        authorizer: Arc<dyn Authorizer>,
    ) -> HttpProxyBuilder {
        HttpProxyBuilder::new(database, roles, authorizer)
    }

    /// The database served.
    pub fn database(&self) -> &Database {
        &self.inner.database
    }

    /// Refuse new requests (503 `ServiceUnavailable`, which the AWS SDKs retry) until
    /// [`resume`](Self::resume); requests in progress finish.
    pub fn pause(&self) {
        self.inner
            .stats
            .paused
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Serve new requests again.
    pub fn resume(&self) {
        self.inner
            .stats
            .paused
            .store(false, std::sync::atomic::Ordering::Release);
    }

    /// Whether new requests are paused.
    pub fn is_paused(&self) -> bool {
        self.inner.stats.is_paused()
    }

    /// What this proxy (and those it succeeded) has counted so far.
    pub fn metrics(&self) -> HttpMetrics {
        self.inner.stats.snapshot()
    }

    /// Accept from `listener` until `stop` resolves, with connections that live under `drain` (shared
    /// by every listener of a process: a listener stopped by a configuration reload leaves its
    /// connections running until they end or the process drains). Returns once the listener is closed.
    pub async fn serve_until(
        self,
        listener: impl Into<Listener>,
        stop: impl std::future::Future<Output = ()> + Send,
        drain: &iamwire_proxy::Drain,
    ) {
        let limits = self.inner.limits.listener;
        listener::serve_until(listener, limits, Arc::new(self), stop, drain).await;
    }

    /// Serve clients from `listener` until `shutdown` resolves; then stop accepting, let requests in
    /// progress finish (HTTP/2 clients get GOAWAY, HTTP/1.1 connections close after their current
    /// request) until the drain deadline, and close the rest.
    pub async fn serve(
        self,
        listener: impl Into<Listener>,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) {
        let limits = self.inner.limits.listener;
        listener::serve(listener, limits, Arc::new(self), shutdown).await;
    }

    /// Who the client on this connection is, from its certificate.
    fn certificate_identity(
        &self,
        stream: &ClientStream,
        peer: Option<SocketAddr>,
    ) -> Option<ClientIdentity> {
        let ClientStream::Tls(tls) = stream else {
            return None;
        };
        let certificate = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(iamwire_core::tls::peer_certificate)?;
        let hello = ClientHello {
            certificate: Some(&certificate),
            user: "",
            peer,
            local_user: None,
        };
        match self.inner.authenticator.check(&hello) {
            ClientCheck::Identified(identity) => Some(identity),
            _ => None,
        }
    }

    async fn accept(&self, transport: iamwire_proxy::Transport) -> Option<ClientStream> {
        transport.set_nodelay();
        let Some(acceptor) = &self.inner.tls else {
            return Some(ClientStream::Plain(transport));
        };
        match tokio::time::timeout(self.inner.timeouts.handshake, acceptor.accept(transport)).await
        {
            Ok(Ok(tls)) => Some(ClientStream::Tls(Box::new(tls))),
            Ok(Err(error)) => {
                tracing::debug!(%error, "client TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!("client TLS handshake timed out");
                None
            }
        }
    }
}

impl Handler for HttpProxy {
    async fn handle(self: Arc<Self>, incoming: iamwire_proxy::Incoming) {
        let iamwire_proxy::Incoming {
            transport,
            peer,
            mut guard,
        } = incoming;
        let Some(stream) = self.accept(transport).await else {
            return;
        };
        guard.handshake_done();
        let identity = self.certificate_identity(&stream, peer).map(Arc::new);
        let proxy = Arc::clone(&self);
        let activity = idle::Activity::new();
        let requests = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let proxy = Arc::clone(&proxy);
            let identity = identity.clone();
            let busy = requests.begin();
            async move {
                let response = proxy.respond(request, identity, peer).await;
                Ok::<_, Infallible>(response.map(|inner| {
                    crate::body::Held {
                        inner,
                        _permit: Some(busy),
                    }
                    .boxed()
                }))
            }
        });
        let limits = &self.inner.limits;
        let timeouts = &self.inner.timeouts;
        // hyper's head timer runs from the moment it waits for the next request, idle or not: it
        // bounds the keep-alive idle time, so it is the longer of the two; a first request is held to
        // the handshake timeout below.
        let between = timeouts.idle.max(timeouts.handshake);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(between)
            .max_buf_size(limits.max_head.max(8192));
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_head).unwrap_or(u32::MAX))
            .max_concurrent_streams(limits.max_streams);
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let first = timeouts.handshake;
        let mut shut_down = false;
        loop {
            // Once shut down, the connection has one handshake timeout to close.
            let later = if shut_down { first } else { between };
            let wake = activity
                .deadline(first, later)
                .unwrap_or_else(|| tokio::time::Instant::now() + first);
            tokio::select! {
                _ = connection.as_mut() => return,
                () = guard.draining() => {
                    connection.as_mut().graceful_shutdown();
                    break;
                }
                () = tokio::time::sleep_until(wake) => {
                    let idle = activity
                        .deadline(first, later)
                        .is_some_and(|at| at <= tokio::time::Instant::now());
                    // No request yet (a head still coming, slowly, or nothing): nothing to finish.
                    if idle && (shut_down || !activity.served()) {
                        tracing::debug!(peer = ?peer, "idle client connection closed");
                        return;
                    }
                    if idle {
                        tracing::debug!(peer = ?peer, "idle client connection shut down");
                        connection.as_mut().graceful_shutdown();
                        activity.touch();
                        shut_down = true;
                    }
                }
            }
        }
        tokio::select! {
            _ = connection.as_mut() => {}
            () = guard.closing() => {}
        }
    }
}
