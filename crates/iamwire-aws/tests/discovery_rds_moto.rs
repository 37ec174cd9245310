//! RDS discovery against the rig's moto in signature-checking mode: instances in two regions of the
//! database account, reached through a role that requires an external ID; a tag filter; tags as
//! labels; deletions; IAM auth turned on; a matcher whose role cannot be assumed beside one that works;
//! Aurora clusters and their endpoints; RDS Proxy and its endpoints.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod discovery_support;

use std::collections::BTreeMap;

use discovery_support::{EXTERNAL_ID, Rig, matcher, plaintext_client};
use iamwire_aws::discovery::{
    DiscoveredDatabase, Discoverer, DiscoveryError, DiscoveryLimits, MatcherReport,
};
use iamwire_core::{DiscoveryType, Protocol};
use iamwire_testkit::moto::DATABASE_ACCOUNT;
use serde_json::json;

fn discoverer(rig: &Rig) -> Discoverer {
    Discoverer::new(plaintext_client(), rig.roles.clone()).endpoint_override(rig.moto.endpoint())
}

fn by_name(report: &MatcherReport) -> BTreeMap<String, DiscoveredDatabase> {
    report
        .databases
        .iter()
        .map(|d| (d.database.name.clone(), d.clone()))
        .collect()
}

fn assert_clean(report: &MatcherReport) {
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_in_two_regions_through_a_role_with_an_external_id() {
    let rig = Rig::start();
    let admin = &rig.admin;
    rig.instance(
        admin,
        "us-east-1",
        "orders",
        "postgres",
        &[("env", "prod"), ("team", "payments")],
        true,
    );
    rig.instance(
        admin,
        "eu-west-1",
        "ledger",
        "mysql",
        &[("env", "prod"), ("has space", "x")],
        false,
    );
    rig.instance(
        admin,
        "eu-west-1",
        "scratch",
        "mariadb",
        &[("env", "dev")],
        true,
    );
    rig.instance(admin, "eu-west-1", "untagged", "postgres", &[], true);
    // Not a type discovery serves, and another account's instance: neither is listed.
    rig.instance(
        &rig.other_admin,
        "us-east-1",
        "elsewhere",
        "postgres",
        &[("env", "prod")],
        true,
    );

    let d = discoverer(&rig);
    let m = rig.matcher(
        &["rds"],
        &["us-east-1", "eu-west-1"],
        &[("env", &["prod", "staging"])],
    );
    let report = d.discover(0, &m).await;
    assert_clean(&report);
    let found = by_name(&report);
    assert_eq!(
        found.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "ledger-rds-eu-west-1-222222222222",
            "orders-rds-us-east-1-222222222222"
        ]
    );
    assert_eq!(report.filtered_out, 2, "scratch (env=dev) and untagged");
    assert!(report.is_complete("us-east-1", DiscoveryType::Rds));
    assert!(report.is_complete("eu-west-1", DiscoveryType::Rds));

    let orders = &found["orders-rds-us-east-1-222222222222"];
    let db = &orders.database;
    assert_eq!(db.protocol, Protocol::Postgres);
    assert!(
        db.uri.starts_with("orders.") && db.uri.ends_with(".us-east-1.rds.amazonaws.com:5432"),
        "{}",
        db.uri
    );
    assert_eq!(db.aws.region.as_deref(), Some("us-east-1"));
    assert_eq!(db.aws.account_id.as_deref(), Some(DATABASE_ACCOUNT));
    assert_eq!(
        db.aws.assume_role_arn.as_deref(),
        Some(rig.role_arn.as_str())
    );
    assert_eq!(
        db.aws.external_id.as_ref().map(|e| e.expose()),
        Some(EXTERNAL_ID)
    );
    let rds = db.aws.rds.as_ref().unwrap();
    assert_eq!(rds.instance_id.as_deref(), Some("orders"));
    assert!(
        rds.resource_id
            .as_deref()
            .is_some_and(|r| r.starts_with("db-"))
    );
    assert_eq!(
        orders.arn,
        format!("arn:aws:rds:us-east-1:{DATABASE_ACCOUNT}:db:orders")
    );
    assert_eq!(orders.iam_auth, Some(true));
    let labels: Vec<(&str, &str)> = db
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for want in [
        ("account-id", DATABASE_ACCOUNT),
        ("region", "us-east-1"),
        ("engine", "postgres"),
        ("endpoint-type", "instance"),
        ("env", "prod"),
        ("team", "payments"),
        ("iamwire.dev/discovery-type", "rds"),
        ("iamwire.dev/origin", "cloud"),
        ("iamwire.dev/cloud", "AWS"),
    ] {
        assert!(labels.contains(&want), "{want:?} not in {labels:?}");
    }
    assert!(db.labels.contains_key("engine-version"));
    let ledger = &found["ledger-rds-eu-west-1-222222222222"];
    assert_eq!(ledger.database.protocol, Protocol::MySql);
    assert!(
        !ledger.database.labels.contains_key("has space"),
        "not a label key"
    );
    assert_eq!(ledger.iam_auth, Some(false));
    // The external ID never shows in what a log would print.
    assert!(!format!("{report:?}").contains(EXTERNAL_ID));

    // Every listing was signed by the assumed role, which was assumed with the external ID.
    let requests = rig.moto.requests().unwrap();
    let assumed: Vec<_> = requests
        .iter()
        .filter(|r| r.action().as_deref() == Some("AssumeRole"))
        .collect();
    assert_eq!(assumed.len(), 1, "one AssumeRole per matcher, cached");
    assert_eq!(assumed[0].param("ExternalId").as_deref(), Some(EXTERNAL_ID));
    let listed: Vec<_> = requests
        .iter()
        .filter(|r| r.action().as_deref() == Some("DescribeDBInstances"))
        .collect();
    assert_eq!(listed.len(), 2, "one page per region");
    for r in &listed {
        let auth = r
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .unwrap()
            .1;
        assert!(
            auth.contains("Credential=ASIA"),
            "signed by temporary credentials: {auth}"
        );
        assert_eq!(r.param("Filters.Filter.1.Name").as_deref(), Some("engine"));
    }

    // IAM auth, off on ledger: turned on through the role, and the next run sees it.
    assert!(ledger.can_enable_iam_auth());
    d.enable_iam_auth(ledger).await.unwrap();
    let modify: Vec<_> = rig
        .moto
        .requests()
        .unwrap()
        .into_iter()
        .filter(|r| r.action().as_deref() == Some("ModifyDBInstance"))
        .collect();
    assert_eq!(modify.len(), 1);
    assert_eq!(
        modify[0]
            .param("EnableIAMDatabaseAuthentication")
            .as_deref(),
        Some("true")
    );
    assert_eq!(modify[0].param("ApplyImmediately").as_deref(), Some("true"));

    // An instance deleted in AWS is gone from the next run, whose scope is complete.
    rig.call(
        admin,
        "us-east-1",
        "rds",
        "delete_db_instance",
        json!({"DBInstanceIdentifier": "orders", "SkipFinalSnapshot": true}),
    );
    let report = d.discover(0, &m).await;
    assert_clean(&report);
    let found = by_name(&report);
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        ["ledger-rds-eu-west-1-222222222222"]
    );
    assert!(report.is_complete("us-east-1", DiscoveryType::Rds));
    assert_eq!(
        found["ledger-rds-eu-west-1-222222222222"].iam_auth,
        Some(true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matcher_whose_role_cannot_be_assumed_does_not_stop_the_others() {
    let rig = Rig::start();
    rig.instance(&rig.admin, "us-east-1", "orders", "postgres", &[], true);
    let d = discoverer(&rig);
    let wrong_id = matcher(
        &["rds"],
        &["us-east-1"],
        &[],
        Some(&rig.role_arn),
        Some("not-the-id"),
    );
    let no_such_role = matcher(
        &["rds"],
        &["us-east-1"],
        &[],
        Some("arn:aws:iam::222222222222:role/nope"),
        None,
    );
    // The rds-only role: RDS lists, ElastiCache is refused (a type failing on its own).
    let partial = matcher(
        &["rds", "elasticache"],
        &["us-east-1"],
        &[],
        Some(&rig.rds_only_role_arn),
        Some(EXTERNAL_ID),
    );
    let good = rig.matcher(&["rds"], &["us-east-1"], &[]);
    let reports = d
        .discover_all(&[wrong_id, no_such_role, partial, good])
        .await;
    assert_eq!(
        reports.iter().map(|r| r.matcher).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );

    for failed in &reports[..2] {
        assert!(failed.failed());
        assert!(failed.databases.is_empty());
        assert!(failed.complete.is_empty());
        assert_eq!(failed.errors.len(), 1);
        let e = &failed.errors[0];
        assert!(matches!(e, DiscoveryError::Role { .. }), "{e:?}");
        assert_eq!(e.code(), Some("AccessDenied"), "{e}");
        assert_eq!(e.matcher(), Some(failed.matcher));
        let shown = format!("{e} {e:?}");
        assert!(
            !shown.contains("not-the-id") && !shown.contains(EXTERNAL_ID),
            "{shown}"
        );
    }
    assert!(reports[0].errors[0].to_string().contains(&rig.role_arn));

    let partial = &reports[2];
    assert!(!partial.failed());
    assert_eq!(partial.databases.len(), 1);
    assert!(partial.is_complete("us-east-1", DiscoveryType::Rds));
    assert!(!partial.is_complete("us-east-1", DiscoveryType::ElastiCache));
    let denied: Vec<_> = partial
        .errors
        .iter()
        .filter(|e| e.code() == Some("AccessDenied"))
        .collect();
    assert!(!denied.is_empty(), "{:?}", partial.errors);
    assert!(denied.iter().all(|e| e.region() == Some("us-east-1")));

    assert_clean(&reports[3]);
    assert_eq!(reports[3].databases.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aurora_clusters_with_reader_and_custom_endpoints() {
    let rig = Rig::start();
    let (admin, region) = (&rig.admin, "us-east-1");
    let member = |id: &str, cluster: &str, engine: &str| {
        rig.call(
            admin,
            region,
            "rds",
            "create_db_instance",
            json!({
                "DBInstanceIdentifier": id, "DBClusterIdentifier": cluster, "Engine": engine,
                "DBInstanceClass": "db.r5.large",
            }),
        );
    };
    let prod = json!([{"Key": "env", "Value": "prod"}]);
    rig.cluster(region, "orders", "aurora-postgresql", prod);
    member("orders-1", "orders", "aurora-postgresql");
    member("orders-2", "orders", "aurora-postgresql");
    rig.call(admin, region, "rds", "create_db_cluster_endpoint", json!({
        "DBClusterIdentifier": "orders", "DBClusterEndpointIdentifier": "analytics", "EndpointType": "READER",
    }));
    rig.cluster(region, "solo", "aurora-mysql", json!([]));
    member("solo-1", "solo", "aurora-mysql");

    let report = discoverer(&rig)
        .discover(0, &rig.matcher(&["rds"], &[region], &[]))
        .await;
    assert_clean(&report);
    let found = by_name(&report);
    assert_eq!(
        found.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "orders-aurora-us-east-1-222222222222",
            "orders-custom-analytics-aurora-us-east-1-222222222222",
            "orders-reader-aurora-us-east-1-222222222222",
            "solo-aurora-us-east-1-222222222222",
        ],
        "members are not listed on their own; a cluster without readers has no reader database"
    );
    let endpoint_type = |name: &str| found[name].database.labels["endpoint-type"].clone();
    assert_eq!(
        endpoint_type("orders-aurora-us-east-1-222222222222"),
        "primary"
    );
    assert_eq!(
        endpoint_type("orders-reader-aurora-us-east-1-222222222222"),
        "reader"
    );
    assert_eq!(
        endpoint_type("orders-custom-analytics-aurora-us-east-1-222222222222"),
        "custom"
    );
    let reader = &found["orders-reader-aurora-us-east-1-222222222222"].database;
    assert!(reader.uri.contains(".cluster-ro-"), "{}", reader.uri);
    let custom = &found["orders-custom-analytics-aurora-us-east-1-222222222222"].database;
    assert!(
        custom.uri.starts_with("analytics.cluster-custom-"),
        "{}",
        custom.uri
    );
    for db in [reader, custom] {
        let rds = db.aws.rds.as_ref().unwrap();
        assert_eq!(rds.cluster_id.as_deref(), Some("orders"));
        assert!(
            rds.resource_id
                .as_deref()
                .is_some_and(|r| r.starts_with("cluster-"))
        );
        assert_eq!(db.labels["env"], "prod", "the cluster's tags");
        assert_eq!(db.labels["engine"], "aurora-postgresql");
        assert_eq!(db.protocol, Protocol::Postgres);
    }
    let solo = &found["solo-aurora-us-east-1-222222222222"];
    assert_eq!(solo.database.protocol, Protocol::MySql);
    assert_eq!(solo.iam_auth, Some(false));
    assert!(solo.can_enable_iam_auth());
    discoverer(&rig).enable_iam_auth(solo).await.unwrap();
    assert_eq!(rig.moto.count("ModifyDBCluster").unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rds_proxies_and_their_endpoints() {
    let rig = Rig::start();
    let (admin, region) = (&rig.admin, "us-east-1");
    let subnets = rig.subnets(admin, region);
    let proxy = |name: &str, family: &str, tags: serde_json::Value| {
        rig.call(admin, region, "rds", "create_db_proxy", json!({
            "DBProxyName": name, "EngineFamily": family, "Auth": [{"IAMAuth": "REQUIRED"}],
            "RoleArn": format!("arn:aws:iam::{DATABASE_ACCOUNT}:role/proxy"), "VpcSubnetIds": subnets,
            "Tags": tags,
        }));
    };
    proxy(
        "pgproxy",
        "POSTGRESQL",
        json!([{"Key": "env", "Value": "prod"}]),
    );
    proxy("myproxy", "MYSQL", json!([{"Key": "env", "Value": "dev"}]));
    proxy(
        "sqlproxy",
        "SQLSERVER",
        json!([{"Key": "env", "Value": "prod"}]),
    );
    rig.call(admin, region, "rds", "create_db_proxy_endpoint", json!({
        "DBProxyName": "pgproxy", "DBProxyEndpointName": "reads", "VpcSubnetIds": subnets, "TargetRole": "READ_ONLY",
    }));

    let m = rig.matcher(&["rdsproxy"], &[region], &[("env", &["prod"])]);
    let report = discoverer(&rig).discover(0, &m).await;
    assert_clean(&report);
    let found = by_name(&report);
    assert_eq!(
        found.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "pgproxy-rdsproxy-us-east-1-222222222222",
            "pgproxy-reads-rdsproxy-us-east-1-222222222222"
        ]
    );
    assert_eq!(report.filtered_out, 1, "myproxy (env=dev)");
    assert!(
        report.skipped.keys().any(|k| k.ends_with("/sqlproxy")),
        "{:?}",
        report.skipped
    );
    let main = &found["pgproxy-rdsproxy-us-east-1-222222222222"];
    assert!(main.database.uri.ends_with(":5432"));
    assert_eq!(main.iam_auth, Some(true));
    let p = main.database.aws.rds_proxy.as_ref().unwrap();
    assert_eq!(p.name.as_deref(), Some("pgproxy"));
    assert!(
        p.resource_id
            .as_deref()
            .is_some_and(|r| r.starts_with("prx-"))
    );
    assert_eq!(p.custom_endpoint_name, None);
    let reads = &found["pgproxy-reads-rdsproxy-us-east-1-222222222222"].database;
    assert!(
        reads.uri.starts_with("reads.endpoint.proxy-") && reads.uri.ends_with(":5432"),
        "{}",
        reads.uri
    );
    assert_eq!(reads.labels["endpoint-type"], "READ_ONLY");
    assert_eq!(reads.labels["env"], "prod", "the proxy's tags");
    assert_eq!(
        reads
            .aws
            .rds_proxy
            .as_ref()
            .unwrap()
            .custom_endpoint_name
            .as_deref(),
        Some("reads")
    );
    // One ListTagsForResource per proxy iamwire serves, not per endpoint.
    assert_eq!(rig.moto.count("ListTagsForResource").unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_followed_and_bounded() {
    let rig = Rig::start();
    for i in 0..21 {
        rig.instance(
            &rig.admin,
            "us-east-1",
            &format!("db{i:02}"),
            "postgres",
            &[],
            true,
        );
    }
    let m = rig.matcher(&["rds"], &["us-east-1"], &[]);
    let small_pages = DiscoveryLimits::default().page_size(20);
    let d = discoverer(&rig).limits(small_pages);
    let report = d.discover(0, &m).await;
    assert_clean(&report);
    assert_eq!(report.databases.len(), 21);
    let pages: Vec<_> = rig
        .moto
        .requests()
        .unwrap()
        .into_iter()
        .filter(|r| r.action().as_deref() == Some("DescribeDBInstances"))
        .collect();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].param("MaxRecords").as_deref(), Some("20"));
    assert!(pages[0].param("Marker").is_none());
    assert!(
        pages[1].param("Marker").is_some(),
        "the second page asks from the first's marker"
    );

    // One page allowed: what was read is kept, the scope is incomplete, and the error says why.
    let d = discoverer(&rig).limits(small_pages.max_pages(1));
    let report = d.discover(0, &m).await;
    assert!(!report.is_complete("us-east-1", DiscoveryType::Rds));
    assert!(
        matches!(
            report.errors.as_slice(),
            [DiscoveryError::Truncated {
                what: "pages",
                limit: 1,
                ..
            }]
        ),
        "{:?}",
        report.errors
    );
    // At most 5 databases kept per scope.
    let d = discoverer(&rig).limits(DiscoveryLimits::default().max_databases(5));
    let report = d.discover(0, &m).await;
    assert_eq!(report.databases.len(), 5);
    assert!(!report.is_complete("us-east-1", DiscoveryType::Rds));
}
