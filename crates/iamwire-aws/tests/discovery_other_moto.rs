//! Discovery of the types moto emulates beside RDS — Redshift clusters, ElastiCache replication
//! groups, MemoryDB clusters and OpenSearch domains — in signature-checking mode, through the
//! cross-account role. moto has no ElastiCache Serverless (DescribeServerlessCaches answers 500): that
//! half of the listing is reported as an error and the replication groups are still found.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod discovery_support;

use std::collections::BTreeMap;

use discovery_support::{Rig, plaintext_client};
use iamwire_aws::discovery::{DiscoveredDatabase, Discoverer};
use iamwire_core::{DiscoveryType, Protocol};
use iamwire_testkit::moto::DATABASE_ACCOUNT;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redshift_elasticache_memorydb_and_opensearch() {
    let rig = Rig::start();
    let (admin, region) = (&rig.admin, "us-east-1");
    let prod = json!([{"Key": "env", "Value": "prod"}]);
    rig.call(
        admin,
        region,
        "redshift",
        "create_cluster",
        json!({
            "ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "MasterUsername": "admin",
            "MasterUserPassword": "Password123456", "Tags": prod,
        }),
    );
    rig.call(admin, region, "elasticache", "create_replication_group", json!({
        "ReplicationGroupId": "sessions", "ReplicationGroupDescription": "d", "Engine": "redis",
        "CacheNodeType": "cache.t3.micro", "NumCacheClusters": 2, "TransitEncryptionEnabled": true, "Tags": prod,
    }));
    rig.call(admin, region, "elasticache", "create_replication_group", json!({
        "ReplicationGroupId": "plaintext", "ReplicationGroupDescription": "d", "Engine": "redis",
        "CacheNodeType": "cache.t3.micro", "NumCacheClusters": 1, "TransitEncryptionEnabled": false, "Tags": prod,
    }));
    rig.call(admin, region, "memorydb", "create_cluster", json!({
        "ClusterName": "queues", "NodeType": "db.t4g.small", "ACLName": "open-access", "Tags": prod,
    }));
    rig.call(
        admin,
        region,
        "opensearch",
        "create_domain",
        json!({"DomainName": "search", "TagList": prod}),
    );
    rig.call(
        admin,
        region,
        "opensearch",
        "create_domain",
        json!({"DomainName": "devsearch", "TagList": [{"Key": "env", "Value": "dev"}]}),
    );

    let d = Discoverer::new(plaintext_client(), rig.roles.clone())
        .endpoint_override(rig.moto.endpoint());
    let m = rig.matcher(
        &["redshift", "elasticache", "memorydb", "opensearch"],
        &[region],
        &[("env", &["prod"])],
    );
    let report = d.discover(0, &m).await;
    let found: BTreeMap<String, DiscoveredDatabase> = report
        .databases
        .iter()
        .map(|d| (d.database.name.clone(), d.clone()))
        .collect();
    assert_eq!(
        found.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "queues-memorydb-us-east-1-222222222222",
            "search-opensearch-us-east-1-222222222222",
            "sessions-elasticache-us-east-1-222222222222",
            "warehouse-redshift-us-east-1-222222222222",
        ],
        "{:#?}",
        report.errors
    );
    assert_eq!(report.filtered_out, 1, "devsearch");
    assert!(
        report.skipped.keys().any(|k| k.ends_with("/plaintext")),
        "{:?}",
        report.skipped
    );

    // Only ElastiCache Serverless failed (moto lacks it): the other scopes are complete.
    assert_eq!(report.errors.len(), 1, "{:#?}", report.errors);
    assert!(
        report.errors[0]
            .to_string()
            .contains("DescribeServerlessCaches"),
        "{}",
        report.errors[0]
    );
    for kind in [
        DiscoveryType::Redshift,
        DiscoveryType::MemoryDb,
        DiscoveryType::OpenSearch,
    ] {
        assert!(report.is_complete(region, kind), "{kind}");
    }
    assert!(!report.is_complete(region, DiscoveryType::ElastiCache));

    let warehouse = &found["warehouse-redshift-us-east-1-222222222222"].database;
    assert_eq!(warehouse.protocol, Protocol::Postgres);
    assert!(
        warehouse.uri.starts_with("warehouse.") && warehouse.uri.ends_with(":5439"),
        "{}",
        warehouse.uri
    );
    assert_eq!(
        warehouse
            .aws
            .redshift
            .as_ref()
            .unwrap()
            .cluster_id
            .as_deref(),
        Some("warehouse")
    );
    assert_eq!(warehouse.aws.account_id.as_deref(), Some(DATABASE_ACCOUNT));
    assert_eq!(warehouse.labels["env"], "prod");

    let sessions = &found["sessions-elasticache-us-east-1-222222222222"];
    assert_eq!(sessions.database.protocol, Protocol::Redis);
    assert!(
        sessions.database.uri.starts_with("master.sessions."),
        "{}",
        sessions.database.uri
    );
    assert_eq!(sessions.database.labels["endpoint-type"], "primary");
    assert_eq!(
        sessions.database.labels["env"], "prod",
        "tags from ListTagsForResource"
    );
    let ec = sessions.database.aws.elasticache.as_ref().unwrap();
    assert_eq!(ec.replication_group_id.as_deref(), Some("sessions"));
    assert_eq!(
        sessions.arn,
        format!("arn:aws:elasticache:us-east-1:{DATABASE_ACCOUNT}:replicationgroup:sessions")
    );

    let queues = &found["queues-memorydb-us-east-1-222222222222"].database;
    assert!(
        queues.uri.starts_with("clustercfg.queues.") && queues.uri.ends_with(":6379"),
        "{}",
        queues.uri
    );
    assert_eq!(
        queues
            .aws
            .memorydb
            .as_ref()
            .unwrap()
            .cluster_name
            .as_deref(),
        Some("queues")
    );
    assert_eq!(queues.labels["env"], "prod");

    let search = &found["search-opensearch-us-east-1-222222222222"].database;
    assert_eq!(search.protocol, Protocol::OpenSearch);
    assert!(search.uri.starts_with("https://"), "{}", search.uri);
    assert_eq!(search.labels["engine"], "opensearch");
    assert_eq!(search.labels["env"], "prod");
    assert_eq!(search.aws.region.as_deref(), Some(region));
}
