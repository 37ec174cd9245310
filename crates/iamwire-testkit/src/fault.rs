//! A fault-injecting TCP relay: put it between any two parties of a test (client and proxy, proxy and
//! database, proxy and the AWS endpoint) and switch, while it runs, between forwarding, holding
//! connections without a word (an endpoint that accepts and never answers), closing them at once, and
//! forwarding with a delay.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use crate::error::{Result, RigError};

/// What the relay does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward bytes both ways.
    Forward,
    /// Accept, read and discard everything, never answer, never close.
    Blackhole,
    /// Accept and close at once.
    Close,
    /// Forward, holding each chunk this long first.
    Delay(Duration),
}

/// A relay on `127.0.0.1:<random>` to a target address. Dropping it closes every connection it holds.
pub struct FaultRelay {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    target: SocketAddr,
    /// 0 forward, 1 blackhole, 2 close, 3 delay.
    mode: AtomicU64,
    delay_ms: AtomicU64,
    stop: AtomicBool,
    accepted: AtomicUsize,
    open: Mutex<Vec<TcpStream>>,
}

impl FaultRelay {
    /// A relay to `target`, starting in `fault` mode.
    ///
    /// # Errors
    /// If no local port can be bound.
    pub fn start(target: SocketAddr, fault: Fault) -> Result<Self> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(RigError::io("binding the fault relay"))?;
        let addr = listener
            .local_addr()
            .map_err(RigError::io("reading the fault relay's address"))?;
        let shared = Arc::new(Shared {
            target,
            mode: AtomicU64::new(0),
            delay_ms: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            open: Mutex::new(Vec::new()),
        });
        let relay = Self { addr, shared };
        relay.set(fault);
        let shared = Arc::clone(&relay.shared);
        thread::spawn(move || accept_loop(&listener, &shared));
        Ok(relay)
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, for HTTP endpoints (STS, AWS APIs).
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switch what happens to new connections (and, for forwarding connections, to their next bytes:
    /// `Blackhole` stops forwarding on them too).
    pub fn set(&self, fault: Fault) {
        let (mode, delay) = match fault {
            Fault::Forward => (0, 0),
            Fault::Blackhole => (1, 0),
            Fault::Close => (2, 0),
            Fault::Delay(d) => (3, u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        };
        self.shared.delay_ms.store(delay, Ordering::SeqCst);
        self.shared.mode.store(mode, Ordering::SeqCst);
    }

    /// How many connections the relay has accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for FaultRelay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for stream in self
            .shared
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            let _ = stream.shutdown(Shutdown::Both);
        }
        // Wake the accept loop so it sees the stop flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = stream else { continue };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        track(shared, &client);
        let shared = Arc::clone(shared);
        thread::spawn(move || handle(client, &shared));
    }
}

fn track(shared: &Shared, stream: &TcpStream) {
    if let Ok(clone) = stream.try_clone() {
        shared
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(clone);
    }
}

fn handle(client: TcpStream, shared: &Arc<Shared>) {
    match shared.mode.load(Ordering::SeqCst) {
        1 => discard(client),
        2 => {
            let _ = client.shutdown(Shutdown::Both);
        }
        _ => {
            let Ok(upstream) = TcpStream::connect_timeout(&shared.target, Duration::from_secs(10))
            else {
                let _ = client.shutdown(Shutdown::Both);
                return;
            };
            track(shared, &upstream);
            let (Ok(client2), Ok(upstream2)) = (client.try_clone(), upstream.try_clone()) else {
                return;
            };
            let back = Arc::clone(shared);
            thread::spawn(move || pump(upstream2, client2, &back));
            pump(client, upstream, shared);
        }
    }
}

/// Read and drop everything until the peer goes away.
fn discard(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

/// Copy `from` to `to` under the relay's current mode.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match shared.mode.load(Ordering::SeqCst) {
            1 => continue, // blackholed: swallow
            2 => break,
            3 => thread::sleep(Duration::from_millis(
                shared.delay_ms.load(Ordering::SeqCst),
            )),
            _ => {}
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn roundtrip(addr: SocketAddr) -> Option<Vec<u8>> {
        let mut s = TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
        s.write_all(b"ping").ok()?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).ok()?;
        Some(buf.to_vec())
    }

    #[test]
    fn modes_switch_while_running() {
        let relay = FaultRelay::start(echo_server(), Fault::Forward).unwrap();
        assert_eq!(roundtrip(relay.addr()).as_deref(), Some(&b"ping"[..]));
        relay.set(Fault::Blackhole);
        assert_eq!(roundtrip(relay.addr()), None);
        relay.set(Fault::Close);
        assert_eq!(roundtrip(relay.addr()), None);
        relay.set(Fault::Delay(Duration::from_millis(100)));
        assert_eq!(roundtrip(relay.addr()).as_deref(), Some(&b"ping"[..]));
        relay.set(Fault::Forward);
        assert_eq!(roundtrip(relay.addr()).as_deref(), Some(&b"ping"[..]));
        assert_eq!(relay.accepted(), 5);
    }
}
