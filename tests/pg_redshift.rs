//! Redshift logins through the proxy: `GetClusterCredentials` against moto with a cluster in the
//! database account reached through the cross-account role, the rewritten `IAM:<user>` arriving at
//! the rig's Postgres; `GetClusterCredentialsWithIAM` and Redshift Serverless `GetCredentials`
//! (not in moto) against a SigV4-checking stand-in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aws_roles;
#[path = "../crates/iamwire-postgres/tests/e2e_support/mod.rs"]
mod e2e_support;
#[path = "../crates/iamwire-aws/tests/redshift_support/mod.rs"]
mod redshift_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use e2e_support::*;
use iamwire_aws::inject::{
    AuthInjector, RedshiftApi, RedshiftInjector, RedshiftServerlessInjector, injector_for,
};
use iamwire_aws::role::{CredentialsFuture, RoleChain, RoleProvider};
use iamwire_core::{Database, ExternalId, Redshift, RedshiftServerless, SessionRequest};
use iamwire_testkit::TestCa;
use iamwire_testkit::moto::{
    AwsSetup, DATABASE_ACCOUNT, Moto, PROXY_ACCOUNT, RoleSpec, UserSpec, allow, trust_policy,
};
use iamwire_testkit::postgres::{PgOptions, Postgres};
use redshift_support::{Protocol, Received, Reply, StandIn, plaintext_client};
use serde_json::json;

const CLUSTER: &str = "analytics";

/// A Redshift cluster in the database account, created by an admin user there.
fn create_cluster(moto: &Moto) {
    let created = moto
        .setup(&AwsSetup {
            users: vec![UserSpec {
                account: DATABASE_ACCOUNT.into(),
                name: "rs-admin".into(),
                policies: vec![allow(&["redshift:*"], "*")],
            }],
            roles: vec![],
        })
        .unwrap();
    let cluster = moto
        .rig(
            &["call", &moto.endpoint()],
            &json!({
                "service": "redshift",
                "method": "create_cluster",
                "creds": created.users["rs-admin"],
                "region": REGION,
                "params": {
                    "ClusterIdentifier": CLUSTER,
                    "NodeType": "ra3.xlplus",
                    "MasterUsername": "admin",
                    "MasterUserPassword": "Password123456",
                },
            }),
        )
        .unwrap();
    assert_eq!(
        cluster["Cluster"]["ClusterIdentifier"], CLUSTER,
        "{cluster}"
    );
}

fn redshift_database(pg_port: u16, role_arn: &str, external_id: &str) -> Database {
    let mut db = database(pg_port);
    db.aws.assume_role_arn = Some(role_arn.to_owned());
    db.aws.external_id = Some(ExternalId::new(external_id));
    let mut redshift = Redshift::default();
    redshift.cluster_id = Some(CLUSTER.into());
    db.aws.redshift = Some(redshift);
    db
}

fn moto_api(moto: &Moto) -> RedshiftApi {
    RedshiftApi::new(plaintext_client()).endpoint(moto.endpoint())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rewritten_user_reaches_the_database_with_the_clusters_password() {
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let pg = Postgres::start(&ca, PgOptions::default()).unwrap();
    let cross = moto.cross_account("redshift-login", "ext-rs").unwrap();
    create_cluster(&moto);
    let db = redshift_database(pg.port(), &cross.role_arn, "ext-rs");
    let injector = injector_for(
        &db,
        aws_roles::roles(&moto, &cross, REGION).await,
        moto_api(&moto),
    );
    assert!(format!("{injector:?}").starts_with("RedshiftInjector"));
    let (_proxy, addr) = start_proxy(&ca, db, injector, &["app"], |b| b).await;

    for _ in 0..2 {
        let Err(error) = connect(addr, "app", "app", client_tls(&ca, "alice")).await else {
            panic!("moto's random password must not open the rig's Postgres")
        };
        let db_error = error.as_db_error().expect("an ErrorResponse");
        // The database's own refusal, passed through as is.
        assert!(
            ["28000", "28P01"].contains(&db_error.code().code()),
            "{db_error:?}"
        );
        // The rig refuses `IAM:app` (pg_hba, or the password): either way it names that user.
        assert!(db_error.message().contains("\"IAM:app\""), "{db_error:?}");
        let hint = db_error.hint().unwrap_or_default();
        assert!(hint.contains("\"IAM:app\" must exist"), "{hint}");
    }
    // The startup message named the rewritten user.
    let log = pg.log();
    assert!(log.contains("\"IAM:app\""), "{log}");
    assert!(!log.contains("user \"app\""), "{log}");

    let sent: Vec<_> = moto
        .requests()
        .unwrap()
        .into_iter()
        .filter(|r| r.action().as_deref() == Some("GetClusterCredentials"))
        .collect();
    // The second login reused the first password.
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].param("ClusterIdentifier").as_deref(), Some(CLUSTER));
    assert_eq!(sent[0].param("DbUser").as_deref(), Some("app"));
    assert_eq!(sent[0].param("AutoCreate").as_deref(), Some("false"));
    assert_eq!(sent[0].param("DbName").as_deref(), Some("app"));
    assert_eq!(sent[0].param("DurationSeconds").as_deref(), Some("900"));
    let auth = sent[0]
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(
        auth.contains(&format!("/{REGION}/redshift/aws4_request")),
        "{auth}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_the_permission_is_28000_naming_it_and_never_dials() {
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let pg = Postgres::start(&ca, PgOptions::default()).unwrap();
    let cross = moto.cross_account("redshift-login", "ext-rs").unwrap();
    create_cluster(&moto);
    let created = moto
        .setup(&AwsSetup {
            users: vec![],
            roles: vec![RoleSpec {
                account: DATABASE_ACCOUNT.into(),
                name: "rds-only".into(),
                trust: trust_policy(
                    &format!("arn:aws:iam::{PROXY_ACCOUNT}:root"),
                    Some("ext-rs"),
                ),
                policies: vec![allow(&["rds-db:connect"], "*")],
            }],
        })
        .unwrap();
    let db = redshift_database(pg.port(), &created.roles["rds-only"].arn, "ext-rs");
    let injector = injector_for(
        &db,
        aws_roles::roles(&moto, &cross, REGION).await,
        moto_api(&moto),
    );
    let (_proxy, addr) = start_proxy(&ca, db, injector, &["app"], |b| b).await;
    let before = pg.connections_received();

    let Err(error) = connect(addr, "app", "app", client_tls(&ca, "alice")).await else {
        panic!("AccessDenied must refuse the login")
    };
    let db_error = error.as_db_error().expect("an ErrorResponse");
    assert_eq!(db_error.code().code(), "28000", "{db_error:?}");
    assert!(
        db_error.message().contains("GetClusterCredentials"),
        "{db_error:?}"
    );
    let hint = db_error.hint().unwrap_or_default();
    assert!(
        hint.contains(&format!(
            "redshift:GetClusterCredentials on arn:aws:redshift:{REGION}:{DATABASE_ACCOUNT}:dbuser:{CLUSTER}/app"
        )),
        "{hint}"
    );
    assert_eq!(pg.connections_received(), before);
}

/// A role provider handing out one fixed set of credentials, recording the chains asked for.
#[derive(Debug)]
struct FixedRoles(Credentials, Mutex<Vec<RoleChain>>);

impl RoleProvider for FixedRoles {
    fn credentials<'a>(&'a self, chain: &'a RoleChain) -> CredentialsFuture<'a> {
        self.1.lock().unwrap().push(chain.clone());
        Box::pin(std::future::ready(Ok(self.0.clone())))
    }
}

const PASSWORD: &str = "AmazonRedshift&temporary+pass/word=";

fn role_creds() -> Credentials {
    Credentials::new(
        "ASIAREDSHIFTROLE0001",
        "role/secret+key=",
        Some("role-session-token".into()),
        None,
        "test",
    )
}

/// `t` as ISO 8601 UTC, as the query protocol carries it.
fn iso(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

fn with_iam_reply(r: &Received) -> Reply {
    assert_eq!(r.params()["Action"], "GetClusterCredentialsWithIAM");
    let expiry = iso(SystemTime::now() + Duration::from_secs(900));
    let body = format!(
        "<GetClusterCredentialsWithIAMResponse xmlns=\"http://redshift.amazonaws.com/doc/2012-12-01/\"><GetClusterCredentialsWithIAMResult><DbUser>IAMR:reader</DbUser><Expiration>{expiry}</Expiration><DbPassword>{}</DbPassword></GetClusterCredentialsWithIAMResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetClusterCredentialsWithIAMResponse>",
        PASSWORD.replace('&', "&amp;")
    );
    (200, vec![], body)
}

fn serverless_reply(_: &Received) -> Reply {
    let exp = (SystemTime::now() + Duration::from_secs(900))
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let body = json!({"dbUser": "IAMR:reader", "dbPassword": PASSWORD, "expiration": exp});
    (200, vec![], body.to_string())
}

fn role_database() -> Database {
    let mut db = database(5439);
    db.aws.assume_role_arn = Some(format!("arn:aws:iam::{DATABASE_ACCOUNT}:role/db-access"));
    db
}

/// Logs in twice; the second login must come from the injector's memo.
async fn login_twice(injector: &dyn AuthInjector, db: &Database, user: &str) -> String {
    let want = SessionRequest {
        database: db,
        db_user: user,
        db_name: Some("dev"),
    };
    let first = injector.login(&want).await.unwrap();
    let again = injector.login(&want).await.unwrap();
    assert_eq!(first.user, again.user);
    assert!(!format!("{first:?}").contains(PASSWORD));
    first.user
}

fn assert_user_role_chain(roles: &FixedRoles) {
    let chains = roles.1.lock().unwrap();
    let arns: Vec<String> = chains[0]
        .hops()
        .iter()
        .map(|h| h.role_arn().to_string())
        .collect();
    assert_eq!(
        arns,
        [
            format!("arn:aws:iam::{DATABASE_ACCOUNT}:role/db-access"),
            format!("arn:aws:iam::{DATABASE_ACCOUNT}:role/reader"),
        ]
    );
}

#[tokio::test]
async fn with_iam_logs_in_as_the_user_role() {
    let creds = role_creds();
    let standin = StandIn::start(
        Protocol::Query,
        "redshift",
        vec![creds.clone()],
        with_iam_reply,
    )
    .await;
    let roles = Arc::new(FixedRoles(creds, Mutex::default()));
    let api = RedshiftApi::new(plaintext_client()).endpoint(standin.endpoint.clone());
    let injector = RedshiftInjector::new(roles.clone(), api);
    let mut db = role_database();
    let mut redshift = Redshift::default();
    redshift.cluster_id = Some(CLUSTER.into());
    db.aws.redshift = Some(redshift);

    assert_eq!(
        login_twice(&injector, &db, "role/reader").await,
        "IAMR:reader"
    );
    let got = standin.received();
    assert_eq!(got.len(), 1, "the second login reuses the credentials");
    let p = got[0].params();
    assert_eq!(p["ClusterIdentifier"], CLUSTER);
    assert_eq!(p["DbName"], "dev");
    assert_eq!(p["DurationSeconds"], "900");
    assert!(!p.contains_key("DbUser"));
    assert_eq!(got[0].region, REGION);
    assert_user_role_chain(&roles);
}

#[tokio::test]
async fn serverless_logs_in_as_the_user_role() {
    let creds = role_creds();
    let standin = StandIn::start(
        Protocol::Json,
        "redshift-serverless",
        vec![creds.clone()],
        serverless_reply,
    )
    .await;
    let roles = Arc::new(FixedRoles(creds, Mutex::default()));
    let api = RedshiftApi::new(plaintext_client()).endpoint(standin.endpoint.clone());
    let mut db = role_database();
    let mut wg = RedshiftServerless::default();
    wg.workgroup_name = Some("etl".into());
    db.aws.redshift_serverless = Some(wg);
    let injector = injector_for(&db, roles.clone(), api.clone());
    assert!(format!("{injector:?}").starts_with("RedshiftServerlessInjector"));
    let injector = RedshiftServerlessInjector::new(roles.clone(), api);

    assert_eq!(login_twice(&injector, &db, "reader").await, "IAMR:reader");
    let got = standin.received();
    assert_eq!(got.len(), 1, "the second login reuses the credentials");
    assert_eq!(
        got[0].header("x-amz-target"),
        Some("RedshiftServerless.GetCredentials")
    );
    assert_eq!(
        got[0].json(),
        json!({"workgroupName": "etl", "dbName": "dev", "durationSeconds": 900})
    );
    assert_user_role_chain(&roles);
}
