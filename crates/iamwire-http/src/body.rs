//! Request and response bodies, never held whole.
//!
//! A request body either streams straight through ([`Checked`]: counted against the cap and hashed on the
//! way, checked against the hash the client declared in `x-amz-content-sha256` when it ends), or, when
//! the client declared no hash and SigV4 needs one before the first byte goes upstream, is spooled
//! ([`spool`]): hashed while it is read, kept in memory up to a small bound and in an unnamed temporary
//! file past it, then streamed from there. Either way a body over the cap is refused as soon as the
//! cap is crossed.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncSeekExt, AsyncWriteExt, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;

use crate::HttpError;

/// A boxed error, as bodies carry them.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response the proxy sends.
pub type ProxyBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A whole, small body (error answers).
pub(crate) fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// Lowercase hex of a SHA-256 digest.
pub(crate) fn hex(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// Why a streamed body stopped: kept for the request's error answer, since the upstream client only
/// reports that the body failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFault {
    /// The body crossed the cap.
    TooLarge(u64),
    /// The body does not hash to the declared value.
    Mismatch,
    /// The client's side failed.
    Client,
}

/// Where a [`Checked`] body leaves its fault.
pub(crate) type FaultSlot = Arc<Mutex<Option<BodyFault>>>;

/// A client body streamed through: counted against `limit`, hashed, checked against `expected` at its end.
pub(crate) struct Checked<B> {
    inner: B,
    limit: u64,
    seen: u64,
    hasher: Sha256,
    expected: String,
    fault: FaultSlot,
}

impl<B> Checked<B> {
    pub(crate) fn new(inner: B, limit: u64, expected: String, fault: FaultSlot) -> Self {
        Self {
            inner,
            limit,
            seen: 0,
            hasher: Sha256::new(),
            expected,
            fault,
        }
    }

    fn fail(&self, fault: BodyFault) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) = Some(fault);
        Poll::Ready(Some(Err(format!("request body refused: {fault:?}").into())))
    }
}

impl<B> Body for Checked<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.seen = this.seen.saturating_add(data.len() as u64);
                    if this.seen > this.limit {
                        return this.fail(BodyFault::TooLarge(this.limit));
                    }
                    this.hasher.update(data);
                }
                // Trailers are the client's to its own signature; they do not go upstream.
                match frame.into_data() {
                    Ok(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                    Err(_) => Poll::Ready(Some(Ok(Frame::data(Bytes::new())))),
                }
            }
            Some(Err(_)) => this.fail(BodyFault::Client),
            None => {
                let digest = hex(&std::mem::take(&mut this.hasher).finalize());
                if digest == this.expected {
                    Poll::Ready(None)
                } else {
                    this.fail(BodyFault::Mismatch)
                }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A body read to its end before it goes upstream: its length and hash, and where it is kept.
pub(crate) struct Spooled {
    pub(crate) len: u64,
    pub(crate) sha256: String,
    kept: Kept,
}

enum Kept {
    Memory(VecDeque<Bytes>),
    File(tokio::fs::File),
}

/// Read `body` to its end: hashed, at most `limit` bytes (refused as soon as it crosses them), in memory up
/// to `in_memory` bytes and past that in an unnamed temporary file in `dir`.
pub(crate) async fn spool<B>(
    mut body: B,
    limit: u64,
    in_memory: usize,
    dir: &Path,
) -> Result<Spooled, HttpError>
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let mut memory: VecDeque<Bytes> = VecDeque::new();
    let mut file: Option<tokio::fs::File> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| HttpError::ClientBody { source: e.into() })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        len = len.saturating_add(data.len() as u64);
        if len > limit {
            linger(body);
            return Err(HttpError::BodyTooLarge { limit });
        }
        hasher.update(&data);
        if let Some(file) = file.as_mut() {
            file.write_all(&data).await.map_err(internal)?;
        } else if len > in_memory as u64 {
            let mut std_file = tempfile::tempfile_in(dir).map_err(internal)?;
            for chunk in memory.drain(..) {
                std_file.write_all(&chunk).map_err(internal)?;
            }
            let mut opened = tokio::fs::File::from_std(std_file);
            opened.write_all(&data).await.map_err(internal)?;
            file = Some(opened);
        } else {
            memory.push_back(data);
        }
    }
    let kept = match file {
        Some(mut file) => {
            file.flush().await.map_err(internal)?;
            file.seek(io::SeekFrom::Start(0)).await.map_err(internal)?;
            Kept::File(file)
        }
        None => Kept::Memory(memory),
    };
    Ok(Spooled {
        len,
        sha256: hex(&hasher.finalize()),
        kept,
    })
}

/// How long, and how much more, a refused body is read and dropped before its connection closes.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);
const LINGER_BYTES: u64 = 64 << 20;

/// Keep reading (and dropping) what a client still sends after its request was refused, for a short
/// while: a connection closed with unread bytes is reset by the kernel, and the reset can destroy the
/// refusal before the client reads it (a lingering close, as web servers do).
fn linger<B>(mut body: B)
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    tokio::spawn(async move {
        let drained = async {
            let mut seen = 0u64;
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(data) = frame.data_ref() {
                    seen = seen.saturating_add(data.len() as u64);
                    if seen > LINGER_BYTES {
                        break;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drained).await;
    });
}

fn internal(e: io::Error) -> HttpError {
    HttpError::Internal {
        what: "spooling the request body",
        source: Box::new(e),
    }
}

/// How many bytes a spooled file is read in at a time.
const FILE_CHUNK: usize = 64 * 1024;

/// The body sent upstream.
pub(crate) enum Outgoing<B> {
    /// Streamed straight through from the client.
    Streamed(Checked<B>),
    /// From the spool: what is left of it.
    Spooled { spooled: Spooled, left: u64 },
}

impl<B> Outgoing<B> {
    pub(crate) fn spooled(spooled: Spooled) -> Self {
        let left = spooled.len;
        Self::Spooled { spooled, left }
    }
}

impl<B> Body for Outgoing<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut *self {
            Self::Streamed(checked) => Pin::new(checked).poll_frame(cx),
            Self::Spooled { spooled, left } => match &mut spooled.kept {
                Kept::Memory(chunks) => Poll::Ready(chunks.pop_front().map(|c| {
                    *left = left.saturating_sub(c.len() as u64);
                    Ok(Frame::data(c))
                })),
                Kept::File(file) => {
                    if *left == 0 {
                        return Poll::Ready(None);
                    }
                    let want = usize::try_from(*left).unwrap_or(FILE_CHUNK).min(FILE_CHUNK);
                    let mut chunk = vec![0u8; want];
                    let mut buf = ReadBuf::new(&mut chunk);
                    ready!(Pin::new(file).poll_read(cx, &mut buf))?;
                    let n = buf.filled().len();
                    if n == 0 {
                        return Poll::Ready(Some(Err(io::Error::from(
                            io::ErrorKind::UnexpectedEof,
                        )
                        .into())));
                    }
                    chunk.truncate(n);
                    *left -= n as u64;
                    Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            // The end must be polled: that is where the hash is checked.
            Self::Streamed(_) => false,
            Self::Spooled { left, .. } => *left == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Streamed(checked) => checked.size_hint(),
            Self::Spooled { left, .. } => SizeHint::with_exact(*left),
        }
    }
}

/// A response body holding a guard until it ends: the request's place among those in flight to the
/// database, or the request's place among those in progress on the client's connection.
pub(crate) struct Held<B, G = OwnedSemaphorePermit> {
    pub(crate) inner: B,
    pub(crate) _permit: Option<G>,
}

impl<B, G> Body for Held<B, G>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
    G: Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if frame.is_none() {
            self._permit = None;
        }
        Poll::Ready(frame.map(|f| f.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body of several frames.
    struct Chunks(VecDeque<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|c| Ok(Frame::data(c))))
        }
    }

    fn chunks(parts: &[&'static [u8]]) -> Chunks {
        Chunks(parts.iter().map(|p| Bytes::from_static(p)).collect())
    }

    fn sha(data: &[u8]) -> String {
        hex(&Sha256::digest(data))
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }

    #[tokio::test]
    async fn spooling_hashes_spills_to_disk_and_refuses_past_the_cap() {
        let dir = std::env::temp_dir();
        for in_memory in [0, 4, 1024] {
            let spooled = spool(chunks(&[b"abc", b"defg", b"h"]), 100, in_memory, &dir)
                .await
                .unwrap();
            assert_eq!(
                (spooled.len, spooled.sha256.as_str()),
                (8, sha(b"abcdefgh").as_str())
            );
            let out = Outgoing::<Chunks>::spooled(spooled);
            assert_eq!(out.size_hint().exact(), Some(8));
            let bytes = out.collect().await.unwrap().to_bytes();
            assert_eq!(&bytes[..], b"abcdefgh", "in_memory {in_memory}");
        }
        let refused = spool(chunks(&[b"abc", b"defg", b"h"]), 7, 4, &dir).await;
        assert!(matches!(refused, Err(HttpError::BodyTooLarge { limit: 7 })));
    }

    #[tokio::test]
    async fn streamed_bodies_are_checked_against_the_declared_hash() {
        let fault = FaultSlot::default();
        let ok = Checked::new(chunks(&[b"ab", b"c"]), 10, sha(b"abc"), fault.clone());
        assert_eq!(&ok.collect().await.unwrap().to_bytes()[..], b"abc");
        assert_eq!(*fault.lock().unwrap(), None);
        let wrong = Checked::new(chunks(&[b"ab", b"x"]), 10, sha(b"abc"), fault.clone());
        assert!(wrong.collect().await.is_err());
        assert_eq!(*fault.lock().unwrap(), Some(BodyFault::Mismatch));
        let big = Checked::new(chunks(&[b"ab", b"cd"]), 3, sha(b"abcd"), fault.clone());
        assert!(big.collect().await.is_err());
        assert_eq!(*fault.lock().unwrap(), Some(BodyFault::TooLarge(3)));
    }
}
