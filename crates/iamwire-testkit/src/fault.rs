//! A fault-injecting TCP relay: put it between any two parties of a test (client and proxy, proxy and
//! database, proxy and the AWS endpoint) and switch, while it runs, between forwarding, holding
//! connections without a word (an endpoint that accepts and never answers, or a path that drops
//! packets), closing them at once, resetting them, half-closing them, answering HTTP requests with an
//! error, and forwarding with a delay. It can also keep what the target sent (to learn, say, the
//! credentials an STS endpoint handed out) and cut every connection it holds (a database killed
//! mid-session).

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
    /// Accept, read and discard everything, never answer, never close; connections already forwarding
    /// drop whatever comes next (a silent endpoint, or a path that loses every packet).
    Blackhole,
    /// Accept and close at once (FIN): connections already forwarding end at their next bytes.
    Close,
    /// Accept and reset at once (RST), as a host whose port is closed or whose process died does.
    Reset,
    /// Forward towards the target, but end the stream back at once (FIN towards the client: it can
    /// still send, and sees end-of-file).
    HalfClose,
    /// Answer every HTTP request with this status and an AWS-style XML error body
    /// (`ServiceUnavailable`; `Throttling` for 400 and 429; `AccessDenied` for 403, an endpoint that
    /// refuses), then close: an AWS endpoint that errs.
    HttpError(u16),
    /// Forward, holding each chunk this long first.
    Delay(Duration),
}

/// A relay on `127.0.0.1:<random>` to a target address. Dropping it closes every connection it holds.
pub struct FaultRelay {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    target: Mutex<SocketAddr>,
    /// 0 forward, 1 blackhole, 2 close, 3 delay, 4 reset, 5 half-close, 6 HTTP error.
    mode: AtomicU64,
    /// The delay (ms) or the HTTP status.
    arg: AtomicU64,
    stop: AtomicBool,
    accepted: AtomicUsize,
    /// Every socket the relay holds (both ends of forwarding connections), with the side it faces.
    open: Mutex<Vec<(TcpStream, Facing)>>,
    /// What targets sent back, if recording.
    recorded: Option<Mutex<Vec<u8>>>,
}

/// Which party a socket of the relay talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Facing {
    Client,
    Target,
}

impl FaultRelay {
    /// A relay to `target`, starting in `fault` mode.
    ///
    /// # Errors
    /// If no local port can be bound.
    pub fn start(target: SocketAddr, fault: Fault) -> Result<Self> {
        Self::start_with(target, fault, false)
    }

    /// Like [`start`](Self::start), keeping every byte targets send back ([`recorded`](Self::recorded)).
    ///
    /// # Errors
    /// If no local port can be bound.
    pub fn recording(target: SocketAddr, fault: Fault) -> Result<Self> {
        Self::start_with(target, fault, true)
    }

    fn start_with(target: SocketAddr, fault: Fault, record: bool) -> Result<Self> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(RigError::io("binding the fault relay"))?;
        let addr = listener
            .local_addr()
            .map_err(RigError::io("reading the fault relay's address"))?;
        let shared = Arc::new(Shared {
            target: Mutex::new(target),
            mode: AtomicU64::new(0),
            arg: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            open: Mutex::new(Vec::new()),
            recorded: record.then(|| Mutex::new(Vec::new())),
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

    /// The relay's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port>`, for HTTP endpoints (STS, AWS APIs).
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Forward new connections to `target` from now on (a relay may be started before what it fronts,
    /// when the address clients use must be known first).
    pub fn retarget(&self, target: SocketAddr) {
        *self
            .shared
            .target
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = target;
    }

    /// Switch what happens to new connections (and, for forwarding connections, to their next bytes:
    /// `Blackhole` drops them, `Close` and `Reset` end the connection).
    pub fn set(&self, fault: Fault) {
        let (mode, arg) = match fault {
            Fault::Forward => (0, 0),
            Fault::Blackhole => (1, 0),
            Fault::Close => (2, 0),
            Fault::Delay(d) => (3, u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            Fault::Reset => (4, 0),
            Fault::HalfClose => (5, 0),
            Fault::HttpError(status) => (6, u64::from(status)),
        };
        self.shared.arg.store(arg, Ordering::SeqCst);
        self.shared.mode.store(mode, Ordering::SeqCst);
    }

    /// Reset (RST) every connection the relay holds now, both ways: the target died mid-session, or
    /// the network between dropped everything.
    pub fn reset_all(&self) {
        for (stream, _) in self.take_open() {
            abort(&stream);
        }
    }

    /// End the stream towards every client the relay holds now (FIN; they may still send, and the
    /// target still gets it).
    pub fn half_close_all(&self) {
        let open = self
            .shared
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (stream, facing) in open.iter() {
            if *facing == Facing::Client {
                let _ = stream.shutdown(Shutdown::Write);
            }
        }
    }

    /// How many connections the relay has accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Everything targets sent back so far (empty unless started with [`recording`](Self::recording)).
    pub fn recorded(&self) -> Vec<u8> {
        self.shared.recorded.as_ref().map_or_else(Vec::new, |r| {
            r.lock().unwrap_or_else(PoisonError::into_inner).clone()
        })
    }

    fn take_open(&self) -> Vec<(TcpStream, Facing)> {
        std::mem::take(
            &mut *self
                .shared
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl Drop for FaultRelay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for (stream, _) in self.take_open() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        // Wake the accept loop so it sees the stop flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Make `stream` end with a reset (RST) rather than a FIN: linger zero, then wake its readers without
/// sending anything (`shutdown(Read)`), so the relay's threads drop their handles and the last one
/// closes it abortively.
fn abort(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    let _ = stream.shutdown(Shutdown::Read);
}

/// Whether `stream` was marked to end with a reset.
fn aborted(stream: &TcpStream) -> bool {
    matches!(socket2::SockRef::from(stream).linger(), Ok(Some(d)) if d.is_zero())
}

/// [`abort`] `stream` and drop the relay's own handle on it.
fn reset(shared: &Shared, stream: &TcpStream) {
    abort(stream);
    let key = (stream.local_addr().ok(), stream.peer_addr().ok());
    shared
        .open
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|(s, _)| (s.local_addr().ok(), s.peer_addr().ok()) != key);
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = stream else { continue };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        track(shared, &client, Facing::Client);
        let shared = Arc::clone(shared);
        thread::spawn(move || handle(client, &shared));
    }
}

fn track(shared: &Shared, stream: &TcpStream, facing: Facing) {
    if let Ok(clone) = stream.try_clone() {
        let mut open = shared.open.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget sockets whose connections are over, so a long test does not pile them up.
        if open.len() > 256 {
            open.retain(|(s, _)| s.peer_addr().is_ok());
        }
        open.push((clone, facing));
    }
}

fn handle(client: TcpStream, shared: &Arc<Shared>) {
    match shared.mode.load(Ordering::SeqCst) {
        1 => discard(client),
        2 => {
            let _ = client.shutdown(Shutdown::Both);
        }
        4 => reset(shared, &client),
        6 => http_error(client, shared.arg.load(Ordering::SeqCst)),
        mode => {
            let target = *shared.target.lock().unwrap_or_else(PoisonError::into_inner);
            let Ok(upstream) = TcpStream::connect_timeout(&target, Duration::from_secs(10)) else {
                reset(shared, &client);
                return;
            };
            track(shared, &upstream, Facing::Target);
            let (Ok(client2), Ok(upstream2)) = (client.try_clone(), upstream.try_clone()) else {
                return;
            };
            if mode == 5 {
                let _ = client.shutdown(Shutdown::Write);
                thread::spawn(move || discard(upstream2));
                drop(client2);
                pump(client, upstream, shared, false);
                return;
            }
            let back = Arc::clone(shared);
            thread::spawn(move || pump(upstream2, client2, &back, true));
            pump(client, upstream, shared, false);
        }
    }
}

/// Read and drop everything until the peer goes away.
fn discard(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

/// Read one HTTP request head, answer it with `status` and an AWS-style error, and close.
fn http_error(mut stream: TcpStream, status: u64) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let (kind, code, reason) = match status {
        400 | 429 => ("Sender", "Throttling", "Rate exceeded"),
        403 => (
            "Sender",
            "AccessDenied",
            "User is not authorized to perform: sts:AssumeRole (fault relay)",
        ),
        _ => (
            "Receiver",
            "ServiceUnavailable",
            "Service is unavailable (fault relay)",
        ),
    };
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>{kind}</Type>\
         <Code>{code}</Code><Message>{reason}</Message></Error><RequestId>fault-relay</RequestId>\
         </ErrorResponse>"
    );
    let answer = format!(
        "HTTP/1.1 {status} Fault\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.shutdown(Shutdown::Both);
}

/// Copy `from` to `to` under the relay's current mode; `back` when `from` is the target.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared, back: bool) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Reset while this thread slept in `read` (`reset_all`): bytes that came before it woke must
        // not cross; dropping the sockets sends the resets.
        if aborted(&from) || aborted(&to) {
            return;
        }
        match shared.mode.load(Ordering::SeqCst) {
            1 => continue, // blackholed: swallow
            2 => break,
            4 => {
                reset(shared, &from);
                reset(shared, &to);
                return;
            }
            3 => thread::sleep(Duration::from_millis(shared.arg.load(Ordering::SeqCst))),
            _ => {}
        }
        if back && let Some(recorded) = &shared.recorded {
            recorded
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    if !aborted(&to) {
        let _ = to.shutdown(Shutdown::Write);
    }
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

    fn connect(addr: SocketAddr) -> TcpStream {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        s
    }

    fn roundtrip(addr: SocketAddr) -> Option<Vec<u8>> {
        let mut s = connect(addr);
        s.write_all(b"ping").ok()?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).ok()?;
        Some(buf.to_vec())
    }

    /// What reading `s` ends with: bytes, a clean end of file, a reset, or nothing in time.
    fn read_end(s: &mut TcpStream) -> std::io::Result<usize> {
        let mut buf = [0u8; 1024];
        s.read(&mut buf)
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

    #[test]
    fn reset_refuses_new_connections_and_cuts_open_ones() {
        let relay = FaultRelay::start(echo_server(), Fault::Forward).unwrap();
        let mut open = connect(relay.addr());
        open.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        open.read_exact(&mut buf).unwrap();
        relay.reset_all();
        let error = read_end(&mut open).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
        relay.set(Fault::Reset);
        let mut new = connect(relay.addr());
        // No write first: a write racing the reset would take the error, and the read then sees EOF.
        let ended = read_end(&mut new);
        assert!(
            matches!(&ended, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{ended:?}"
        );
    }

    /// `reset_all` in `Forward` mode: bytes sent right after it never cross (the relay's threads may
    /// not have seen the reset yet when they arrive), as they would not to a database that died.
    #[test]
    fn bytes_sent_right_after_a_reset_never_cross() {
        let relay = FaultRelay::start(echo_server(), Fault::Forward).unwrap();
        for round in 0..50 {
            let mut open = connect(relay.addr());
            open.write_all(b"ping").unwrap();
            let mut buf = [0u8; 4];
            open.read_exact(&mut buf).unwrap();
            relay.reset_all();
            // The write may be refused already; what matters is that no echo comes back.
            let _ = open.write_all(b"ping");
            let ended = read_end(&mut open);
            assert!(
                !matches!(ended, Ok(n) if n > 0),
                "round {round}: bytes crossed a reset connection"
            );
        }
    }

    #[test]
    fn half_close_ends_the_way_back_only() {
        let relay = FaultRelay::start(echo_server(), Fault::HalfClose).unwrap();
        let mut s = connect(relay.addr());
        assert_eq!(read_end(&mut s).unwrap(), 0, "end of file at once");
        // The way there still works: writing is accepted.
        s.write_all(b"still here").unwrap();
        relay.set(Fault::Forward);
        let mut open = connect(relay.addr());
        open.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        open.read_exact(&mut buf).unwrap();
        relay.half_close_all();
        assert_eq!(read_end(&mut open).unwrap(), 0);
    }

    /// What the relay answers an HTTP request with.
    fn http_answer(relay: &FaultRelay) -> String {
        let mut s = connect(relay.addr());
        s.write_all(b"POST / HTTP/1.1\r\nHost: sts\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn http_errors_answer_with_an_aws_error_and_recording_keeps_what_came_back() {
        let relay = FaultRelay::recording(echo_server(), Fault::HttpError(503)).unwrap();
        let answer = http_answer(&relay);
        assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
        assert!(
            answer.contains("<Code>ServiceUnavailable</Code>"),
            "{answer}"
        );
        assert!(relay.recorded().is_empty());
        relay.set(Fault::Forward);
        assert_eq!(roundtrip(relay.addr()).as_deref(), Some(&b"ping"[..]));
        assert_eq!(relay.recorded(), b"ping");
    }

    #[test]
    fn a_refusing_endpoint_answers_403_access_denied() {
        let relay = FaultRelay::start(echo_server(), Fault::HttpError(403)).unwrap();
        let answer = http_answer(&relay);
        assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
        assert!(answer.contains("<Type>Sender</Type>"), "{answer}");
        assert!(answer.contains("<Code>AccessDenied</Code>"), "{answer}");
    }

    #[test]
    fn retarget_sends_new_connections_elsewhere() {
        let dead = TcpListener::bind("127.0.0.1:0").unwrap();
        let dead_addr = dead.local_addr().unwrap();
        drop(dead);
        let relay = FaultRelay::start(dead_addr, Fault::Forward).unwrap();
        assert_eq!(roundtrip(relay.addr()), None);
        relay.retarget(echo_server());
        assert_eq!(roundtrip(relay.addr()).as_deref(), Some(&b"ping"[..]));
    }
}
