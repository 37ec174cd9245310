//! The wall clock the cache compares credential expiry against, as an input.

use std::fmt;
use std::time::SystemTime;

use tokio::time::Instant;

/// The current wall-clock time, as the cache sees it.
///
/// Credentials expire at a wall-clock [`SystemTime`]; the cache asks this for "now" instead of reading
/// the system clock itself, so tests can drive it.
pub trait Clock: fmt::Debug + Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock: what a proxy passes in production.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

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
