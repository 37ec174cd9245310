//! Draining: a process's (or a proxy's) life as a value that sessions watch. [`Drain`] holds the stage —
//! serving, draining (listeners no longer accept; live sessions may finish), closing (the deadline passed:
//! every session tells its client in its protocol and ends) — and counts the live sessions, so whoever
//! shuts down can wait for them. Listeners stop independently of it: a listener replaced by a
//! configuration reload stops accepting while its sessions live on under the process's drain.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

/// Where a proxy is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Accepting and serving.
    Serving,
    /// No longer accepting; live sessions may finish.
    Draining,
    /// The drain deadline has passed: every session ends now.
    Closing,
}

/// The drain every session of a process (or of one [`Proxy::serve`](crate::Proxy::serve)) watches.
/// Cheap to clone; clones share the stage and the count.
#[derive(Debug, Clone)]
pub struct Drain {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    stage: watch::Sender<Stage>,
    live: AtomicUsize,
    idle: Notify,
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    /// A drain in the serving stage, with no session.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                stage: watch::Sender::new(Stage::Serving),
                live: AtomicUsize::new(0),
                idle: Notify::new(),
            }),
        }
    }

    /// The stage now.
    pub fn stage(&self) -> Stage {
        *self.inner.stage.borrow()
    }

    /// How many sessions are live.
    pub fn live(&self) -> usize {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Move to `to` (never back).
    pub fn advance(&self, to: Stage) {
        self.inner.stage.send_if_modified(|now| {
            let moved = to > *now;
            if moved {
                *now = to;
            }
            moved
        });
    }

    /// Drain: sessions may go on for `deadline`, then are told to end, and get `grace` to do so.
    /// Returns when none is left, or after the grace (the rest end on their own soon after).
    pub async fn shutdown(&self, deadline: Duration, grace: Duration) {
        self.advance(Stage::Draining);
        let live = self.live();
        if live > 0 {
            tracing::info!(
                sessions = live,
                timeout_ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
                "draining"
            );
        }
        if tokio::time::timeout(deadline, self.idle()).await.is_err() {
            tracing::info!(
                sessions = self.live(),
                "drain deadline passed; ending the remaining sessions"
            );
        }
        self.advance(Stage::Closing);
        let _ = tokio::time::timeout(grace, self.idle()).await;
    }

    /// Resolves once no session is live.
    pub async fn idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            if self.live() == 0 {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn watch(&self) -> StageWatch {
        StageWatch(self.inner.stage.subscribe())
    }

    /// Count a session as live until the guard is dropped.
    pub(crate) fn track(&self) -> LiveGuard {
        self.inner.live.fetch_add(1, Ordering::AcqRel);
        LiveGuard(Arc::clone(&self.inner))
    }
}

/// One live session of a [`Drain`].
#[derive(Debug)]
pub(crate) struct LiveGuard(Arc<Inner>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Watches the stage.
#[derive(Debug, Clone)]
pub(crate) struct StageWatch(watch::Receiver<Stage>);

impl StageWatch {
    /// Resolves once the stage is at least `stage` (at once if it is already); never if the drain is
    /// dropped before.
    pub(crate) async fn reached(&mut self, stage: Stage) {
        if self.0.wait_for(|now| *now >= stage).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stages_only_move_forward() {
        let drain = Drain::new();
        let mut watch = drain.watch();
        assert_eq!(drain.stage(), Stage::Serving);
        drain.advance(Stage::Closing);
        drain.advance(Stage::Draining);
        assert_eq!(drain.stage(), Stage::Closing);
        watch.reached(Stage::Draining).await;
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_waits_for_sessions_then_closes_them() {
        let drain = Drain::new();
        let guard = drain.track();
        let mut watch = drain.watch();
        let session = tokio::spawn(async move {
            watch.reached(Stage::Closing).await;
            drop(guard);
        });
        drain
            .shutdown(Duration::from_secs(5), Duration::from_secs(1))
            .await;
        assert_eq!(drain.live(), 0);
        session.await.unwrap();
        let _ = drain.track();
        drain.idle().await;
    }
}
