//! Entry points for the fuzz targets in `fuzz/` (each target is a three-line shim). Not public API.

use crate::cluster::rewrite::{Addresses, Rewriter, Rewritten, Topology};
use crate::cluster::value::Value;
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

/// Rewrite arbitrary bytes as a redirection and as each kind of cluster topology reply, against a
/// map of two nodes, on a first and a last try; must never panic.
pub fn cluster_rewrite(data: &[u8]) {
    rewrite_all(data);
}

/// Every frame at the front of `data` (as `Value::parse` finds them) through every rewrite, on a
/// first and a last try, against a map of two nodes.
fn rewrite_all(data: &[u8]) {
    struct Two;
    impl Addresses for Two {
        fn proxy_port(&self, host: &[u8], port: u16) -> Option<u16> {
            (host == b"127.0.0.1" && matches!(port, 7001 | 7002)).then_some(port + 1000)
        }
        fn announce(&self) -> &str {
            "proxy"
        }
    }
    let mut rest = data;
    while let Some((_, used)) = Value::parse(rest) {
        let frame = &rest[..used];
        for last_try in [false, true] {
            let rw = Rewriter {
                map: &Two,
                own_host: "127.0.0.1",
                last_try,
            };
            let _ = rw.redirect(frame);
            for kind in [Topology::Slots, Topology::Shards, Topology::Nodes] {
                if let Rewritten::New(out) = rw.topology(kind, frame) {
                    // What is passed on is one whole value again.
                    assert!(Value::parse_whole(&out).is_some(), "{out:?}");
                }
            }
        }
        rest = &rest[used..];
    }
}
