//! Endpoint safety against the rig's moto in signature-checking mode: a dynamic database that names an
//! RDS endpoint of another account (or region) is refused before any token is minted; the right
//! account's endpoints (instances, Aurora custom endpoints, RDS Proxy endpoints) are confirmed once
//! and then served from the cache.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod discovery_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use discovery_support::{EXTERNAL_ID, OTHER_ACCOUNT, Rig, plaintext_client};
use iamwire_aws::endpoint_check::{EndpointCheckError, EndpointGuard, UnknownHosts};
use iamwire_aws::inject::{GuardedInjector, RdsIamInjector};
use iamwire_core::{
    AuthInjector, Database, ExternalId, InjectErrorKind, LoginFuture, Protocol, SessionRequest,
};
use iamwire_testkit::moto::DATABASE_ACCOUNT;
use serde_json::json;

/// Counts the logins that reach the real RDS IAM injector behind the guard.
#[derive(Debug)]
struct Counting {
    inner: RdsIamInjector,
    logins: Arc<AtomicUsize>,
}

impl AuthInjector for Counting {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        self.logins.fetch_add(1, Ordering::SeqCst);
        self.inner.login(want)
    }
}

fn guard(rig: &Rig) -> EndpointGuard {
    EndpointGuard::new(plaintext_client(), rig.roles.clone()).endpoint_override(rig.moto.endpoint())
}

fn guarded(rig: &Rig, guard: EndpointGuard) -> (GuardedInjector, Arc<AtomicUsize>) {
    let logins = Arc::new(AtomicUsize::new(0));
    let inner = Counting {
        inner: RdsIamInjector::new(rig.roles.clone()),
        logins: logins.clone(),
    };
    (GuardedInjector::new(guard, Arc::new(inner)), logins)
}

/// A dynamic `kind: db` database claiming the database account, through the discovery role.
fn dynamic(rig: &Rig, name: &str, uri: &str, region: &str) -> Database {
    let mut db = Database::new(name, Protocol::Postgres, uri);
    db.aws.region = Some(region.to_owned());
    db.aws.account_id = Some(DATABASE_ACCOUNT.to_owned());
    db.aws.assume_role_arn = Some(rig.role_arn.clone());
    db.aws.external_id = Some(ExternalId::new(EXTERNAL_ID));
    db.validate_dynamic().unwrap();
    db
}

fn address(instance: &serde_json::Value) -> String {
    let e = &instance["Endpoint"];
    format!("{}:{}", e["Address"].as_str().unwrap(), e["Port"])
}

fn describe_calls(rig: &Rig, action: &str) -> Vec<iamwire_testkit::moto::RecordedRequest> {
    rig.moto
        .requests()
        .unwrap()
        .into_iter()
        .filter(|r| r.action().as_deref() == Some(action))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_of_another_account_is_refused_before_any_token_is_minted() {
    let rig = Rig::start();
    let theirs = rig.instance(
        &rig.other_admin,
        "us-east-1",
        "ledger",
        "postgres",
        &[],
        true,
    );
    let ours = rig.instance(&rig.admin, "us-east-1", "orders", "postgres", &[], true);
    let (injector, logins) = guarded(&rig, guard(&rig));

    // Another account's instance, claimed as the database account's.
    let stolen = dynamic(&rig, "stolen", &address(&theirs), "us-east-1");
    let want = SessionRequest {
        database: &stolen,
        db_user: "app",
        db_name: None,
    };
    let err = injector.login(&want).await.unwrap_err();
    assert_eq!(err.kind(), InjectErrorKind::AccessDenied, "{err}");
    let text = err.to_string();
    assert!(
        text.contains(DATABASE_ACCOUNT) && text.contains("us-east-1"),
        "{text}"
    );
    assert!(
        text.contains(theirs["Endpoint"]["Address"].as_str().unwrap()),
        "{text}"
    );
    assert!(err.hint().is_some());
    assert_eq!(logins.load(Ordering::SeqCst), 0, "nothing was minted");
    let source = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<EndpointCheckError>())
        .unwrap();
    let mismatch = source.mismatch().unwrap();
    assert_eq!(mismatch.claimed_account.as_deref(), Some(DATABASE_ACCOUNT));
    assert_eq!(mismatch.claimed_region, "us-east-1");
    // Asked in the claimed account, through the database's own role.
    let asked = describe_calls(&rig, "DescribeDBInstances");
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].param("DBInstanceIdentifier").as_deref(),
        Some("ledger")
    );
    let auth = asked[0]
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .unwrap()
        .1;
    assert!(auth.contains("Credential=ASIA"), "{auth}");
    // The refusal is remembered for a while: a client retrying costs no more calls.
    assert!(injector.login(&want).await.is_err());
    assert_eq!(describe_calls(&rig, "DescribeDBInstances").len(), 1);
    assert!(!format!("{err:?}").contains(EXTERNAL_ID));

    // The database account's own instance: confirmed once, then a token, then from the cache.
    let good = dynamic(&rig, "good", &address(&ours), "us-east-1");
    let want = SessionRequest {
        database: &good,
        db_user: "app",
        db_name: None,
    };
    let login = injector.login(&want).await.unwrap();
    assert_eq!(login.user, "app");
    let host = ours["Endpoint"]["Address"].as_str().unwrap();
    assert!(
        String::from_utf8_lossy(login.secret.expose()).starts_with(host),
        "an RDS token for the host"
    );
    injector.login(&want).await.unwrap();
    assert_eq!(logins.load(Ordering::SeqCst), 2);
    assert_eq!(
        describe_calls(&rig, "DescribeDBInstances").len(),
        2,
        "cached"
    );

    // The same identifier in the claimed account, but another host: refused.
    let (name, rest) = host.split_once('.').unwrap();
    let (_, after_hash) = rest.split_once('.').unwrap();
    let forged = format!("{name}.zzzzzzzzzz.{after_hash}:5432");
    let forged = dynamic(&rig, "forged", &forged, "us-east-1");
    let err = guard(&rig).confirm(&forged).await.unwrap_err();
    assert!(err.is_refusal(), "{err}");
    assert!(err.to_string().contains("another host name"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_in_another_region_is_refused_without_asking() {
    let rig = Rig::start();
    let eu = rig.instance(&rig.admin, "eu-west-1", "orders", "postgres", &[], true);
    let claimed = dynamic(&rig, "moved", &address(&eu), "us-east-1");
    let err = guard(&rig).confirm(&claimed).await.unwrap_err();
    let mismatch = err.mismatch().unwrap();
    assert_eq!(mismatch.actual_region.as_deref(), Some("eu-west-1"));
    assert_eq!(mismatch.claimed_region, "us-east-1");
    let text = err.to_string();
    assert!(
        text.contains("eu-west-1") && text.contains("us-east-1"),
        "{text}"
    );
    assert_eq!(describe_calls(&rig, "DescribeDBInstances").len(), 0);
    assert_eq!(rig.moto.count("AssumeRole").unwrap(), 0);
    // Claimed in the right region, it is confirmed.
    guard(&rig)
        .confirm(&dynamic(&rig, "moved", &address(&eu), "eu-west-1"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aurora_custom_and_proxy_endpoints_are_confirmed_by_their_own_describe_calls() {
    let rig = Rig::start();
    let (admin, region) = (&rig.admin, "us-east-1");
    rig.cluster(region, "orders", "aurora-postgresql", json!([]));
    let custom = rig.call(admin, region, "rds", "create_db_cluster_endpoint", json!({
        "DBClusterIdentifier": "orders", "DBClusterEndpointIdentifier": "analytics", "EndpointType": "READER",
    }));
    let subnets = rig.subnets(admin, region);
    rig.call(admin, region, "rds", "create_db_proxy", json!({
        "DBProxyName": "pgproxy", "EngineFamily": "POSTGRESQL", "Auth": [{"IAMAuth": "REQUIRED"}],
        "RoleArn": format!("arn:aws:iam::{DATABASE_ACCOUNT}:role/proxy"), "VpcSubnetIds": subnets,
    }));
    let reads = rig.call(
        admin,
        region,
        "rds",
        "create_db_proxy_endpoint",
        json!({
            "DBProxyName": "pgproxy", "DBProxyEndpointName": "reads", "VpcSubnetIds": subnets,
        }),
    );
    let g = guard(&rig);
    let custom_host = custom["Endpoint"].as_str().unwrap();
    g.confirm(&dynamic(
        &rig,
        "custom",
        &format!("{custom_host}:5432"),
        region,
    ))
    .await
    .unwrap();
    let reads_host = reads["DBProxyEndpoint"]["Endpoint"].as_str().unwrap();
    g.confirm(&dynamic(
        &rig,
        "reads",
        &format!("{reads_host}:5432"),
        region,
    ))
    .await
    .unwrap();
    assert_eq!(rig.moto.count("DescribeDBClusterEndpoints").unwrap(), 1);
    assert_eq!(rig.moto.count("DescribeDBProxyEndpoints").unwrap(), 1);
    // A custom endpoint name the account does not have.
    let missing = custom_host.replacen("analytics", "reporting", 1);
    let err = g
        .confirm(&dynamic(
            &rig,
            "missing",
            &format!("{missing}:5432"),
            region,
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such resource"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_that_cannot_be_checked_follow_the_policy_and_a_broken_role_is_denied() {
    let rig = Rig::start();
    let local = dynamic(&rig, "local", "127.0.0.1:5432", "us-east-1");
    let custom_dns = dynamic(&rig, "custom", "db.example.com:5432", "us-east-1");
    let strict = guard(&rig);
    for db in [&local, &custom_dns] {
        let err = strict.confirm(db).await.unwrap_err();
        assert!(
            matches!(err, EndpointCheckError::Unverifiable { .. }),
            "{err}"
        );
    }
    let loopback = guard(&rig).unknown_hosts(UnknownHosts::AllowLoopback);
    loopback.confirm(&local).await.unwrap();
    assert!(loopback.confirm(&custom_dns).await.is_err());
    guard(&rig)
        .unknown_hosts(UnknownHosts::Allow)
        .confirm(&custom_dns)
        .await
        .unwrap();
    assert_eq!(
        rig.moto.count("AssumeRole").unwrap(),
        0,
        "nothing to ask AWS"
    );

    // A role the proxy cannot assume: the check cannot run, and the session is denied.
    let ours = rig.instance(&rig.admin, "us-east-1", "orders", "postgres", &[], true);
    let mut wrong = dynamic(&rig, "wrong", &address(&ours), "us-east-1");
    wrong.aws.external_id = Some(ExternalId::new("not-the-id"));
    let (injector, logins) = guarded(&rig, guard(&rig));
    let want = SessionRequest {
        database: &wrong,
        db_user: "app",
        db_name: None,
    };
    let err = injector.login(&want).await.unwrap_err();
    assert_eq!(err.kind(), InjectErrorKind::AccessDenied, "{err}");
    assert!(err.to_string().contains(&rig.role_arn), "{err}");
    assert_eq!(logins.load(Ordering::SeqCst), 0);
    let _ = OTHER_ACCOUNT;
}
