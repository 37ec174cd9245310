//! The reconciler against the rig's moto in signature-checking mode: RDS instances in two regions of
//! the database account (222222222222), found through a role that requires an external ID; a tag
//! filter keeps some and drops others; tags become labels; an instance deleted in the emulator leaves
//! the desired set within one interval; a matcher whose role cannot be assumed is reported (readiness
//! body, status) while the other goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use iamwire_aws::aws_api::ApiClient;
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_aws::discovery::Discoverer;
use iamwire_aws::endpoint_check::EndpointGuard;
use iamwire_aws::sts::StsRoleProvider;
use iamwire_core::{
    AuthInjector, Config, InjectErrorKind, LoginFuture, Protocol, Secret, SessionRequest,
    UpstreamLogin,
};
use iamwire_testkit::moto::{
    AwsSetup, CreatedUser, DATABASE_ACCOUNT, Moto, PROXY_ACCOUNT, proxy_trusted_role, user,
};
use serde_json::{Value, json};

use crate::catalog::store::FileStore;
use crate::catalog::{Catalog, CatalogConfig, Origin, api, guard_injector};

const EXTERNAL_ID: &str = "catalog-ext-7c2d";
/// An account that is none of the proxy's business.
const OTHER_ACCOUNT: &str = "333333333333";
const INTERVAL: Duration = Duration::from_secs(3);
/// Generous bound for a discovery run on a loaded machine.
const SLOW: Duration = Duration::from_secs(90);

fn call(moto: &Moto, who: &CreatedUser, region: &str, method: &str, params: Value) -> Value {
    moto.call(who, region, "rds", method, &params).unwrap()
}

fn instance(
    moto: &Moto,
    admin: &CreatedUser,
    region: &str,
    id: &str,
    tags: &[(&str, &str)],
) -> String {
    moto.rds_instance(admin, region, id, tags, true).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_databases_follow_aws_and_a_broken_matcher_stops_no_other() {
    let moto = Moto::start().unwrap();
    let created = moto
        .setup(&AwsSetup {
            users: vec![
                user(
                    PROXY_ACCOUNT,
                    "iamwire-proxy",
                    &["sts:AssumeRole", "sts:TagSession"],
                ),
                user(DATABASE_ACCOUNT, "db-admin", &["rds:*", "ec2:*"]),
                user(OTHER_ACCOUNT, "other-admin", &["rds:*", "ec2:*"]),
            ],
            roles: vec![proxy_trusted_role(
                "discovery",
                Some(EXTERNAL_ID),
                &[
                    "rds:DescribeDBInstances",
                    "rds:DescribeDBClusters",
                    "rds:ListTagsForResource",
                    "rds:ModifyDBInstance",
                ],
            )],
        })
        .unwrap();
    let admin = &created.users["db-admin"];
    let role = &created.roles["discovery"].arn;
    instance(
        &moto,
        admin,
        "us-east-1",
        "orders",
        &[("env", "prod"), ("team", "payments")],
    );
    instance(&moto, admin, "eu-west-1", "ledger", &[("env", "prod")]);
    instance(&moto, admin, "eu-west-1", "scratch", &[("env", "dev")]);
    // Found with IAM authentication off: the first matcher turns it on.
    moto.rds_instance(admin, "eu-west-1", "legacy", &[("env", "prod")], false)
        .unwrap();
    let theirs = instance(
        &moto,
        &created.users["other-admin"],
        "us-east-1",
        "theirs",
        &[("env", "prod")],
    );

    let yaml = format!(
        "db_service:\n  resources:\n    - labels: {{ env: prod }}\n      aws: {{ assume_role_arn: {role}, external_id: {EXTERNAL_ID} }}\n  databases:\n    - name: local\n      protocol: postgres\n      uri: localhost:5432\n  aws:\n    - types: [rds]\n      regions: [us-east-1, eu-west-1]\n      tags: {{ env: prod }}\n      assume_role_arn: {role}\n      external_id: {EXTERNAL_ID}\n      enable_iam_auth: true\n    - types: [rds]\n      regions: [us-east-1]\n      assume_role_arn: arn:aws:iam::{DATABASE_ACCOUNT}:role/not-there\n      external_id: {EXTERNAL_ID}\n"
    );
    let service = Config::from_yaml(yaml.as_bytes()).unwrap().db_service;
    let proxy = &created.users["iamwire-proxy"];
    let base = Credentials::new(
        &proxy.access_key_id,
        &proxy.secret_access_key,
        None,
        None,
        "rig",
    );
    let cache = CredentialCache::new(CacheConfig::default(), Arc::new(SystemClock));
    let roles = Arc::new(StsRoleProvider::for_region(
        base,
        "us-east-1",
        Some(&moto.endpoint()),
        cache,
    ));
    let tls = crate::catalog::settings::store_tls(None).unwrap();
    let client = ApiClient::new(Arc::new(tls)).allow_http(true);
    let discoverer =
        Discoverer::new(client.clone(), roles.clone()).endpoint_override(moto.endpoint());
    let guard = EndpointGuard::new(client, roles).endpoint_override(moto.endpoint());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::open(&dir.path().join("db.json")).unwrap());
    let catalog = Catalog::start(
        CatalogConfig {
            static_databases: service.databases,
            matchers: service.aws,
            selectors: service.resources,
            discovery_interval: INTERVAL,
        },
        store,
        Some(discoverer),
        Some(guard),
    );

    let orders = format!("orders-rds-us-east-1-{DATABASE_ACCOUNT}");
    let ledger = format!("ledger-rds-eu-west-1-{DATABASE_ACCOUNT}");
    assert!(
        catalog
            .wait_for(SLOW, |d| d
                .status
                .matchers
                .iter()
                .all(|m| m.last_run.is_some()))
            .await
    );
    let desired = catalog.current();
    assert_eq!(
        desired
            .databases
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        [
            "ledger-rds-eu-west-1-222222222222",
            "legacy-rds-eu-west-1-222222222222",
            "local",
            "orders-rds-us-east-1-222222222222"
        ],
        "scratch (env=dev) is filtered out"
    );
    // legacy was found with IAM authentication off; the matcher turned it on.
    let legacy = call(
        &moto,
        admin,
        "eu-west-1",
        "describe_db_instances",
        json!({"DBInstanceIdentifier": "legacy"}),
    );
    assert_eq!(
        legacy["DBInstances"][0]["IAMDatabaseAuthenticationEnabled"], true,
        "{legacy}"
    );
    assert_eq!(desired.databases["local"].origin, Origin::Static);
    let entry = &desired.databases[&orders];
    assert_eq!((entry.origin, entry.source), (Origin::Discovered, Some(0)));
    let db = &entry.database;
    assert_eq!(db.protocol, Protocol::Postgres);
    assert_eq!(db.labels["env"], "prod");
    assert_eq!(db.labels["team"], "payments");
    assert_eq!(db.labels["account-id"], DATABASE_ACCOUNT);
    assert_eq!(db.labels["region"], "us-east-1");
    assert_eq!(db.aws.assume_role_arn.as_deref(), Some(role.as_str()));
    assert_eq!(
        db.aws.external_id.as_ref().map(|e| e.expose()),
        Some(EXTERNAL_ID)
    );
    assert_eq!(
        desired.databases[&ledger].database.aws.region.as_deref(),
        Some("eu-west-1")
    );

    // The broken matcher is reported, beside the working one; the replica stays ready.
    let status = &desired.status;
    assert!(!status.matchers[0].failed && status.matchers[0].errors.is_empty());
    assert!(status.matchers[1].failed, "{:?}", status.matchers[1]);
    // What /readyz shows: ready, the broken matcher among the problems, no external ID.
    assert!(status.ready());
    let problems = status.problems().join("\n");
    assert!(
        problems.contains("db_service.aws[1]") && problems.contains("not-there"),
        "{problems}"
    );
    assert!(!problems.contains(EXTERNAL_ID));
    let origins: Vec<Origin> = desired.databases.values().map(|e| e.origin).collect();
    assert_eq!(
        origins,
        [
            Origin::Discovered,
            Origin::Discovered,
            Origin::Static,
            Origin::Discovered
        ]
    );

    // Deleted in AWS: gone from the desired set within one interval (plus a run's time).
    call(
        &moto,
        admin,
        "us-east-1",
        "delete_db_instance",
        json!({"DBInstanceIdentifier": "orders", "SkipFinalSnapshot": true}),
    );
    let deleted = Instant::now();
    assert!(
        catalog
            .wait_for(SLOW, |d| !d.databases.contains_key(&orders))
            .await
    );
    eprintln!(
        "deleted instance left the catalog after {:?}",
        deleted.elapsed()
    );
    assert!(
        deleted.elapsed() < INTERVAL + Duration::from_secs(30),
        "{:?}",
        deleted.elapsed()
    );
    assert!(catalog.current().databases.contains_key(&ledger));

    another_accounts_endpoint_is_refused(&catalog, &theirs).await;
}

/// Counts the logins that get past the endpoint guard.
#[derive(Debug, Default)]
struct Counting(AtomicUsize);

impl AuthInjector for Counting {
    fn login<'a>(&'a self, _: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(UpstreamLogin::new("app", Secret::new("x"))) })
    }
}

/// A dynamic resource naming another account's RDS endpoint: served by the catalog (it validates), but
/// its injector is behind the endpoint guard, which refuses it before any login runs; a static
/// database's injector is left as it is.
async fn another_accounts_endpoint_is_refused(catalog: &Catalog, theirs: &str) {
    let doc = format!(
        "kind: db\nversion: v3\nmetadata:\n  name: stolen\n  labels: {{ env: prod }}\nspec:\n  protocol: postgres\n  uri: {theirs}\n  aws: {{ region: us-east-1 }}\n"
    );
    let (code, body) = api::create_database(catalog, doc.as_bytes()).await;
    assert_eq!(code, 201, "{body}");
    let desired = catalog.current();
    let entry = &desired.databases["stolen"];
    assert_eq!(entry.origin, Origin::Dynamic);
    let counting = Arc::new(Counting::default());
    let guard = catalog.guard().unwrap();
    let injector = guard_injector(entry, guard, counting.clone());
    let want = SessionRequest {
        database: &entry.database,
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
    assert_eq!(counting.0.load(Ordering::SeqCst), 0, "no login ran");

    let local = &desired.databases["local"];
    let inner: Arc<dyn AuthInjector> = counting.clone();
    assert!(Arc::ptr_eq(
        &guard_injector(local, guard, inner.clone()),
        &inner
    ));
    assert!(injector.login(&want).await.is_err());
    assert_eq!(counting.0.load(Ordering::SeqCst), 0);
}
