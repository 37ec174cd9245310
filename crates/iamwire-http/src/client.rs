//! The pooled client to the database: HTTP/1.1 over TLS (verify-full by default: the endpoints carry the
//! database's TLS policy), connections kept alive and reused, opened through the framework's [`Dialer`]
//! within the connect timeout, a bound on requests in flight, and a deadline for the answer's head.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use iamwire_proxy::{Dialer, UpstreamEndpoint};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::client::TlsStream;

use crate::HttpError;
use crate::body::{BoxError, FaultSlot, Outgoing};

/// How long the client waits for the upstream pieces of a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientTimeouts {
    pub(crate) connect: Duration,
    pub(crate) response: Duration,
    pub(crate) queue: Duration,
}

/// The upstream client of one proxy.
pub(crate) struct Upstream<B> {
    client: Client<Connector, Outgoing<B>>,
    in_flight: Arc<Semaphore>,
    timeouts: ClientTimeouts,
}

impl<B> Upstream<B>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    /// A client for `endpoints`, at most `max_in_flight` requests at once.
    pub(crate) fn new(
        endpoints: Vec<UpstreamEndpoint>,
        dialer: Arc<dyn Dialer>,
        max_in_flight: usize,
        idle: Duration,
        timeouts: ClientTimeouts,
    ) -> Self {
        let connector = Connector {
            endpoints: Arc::from(endpoints),
            dialer,
            timeout: timeouts.connect,
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(idle)
            .pool_max_idle_per_host(max_in_flight.clamp(1, 256))
            .build(connector);
        Self {
            client,
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
            timeouts,
        }
    }

    /// Send `request`; its answer's head within the response timeout. The place among the requests in
    /// flight is returned with the answer, to be held until its body ends.
    pub(crate) async fn send(
        &self,
        request: Request<Outgoing<B>>,
        fault: &FaultSlot,
    ) -> Result<(Response<Incoming>, OwnedSemaphorePermit), HttpError> {
        let permit = tokio::time::timeout(
            self.timeouts.queue,
            Arc::clone(&self.in_flight).acquire_owned(),
        )
        .await
        .map_err(|_| HttpError::Busy)?
        .map_err(|_| HttpError::Busy)?;
        let addr = request
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let after = self.timeouts.response;
        match tokio::time::timeout(after, self.client.request(request)).await {
            Err(_) => Err(HttpError::UpstreamTimeout { after }),
            Ok(Ok(response)) => Ok((response, permit)),
            Ok(Err(error)) => {
                let body_fault = *fault
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                Err(match body_fault {
                    Some(crate::body::BodyFault::TooLarge(limit)) => {
                        HttpError::BodyTooLarge { limit }
                    }
                    Some(crate::body::BodyFault::Mismatch) => HttpError::PayloadMismatch,
                    Some(crate::body::BodyFault::Client) => HttpError::ClientBody {
                        source: Box::new(error),
                    },
                    None if error.is_connect() => {
                        let timed_out = std::error::Error::source(&error)
                            .and_then(|s| s.downcast_ref::<io::Error>())
                            .is_some_and(|e| e.kind() == io::ErrorKind::TimedOut);
                        if timed_out {
                            HttpError::UpstreamTimeout {
                                after: self.timeouts.connect,
                            }
                        } else {
                            HttpError::UpstreamConnect {
                                addr,
                                source: Box::new(error),
                            }
                        }
                    }
                    None => HttpError::Upstream {
                        source: Box::new(error),
                    },
                })
            }
        }
    }
}

/// Opens TLS connections to the database's endpoints through the [`Dialer`].
#[derive(Clone)]
struct Connector {
    endpoints: Arc<[UpstreamEndpoint]>,
    dialer: Arc<dyn Dialer>,
    timeout: Duration,
}

impl tower_service::Service<Uri> for Connector {
    type Response = UpstreamIo;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<UpstreamIo>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
            let port = uri.port_u16().unwrap_or(443);
            // Only the database's own endpoints are ever dialed, whatever the URI says.
            let endpoint = this
                .endpoints
                .iter()
                .find(|e| e.host() == host && e.port() == port)
                .cloned()
                .ok_or_else(|| io::Error::other("not an endpoint of this database"))?;
            let connect = async {
                let tcp = this.dialer.dial(&endpoint).await?;
                endpoint
                    .connector()
                    .connect(endpoint.server_name(), tcp)
                    .await
            };
            let tls = tokio::time::timeout(this.timeout, connect)
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
            Ok(UpstreamIo(TokioIo::new(tls)))
        })
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// A TLS connection to the database, as the pool holds it.
struct UpstreamIo(TokioIo<TlsStream<TcpStream>>);

impl Connection for UpstreamIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl Read for UpstreamIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl Write for UpstreamIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}
