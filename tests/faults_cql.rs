//! The fault suite for CQL (Amazon Keyspaces), through `iamwire run`: the DataStax Python driver (a real
//! CQL client) with alice's certificate, the proxy assuming the database's role (external ID) and the
//! user role in the AWS emulator (moto, checking signatures) through a fault relay, and the Keyspaces
//! stand-in (no Keyspaces or Cassandra runs here; it checks each SigV4 answer against AWS's own
//! `cassandra-sigv4` plugin, for the credentials the emulator issued) behind another. STS refuses, errs
//! and goes silent; the database is killed, down, silent, slow, and back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;
mod faults_support;
mod py_session;

use faults_support::{Kind, StandInProtocol};
use iamwire_testkit::Fault;

/// CQL's error codes the proxy answers with.
const BAD_CREDENTIALS: &str = "0100";
const UNAVAILABLE: &str = "1000";

const CQL: StandInProtocol = StandInProtocol {
    kind: Kind::Keyspaces,
    script: py_session::CQL_DRIVER,
    files: &["ca.crt", "alice.crt", "alice.key"],
    // STS refusing is Keyspaces' bad credentials; erring or silent, unavailable (retry later).
    credentials_codes: |fault| match fault {
        Fault::HttpError(403) => &[BAD_CREDENTIALS],
        _ => &[UNAVAILABLE],
    },
    database_code: |_| UNAVAILABLE,
};

#[test]
fn sts_refusing_erring_or_silent_serves_from_cache_then_names_the_role_and_recovers_without_restart()
 {
    CQL.sts_test();
}

#[test]
fn a_database_killed_or_cut_off_mid_session_errs_its_clients_and_serves_again_once_back() {
    CQL.upstream_test();
}
