//! Draining: the proxy's life as a value that sessions watch. On shutdown the listener stops accepting
//! (the stage is [`Stage::Draining`]), sessions go on until the deadline, then ([`Stage::Closing`]) each
//! remaining one tells its client in its protocol and closes.

use tokio::sync::watch;

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

/// Moves the stage forward (never back).
#[derive(Debug)]
pub(crate) struct StageSender(watch::Sender<Stage>);

/// Watches the stage.
#[derive(Debug, Clone)]
pub(crate) struct StageWatch(watch::Receiver<Stage>);

pub(crate) fn stage() -> (StageSender, StageWatch) {
    let (tx, rx) = watch::channel(Stage::Serving);
    (StageSender(tx), StageWatch(rx))
}

impl StageSender {
    pub(crate) fn advance(&self, to: Stage) {
        self.0.send_if_modified(|now| {
            let moved = to > *now;
            if moved {
                *now = to;
            }
            moved
        });
    }
}

impl StageWatch {
    /// The stage now.
    #[cfg(test)]
    pub(crate) fn now(&self) -> Stage {
        *self.0.borrow()
    }

    /// Resolves once the stage is at least `stage` (at once if it is already); never if the proxy is
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
        let (tx, mut rx) = stage();
        assert_eq!(rx.now(), Stage::Serving);
        tx.advance(Stage::Closing);
        tx.advance(Stage::Draining);
        assert_eq!(rx.now(), Stage::Closing);
        rx.reached(Stage::Draining).await;
    }
}
