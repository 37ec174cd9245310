//! Thousands of idle ("half-open": connected, never a byte) TCP connections spread over the listeners,
//! while fresh logins must still get through.

use std::time::{Duration, Instant};

use super::steady::fresh_logins;
use super::{BOUND, Rig};

/// How many idle connections: 2,000 by default, `IAMWIRE_HOSTILE_FLOOD` for a long run.
fn size() -> usize {
    std::env::var("IAMWIRE_HOSTILE_FLOOD")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

/// Open the flood, log in fresh on every protocol while it is open, and again after it is gone.
/// Returns (connections opened, time the fresh logins took while flooded).
pub(crate) async fn half_open(rig: &Rig) -> (usize, Duration) {
    let n = size();
    let mut connects = tokio::task::JoinSet::new();
    for i in 0..n {
        let port = rig.ports[i % rig.ports.len()];
        connects.spawn(async move {
            tokio::time::timeout(BOUND, tokio::net::TcpStream::connect(("127.0.0.1", port))).await
        });
    }
    let mut held = Vec::with_capacity(n);
    while let Some(joined) = connects.join_next().await {
        if let Ok(Ok(stream)) = joined.expect("a connect task panicked") {
            held.push(stream);
        }
    }
    assert!(
        held.len() >= n * 9 / 10,
        "only {} of {n} connections opened",
        held.len()
    );
    // Each listener takes 256 handshakes at a time (the rest wait in the kernel's backlog) and the
    // handshake timeout frees them: a fresh login waits its turn, well within the bound.
    let started = Instant::now();
    tokio::time::timeout(BOUND * 2, fresh_logins(rig))
        .await
        .expect("fresh logins hung behind the flood")
        .unwrap_or_else(|e| panic!("a fresh login failed during the flood: {e}"));
    let took = started.elapsed();
    let opened = held.len();
    drop(held);
    fresh_logins(rig)
        .await
        .unwrap_or_else(|e| panic!("a fresh login failed after the flood: {e}"));
    (opened, took)
}
