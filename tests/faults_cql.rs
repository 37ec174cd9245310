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

/// The DataStax driver (`ARGS`: port, CA, certificate, key, user role): `once()` logs in on first use
/// and reads `system.local`; `failure(e)` finds the CQL error code in the driver's text.
const DRIVER: &str = r#"
import re, ssl
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster
port, ca, cert, key, user = ARGS
session = None
def once():
    global session
    if session is None:
        context = ssl.create_default_context(cafile=ca)
        context.load_cert_chain(cert, key)
        cluster = Cluster(["127.0.0.1"], port=int(port), ssl_context=context,
                          ssl_options={"server_hostname": "localhost"},
                          auth_provider=PlainTextAuthProvider(username=user, password="not-used"),
                          schema_metadata_enabled=False, token_metadata_enabled=False,
                          connect_timeout=30, control_connection_timeout=30)
        session = cluster.connect()
    row = session.execute("SELECT release_version FROM system.local", timeout=30).one()
    assert row is not None, "no row"
def failure(e):
    text = repr(e)
    found = re.search(r"code=([0-9A-Fa-f]{4})", text)
    return (found.group(1) if found else "none", text)
"#;

const CQL: StandInProtocol = StandInProtocol {
    kind: Kind::Keyspaces,
    script: DRIVER,
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
