//! A client connection's idle deadline: with no request in progress (from its head to the last byte
//! of its answer), a connection must start one within the handshake timeout, or it is shut down
//! (HTTP/2: GOAWAY) and, if still open one timeout later, closed.
//!
//! hyper bounds an HTTP/1.1 request head (`header_read_timeout`) once it reads one, but nothing bounds
//! a connection before its first bytes (hyper-util reads them to tell HTTP/1.1 from HTTP/2, with no
//! timeout) nor an HTTP/2 connection between requests: a client that finished TLS and said nothing, or
//! sent the HTTP/2 preface and nothing more, held its connection for ever.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// What a connection is doing: requests in progress, and when the last one ended.
#[derive(Debug)]
pub(super) struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    /// A connection that starts now, idle.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        })
    }

    /// A request starts; it ends when the returned guard is dropped.
    pub(super) fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(self))
    }

    /// Count the idle time from now.
    pub(super) fn touch(&self) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// When the connection will have been idle for `after`; `None` while a request is in progress.
    pub(super) fn deadline(&self, after: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
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
        let after = Duration::from_secs(3);
        let first = activity.deadline(after).unwrap();
        let busy = activity.begin();
        let second = activity.begin();
        assert_eq!(activity.deadline(after), None);
        std::thread::sleep(Duration::from_millis(20));
        drop(busy);
        assert_eq!(activity.deadline(after), None, "one still in progress");
        drop(second);
        let later = activity.deadline(after).unwrap();
        assert!(
            later >= first + Duration::from_millis(20),
            "counted from the end"
        );
    }
}
