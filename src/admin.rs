//! The admin address of `iamwire run` (`proxy.admin`): HTTPS with the listener's certificate.
//!
//! - `/livez`: the process answers.
//! - `/readyz`: every listener is up, every database's role credentials were obtained, no database is at
//!   its session cap; a 503 lists what is not ready.
//! - `/metrics`: Prometheus text (sessions by database / protocol / outcome, phase latencies, bytes, STS
//!   calls by role, tokens minted, HTTP requests re-signed). Reading them takes no lock on a byte path.
//! - `/v1/...`: the admin API (live sessions, end one, pause / resume a database), for the identities in
//!   `proxy.admin.identities` only (client certificates from the client CA).
//!
//! Connections are bounded ([`MAX_CONNECTIONS`]), and each has a TLS and header deadline and a lifetime.

mod catalog_routes;
mod metrics;
mod prom;
mod routes;
mod state;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

pub(crate) use state::{AdminState, Readiness};

/// Admin connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 64;
/// How long a client may take for its TLS handshake and request headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest an admin connection lives.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// Serve the admin address on `listener` with `tls` until the process ends.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<AdminState>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let (tcp, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "admin: accept failed; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let _permit = permit;
            let _ =
                tokio::time::timeout(CONNECTION_LIFETIME, connection(tcp, acceptor, state)).await;
        });
    }
}

async fn connection(tcp: tokio::net::TcpStream, acceptor: TlsAcceptor, state: Arc<AdminState>) {
    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await else {
        return;
    };
    let identity = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(iamwire_core::tls::peer_certificate)
        .and_then(|cert| cert.identity())
        .map(|identity| identity.name().to_owned());
    let service = hyper::service::service_fn(move |request| {
        let state = Arc::clone(&state);
        let identity = identity.clone();
        async move { Ok::<_, Infallible>(routes::route(&state, identity.as_deref(), request).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .serve_connection(TokioIo::new(tls), service)
        .await;
}
