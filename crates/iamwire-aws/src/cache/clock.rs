//! A wall clock for tests that moves with Tokio's clock. The [`Clock`] seam itself is iamwire-core's.

use std::time::SystemTime;

use iamwire_core::Clock;
use tokio::time::Instant;

/// A wall clock that follows Tokio's clock from a fixed start: with `tokio::time::pause()` it moves only
/// when Tokio's time does (`advance`, or auto-advance while every task sleeps), in step with the cache's
/// timers.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    wall_start: SystemTime,
    instant_start: Instant,
}

impl TokioClock {
    /// A clock that reads `wall_start` now, and moves with [`tokio::time::Instant`] from here on.
    pub fn starting_at(wall_start: SystemTime) -> Self {
        Self {
            wall_start,
            instant_start: Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.wall_start + self.instant_start.elapsed()
    }
}
