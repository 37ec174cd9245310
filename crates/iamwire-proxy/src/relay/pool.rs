//! Relay buffers no direction is using right now, kept per thread for the next read: a direction
//! holds a buffer only while bytes are in flight, so idle connections cost no relay memory, and
//! taking one back is a thread-local pop (no lock, no allocation per message).

use std::cell::RefCell;

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
