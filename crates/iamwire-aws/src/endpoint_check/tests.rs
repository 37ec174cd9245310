use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use iamwire_core::{
    AuthInjector, InjectErrorKind, LoginFuture, Protocol, SessionRequest, StaticPasswordInjector,
};
use serde_json::json;

use super::answers::{every_address, from_json, from_xml, memorydb, opensearch};
use super::claim::is_loopback;
use super::*;
use crate::aws_api::wire::parse_xml;
use crate::inject::GuardedInjector;
use crate::test_support::{NoRoles, client_without_roots};

#[derive(Debug)]
struct Spy(Arc<AtomicUsize>);

impl AuthInjector for Spy {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { StaticPasswordInjector::new("pw").login(want).await })
    }
}

fn database(uri: &str, region: &str) -> Database {
    let mut db = Database::new("dyn", Protocol::Postgres, uri);
    db.aws.region = Some(region.to_owned());
    db.aws.account_id = Some("222222222222".to_owned());
    db.aws.assume_role_arn = Some("arn:aws:iam::222222222222:role/db".to_owned());
    db.aws.external_id = Some(iamwire_core::ExternalId::new("secret-external-id"));
    db
}

#[tokio::test]
async fn the_guard_runs_before_the_inner_injector() {
    let calls = Arc::new(AtomicUsize::new(0));
    let strict = EndpointGuard::new(client_without_roots(), Arc::new(NoRoles));
    let injector = GuardedInjector::new(strict, Arc::new(Spy(calls.clone())));
    let db = database("db.internal.example:5432", "us-east-1");
    let want = SessionRequest {
        database: &db,
        db_user: "app",
        db_name: None,
    };
    let err = injector.login(&want).await.err().unwrap();
    assert_eq!(err.kind(), InjectErrorKind::AccessDenied);
    assert!(err.hint().is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(injector.warm_up(&db).await.is_err());

    let open = EndpointGuard::new(client_without_roots(), Arc::new(NoRoles))
        .unknown_hosts(UnknownHosts::Allow);
    let injector = GuardedInjector::new(open, Arc::new(Spy(calls.clone())));
    assert_eq!(injector.login(&want).await.unwrap().user, "app");
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // A region that the host contradicts is refused before any credentials are asked for (NoRoles
    // would fail otherwise with another kind of error).
    let guard = EndpointGuard::new(client_without_roots(), Arc::new(NoRoles));
    let moved = database(
        "orders.c9akciq32.eu-west-1.rds.amazonaws.com:5432",
        "us-east-1",
    );
    let err = guard.confirm(&moved).await.unwrap_err();
    assert_eq!(
        err.mismatch().unwrap().actual_region.as_deref(),
        Some("eu-west-1")
    );
    // Redshift Serverless hosts carry their account.
    let rss = database(
        "wg.333333333333.us-east-1.redshift-serverless.amazonaws.com:5439",
        "us-east-1",
    );
    let err = guard.confirm(&rss).await.unwrap_err();
    assert_eq!(
        err.mismatch().unwrap().actual_account.as_deref(),
        Some("333333333333")
    );
    let text = err.to_string();
    assert!(
        text.contains("222222222222") && text.contains("333333333333"),
        "{text}"
    );
    // The check cannot run without credentials: that is not a refusal, and it is not cached.
    let own = database(
        "orders.c9akciq32.us-east-1.rds.amazonaws.com:5432",
        "us-east-1",
    );
    let err = guard.confirm(&own).await.unwrap_err();
    assert!(matches!(err, EndpointCheckError::Credentials { .. }));
    assert!(!err.is_refusal());
    // Nothing shows the external ID.
    assert!(!format!("{guard:?} {err:?} {err}").contains("secret-external-id"));
    // Missing claims are misconfiguration.
    let mut no_region = own.clone();
    no_region.aws.region = None;
    let err = guard.confirm(&no_region).await.unwrap_err();
    assert!(matches!(err, EndpointCheckError::Misconfigured { .. }));
    assert_eq!(
        crate::inject::endpoint_refusal("dyn", err).kind(),
        InjectErrorKind::Misconfigured
    );
    // Discovery's word counts as a confirmation.
    guard.record_confirmed(&own);
    guard.confirm(&own).await.unwrap();
    guard.forget(&own);
    assert!(guard.confirm(&own).await.is_err());
}

#[test]
fn loopback_hosts() {
    for host in [
        "127.0.0.1",
        "127.8.9.1",
        "::1",
        "[::1]",
        "localhost",
        "LOCALHOST",
    ] {
        assert!(is_loopback(host), "{host}");
    }
    for host in [
        "10.0.0.1",
        "example.com",
        "localhost.example.com",
        "::2",
        "",
    ] {
        assert!(!is_loopback(host), "{host}");
    }
}

#[test]
fn describe_answers_as_aws_sends_them() {
    // DescribeDBClusterEndpoints, as in the RDS API reference's example.
    let xml = r#"<DescribeDBClusterEndpointsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
      <DescribeDBClusterEndpointsResult><DBClusterEndpoints><DBClusterEndpointList>
        <Endpoint>custom-ep.cluster-custom-cnpexample.us-east-1.rds.amazonaws.com</Endpoint>
        <DBClusterEndpointArn>arn:aws:rds:us-east-1:111122223333:cluster-endpoint:custom-ep</DBClusterEndpointArn>
        <EndpointType>CUSTOM</EndpointType>
      </DBClusterEndpointList></DBClusterEndpoints></DescribeDBClusterEndpointsResult>
    </DescribeDBClusterEndpointsResponse>"#;
    let root = parse_xml(xml).unwrap();
    let result = root.child("DescribeDBClusterEndpointsResult").unwrap();
    let owned = from_xml(
        result,
        &["DBClusterEndpoints"],
        &[&["Endpoint"]],
        "DBClusterEndpointArn",
    );
    assert_eq!(
        owned.hosts,
        ["custom-ep.cluster-custom-cnpexample.us-east-1.rds.amazonaws.com"]
    );
    assert!(owned.arn.unwrap().contains(":111122223333:"));

    // DescribeReplicationGroups: every endpoint of every node group and member.
    let xml = r#"<R><ReplicationGroups><ReplicationGroup><ARN>arn:aws:elasticache:us-west-2:1:replicationgroup:g</ARN>
      <ConfigurationEndpoint><Address>clustercfg.g.abc.usw2.cache.amazonaws.com</Address><Port>6379</Port></ConfigurationEndpoint>
      <NodeGroups><NodeGroup><PrimaryEndpoint><Address>master.g.abc.usw2.cache.amazonaws.com</Address></PrimaryEndpoint>
      <ReaderEndpoint><Address>replica.g.abc.usw2.cache.amazonaws.com</Address></ReaderEndpoint>
      <NodeGroupMembers><NodeGroupMember><ReadEndpoint><Address>g-001.g.abc.usw2.cache.amazonaws.com</Address></ReadEndpoint></NodeGroupMember></NodeGroupMembers>
      </NodeGroup></NodeGroups></ReplicationGroup></ReplicationGroups></R>"#;
    let owned = every_address(&parse_xml(xml).unwrap(), &["ReplicationGroups"], "ARN");
    assert_eq!(owned.hosts.len(), 4);
    assert!(owned.hosts.iter().any(|h| h.starts_with("g-001.")));

    // GetWorkgroup (Redshift Serverless API reference).
    let v = json!({"workgroup": {"workgroupName": "wg", "workgroupArn": "arn:aws:redshift-serverless:us-east-1:1:workgroup/abc",
        "endpoint": {"address": "wg.1.us-east-1.redshift-serverless.amazonaws.com", "port": 5439}}});
    let owned = from_json(&v, "/workgroup", &["/endpoint/address"], "/workgroupArn");
    assert_eq!(
        owned.hosts,
        ["wg.1.us-east-1.redshift-serverless.amazonaws.com"]
    );

    // MemoryDB DescribeClusters with shard details; OpenSearch DescribeDomain with a VPC endpoint.
    let v = json!({"Clusters": [{"ARN": "arn:aws:memorydb:us-east-1:1:cluster/c",
        "ClusterEndpoint": {"Address": "clustercfg.c.x.memorydb.us-east-1.amazonaws.com", "Port": 6379},
        "Shards": [{"Nodes": [{"Endpoint": {"Address": "c-0001-001.c.x.memorydb.us-east-1.amazonaws.com"}}]}]}]});
    assert_eq!(memorydb(&v).hosts.len(), 2);
    let v = json!({"DomainStatus": {"ARN": "arn:aws:es:us-east-1:1:domain/d",
        "Endpoints": {"vpc": "vpc-d-abc.us-east-1.es.amazonaws.com"},
        "DomainEndpointOptions": {"CustomEndpoint": "search.example.com"}}});
    let owned = opensearch(&v);
    assert_eq!(
        owned.hosts,
        ["vpc-d-abc.us-east-1.es.amazonaws.com", "search.example.com"]
    );

    // Answers of the wrong shape give nothing, and never panic.
    for v in [
        json!(null),
        json!([]),
        json!({"Clusters": "x"}),
        json!({"DomainStatus": 3}),
    ] {
        assert!(memorydb(&v).hosts.is_empty());
        assert!(opensearch(&v).hosts.is_empty());
        assert!(
            from_json(&v, "/workgroup", &["/endpoint/address"], "/arn")
                .hosts
                .is_empty()
        );
    }
}
