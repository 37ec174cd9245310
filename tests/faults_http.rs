//! The fault suite for HTTP (DynamoDB), through `iamwire run`: boto3 (from the rig venv) with a key from
//! `iamwire keys`, the proxy assuming the database's role (external ID) and the user role in the AWS
//! emulator (moto, checking every signature with botocore) through a fault relay, and DynamoDB (moto
//! over TLS) behind another. STS refuses, errs and goes silent; DynamoDB is killed, down, silent, slow,
//! and back. Every request is signed afresh, so a client's keep-alive connection must carry on across
//! a credential refresh (its one TCP connection is counted by a relay in front of the proxy), and a
//! fault behind the proxy must give the SDK a 5xx with an error body it parses, never a hang.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;
mod faults_support;
mod http_support;
mod py_session;

use std::net::SocketAddr;
use std::time::Instant;

use faults_support::{Client, STS_LIFETIME, TIMEOUTS};
use http_support::{EXTERNAL_ID, HttpOptions, HttpStack, Kind, USER_ROLE};
use iamwire_testkit::{Fault, FaultRelay};
use py_session::Failure;

/// boto3's DynamoDB client (`ARGS`: endpoint, CA, key id, secret), one attempt per call, a connection
/// pool of one: `once()` lists the tables; `failure(e)` is `"<status> <code>"` as botocore parsed it.
const BOTO3: &str = r#"
import boto3, botocore.exceptions
from botocore.config import Config
endpoint, ca, key, secret = ARGS
config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=30, read_timeout=60,
                max_pool_connections=1)
ddb = boto3.client("dynamodb", endpoint_url=endpoint, verify=ca, region_name="us-west-2",
                   aws_access_key_id=key, aws_secret_access_key=secret, config=config)
def once():
    ddb.list_tables()
def failure(e):
    if isinstance(e, botocore.exceptions.ClientError):
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        error = e.response["Error"]
        return ("{} {}".format(status, error.get("Code")), error.get("Message", "") + " | " + repr(e))
    return ("none", repr(e))
"#;

/// The proxy's timeouts: short, so a silent STS or database is found out quickly.
fn proxy_extra() -> String {
    format!("{TIMEOUTS}\n  request_timeout: 10s\n")
}

/// boto3 as alice (acting as [`USER_ROLE`]) through `port` on localhost.
fn session(stack: &HttpStack, port: u16) -> (&'static str, Vec<String>) {
    let args = vec![
        format!("https://localhost:{port}"),
        stack.ca().display().to_string(),
        stack.alice.id.clone(),
        stack.alice.secret.clone(),
    ];
    (BOTO3, args)
}

/// Refused for want of credentials: 403 AccessDenied if STS refused, a 504 saying the credentials are
/// unavailable if it erred or said nothing (one of `faults`); naming a role of the chain.
fn no_credentials(failure: &Failure, faults: &[Fault]) {
    let code = |fault: &Fault| match fault {
        Fault::HttpError(403) => "403 AccessDeniedException",
        _ => "504 CredentialsUnavailable",
    };
    assert!(
        faults.iter().any(|f| failure.code == code(f)),
        "STS {faults:?}: {failure:?}"
    );
    assert!(
        failure.text.contains("role/iamwire-db-access") || failure.text.contains(USER_ROLE),
        "STS {faults:?}: no role named: {failure:?}"
    );
}

/// A fault between the proxy and DynamoDB: 502 (refused, cut) or 504 (no answer), in DynamoDB's error
/// shape (botocore parsed the code).
fn no_database(failure: &Failure, fault: Fault) {
    assert!(
        ["502 BadGateway", "504 GatewayTimeout"].contains(&failure.code.as_str()),
        "{fault:?}: {failure:?}"
    );
}

#[test]
fn sts_refusing_erring_or_silent_serves_from_cache_then_names_the_role_and_recovers_without_restart()
 {
    let mut stack = HttpStack::with(
        Kind::DynamoDb,
        HttpOptions {
            proxy_extra: proxy_extra(),
            sts_fault: Some(Fault::Forward),
            sts_duration: Some(STS_LIFETIME),
            env: vec![("RUST_LOG".into(), "debug".into())],
            ..HttpOptions::default()
        },
    );
    let port = stack.proxy.port();
    let sts = stack.sts_relay.take().unwrap();
    // The long-lived client reaches the proxy through a relay that counts its connections.
    let front =
        FaultRelay::start(SocketAddr::from(([127, 0, 0, 1], port)), Fault::Forward).unwrap();
    let session = |port| session(&stack, port);
    let client = Client {
        session: &session,
        no_credentials: &no_credentials,
        no_database: &no_database,
        cut: &|_| {},
    };
    // The user role's credentials are issued at the first request (the database role's at start-up).
    let mut steady = client.open(front.port());
    let issued_by = Instant::now();
    let told = faults_support::sts_scenario(
        &sts,
        &stack.moto,
        port,
        issued_by,
        &mut steady,
        false,
        &client,
    );
    // One keep-alive connection carried every request of the long-lived client: signed with the
    // first credentials, refused once they ran out, signed with fresh ones after.
    assert_eq!(front.accepted(), 1, "the long-lived client reconnected");
    let env = std::fs::read_to_string(stack.file("aws.env")).unwrap();
    let proxy_key = env
        .lines()
        .find_map(|l| l.strip_prefix("AWS_SECRET_ACCESS_KEY="))
        .unwrap();
    let stderr = stack.proxy.stderr();
    assert!(stderr.contains("DEBUG"), "debug logging is on");
    assert!(
        !stderr.contains(&stack.alice.secret),
        "alice's secret logged"
    );
    faults_support::assert_no_secrets(&sts, proxy_key, &stderr, &told);
    assert!(!stderr.contains(EXTERNAL_ID));
    assert!(stack.proxy.is_running());
}

#[test]
fn dynamodb_killed_or_cut_off_gives_the_sdk_a_5xx_and_serves_again_once_back() {
    let mut stack = HttpStack::with(
        Kind::DynamoDb,
        HttpOptions {
            proxy_extra: proxy_extra(),
            db_fault: Some(Fault::Forward),
            ..HttpOptions::default()
        },
    );
    let port = stack.proxy.port();
    let db = stack.db_relay.take().unwrap();
    let session = |port| session(&stack, port);
    // The client's connection to the proxy outlives the proxy's to DynamoDB: a request on it after
    // the cut gets a 5xx in DynamoDB's shape, like a new client's.
    let cut = |failure: &Failure| no_database(failure, Fault::Reset);
    let client = Client {
        session: &session,
        no_credentials: &no_credentials,
        no_database: &no_database,
        cut: &cut,
    };
    faults_support::upstream_scenario(&db, port, &client);

    // DynamoDB goes silent under an open connection: a 504 at the proxy's request timeout (10 s), not
    // a hang, and the client's connection serves again once it is back.
    let mut open = client.open(port);
    db.set(Fault::Blackhole);
    let started = Instant::now();
    let failure = open.query().expect_err("no answer from DynamoDB");
    let took = started.elapsed();
    eprintln!("silent under an open connection: {failure:?} after {took:?}");
    assert_eq!(failure.code, "504 GatewayTimeout", "{failure:?}");
    assert!(took < faults_support::PROMPT, "{took:?}");
    db.set(Fault::Forward);
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while let Err(failure) = open.query() {
        assert!(Instant::now() < deadline, "still failing: {failure:?}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert!(stack.proxy.is_running(), "{}", stack.proxy.stderr());
}
