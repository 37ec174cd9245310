//! The chain's last sources, EC2 instance metadata (IMDSv2) and container credentials, through a
//! stand-in metadata server that checks what the real ones check (IMDS: a session token fetched with
//! PUT, then sent on every GET; containers: the authorization token) and hands out real temporary
//! credentials issued by the rig's emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

#[path = "sts_support/common.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_sts::primitives::{DateTime, DateTimeFormat};
use iamwire_aws::base::BaseCredentialsConfig;
use iamwire_testkit::moto::{Moto, TempCredentials};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use common::REGION;

const TOKEN: &str = "imds-session-token-3f9a";
const ROLE: &str = "iamwire-instance-role";
const CONTAINER_PATH: &str = "/v2/credentials/task-7";
const CONTAINER_AUTH: &str = "container-auth-token-51c0";

/// What the stand-in saw: method, path, and whether the request carried a valid session token.
type Log = Arc<Mutex<Vec<(String, String, bool)>>>;

/// Serve IMDSv2 on 127.0.0.1:0 with `creds`; returns the endpoint URL and the request log.
async fn imds(creds: TempCredentials) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let served = Arc::clone(&log);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (log, creds) = (Arc::clone(&served), creds.clone());
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                let mut line = String::new();
                stream.read_line(&mut line).await.unwrap();
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_owned();
                let path = parts.next().unwrap_or_default().to_owned();
                let (mut ttl, mut token, mut auth) = (None, None, None);
                loop {
                    let mut header = String::new();
                    stream.read_line(&mut header).await.unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').unwrap();
                    match name.to_ascii_lowercase().as_str() {
                        "x-aws-ec2-metadata-token-ttl-seconds" => {
                            ttl = Some(value.trim().to_owned())
                        }
                        "x-aws-ec2-metadata-token" => token = Some(value.trim().to_owned()),
                        "authorization" => auth = Some(value.trim().to_owned()),
                        _ => {}
                    }
                }
                let authorized =
                    token.as_deref() == Some(TOKEN) || auth.as_deref() == Some(CONTAINER_AUTH);
                log.lock()
                    .unwrap()
                    .push((method.clone(), path.clone(), authorized));
                let (status, body) = match (method.as_str(), path.as_str()) {
                    ("PUT", "/latest/api/token") if ttl.is_some() => ("200 OK", TOKEN.to_owned()),
                    ("PUT", "/latest/api/token") => ("400 Bad Request", String::new()),
                    ("GET", CONTAINER_PATH) if auth.as_deref() == Some(CONTAINER_AUTH) => {
                        ("200 OK", credentials_json(&creds))
                    }
                    ("GET", _) if !authorized => ("401 Unauthorized", String::new()),
                    ("GET", "/latest/meta-data/iam/security-credentials/") => {
                        ("200 OK", ROLE.to_owned())
                    }
                    ("GET", p)
                        if p == format!("/latest/meta-data/iam/security-credentials/{ROLE}") =>
                    {
                        ("200 OK", credentials_json(&creds))
                    }
                    _ => ("404 Not Found", String::new()),
                };
                let ttl_header = ttl
                    .map(|t| format!("x-aws-ec2-metadata-token-ttl-seconds: {t}\r\n"))
                    .unwrap_or_default();
                let answer = format!(
                    "HTTP/1.1 {status}\r\n{ttl_header}Content-Type: text/plain\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.get_mut().write_all(answer.as_bytes()).await.unwrap();
                stream.get_mut().shutdown().await.ok();
            });
        }
    });
    (url, log)
}

/// The instance-profile credentials document IMDS serves.
fn credentials_json(creds: &TempCredentials) -> String {
    let expiration = DateTime::from(SystemTime::now() + Duration::from_secs(3600))
        .fmt(DateTimeFormat::DateTime)
        .unwrap();
    serde_json::json!({
        "Code": "Success",
        "LastUpdated": DateTime::from(SystemTime::now()).fmt(DateTimeFormat::DateTime).unwrap(),
        "Type": "AWS-HMAC",
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.session_token,
        "Expiration": expiration,
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imdsv2_token_then_instance_role_credentials() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("instance-role", "ext-imds").unwrap();
    // Real temporary credentials from the emulator play the instance role's.
    let issued = moto
        .assume_role(&setup.proxy, &setup.role_arn, Some("ext-imds"))
        .unwrap()
        .unwrap();
    let (url, log) = imds(issued.clone()).await;
    let home = tempfile::tempdir().unwrap();
    let base = BaseCredentialsConfig::from_env([
        ("HOME", home.path().display().to_string()),
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", url),
    ])
    .load()
    .await;

    let who = base.caller_identity().await.unwrap();
    assert_eq!(who.account, "222222222222");
    assert!(
        who.arn
            .starts_with("arn:aws:sts::222222222222:assumed-role/instance-role/"),
        "{}",
        who.arn
    );

    let log = log.lock().unwrap().clone();
    assert_eq!(
        (log[0].0.as_str(), log[0].1.as_str()),
        ("PUT", "/latest/api/token"),
        "the session token comes first: {log:?}"
    );
    let gets: Vec<_> = log.iter().filter(|(m, ..)| m == "GET").collect();
    assert!(gets.len() >= 2, "{log:?}");
    assert!(gets.iter().all(|(.., authorized)| *authorized), "{log:?}");
    assert!(
        gets.iter()
            .any(|(_, p, _)| p.ends_with(&format!("/security-credentials/{ROLE}"))),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_credentials_full_uri_with_authorization_token() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("task-role", "ext-ecs").unwrap();
    let issued = moto
        .assume_role(&setup.proxy, &setup.role_arn, Some("ext-ecs"))
        .unwrap()
        .unwrap();
    let (url, log) = imds(issued).await;
    let home = tempfile::tempdir().unwrap();
    let base = BaseCredentialsConfig::from_env([
        ("HOME", home.path().display().to_string()),
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{url}{CONTAINER_PATH}"),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            CONTAINER_AUTH.to_owned(),
        ),
    ])
    .load()
    .await;

    let who = base.caller_identity().await.unwrap();
    assert!(
        who.arn
            .starts_with("arn:aws:sts::222222222222:assumed-role/task-role/"),
        "{}",
        who.arn
    );
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((log[0].1.as_str(), log[0].2), (CONTAINER_PATH, true));
}
