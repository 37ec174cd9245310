//! A client connection's idle deadline: with no request in progress (from its head to the last byte
//! of its answer), a connection must start its first request within the handshake timeout, and each
//! later one within the keep-alive idle timeout. One that never started a request is then closed; one
//! that did is shut down (HTTP/2: GOAWAY) and, if still open one handshake timeout later, closed.
//!
//! hyper bounds an HTTP/1.1 request head (`header_read_timeout`) from the moment it waits for one, but
//! nothing bounds a connection before its first bytes (hyper-util reads them to tell HTTP/1.1 from
//! HTTP/2, with no timeout) nor an HTTP/2 connection between requests: a client that finished TLS and
//! said nothing, or sent the HTTP/2 preface and nothing more, held its connection for ever.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// What a connection is doing: requests in progress, whether it has had one, and when the last one
/// ended.
#[derive(Debug)]
pub(super) struct Activity {
    in_flight: AtomicUsize,
    served: AtomicBool,
    last: Mutex<Instant>,
}

impl Activity {
    /// A connection that starts now, idle.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            last: Mutex::new(Instant::now()),
        })
    }

    /// A request starts; it ends when the returned guard is dropped.
    pub(super) fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.served.store(true, Ordering::Release);
        Busy(Arc::clone(self))
    }

    /// Whether a request has started on the connection.
    pub(super) fn served(&self) -> bool {
        self.served.load(Ordering::Acquire)
    }

    /// Count the idle time from now.
    pub(super) fn touch(&self) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// When the connection will have been idle too long — `first` after it started if it has had no
    /// request yet, else `between` after the last one ended; `None` while a request is in progress.
    pub(super) fn deadline(&self, first: Duration, between: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let after = if self.served.load(Ordering::Acquire) {
            between
        } else {
            first
        };
        Some(*self.last.lock().unwrap_or_else(PoisonError::into_inner) + after)
    }
}

/// A request in progress (see [`Activity::begin`]); an answer's body holds it until it has been sent
/// ([`Held`](crate::body::Held)).
#[derive(Debug)]
pub(super) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_only_without_a_request_in_progress() {
        let activity = Activity::new();
        let (after, between) = (Duration::from_secs(3), Duration::from_secs(60));
        let first = activity.deadline(after, between).unwrap();
        let busy = activity.begin();
        let second = activity.begin();
        assert_eq!(activity.deadline(after, between), None);
        std::thread::sleep(Duration::from_millis(20));
        drop(busy);
        assert_eq!(
            activity.deadline(after, between),
            None,
            "one still in progress"
        );
        drop(second);
        let later = activity.deadline(after, between).unwrap();
        assert!(
            later >= first + Duration::from_millis(20) + (between - after),
            "counted from the end, with the keep-alive idle timeout"
        );
    }
}
