//! The hostile-input suite, through `iamwire run`: one proxy serving PostgreSQL, MySQL (MariaDB), Redis,
//! MongoDB (the DocumentDB stand-in), CQL (the Keyspaces stand-in) and HTTP (DynamoDB in moto, every
//! signature checked) — see `hostile_support` for the
//! deployment — is attacked on every listener at once: garbage instead of a TLS ClientHello, plaintext
//! where TLS is required, overflowing length prefixes, unknown message types, truncated handshakes, deep
//! nesting, huge parameter counts, repeated negotiation requests, slowloris and idle clients, two
//! thousand idle connections, identity changes mid-session (for HTTP: the client's own signature, date,
//! token or presigned URL, which must never reach the database), oversized heads and bodies, request
//! smuggling. Meanwhile one healthy session per protocol (tokio-postgres, mysql_async, redis-rs,
//! pymongo, the DataStax Python driver, boto3) runs a query every 50 ms. Each attack must end in the protocol's own error code or a close within the handshake
//! timeout; the healthy sessions see zero errors; afterwards the proxy is alive, `/readyz` is 200, and
//! fresh logins succeed.
//!
//! `cargo test --test hostile -- --nocapture` prints the attack table (protocol, attack, result, time);
//! `IAMWIRE_HOSTILE_FLOOD=10000` holds more idle connections (2,000 by default).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;
mod hostile_support;
#[path = "../crates/iamwire-mysql/tests/e2e_support/mod.rs"]
mod my_support;
mod py_session;
mod redis_support;

use hostile_support::steady::{Steady, fresh_logins};
use hostile_support::{Rig, cql, flood, http, mongo, mysql, pg, redis, upstream_tls};

#[test]
fn every_listener_survives_hostile_input_while_healthy_sessions_run_without_an_error() {
    let rig = Rig::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let steady = Steady::start(&rig).await;
        tokio::join!(
            pg::attacks(&rig),
            mysql::attacks(&rig),
            redis::attacks(&rig),
            mongo::attacks(&rig),
            cql::attacks(&rig),
            http::attacks(&rig),
            upstream_tls::fails_closed(&rig)
        );
        let (opened, took) = flood::half_open(&rig).await;
        eprintln!("{opened} idle connections held; fresh logins through them took {took:?}");
        let tallies = steady.stop().await;
        for tally in &tallies {
            eprintln!("steady {}: {} queries", tally.protocol, tally.queries);
            assert!(tally.errors.is_empty(), "{tally:?}");
            assert!(tally.queries > 10, "{tally:?}");
        }
        fresh_logins(&rig).await.unwrap();
    });
    http::upstream_saw_only_the_role(&rig);
    // No secret in the proxy's log after all that (the errors clients got are checked per attack).
    hostile_support::assert_no_secret(&rig, rig.proxy.stderr().as_bytes(), "the proxy's log");
    assert_eq!(rig.readyz(), "200", "{}", rig.proxy.stderr());
    let mut proxy = rig.proxy;
    assert!(proxy.is_running(), "{}", proxy.stderr());
}
