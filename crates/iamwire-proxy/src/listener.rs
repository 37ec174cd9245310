//! The accept loop shared by every protocol (and by HTTP, which brings its own connection handler):
//! a bound on connections still in their handshake taken *before* anything else (TLS included) — for
//! protocols whose client speaks first, once its first bytes arrive, so that connections that never send
//! anything cannot hold every slot (see [`ListenerLimits::max_handshakes`]) — an optional
//! per-source-address bound, accept errors (`EMFILE`, `ENFILE`, `ECONNABORTED`, ...) logged and
//! retried with a growing pause so the listener never dies, and drain on shutdown.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

mod silent;

use silent::Silent;

use crate::conn::Transport;
use crate::shutdown::{Drain, LiveGuard, Stage, StageWatch};

/// The first pause after a failed accept; it doubles per consecutive failure.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause between accept attempts.
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// After the drain deadline, how long sessions have to say goodbye before their tasks are aborted.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A bound socket to accept from: TCP or a unix socket.
#[derive(Debug)]
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A unix socket.
    Unix(UnixListener),
}

impl From<TcpListener> for Listener {
    fn from(listener: TcpListener) -> Self {
        Self::Tcp(listener)
    }
}

impl From<UnixListener> for Listener {
    fn from(listener: UnixListener) -> Self {
        Self::Unix(listener)
    }
}

impl Listener {
    async fn accept(&self) -> io::Result<(Transport, Option<SocketAddr>)> {
        match self {
            Self::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                Ok((Transport::Tcp(s), Some(peer)))
            }
            Self::Unix(l) => {
                let (s, _) = l.accept().await?;
                Ok((Transport::Unix(s), None))
            }
        }
    }
}

/// Bounds the listener enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Connections still in their handshake (from accept until the relay starts). When all are taken
    /// the listener stops accepting until one frees up: new connections wait in the kernel's backlog
    /// and hold no file descriptor.
    ///
    /// Where the client speaks first (every protocol but MySQL, whose server greets first: see
    /// [`Handler::client_speaks_first`]), a connection takes its slot only once its first bytes arrive,
    /// and the listener accepts up to twice this many connections in all; when those are taken too, the
    /// oldest connection that has sent nothing for 5 s (or half the handshake timeout, if shorter) is closed to make room (as Envoy shortens
    /// its timeouts under load and pgbouncer times out clients that do not log in). A flood of idle
    /// connections then delays a new login by seconds, not by the handshake timeout per this many
    /// connections. A burst of real clients beyond twice this many whose first bytes come later than
    /// that (a client machine far beyond loaded) may see some of them closed.
    pub max_handshakes: usize,
    /// Connections (in handshake or relaying) from one source address; more are closed at once.
    pub max_per_peer: Option<usize>,
    /// How long sessions may go on after shutdown starts before they are ended.
    pub shutdown_timeout: Duration,
}

impl Default for ListenerLimits {
    /// 256 handshakes, no per-address bound, 30 s of drain.
    fn default() -> Self {
        Self {
            max_handshakes: 256,
            max_per_peer: None,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// A connection the listener accepted.
#[derive(Debug)]
pub struct Incoming {
    /// The client's transport.
    pub transport: Transport,
    /// Its address (`None` on a unix socket).
    pub peer: Option<SocketAddr>,
    /// Its places in the listener's bounds, and the proxy's stage.
    pub guard: ConnGuard,
}

/// A connection's places in the listener's bounds (released when dropped), and the proxy's stage for it
/// to watch.
pub struct ConnGuard {
    handshake: Option<OwnedSemaphorePermit>,
    /// Its place among the connections accepted and not yet relaying (client-speaks-first listeners).
    opened: Option<OwnedSemaphorePermit>,
    accepted: tokio::time::Instant,
    _per_peer: Option<PeerGuard>,
    _live: LiveGuard,
    stage: StageWatch,
}

impl ConnGuard {
    /// The handshake is over (the relay starts, or the connection is a long-lived stream): free its place
    /// among the handshakes.
    pub fn handshake_done(&mut self) {
        self.handshake = None;
        self.opened = None;
    }

    /// When the connection was accepted (its handshake timeout counts from here).
    pub(crate) fn accepted(&self) -> tokio::time::Instant {
        self.accepted
    }

    /// The proxy's stage (serving, draining, closing), for the connection to watch.
    pub(crate) fn stage(&self) -> StageWatch {
        self.stage.clone()
    }

    /// Resolves once the drain deadline has passed and the connection must end.
    pub async fn closing(&self) {
        self.stage.clone().reached(Stage::Closing).await;
    }

    /// Resolves once shutdown has started (the listener no longer accepts).
    pub async fn draining(&self) {
        self.stage.clone().reached(Stage::Draining).await;
    }
}

impl fmt::Debug for ConnGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnGuard")
            .field("in_handshake", &self.handshake.is_some())
            .finish_non_exhaustive()
    }
}

/// Serves one accepted connection to its end.
pub trait Handler: Send + Sync + 'static {
    /// Serve `incoming`; when it returns, the connection is closed.
    fn handle(self: Arc<Self>, incoming: Incoming) -> impl Future<Output = ()> + Send;

    /// `Some(wait)` if the client speaks first: a connection then takes its handshake slot only once
    /// its first bytes arrive, or after `wait` (the handshake timeout: it is handed over anyway, for the
    /// protocol's own timeout refusal). `None` (the default): the slot is taken before accepting. See
    /// [`ListenerLimits::max_handshakes`].
    fn client_speaks_first(&self) -> Option<Duration> {
        None
    }
}

/// Accept from `listener` and hand each connection to `handler` in its own task, until `shutdown`
/// resolves; then stop accepting, let connections finish until `limits.shutdown_timeout`, tell the rest
/// to close, and return once all have (or a few seconds later).
pub async fn serve<H: Handler>(
    listener: impl Into<Listener>,
    limits: ListenerLimits,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let drain = Drain::new();
    serve_until(listener, limits, handler, shutdown, &drain).await;
    drain.shutdown(limits.shutdown_timeout, CLOSE_GRACE).await;
}

/// Accept from `listener` until `stop` resolves, each connection in its own task that lives under
/// `drain` (which may be shared by many listeners: a process's). Returns when the listener is closed;
/// the connections go on until they end or `drain` ends them.
pub async fn serve_until<H: Handler>(
    listener: impl Into<Listener>,
    limits: ListenerLimits,
    handler: Arc<H>,
    stop: impl Future<Output = ()> + Send,
    drain: &Drain,
) {
    let listener = listener.into();
    let max = limits.max_handshakes.max(1);
    let handshakes = Arc::new(Semaphore::new(max));
    let first_words = handler.client_speaks_first();
    // Client-speaks-first: connections accepted and not yet relaying, at most twice the handshakes.
    let opened = Arc::new(Semaphore::new(max.saturating_mul(2)));
    let silent = Arc::new(Silent::default());
    let peers = Arc::new(PeerCounts::default());
    let mut pause = FIRST_PAUSE;
    tokio::pin!(stop);
    let mut draining = drain.watch();
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(if first_words.is_some() { &opened } else { &handshakes }).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = silent.evict_while_waiting(silent::floor(first_words.unwrap_or_default())), if first_words.is_some() && opened.available_permits() == 0 => continue,
            () = &mut stop => break,
            () = draining.reached(Stage::Draining) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
            () = draining.reached(Stage::Draining) => break,
        };
        let (transport, peer) = match accepted {
            Ok(accepted) => {
                pause = FIRST_PAUSE;
                accepted
            }
            Err(error) => {
                tracing::warn!(
                    error = %error,
                    kind = ?error.kind(),
                    os_error = error.raw_os_error(),
                    pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                    "accept failed; retrying"
                );
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = &mut stop => break,
                }
                pause = (pause * 2).min(MAX_PAUSE);
                continue;
            }
        };
        let per_peer = match (limits.max_per_peer, peer) {
            (Some(max), Some(addr)) => match peers.enter(addr.ip(), max) {
                Some(guard) => Some(guard),
                None => {
                    tracing::info!(peer = %addr, limit = max, "connection refused: too many from this address");
                    continue;
                }
            },
            _ => None,
        };
        let (handshake, opened) = match first_words {
            Some(_) => (None, Some(permit)),
            None => (Some(permit), None),
        };
        let incoming = Incoming {
            transport,
            peer,
            guard: ConnGuard {
                handshake,
                opened,
                accepted: tokio::time::Instant::now(),
                _per_peer: per_peer,
                _live: drain.track(),
                stage: drain.watch(),
            },
        };
        let handler = Arc::clone(&handler);
        match first_words {
            None => {
                tokio::spawn(handler.handle(incoming));
            }
            Some(wait) => {
                let (silent, handshakes) = (Arc::clone(&silent), Arc::clone(&handshakes));
                tokio::spawn(first_words_then(
                    incoming, wait, silent, handshakes, handler,
                ));
            }
        }
    }
}

/// Wait (at most `wait`) for the client's first bytes without a handshake slot, then take one and serve
/// the connection; close it if the listener needs its place while it is still silent.
async fn first_words_then<H: Handler>(
    mut incoming: Incoming,
    wait: Duration,
    silent: Arc<Silent>,
    handshakes: Arc<Semaphore>,
    handler: Arc<H>,
) {
    let mut stage = incoming.guard.stage();
    {
        let entry = silent.enter();
        tokio::select! {
            biased;
            _ = incoming.transport.first_bytes() => {}
            () = tokio::time::sleep(wait) => {}
            () = entry.evicted() => {
                tracing::debug!(peer = ?incoming.peer, "connection closed: silent while the listener was full");
                return;
            }
            () = stage.reached(Stage::Draining) => return,
        }
    }
    // Slots turn over as handshakes end (each phase has its timeout); past the handshake timeout
    // the client could only be refused, so it is closed.
    let deadline = tokio::time::Instant::now() + wait;
    let permit = tokio::select! {
        permit = handshakes.acquire_owned() => match permit {
            Ok(permit) => permit,
            Err(_) => return,
        },
        () = tokio::time::sleep_until(deadline) => {
            tracing::info!(peer = ?incoming.peer, "connection closed: no handshake slot within the handshake timeout");
            return;
        }
        () = stage.reached(Stage::Draining) => return,
    };
    incoming.guard.handshake = Some(permit);
    handler.handle(incoming).await;
}

/// Live connections per source address.
#[derive(Debug, Default)]
struct PeerCounts(Mutex<HashMap<IpAddr, usize>>);

impl PeerCounts {
    fn enter(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PeerGuard> {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(PeerGuard {
            counts: Arc::clone(self),
            ip,
        })
    }
}

/// One connection's place in its address's count.
#[derive(Debug)]
struct PeerGuard {
    counts: Arc<PeerCounts>,
    ip: IpAddr,
}

impl Drop for PeerGuard {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_peer_counts_come_back() {
        let peers = Arc::new(PeerCounts::default());
        let ip: IpAddr = [127, 0, 0, 1].into();
        let a = peers.enter(ip, 2).unwrap();
        let _b = peers.enter(ip, 2).unwrap();
        assert!(peers.enter(ip, 2).is_none());
        drop(a);
        assert!(peers.enter(ip, 2).is_some());
        assert!(peers.enter([10, 0, 0, 1].into(), 2).is_some());
    }
}
