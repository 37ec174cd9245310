//! Connections that have not sent a byte yet, oldest first: when a listener is full, the oldest one
//! that has been silent for at least [`floor`] is closed to make room for a new connection (a client
//! that speaks first sends its first bytes the moment it connects; one that has said nothing for
//! seconds while others queue behind it is idle, or an attack).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The most a connection must have been silent before it may be closed for a newcomer.
const MAX_FLOOR: Duration = Duration::from_secs(5);

/// How long a connection must have been silent before it may be closed for a newcomer: 5 s, or half
/// the handshake timeout if that is shorter (a slow client's first bytes can be late under load).
pub(crate) fn floor(handshake_timeout: Duration) -> Duration {
    MAX_FLOOR.min(handshake_timeout / 2)
}
/// At most one silent connection is closed per this interval while the listener waits for room.
const EVICT_EVERY: Duration = Duration::from_millis(10);

/// The silent connections of one listener, in accept order.
#[derive(Debug, Default)]
pub(crate) struct Silent {
    queue: Mutex<VecDeque<(u64, Instant, Arc<Notify>)>>,
    next: AtomicU64,
}

impl Silent {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(u64, Instant, Arc<Notify>)>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection accepted now joins the queue until its entry is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> SilentEntry {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let notify = Arc::new(Notify::new());
        self.lock()
            .push_back((id, Instant::now(), Arc::clone(&notify)));
        SilentEntry {
            silent: Arc::clone(self),
            id,
            notify,
        }
    }

    /// Close the oldest connection once it has been silent for `floor`, then the next, at most one per
    /// [`EVICT_EVERY`]; never returns (run it beside the wait for room).
    pub(crate) async fn evict_while_waiting(&self, floor: Duration) {
        loop {
            let oldest = self.lock().front().map(|(_, at, _)| *at);
            match oldest {
                Some(at) if at.elapsed() >= floor => {
                    if let Some((_, _, notify)) = self.lock().pop_front() {
                        notify.notify_one();
                    }
                    tokio::time::sleep(EVICT_EVERY).await;
                }
                Some(at) => tokio::time::sleep_until(at + floor).await,
                // Connections join only through the accept loop, which is waiting on this.
                None => std::future::pending::<()>().await,
            }
        }
    }
}

/// A connection's place in the silent queue; it leaves the queue when dropped.
#[derive(Debug)]
pub(crate) struct SilentEntry {
    silent: Arc<Silent>,
    id: u64,
    notify: Arc<Notify>,
}

impl SilentEntry {
    /// Resolves once the listener closes this connection to make room.
    pub(crate) async fn evicted(&self) {
        self.notify.notified().await;
    }
}

impl Drop for SilentEntry {
    fn drop(&mut self) {
        self.silent.lock().retain(|(id, _, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_five_seconds_or_half_the_handshake_timeout() {
        assert_eq!(floor(Duration::from_secs(30)), Duration::from_secs(5));
        assert_eq!(floor(Duration::from_secs(3)), Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn the_oldest_silent_connection_goes_first_and_only_after_the_floor() {
        let silent = Arc::new(Silent::default());
        let first = silent.enter();
        tokio::time::advance(Duration::from_millis(300)).await;
        let second = silent.enter();
        let spoke = silent.enter();
        drop(spoke);
        let started = Instant::now();
        let evicting = silent.evict_while_waiting(floor(Duration::from_secs(2)));
        tokio::pin!(evicting);
        tokio::select! {
            () = &mut evicting => unreachable!(),
            () = first.evicted() => {}
        }
        assert!(started.elapsed() >= Duration::from_millis(700));
        tokio::select! {
            () = &mut evicting => unreachable!(),
            () = second.evicted() => {}
        }
        assert!(Instant::now().duration_since(started) >= Duration::from_millis(1000));
        assert!(silent.lock().is_empty());
    }
}
