//! Entry points for the fuzz targets in `fuzz/` (each target is a three-line shim). Not public API.

use crate::codec::{Profile, fuzz_stream};

/// Decode arbitrary bytes as client commands (client → proxy); must never panic.
pub fn client(data: &[u8]) {
    fuzz_stream(Profile::Command, data, false);
}

/// Scan and decode arbitrary bytes as server frames (database → proxy), as RESP2 and as RESP3; must
/// never panic.
pub fn upstream(data: &[u8]) {
    fuzz_stream(Profile::Reply, data, false);
    fuzz_stream(Profile::Reply, data, true);
}

/// Run arbitrary bytes through the relay's logic as the database's side of a session (after a few
/// commands that put it in every state: pending replies, a transaction, subscriptions); must never panic.
pub fn relay(data: &[u8]) {
    crate::relay::fuzz_flow(data);
}
