//! Relay buffers no direction is using right now, kept per thread for the next read: a direction
//! holds a buffer only while bytes are in flight, so idle connections cost no relay memory, and
//! taking one back is a thread-local pop (no lock, no allocation per message).

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, ReadBuf};

use super::BUF_SIZE;

/// How many idle buffers each thread keeps for the next read (1 MiB at most per thread).
const SPARE_BUFFERS: usize = 64;

thread_local! {
    /// Buffers no direction is using right now, for the next read on this thread.
    static SPARE: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer from this thread's pool, or a new one.
pub(super) fn take_buffer() -> Box<[u8]> {
    SPARE
        .with(|s| s.borrow_mut().pop())
        .unwrap_or_else(|| vec![0; BUF_SIZE].into_boxed_slice())
}

/// Give a buffer back to this thread's pool (dropped if the pool is full).
pub(super) fn give_back(buf: Box<[u8]>) {
    SPARE.with(|s| {
        let mut spare = s.borrow_mut();
        if spare.len() < SPARE_BUFFERS {
            spare.push(buf);
        }
    });
}

/// Read what `reader` has for now (at most one relay buffer, 16 KiB) and append it to `dst`, reading
/// through a buffer of this thread's pool rather than into `dst`'s own spare capacity: for relays that
/// keep their bytes in a `BytesMut` of their own (a message-aware relay that parses them), so that
/// while a connection waits for its next bytes it need hold no read buffer at all — drop `dst`'s
/// allocation whenever it is empty ([`release_if_empty`]) and the wait costs nothing. `Ok(0)` at the
/// end of the stream. The extra copy is of the bytes read, once.
pub fn poll_read_pooled<R: AsyncRead + ?Sized>(
    reader: Pin<&mut R>,
    cx: &mut Context<'_>,
    dst: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    let mut buf = take_buffer();
    let mut read = ReadBuf::new(&mut buf);
    let polled = match reader.poll_read(cx, &mut read) {
        Poll::Ready(Ok(())) => {
            dst.extend_from_slice(read.filled());
            Poll::Ready(Ok(read.filled().len()))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    };
    give_back(buf);
    polled
}

/// Free `buf`'s allocation if it holds no bytes (an idle connection then keeps no buffer; the next
/// bytes allocate just what they need).
pub fn release_if_empty(buf: &mut BytesMut) {
    if buf.is_empty() && buf.capacity() > 0 {
        *buf = BytesMut::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pooled_reads_append_and_an_empty_buffer_is_released() {
        use tokio::io::AsyncWriteExt;
        let (mut writer, mut reader) = tokio::io::duplex(64);
        let mut dst = BytesMut::new();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(poll_read_pooled(Pin::new(&mut reader), &mut cx, &mut dst).is_pending());
        assert_eq!(dst.capacity(), 0, "a wait allocated a buffer");
        writer.write_all(b"abc").await.unwrap();
        let n = poll_read_pooled(Pin::new(&mut reader), &mut cx, &mut dst);
        assert!(matches!(n, Poll::Ready(Ok(3))));
        writer.write_all(b"de").await.unwrap();
        let n = poll_read_pooled(Pin::new(&mut reader), &mut cx, &mut dst);
        assert!(matches!(n, Poll::Ready(Ok(2))));
        assert_eq!(&dst[..], b"abcde");
        release_if_empty(&mut dst);
        assert_eq!(&dst[..], b"abcde", "released bytes still in use");
        dst.clear();
        release_if_empty(&mut dst);
        assert_eq!(dst.capacity(), 0);
        drop(writer);
        let n = poll_read_pooled(Pin::new(&mut reader), &mut cx, &mut dst);
        assert!(matches!(n, Poll::Ready(Ok(0))));
    }
}
