//! What a proxy counts: sessions by outcome (failures by phase), bytes relayed, and how long each phase
//! took, as plain atomics. Nothing here takes a lock; the relay only adds to a session's own byte counters,
//! which are folded in here when the session ends (live sessions are added at read time).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::Phase;

/// Upper bounds (seconds) of the latency histograms' buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram with fixed buckets ([`LATENCY_BUCKETS`]).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Record one observation.
    pub fn observe(&self, d: Duration) {
        let seconds = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Cumulative bucket counts (Prometheus `le` buckets), the total count, and the sum in seconds.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = [0u64; LATENCY_BUCKETS.len()];
        let mut running = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            running += bucket.load(Ordering::Relaxed);
            cumulative[i] = running;
        }
        HistogramSnapshot {
            cumulative,
            count: self.count.load(Ordering::Relaxed),
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// A histogram's values at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Observations at or below each of [`LATENCY_BUCKETS`].
    pub cumulative: [u64; LATENCY_BUCKETS.len()],
    /// All observations.
    pub count: u64,
    /// Their sum, in seconds.
    pub sum_seconds: f64,
}

/// The phases whose duration is measured.
pub const TIMED_PHASES: [Phase; 4] = [
    Phase::ClientHandshake,
    Phase::Credentials,
    Phase::Connect,
    Phase::Login,
];

const PHASES: [Phase; 6] = [
    Phase::ClientHandshake,
    Phase::Authorize,
    Phase::Credentials,
    Phase::Connect,
    Phase::Login,
    Phase::Relay,
];

fn phase_index(phase: Phase) -> usize {
    PHASES.iter().position(|p| *p == phase).unwrap_or(0)
}

/// A proxy's counters.
#[derive(Debug, Default)]
pub struct ProxyMetrics {
    accepted: AtomicU64,
    denied: AtomicU64,
    failed: [AtomicU64; 6],
    out_of_band: AtomicU64,
    handshakes: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    phases: [Histogram; 4],
}

impl ProxyMetrics {
    pub(crate) fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn denied(&self) {
        self.denied.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self, phase: Phase) {
        self.failed[phase_index(phase)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn out_of_band(&self) {
        self.out_of_band.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn handshake_started(&self) {
        self.handshakes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn handshake_ended(&self) {
        self.handshakes.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn phase(&self, phase: Phase, took: Duration) {
        if let Some(i) = TIMED_PHASES.iter().position(|p| *p == phase) {
            self.phases[i].observe(took);
        }
    }

    pub(crate) fn session_bytes(&self, up: u64, down: u64) {
        self.bytes_up.fetch_add(up, Ordering::Relaxed);
        self.bytes_down.fetch_add(down, Ordering::Relaxed);
    }

    /// The counters now; `live` is what sessions still relaying have moved so far.
    pub fn snapshot(&self, live: (u64, u64)) -> MetricsSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MetricsSnapshot {
            accepted: load(&self.accepted),
            denied: load(&self.denied),
            failed: PHASES
                .iter()
                .zip(&self.failed)
                .map(|(p, n)| (*p, load(n)))
                .collect(),
            out_of_band: load(&self.out_of_band),
            handshakes: load(&self.handshakes),
            bytes_up: load(&self.bytes_up) + live.0,
            bytes_down: load(&self.bytes_down) + live.1,
            phases: TIMED_PHASES
                .iter()
                .zip(&self.phases)
                .map(|(p, h)| (*p, h.snapshot()))
                .collect(),
        }
    }
}

/// A proxy's counters at one moment.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Sessions that reached their relay.
    pub accepted: u64,
    /// Sessions the Authorizer refused.
    pub denied: u64,
    /// Sessions that failed, by the phase they failed in.
    pub failed: Vec<(Phase, u64)>,
    /// Out-of-band requests (cancels) seen.
    pub out_of_band: u64,
    /// Connections in their handshake now.
    pub handshakes: u64,
    /// Bytes from clients to databases (ended and live sessions).
    pub bytes_up: u64,
    /// Bytes from databases to clients.
    pub bytes_down: u64,
    /// Phase durations of sessions that got through each phase.
    pub phases: Vec<(Phase, HistogramSnapshot)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(20));
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.cumulative[0], 1);
        assert_eq!(s.cumulative[5], 2);
        assert_eq!(
            *s.cumulative.last().unwrap(),
            2,
            "60 s is above every bucket"
        );
        assert!((s.sum_seconds - 60.0203).abs() < 1e-6);
    }

    #[test]
    fn counters_add_up() {
        let m = ProxyMetrics::default();
        m.accepted();
        m.failed(Phase::Credentials);
        m.session_bytes(10, 20);
        let s = m.snapshot((1, 2));
        assert_eq!((s.accepted, s.bytes_up, s.bytes_down), (1, 11, 22));
        assert!(s.failed.contains(&(Phase::Credentials, 1)));
    }
}
