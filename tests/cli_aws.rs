//! `iamwire aws whoami` and `iamwire token rds`, run as an operator would, against the rig's AWS emulator and
//! its RDS-like PostgreSQL (whose PAM verifier checks the token with botocore).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::process::{Command, Output};

use iamwire_testkit::moto::{CrossAccount, Moto};
use iamwire_testkit::postgres::{self, PgOptions, Postgres};
use iamwire_testkit::{TestCa, TokenPolicy};

/// `iamwire` with a clean environment: only the variables given (no ~/.aws, no IMDS).
fn iamwire(env: &[(&str, &str)], args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iamwire"));
    cmd.env_clear()
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap()
}

fn proxy_env<'a>(cross: &'a CrossAccount, endpoint: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", cross.proxy.access_key_id.as_str()),
        (
            "AWS_SECRET_ACCESS_KEY",
            cross.proxy.secret_access_key.as_str(),
        ),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn whoami_reports_each_hop_and_names_the_failing_one() {
    let moto = Moto::start().unwrap();
    let cross = moto.cross_account("db-access", "ext-123").unwrap();
    let endpoint = moto.endpoint();
    let env = proxy_env(&cross, &endpoint);

    let args = [
        "aws",
        "whoami",
        "--region",
        "us-east-1",
        "--assume-role-arn",
        &cross.role_arn,
        "--external-id",
        "ext-123",
    ];
    let out = iamwire(&env, &args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("base credentials: arn:aws:iam::111111111111:user/iamwire-proxy"),
        "{stdout}"
    );
    assert!(
        stdout.contains("assumed-role/db-access/iamwire-cli (account 222222222222)"),
        "{stdout}"
    );

    let args = [
        "aws",
        "whoami",
        "--region",
        "us-east-1",
        "--assume-role-arn",
        &cross.role_arn,
        "--external-id",
        "wrong-one",
    ];
    let out = iamwire(&env, &args);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stdout.contains("base credentials:"),
        "what worked is still shown: {stdout}"
    );
    assert!(
        stderr.contains("hop 1")
            && stderr.contains(&cross.role_arn)
            && stderr.contains("AccessDenied"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong-one") && !stdout.contains("wrong-one"),
        "external id leaked: {stderr}"
    );
}

#[test]
fn env_file_supplies_the_credentials() {
    let moto = Moto::start().unwrap();
    let cross = moto.cross_account("db-access", "ext-9").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("iamwire.env");
    std::fs::write(
        &file,
        format!(
            "# like /etc/default/teleport\nAWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY='{}'\nAWS_REGION=us-east-1\nAWS_ENDPOINT_URL={}\n",
            cross.proxy.access_key_id,
            cross.proxy.secret_access_key,
            moto.endpoint()
        ),
    )
    .unwrap();
    let out = iamwire(
        &[],
        &["aws", "whoami", "--env-file", file.to_str().unwrap()],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("user/iamwire-proxy"), "{stdout}");
    let out = iamwire(
        &[],
        &["aws", "whoami", "--env-file", "/nonexistent/iamwire.env"],
    );
    assert!(!out.status.success());
}

#[test]
fn token_rds_logs_in_to_the_rds_like_postgres() {
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let tokens = TokenPolicy {
        moto_url: Some(moto.endpoint()),
        region: Some("us-west-2".into()),
        ..Default::default()
    };
    let pg = Postgres::start(
        &ca,
        PgOptions {
            tokens,
            ..PgOptions::default()
        },
    )
    .unwrap();
    let cross = moto.cross_account("db-access", "ext-7").unwrap();
    let endpoint = moto.endpoint();
    let env = proxy_env(&cross, &endpoint);
    let port = pg.port().to_string();
    let args = [
        "token",
        "rds",
        "--host",
        "localhost",
        "--port",
        &port,
        "--user",
        postgres::IAM_USER,
        "--region",
        "us-west-2",
        "--assume-role-arn",
        &cross.role_arn,
        "--external-id",
        "ext-7",
    ];
    let out = iamwire(&env, &args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let token = stdout.trim();
    assert!(
        token.starts_with(&format!(
            "localhost:{port}/?Action=connect&DBUser=iam_user&"
        )),
        "{token}"
    );
    let dsn = postgres::verify_full_dsn(&pg, postgres::IAM_USER, "app");
    assert_eq!(
        postgres::psql(&dsn, Some(token), "SELECT current_user").unwrap(),
        postgres::IAM_USER
    );

    // A token minted for another database user does not log in as this one.
    let other = [
        "token",
        "rds",
        "--host",
        "localhost",
        "--port",
        &port,
        "--user",
        "someone_else",
        "--region",
        "us-west-2",
    ];
    let out = iamwire(&env, &other);
    let wrong_user = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(out.status.success());
    assert!(postgres::psql(&dsn, Some(&wrong_user), "SELECT 1").is_err());
}
