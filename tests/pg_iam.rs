//! RDS IAM through the proxy: a cross-account role (with external ID) in the AWS emulator, a token
//! checked by the RDS-like Postgres, psql and tokio-postgres as clients over mutual TLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aws_roles;
#[path = "../crates/iamwire-postgres/tests/e2e_support/mod.rs"]
mod e2e_support;
mod log_capture;

use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_support::*;
use iamwire_aws::inject::RdsIamInjector;
use iamwire_aws::role::{RoleChain, RoleProvider};
use iamwire_core::{Database, ExternalId};
use iamwire_testkit::moto::{CrossAccount, Moto};
use iamwire_testkit::postgres::{self, PgOptions, Postgres};
use iamwire_testkit::{TestCa, TokenPolicy};
use log_capture::{Capture, assert_no_aws_secret};

fn iam_database(pg_port: u16, cross: &CrossAccount, external_id: &str) -> Database {
    let mut db = database(pg_port);
    db.aws.assume_role_arn = Some(cross.role_arn.clone());
    db.aws.external_id = Some(ExternalId::new(external_id));
    db
}

fn rds_postgres(ca: &TestCa, moto: &Moto) -> Postgres {
    let tokens = TokenPolicy {
        moto_url: Some(moto.endpoint()),
        region: Some(REGION.into()),
        ..TokenPolicy::default()
    };
    Postgres::start(
        ca,
        PgOptions {
            tokens,
            ..PgOptions::default()
        },
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_log_in_as_iam_user_and_refusals_never_reach_the_database() {
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let pg = rds_postgres(&ca, &moto);
    let cross = moto.cross_account("rds-connect", "ext-123").unwrap();
    let injector = Arc::new(RdsIamInjector::new(
        aws_roles::roles(&moto, &cross, REGION).await,
    ));
    let db = iam_database(pg.port(), &cross, "ext-123");
    let (proxy, addr) = start_proxy(&ca, db, injector, &[postgres::IAM_USER], |b| b).await;
    let dir = tempfile::tempdir().unwrap();
    let alice = client_files(&ca, dir.path(), "alice");

    // psql, verify-full with a client certificate.
    let dsn = proxy_dsn(addr, postgres::IAM_USER, "app", Some(&alice));
    let who = psql(dsn, "SELECT current_user").await;
    assert_eq!(who.as_deref(), Ok(postgres::IAM_USER), "{}", pg.log());

    // tokio-postgres, and a cancel through the proxy.
    let client = connect(addr, postgres::IAM_USER, "app", client_tls(&ca, "alice"))
        .await
        .unwrap();
    let row = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), postgres::IAM_USER);
    assert_eq!(proxy.registry().len(), 1);
    let cancel = client.cancel_token();
    let started = Instant::now();
    let sleeper = tokio::spawn(async move { client.simple_query("SELECT pg_sleep(30)").await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    cancel.cancel_query(client_tls(&ca, "alice")).await.unwrap();
    let Err(error) = sleeper.await.unwrap() else {
        panic!("the query was not cancelled")
    };
    assert_eq!(code(&error).as_deref(), Some("57014"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20));

    // Refusals: nothing reaches the database.
    let before = pg.connections_received();
    let bob = client_files(&ca, dir.path(), "bob");
    for (user, db, files) in [
        (postgres::IAM_USER, "app", &bob),
        ("postgres", "app", &alice),
        (postgres::IAM_USER, "postgres", &alice),
    ] {
        let error = psql(proxy_dsn(addr, user, db, Some(files)), "SELECT 1")
            .await
            .unwrap_err();
        assert!(error.contains("access denied"), "{error}");
    }
    let error = connect(addr, "postgres", "app", client_tls(&ca, "alice"))
        .await
        .err()
        .unwrap();
    assert_eq!(code(&error).as_deref(), Some("28000"));
    // No client certificate: the TLS handshake is refused.
    let mut no_cert = proxy_dsn(addr, postgres::IAM_USER, "app", None);
    no_cert.push_str(&format!(" sslrootcert={}", alice.ca.display()));
    assert!(psql(no_cert, "SELECT 1").await.is_err());
    // Plaintext: refused with an error that says to use TLS.
    let plain = format!(
        "host=localhost port={} user={} dbname=app sslmode=disable",
        addr.port(),
        postgres::IAM_USER
    );
    let error = psql(plain, "SELECT 1").await.unwrap_err();
    assert!(error.contains("sslmode"), "{error}");
    assert_eq!(pg.connections_received(), before);

    // A token the database rejects (signed for another region): its 28P01 comes through,
    // with a hint naming the IAM permission to check.
    let mut other_region = iam_database(pg.port(), &cross, "ext-123");
    other_region.aws.region = Some("eu-west-1".into());
    let injector = Arc::new(RdsIamInjector::new(
        aws_roles::roles(&moto, &cross, REGION).await,
    ));
    let (_other, other_addr) =
        start_proxy(&ca, other_region, injector, &[postgres::IAM_USER], |b| b).await;
    let Err(error) = connect(
        other_addr,
        postgres::IAM_USER,
        "app",
        client_tls(&ca, "alice"),
    )
    .await
    else {
        panic!("a token for another region must be refused")
    };
    let db_error = error.as_db_error().expect("an ErrorResponse");
    // Postgres reports a PAM failure as 28000, a password failure as 28P01: passed as is.
    assert!(
        ["28000", "28P01"].contains(&db_error.code().code()),
        "{db_error:?}"
    );
    assert!(
        db_error.message().contains("authentication failed"),
        "{db_error:?}"
    );
    let hint = db_error.hint().unwrap_or_default();
    assert!(hint.contains("rds-db:connect"), "{hint}");
    assert!(hint.contains(":222222222222:dbuser:"), "{hint}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_external_id_is_28000_naming_the_role_promptly() {
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let cross = moto.cross_account("rds-connect", "ext-right").unwrap();
    let injector = Arc::new(RdsIamInjector::new(
        aws_roles::roles(&moto, &cross, REGION).await,
    ));
    // No database behind it: the proxy must fail before dialing.
    let db = iam_database(1, &cross, "ext-wrong");
    let (_proxy, addr) = start_proxy(&ca, db, injector, &[postgres::IAM_USER], |b| b).await;
    let started = Instant::now();
    let error = connect(addr, postgres::IAM_USER, "app", client_tls(&ca, "alice"))
        .await
        .err()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(15));
    let db_error = error.as_db_error().expect("an ErrorResponse");
    assert_eq!(db_error.code().code(), "28000");
    assert!(db_error.message().contains(&cross.role_arn), "{db_error:?}");
    let hint = db_error.hint().unwrap_or_default();
    assert!(hint.contains("trust policy"), "{hint}");
    assert!(!format!("{db_error:?}").contains("ext-wrong"));
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_trace_logs() {
    let (capture, _guard) = Capture::trace();

    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let pg = rds_postgres(&ca, &moto);
    let cross = moto.cross_account("rds-connect", "ext-secret-id").unwrap();
    let roles = aws_roles::roles(&moto, &cross, REGION).await;
    let injector = Arc::new(RdsIamInjector::new(roles.clone()));
    let db = iam_database(pg.port(), &cross, "ext-secret-id");
    // The very chain (and so the very credentials) the injector signed the token with.
    let chain =
        RoleChain::for_database(&db.aws, None, iamwire_aws::role::DEFAULT_SESSION_NAME).unwrap();
    let (_proxy, addr) = start_proxy(&ca, db, injector, &[postgres::IAM_USER], |b| b).await;
    let client = connect(addr, postgres::IAM_USER, "app", client_tls(&ca, "alice"))
        .await
        .unwrap();
    client.simple_query("SELECT 1").await.unwrap();
    drop(client);
    let creds = roles.credentials(&chain).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = capture.text();
    assert_no_aws_secret(
        &logs,
        &creds,
        &[cross.proxy.secret_access_key.as_str(), "ext-secret-id"],
    );
}
