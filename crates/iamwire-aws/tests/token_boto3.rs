//! IAM auth tokens compared byte for byte with boto3 / botocore at a frozen time.
//!
//! The Python side is `tests/token_boto3.py`, run with the rig's venv; no network is used.

// Test helpers outside #[test] fns: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use iamwire_aws::token::{
    AuthToken, ElastiCacheKind, elasticache_auth_token, memorydb_auth_token, rds_auth_token,
};
use serde_json::{Value, json};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEB4aCXVzLWVhc3QtMSJHMEUCIQD/+abc==";

/// Run the reference script on `cases`, returning one token per case.
fn boto3_tokens(cases: &[Value]) -> Vec<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/token_boto3.py");
    let mut child = Command::new(iamwire_testkit::python())
        .arg(script)
        // No shared config or credentials files, no profile: only the inputs below matter.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the venv's python");
    let input = serde_json::to_vec(cases).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn creds(token: Option<&str>) -> Credentials {
    Credentials::new(
        "AKIDEXAMPLE",
        SECRET,
        token.map(str::to_owned),
        None,
        "test",
    )
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

struct Case {
    json: Value,
    ours: AuthToken,
}

fn rds(host: &str, port: u16, user: &str, region: &str, token: Option<&str>, time: u64) -> Case {
    Case {
        json: json!({"kind": "rds", "akid": "AKIDEXAMPLE", "secret": SECRET, "token": token,
                     "host": host, "port": port, "user": user, "region": region, "time": time}),
        ours: rds_auth_token(&creds(token), host, port, user, region, at(time)).unwrap(),
    }
}

fn cache(
    kind: &str,
    serverless: bool,
    name: &str,
    user: &str,
    region: &str,
    token: Option<&str>,
    time: u64,
) -> Case {
    let ours = if kind == "memorydb" {
        memorydb_auth_token(&creds(token), name, user, region, at(time))
    } else {
        let k = if serverless {
            ElastiCacheKind::Serverless
        } else {
            ElastiCacheKind::ReplicationGroup
        };
        elasticache_auth_token(&creds(token), name, k, user, region, at(time))
    };
    Case {
        json: json!({"kind": kind, "serverless": serverless, "akid": "AKIDEXAMPLE", "secret": SECRET,
                     "token": token, "host": name, "user": user, "region": region, "time": time}),
        ours: ours.unwrap(),
    }
}

fn assert_all_match(cases: Vec<Case>) {
    let inputs: Vec<Value> = cases.iter().map(|c| c.json.clone()).collect();
    let theirs = boto3_tokens(&inputs);
    assert_eq!(theirs.len(), cases.len());
    for (case, theirs) in cases.iter().zip(theirs) {
        assert_eq!(case.ours.as_str(), theirs, "case {}", case.json);
    }
}

#[test]
fn rds_tokens_match_boto3_generate_db_auth_token() {
    let mut cases = Vec::new();
    let hosts = [
        (
            "mydb.cluster-abc123.us-east-1.rds.amazonaws.com",
            "us-east-1",
            5432,
        ),
        (
            "proxy.proxy-xyz.eu-west-3.rds.amazonaws.com",
            "eu-west-3",
            3306,
        ),
        ("MixedCase.Example.COM", "ap-southeast-2", 443),
        ("127.0.0.1", "us-gov-west-1", 1),
        ("db.cn-north-1.rds.amazonaws.com.cn", "cn-north-1", 65535),
    ];
    let users = [
        "app",
        "user@example.com",
        "a b",
        "ü",
        "+/=",
        "IAM:role/x~y_z.-",
        "%41&x=y?#",
    ];
    for (i, (host, region, port)) in hosts.into_iter().enumerate() {
        for (j, user) in users.into_iter().enumerate() {
            let token = ((i + j) % 2 == 0).then_some(SESSION_TOKEN);
            let time = 1_700_000_000 + (i * 86_399 + j * 3_601) as u64;
            cases.push(rds(host, port, user, region, token, time));
        }
    }
    // A leap day, and a time around the end of a day (the credential date must follow X-Amz-Date).
    cases.push(rds(
        "h.example.com",
        5432,
        "u",
        "us-west-2",
        None,
        1_709_251_199,
    ));
    cases.push(rds(
        "h.example.com",
        5432,
        "u",
        "us-west-2",
        Some("t"),
        1_709_164_800,
    ));
    assert_all_match(cases);
}

#[test]
fn elasticache_and_memorydb_tokens_match_botocore_sigv4_query_auth() {
    let mut cases = Vec::new();
    for (i, user) in ["default", "user@example.com", "a b", "ü", "+/="]
        .into_iter()
        .enumerate()
    {
        let token = (i % 2 == 1).then_some(SESSION_TOKEN);
        let time = 1_650_000_000 + i as u64 * 7_777;
        cases.push(cache(
            "elasticache",
            false,
            "my-replication-group",
            user,
            "us-east-1",
            token,
            time,
        ));
        cases.push(cache(
            "elasticache",
            true,
            "my-serverless-cache",
            user,
            "eu-central-1",
            token,
            time,
        ));
        cases.push(cache(
            "memorydb",
            false,
            "my-memorydb-cluster",
            user,
            "ap-northeast-1",
            token,
            time,
        ));
    }
    assert_all_match(cases);
}
