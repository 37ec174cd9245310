//! The fault suite for MongoDB (Amazon DocumentDB), through `iamwire run`: pymongo (a real MongoDB
//! driver) with alice's certificate, the proxy assuming the database's role (external ID) and the user
//! role in the AWS emulator (moto, checking signatures) through a fault relay, and the DocumentDB
//! stand-in (no MongoDB or DocumentDB runs here; it sends the signed `GetCallerIdentity` of each
//! `MONGODB-AWS` login to the emulator's STS, which checks the signature with botocore) behind another.
//! STS refuses, errs and goes silent; the database is killed, down, silent, slow, and back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;
mod faults_support;
mod py_session;

use faults_support::{Kind, StandInProtocol};
use iamwire_testkit::Fault;

/// MongoDB's error codes the proxy answers with.
const AUTHENTICATION_FAILED: &str = "18";
const HOST_UNREACHABLE: &str = "6";
const NETWORK_TIMEOUT: &str = "89";

/// pymongo (`ARGS`: port, CA, certificate and key in one file, user role): `once()` connects on first
/// use and runs `ping`; `failure(e)` reads the server's error code.
const PYMONGO: &str = r#"
import re
from pymongo import MongoClient
port, ca, certkey, user = ARGS
client = None
def once():
    global client
    if client is None:
        uri = ("mongodb://{}:x@localhost:{}/?tls=true&authMechanism=PLAIN&authSource=%24external"
               "&directConnection=true&retryWrites=false&retryReads=false"
               "&serverSelectionTimeoutMS=30000&connectTimeoutMS=30000&socketTimeoutMS=30000").format(user, port)
        client = MongoClient(uri, tlsCAFile=ca, tlsCertificateKeyFile=certkey)
    assert client.admin.command("ping")["ok"] == 1
def failure(e):
    text = repr(e) + " " + str(getattr(e, "details", ""))
    code = getattr(e, "code", None)
    if code is None:
        found = re.search(r"'code': (\d+)", text)
        code = found.group(1) if found else "none"
    return (code, text)
"#;

const MONGODB: StandInProtocol = StandInProtocol {
    kind: Kind::DocumentDb,
    script: PYMONGO,
    files: &["ca.crt", "alice.pem"],
    // STS refusing fails the authentication; erring, the host is unreachable; silent, a timeout.
    // (A silent STS is the STS client's timeout or, on a slow machine, the proxy's wait's.)
    credentials_codes: |fault| match fault {
        Fault::HttpError(403) => &[AUTHENTICATION_FAILED],
        Fault::Blackhole => &[HOST_UNREACHABLE, NETWORK_TIMEOUT],
        _ => &[HOST_UNREACHABLE],
    },
    // Down: unreachable; silent: a timeout.
    database_code: |fault| match fault {
        Fault::Blackhole => NETWORK_TIMEOUT,
        _ => HOST_UNREACHABLE,
    },
};

#[test]
fn sts_refusing_erring_or_silent_serves_from_cache_then_names_the_role_and_recovers_without_restart()
 {
    MONGODB.sts_test();
}

#[test]
fn a_database_killed_or_cut_off_mid_session_errs_its_clients_and_serves_again_once_back() {
    MONGODB.upstream_test();
}
