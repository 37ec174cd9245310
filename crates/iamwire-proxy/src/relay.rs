//! The byte relay after the handshake, and [`Framing`]: how the relay knows where the database's
//! messages end, so that when a session must end (drain deadline, operator) the client's last message
//! is whole before the protocol's goodbye is written.
//!
//! Each direction has one buffer; a chunk read is written in full before the next read, and the writer
//! is flushed whenever the reader has nothing more for now (one TLS record per burst, not per read).
//! Byte counts go to the session's atomics; nothing else happens on the byte path.
//!
//! A direction holds its buffer only while bytes are in flight: when its reader has nothing for now
//! and everything read was written, the buffer goes back to a small per-thread pool (no lock, no
//! allocation per message) and the next read takes one from there. An idle connection holds no relay
//! buffer at all.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::conn::{ClientConn, ClientStream, UpstreamConn};
use crate::registry::SessionInfo;

mod pool;
use pool::{give_back, take_buffer};
pub use pool::{poll_read_pooled, release_if_empty};

/// Size of each direction's buffer.
const BUF_SIZE: usize = 16 * 1024;

/// Where messages end in the database-to-client byte stream.
pub trait Framing: Send {
    /// Account for `bytes` passing to the client.
    fn advance(&mut self, bytes: &[u8]);

    /// How many leading bytes of `next` (the bytes that come next) finish the message in progress:
    /// `Some(0)` between messages, `None` if `next` ends inside it.
    fn rest_of_message(&self, next: &[u8]) -> Option<usize>;
}

/// Looks at the client-to-database byte stream as it passes, for a message the database must never
/// see (a second login, say): the relay passes the bytes before it and then stops as if the stop
/// signal had fired ([`relay_bytes_guarded`]).
pub trait ClientGuard: Send {
    /// Account for `bytes` from the client; `Some(n)`: only the first `n` may pass, and the relay stops.
    fn check(&mut self, bytes: &[u8]) -> Option<usize>;
}

/// The byte order of a length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Most significant byte first.
    Big,
    /// Least significant byte first.
    Little,
}

/// Framing for protocols whose messages carry their length in a fixed-size header: Postgres (tag byte,
/// then a 4-byte big-endian length that counts itself), MySQL (3-byte little-endian payload length, then
/// a sequence byte), MongoDB (4-byte little-endian length of the whole message), CQL (9-byte header with
/// a 4-byte big-endian body length).
#[derive(Debug, Clone)]
pub struct LengthPrefixed {
    header_len: usize,
    length_at: usize,
    length_width: usize,
    endian: Endian,
    /// Added to the length field to get the whole message's size.
    adjust: i64,
    header: [u8; 16],
    have: usize,
    rest: u64,
}

impl LengthPrefixed {
    /// Messages with a `header_len`-byte header holding a `length_width`-byte length at `length_at`; the
    /// whole message is `length + adjust` bytes long (at least the header).
    ///
    /// # Panics
    /// Never for headers up to 16 bytes and widths up to 8; larger values are clamped.
    pub fn new(
        header_len: usize,
        length_at: usize,
        length_width: usize,
        endian: Endian,
        adjust: i64,
    ) -> Self {
        let header_len = header_len.clamp(1, 16);
        let length_width = length_width.clamp(1, 8);
        Self {
            header_len,
            length_at: length_at.min(header_len.saturating_sub(length_width)),
            length_width,
            endian,
            adjust,
            header: [0; 16],
            have: 0,
            rest: 0,
        }
    }

    /// Postgres backend messages: `tag`, `int32 length` counting itself.
    pub fn postgres() -> Self {
        Self::new(5, 1, 4, Endian::Big, 1)
    }

    fn message_len(&self, header: &[u8]) -> u64 {
        let field = &header[self.length_at..self.length_at + self.length_width];
        let mut value: u64 = 0;
        match self.endian {
            Endian::Big => field
                .iter()
                .for_each(|b| value = (value << 8) | u64::from(*b)),
            Endian::Little => field
                .iter()
                .rev()
                .for_each(|b| value = (value << 8) | u64::from(*b)),
        }
        let total = i128::from(value) + i128::from(self.adjust);
        // A nonsense length still moves forward by at least the header; the protocol's own decoder is
        // where it is refused.
        u64::try_from(total.max(self.header_len as i128)).unwrap_or(u64::MAX)
    }

    /// Run `bytes` through a copy of the state; returns the state after, and the offset just past the
    /// first message end reached (if any).
    fn scan(&self, bytes: &[u8], stop_at_first: bool) -> (Scan, Option<usize>) {
        let mut s = Scan {
            header: self.header,
            have: self.have,
            rest: self.rest,
        };
        if stop_at_first && s.have == 0 && s.rest == 0 {
            return (s, Some(0));
        }
        let mut i = 0;
        while i < bytes.len() {
            if s.rest > 0 {
                let take = usize::try_from(s.rest)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - i);
                i += take;
                s.rest -= take as u64;
                if s.rest == 0 && stop_at_first {
                    return (s, Some(i));
                }
                continue;
            }
            let take = (self.header_len - s.have).min(bytes.len() - i);
            s.header[s.have..s.have + take].copy_from_slice(&bytes[i..i + take]);
            s.have += take;
            i += take;
            if s.have == self.header_len {
                let total = self.message_len(&s.header[..self.header_len]);
                s.rest = total - self.header_len as u64;
                s.have = 0;
                if s.rest == 0 && stop_at_first {
                    return (s, Some(i));
                }
            }
        }
        (s, None)
    }
}

struct Scan {
    header: [u8; 16],
    have: usize,
    rest: u64,
}

impl Framing for LengthPrefixed {
    fn advance(&mut self, bytes: &[u8]) {
        let (s, _) = self.scan(bytes, false);
        self.header = s.header;
        self.have = s.have;
        self.rest = s.rest;
    }

    fn rest_of_message(&self, next: &[u8]) -> Option<usize> {
        self.scan(next, true).1
    }
}

/// What ends a relay early (drain deadline, operator), and how long the database may take to finish
/// the message in progress after it fires.
pub struct StopSignal<'a> {
    fired: Pin<&'a mut (dyn Future<Output = ()> + Send + 'a)>,
    grace: Duration,
}

impl<'a> StopSignal<'a> {
    /// A signal that fires when `fired` resolves.
    pub fn new(fired: Pin<&'a mut (dyn Future<Output = ()> + Send + 'a)>, grace: Duration) -> Self {
        Self { fired, grace }
    }

    /// Whether it has fired (polls the signal once).
    pub fn poll_fired(&mut self, cx: &mut Context<'_>) -> bool {
        self.fired.as_mut().poll(cx).is_ready()
    }

    /// How long the database may take to finish its message in progress once the signal fired.
    pub fn grace(&self) -> Duration {
        self.grace
    }
}

impl std::fmt::Debug for StopSignal<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopSignal")
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

/// How a relay ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum RelayEnd {
    /// Both sides closed (or one closed and the other followed).
    Closed,
    /// An I/O error on the client's side.
    ClientError(io::Error),
    /// An I/O error on the database's side.
    UpstreamError(io::Error),
    /// The stop signal fired; the client's stream is between messages (or the grace ran out).
    Stopped(ClientStream),
}

/// One direction: a buffer, what is in it, and whether the reader is done.
struct Pipe {
    /// Held only while bytes are in flight (see the module's notes).
    buf: Option<Box<[u8]>>,
    start: usize,
    end: usize,
    read_done: bool,
    need_flush: bool,
    shut_down: bool,
}

impl Pipe {
    fn new() -> Self {
        Self {
            buf: None,
            start: 0,
            end: 0,
            read_done: false,
            need_flush: false,
            shut_down: false,
        }
    }

    fn is_done(&self) -> bool {
        self.shut_down
    }

    /// Copy from `reader` to `writer` until the reader ends (Ready) or nothing can move (Pending).
    /// `on_read` sees every chunk read and may cut it short (returns how much of it to pass on, and
    /// whether to stop reading after that).
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut reader: Pin<&mut R>,
        mut writer: Pin<&mut W>,
        on_read: &mut dyn FnMut(&[u8]) -> (usize, bool),
    ) -> Poll<Result<(), Side>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            if self.start == self.end && !self.read_done {
                let buf = self.buf.get_or_insert_with(take_buffer);
                let mut read = ReadBuf::new(buf);
                match reader.as_mut().poll_read(cx, &mut read) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Side::Read(e))),
                    Poll::Pending => {
                        // Nothing read, everything written: the buffer is free until the next read.
                        if let Some(buf) = self.buf.take() {
                            give_back(buf);
                        }
                        if self.need_flush {
                            ready!(writer.as_mut().poll_flush(cx)).map_err(Side::Write)?;
                            self.need_flush = false;
                        }
                        return Poll::Pending;
                    }
                }
                let n = read.filled().len();
                if n == 0 {
                    self.read_done = true;
                } else {
                    let (pass, stop) = on_read(&buf[..n]);
                    self.start = 0;
                    self.end = pass.min(n);
                    self.read_done = stop;
                }
            }
            while self.start < self.end {
                let Some(buf) = self.buf.as_deref() else {
                    // Bytes in flight always have their buffer; never reached.
                    self.start = self.end;
                    break;
                };
                let n = ready!(writer.as_mut().poll_write(cx, &buf[self.start..self.end]))
                    .map_err(Side::Write)?;
                if n == 0 {
                    return Poll::Ready(Err(Side::Write(io::ErrorKind::WriteZero.into())));
                }
                self.start += n;
                self.need_flush = true;
            }
            if self.read_done {
                if let Some(buf) = self.buf.take() {
                    give_back(buf);
                }
                if self.need_flush {
                    ready!(writer.as_mut().poll_flush(cx)).map_err(Side::Write)?;
                    self.need_flush = false;
                }
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            give_back(buf);
        }
    }
}

/// Which end of a pipe failed.
enum Side {
    Read(io::Error),
    Write(io::Error),
}

/// Relay between `client` and `upstream` until both are done, one fails, or `stop` fires. Bytes each
/// side sent early (still in the connections' buffers) go first. After `stop`, the database-to-client
/// direction runs on until `framing` says a message ended (at most the signal's grace), then the relay
/// returns the client's stream so the caller can say goodbye. Bytes are counted in `session`.
pub async fn relay_bytes(
    client: ClientConn,
    upstream: UpstreamConn,
    framing: Option<Box<dyn Framing>>,
    session: &SessionInfo,
    stop: StopSignal<'_>,
) -> RelayEnd {
    relay_bytes_guarded(client, upstream, framing, None, session, stop).await
}

/// [`relay_bytes`], with `guard` watching the client's bytes: when it stops them, the relay ends as
/// when `stop` fires — the database finishes its message in progress and the client's stream comes
/// back ([`RelayEnd::Stopped`]), for the caller to say why (the guard knows it was the one).
pub async fn relay_bytes_guarded(
    client: ClientConn,
    upstream: UpstreamConn,
    mut framing: Option<Box<dyn Framing>>,
    mut guard: Option<&mut dyn ClientGuard>,
    session: &SessionInfo,
    stop: StopSignal<'_>,
) -> RelayEnd {
    let (bytes_up, bytes_down) = (&session.bytes_up, &session.bytes_down);
    let grace = stop.grace;
    let (mut client, client_early) = client.into_parts();
    let (mut upstream, upstream_early) = upstream.into_parts();
    // The client's early bytes pass the guard too.
    let early_pass = guard
        .as_deref_mut()
        .and_then(|g| g.check(&client_early))
        .map_or(client_early.len(), |n| n.min(client_early.len()));
    let refused_early = early_pass < client_early.len();
    if early_pass > 0 {
        if let Err(e) = write_flush(&mut *upstream, &client_early[..early_pass]).await {
            return RelayEnd::UpstreamError(e);
        }
        bytes_up.fetch_add(early_pass as u64, Ordering::Relaxed);
    }
    if !upstream_early.is_empty() {
        if let Some(f) = framing.as_mut() {
            f.advance(&upstream_early);
        }
        if let Err(e) = write_flush(&mut client, &upstream_early).await {
            return RelayEnd::ClientError(e);
        }
        bytes_down.fetch_add(upstream_early.len() as u64, Ordering::Relaxed);
    }

    let mut up = Pipe::new();
    let mut down = Pipe::new();
    let mut stop = stop;
    let mut stopping = refused_early;
    let mut grace_timer: Option<Pin<Box<tokio::time::Sleep>>> =
        refused_early.then(|| Box::pin(tokio::time::sleep(grace)));
    up.read_done = refused_early;
    if refused_early && framing.is_none() {
        return RelayEnd::Stopped(client);
    }
    let end = std::future::poll_fn(|cx| {
        if !stopping && stop.poll_fired(cx) {
            stopping = true;
            grace_timer = Some(Box::pin(tokio::time::sleep(grace)));
            // Nothing more from the client; the database finishes its message in progress.
            up.read_done = true;
            up.start = up.end;
            if framing.is_none() {
                return Poll::Ready(None);
            }
        }
        if let Some(timer) = grace_timer.as_mut()
            && timer.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(None);
        }
        if !up.is_done() {
            let mut refused = false;
            let mut count = |chunk: &[u8]| {
                let pass = match guard.as_deref_mut().and_then(|g| g.check(chunk)) {
                    Some(pass) => {
                        refused = true;
                        pass.min(chunk.len())
                    }
                    None => chunk.len(),
                };
                bytes_up.fetch_add(pass as u64, Ordering::Relaxed);
                (pass, refused)
            };
            let copied = up.poll_copy(
                cx,
                Pin::new(&mut client),
                Pin::new(&mut *upstream),
                &mut count,
            );
            if refused && !stopping {
                // As if the stop signal fired: the client's bytes end here, the database's message
                // in progress goes on to the client.
                stopping = true;
                grace_timer = Some(Box::pin(tokio::time::sleep(grace)));
                if framing.is_none() {
                    return Poll::Ready(None);
                }
            }
            match copied {
                Poll::Ready(Ok(())) => {
                    if !stopping {
                        // The client is done sending: pass the half-close on.
                        match Pin::new(&mut *upstream).poll_shutdown(cx) {
                            Poll::Ready(_) => up.shut_down = true,
                            Poll::Pending => return Poll::Pending,
                        }
                    } else {
                        up.shut_down = true;
                    }
                }
                Poll::Ready(Err(Side::Read(e))) => {
                    return Poll::Ready(Some(RelayEnd::ClientError(e)));
                }
                Poll::Ready(Err(Side::Write(e))) => {
                    return Poll::Ready(Some(RelayEnd::UpstreamError(e)));
                }
                Poll::Pending => {}
            }
        }
        if !down.is_done() {
            let framing = &mut framing;
            let mut watch = |chunk: &[u8]| {
                let (pass, stop_after) = match framing.as_mut() {
                    Some(f) if stopping => match f.rest_of_message(chunk) {
                        Some(end) => (end, true),
                        None => (chunk.len(), false),
                    },
                    _ => (chunk.len(), false),
                };
                if let Some(f) = framing.as_mut() {
                    f.advance(&chunk[..pass]);
                }
                bytes_down.fetch_add(pass as u64, Ordering::Relaxed);
                (pass, stop_after)
            };
            match down.poll_copy(
                cx,
                Pin::new(&mut *upstream),
                Pin::new(&mut client),
                &mut watch,
            ) {
                Poll::Ready(Ok(())) => {
                    if stopping {
                        return Poll::Ready(None);
                    }
                    match Pin::new(&mut client).poll_shutdown(cx) {
                        Poll::Ready(_) => down.shut_down = true,
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Poll::Ready(Err(Side::Read(e))) => {
                    return Poll::Ready(Some(RelayEnd::UpstreamError(e)));
                }
                Poll::Ready(Err(Side::Write(e))) => {
                    return Poll::Ready(Some(RelayEnd::ClientError(e)));
                }
                Poll::Pending => {}
            }
        }
        if up.is_done() && down.is_done() {
            return Poll::Ready(Some(RelayEnd::Closed));
        }
        let between = down.start == down.end
            && framing
                .as_ref()
                .is_none_or(|f| f.rest_of_message(&[]) == Some(0));
        if stopping && between {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await;
    match end {
        Some(end) => end,
        None => RelayEnd::Stopped(client),
    }
}

async fn write_flush<W: AsyncWrite + Unpin + ?Sized>(w: &mut W, bytes: &[u8]) -> io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn length_prefixed_finds_ends_across_any_split() {
        let mut stream = pg(b'D', &[7; 300]);
        stream.extend(pg(b'C', b"SELECT 1\0"));
        stream.extend(pg(b'Z', b"I"));
        let ends = [0usize, 305, 305 + 14, 305 + 14 + 6];
        for split in 0..=stream.len() {
            let mut f = LengthPrefixed::postgres();
            let (a, b) = stream.split_at(split);
            f.advance(a);
            let expect = ends.iter().find(|e| **e >= split).map(|e| e - split);
            assert_eq!(f.rest_of_message(b), expect, "split at {split}");
        }
        let mut f = LengthPrefixed::postgres();
        f.advance(&stream);
        assert_eq!(f.rest_of_message(&[]), Some(0));
    }

    #[tokio::test]
    async fn a_direction_holds_its_buffer_only_while_bytes_are_in_flight() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, mut reader) = tokio::io::duplex(64);
        let (mut writer, mut sink) = tokio::io::duplex(16);
        client.write_all(b"hello").await.unwrap();
        let mut pipe = Pipe::new();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut pass = |c: &[u8]| (c.len(), false);
        let polled = pipe.poll_copy(
            &mut cx,
            Pin::new(&mut reader),
            Pin::new(&mut writer),
            &mut pass,
        );
        assert!(polled.is_pending());
        assert!(pipe.buf.is_none(), "idle with a buffer");
        let mut got = [0u8; 5];
        sink.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        // A writer that cannot take the bytes: the buffer stays with them until they are written.
        client.write_all(&[7; 64]).await.unwrap();
        drop(client);
        assert!(
            pipe.poll_copy(
                &mut cx,
                Pin::new(&mut reader),
                Pin::new(&mut writer),
                &mut pass
            )
            .is_pending()
        );
        assert!(pipe.buf.is_some(), "bytes in flight without their buffer");
        let mut rest = vec![0u8; 64];
        let copied = async {
            std::future::poll_fn(|cx| {
                pipe.poll_copy(cx, Pin::new(&mut reader), Pin::new(&mut writer), &mut pass)
            })
            .await
        };
        let (done, read) = tokio::join!(copied, sink.read_exact(&mut rest));
        assert!(done.is_ok() && read.is_ok());
        assert_eq!(rest, [7; 64]);
        assert!(pipe.buf.is_none(), "a finished direction kept its buffer");
    }

    #[test]
    fn nonsense_lengths_still_move_forward() {
        let mut f = LengthPrefixed::postgres();
        // A length of 0 would be -1 bytes long: counted as just its header.
        f.advance(&[b'X', 0, 0, 0, 0]);
        assert_eq!(f.rest_of_message(&[]), Some(0));
        let mut f = LengthPrefixed::new(4, 0, 3, Endian::Little, 4);
        f.advance(&[0xff, 0xff, 0xff, 0]);
        assert_eq!(f.rest_of_message(&[0; 10]), None);
    }
}
