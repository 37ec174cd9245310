//! Answers of the types moto does not emulate (or not fully), shaped as the AWS API references show
//! them, through the same parsers discovery uses; the building of databases; and robustness.

use std::sync::Arc;

use aws_credential_types::Credentials;
use iamwire_core::{ExternalId, Protocol, RoleArn};
use proptest::prelude::*;
use serde_json::json;

use super::build::{self, Found};
use super::page::Scope;
use super::*;
use crate::aws_api::wire::{Element, parse_xml};
use crate::test_support::{NoRoles, client_without_roots};

fn members(xml: &str, list: &str) -> Vec<Element> {
    let root = parse_xml(xml).unwrap();
    fn find<'e>(e: &'e Element, name: &str) -> Option<&'e Element> {
        if e.name == name {
            return Some(e);
        }
        e.children.iter().find_map(|c| find(c, name))
    }
    find(&root, list).unwrap().children.clone()
}

/// DescribeDBClusters for a DocumentDB cluster with a writer and a reader, as in the DocumentDB API
/// reference (<https://docs.aws.amazon.com/documentdb/latest/developerguide/API_DescribeDBClusters.html>).
const DOCDB: &str = r#"<DescribeDBClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
<DescribeDBClustersResult><DBClusters><DBCluster>
  <DBClusterIdentifier>sample-cluster</DBClusterIdentifier>
  <Status>available</Status>
  <Endpoint>sample-cluster.cluster-corcjozrlsfc.us-east-1.docdb.amazonaws.com</Endpoint>
  <ReaderEndpoint>sample-cluster.cluster-ro-corcjozrlsfc.us-east-1.docdb.amazonaws.com</ReaderEndpoint>
  <Engine>docdb</Engine><EngineVersion>5.0.0</EngineVersion><Port>27017</Port>
  <DBClusterMembers>
    <DBClusterMember><DBInstanceIdentifier>sample-1</DBInstanceIdentifier><IsClusterWriter>true</IsClusterWriter></DBClusterMember>
    <DBClusterMember><DBInstanceIdentifier>sample-2</DBInstanceIdentifier><IsClusterWriter>false</IsClusterWriter></DBClusterMember>
  </DBClusterMembers>
  <DbClusterResourceId>cluster-L3R4YRSBUYDP4GLMTJ2WF5GH5Q</DbClusterResourceId>
  <DBClusterArn>arn:aws:rds:us-east-1:123456789012:cluster:sample-cluster</DBClusterArn>
  <TagList><Tag><Key>env</Key><Value>prod</Value></Tag></TagList>
</DBCluster></DBClusters></DescribeDBClustersResult></DescribeDBClustersResponse>"#;

#[test]
fn docdb_clusters_as_documentdb_describes_them() {
    let cluster = &members(DOCDB, "DBClusters")[0];
    let found = rds::cluster(cluster, &["docdb"], "us-east-1").unwrap();
    assert_eq!(found.len(), 2);
    assert!(
        found
            .iter()
            .all(|f| f.protocol == Protocol::MongoDb && f.token == "docdb")
    );
    assert_eq!(
        found[0].uri,
        "sample-cluster.cluster-corcjozrlsfc.us-east-1.docdb.amazonaws.com:27017"
    );
    assert_eq!(found[1].resource, "sample-cluster-reader");
    assert_eq!(found[0].tags, [("env".to_owned(), "prod".to_owned())]);
    assert_eq!(found[0].iam_auth, None);
    // The same answer is not an Aurora cluster.
    assert!(rds::cluster(cluster, &["aurora-postgresql"], "us-east-1").is_err());
}

#[test]
fn rds_instances_members_and_statuses() {
    let xml = |status: &str, extra: &str, engine: &str| {
        format!(
            "<R><DBInstances><DBInstance><DBInstanceIdentifier>db1</DBInstanceIdentifier>\
             <Engine>{engine}</Engine><DBInstanceStatus>{status}</DBInstanceStatus>{extra}\
             <Endpoint><Address>db1.c9akciq32.us-east-1.rds.amazonaws.com</Address><Port>3306</Port></Endpoint>\
             <DBInstanceArn>arn:aws:rds:us-east-1:1:db:db1</DBInstanceArn>\
             <DBSubnetGroup><VpcId>vpc-1</VpcId></DBSubnetGroup></DBInstance></DBInstances></R>"
        )
    };
    let one = |status, extra, engine| members(&xml(status, extra, engine), "DBInstances").remove(0);
    let f = rds::instance(&one("backing-up", "", "mysql"), "us-east-1")
        .unwrap()
        .unwrap();
    assert_eq!(f.protocol, Protocol::MySql);
    assert!(
        f.labels
            .contains(&(labels::LABEL_VPC_ID, "vpc-1".to_owned()))
    );
    assert_eq!(
        f.iam_auth, None,
        "no IAMDatabaseAuthenticationEnabled in the answer"
    );
    for status in ["stopped", "creating", "deleting", "Failed"] {
        assert!(
            rds::instance(&one(status, "", "mysql"), "us-east-1").is_err(),
            "{status}"
        );
    }
    let member = "<DBClusterIdentifier>c</DBClusterIdentifier>";
    assert_eq!(
        rds::instance(&one("available", member, "aurora-mysql"), "us-east-1"),
        Ok(None)
    );
    assert!(rds::instance(&one("available", "", "oracle-ee"), "us-east-1").is_err());
}

#[test]
fn aurora_custom_endpoints_from_the_cluster_answer() {
    let xml = r#"<R><DBClusters><DBCluster><DBClusterIdentifier>orders</DBClusterIdentifier><Status>available</Status>
      <Endpoint>orders.cluster-c9akciq32.us-east-1.rds.amazonaws.com</Endpoint>
      <ReaderEndpoint>orders.cluster-ro-c9akciq32.us-east-1.rds.amazonaws.com</ReaderEndpoint>
      <CustomEndpoints><member>reporting.cluster-custom-c9akciq32.us-east-1.rds.amazonaws.com</member>
        <member>not-a-host</member></CustomEndpoints>
      <Engine>aurora-mysql</Engine><Port>3306</Port><IAMDatabaseAuthenticationEnabled>false</IAMDatabaseAuthenticationEnabled>
      <DBClusterMembers><DBClusterMember><IsClusterWriter>true</IsClusterWriter></DBClusterMember></DBClusterMembers>
      <DBClusterArn>arn:aws:rds:us-east-1:1:cluster:orders</DBClusterArn></DBCluster></DBClusters></R>"#;
    let found = rds::cluster(
        &members(xml, "DBClusters")[0],
        &["aurora-mysql"],
        "us-east-1",
    )
    .unwrap();
    let names: Vec<&str> = found.iter().map(|f| f.resource.as_str()).collect();
    assert_eq!(
        names,
        ["orders", "orders-custom-reporting"],
        "no readers: no reader database"
    );
    assert_eq!(
        found[1].uri,
        "reporting.cluster-custom-c9akciq32.us-east-1.rds.amazonaws.com:3306"
    );
    assert_eq!(found[1].iam_auth, Some(false));
}

/// ListWorkgroups and ListEndpointAccess, as in the Redshift Serverless API reference.
#[test]
fn redshift_serverless_workgroups_and_vpc_endpoints() {
    let wg = json!({
        "workgroupName": "analytics", "workgroupId": "8d8e6a0d-1111-2222-3333-444455556666",
        "workgroupArn": "arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/8d8e6a0d-1111-2222-3333-444455556666",
        "namespaceName": "default", "status": "AVAILABLE", "baseCapacity": 128,
        "endpoint": {"address": "analytics.123456789012.us-east-1.redshift-serverless.amazonaws.com", "port": 5439,
          "vpcEndpoints": [{"vpcEndpointId": "vpce-1", "vpcId": "vpc-0abc"}]}
    });
    let f = redshift::workgroup(&wg, "us-east-1").unwrap();
    assert_eq!(
        f.uri,
        "analytics.123456789012.us-east-1.redshift-serverless.amazonaws.com:5439"
    );
    assert!(
        f.labels
            .contains(&(labels::LABEL_VPC_ID, "vpc-0abc".to_owned()))
    );
    let groups = BTreeMap::from([(f.resource.clone(), f)]);
    let ep = json!({
        "endpointName": "bi", "endpointStatus": "ACTIVE", "workgroupName": "analytics",
        "endpointArn": "arn:aws:redshift-serverless:us-east-1:123456789012:managedvpcendpoint/0f7c",
        "address": "bi-endpoint-xxxxxxxx.123456789012.us-east-1.redshift-serverless.amazonaws.com", "port": 5439,
        "vpcEndpoint": {"vpcEndpointId": "vpce-2", "vpcId": "vpc-0def"}
    });
    let e = redshift::vpc_endpoint(&ep, &groups, "us-east-1").unwrap();
    assert_eq!(e.resource, "analytics-bi");
    assert!(
        e.labels
            .contains(&(labels::LABEL_ENDPOINT_TYPE, "vpc-endpoint".to_owned()))
    );
    assert!(
        e.labels
            .contains(&(labels::LABEL_VPC_ID, "vpc-0def".to_owned()))
    );
    assert!(
        matches!(&e.ids, build::Ids::RedshiftServerless { endpoint: Some(n), .. } if n == "bi")
    );
    let orphan = json!({"endpointName": "x", "workgroupName": "other", "address": "a", "endpointArn": "arn:aws:x:us-east-1:1:y"});
    assert!(redshift::vpc_endpoint(&orphan, &groups, "us-east-1").is_err());
    let creating = json!({"workgroupName": "new", "status": "CREATING"});
    assert!(redshift::workgroup(&creating, "us-east-1").is_err());
}

/// DescribeServerlessCaches (ElastiCache API reference) and a cluster-mode replication group.
#[test]
fn elasticache_serverless_and_cluster_mode() {
    let xml = r#"<DescribeServerlessCachesResponse xmlns="http://elasticache.amazonaws.com/doc/2015-02-02/">
      <DescribeServerlessCachesResult><ServerlessCaches><member>
        <ServerlessCacheName>carts</ServerlessCacheName><Status>available</Status><Engine>valkey</Engine>
        <FullEngineVersion>8.0</FullEngineVersion>
        <Endpoint><Address>carts-abcdef.serverless.use1.cache.amazonaws.com</Address><Port>6379</Port></Endpoint>
        <ReaderEndpoint><Address>carts-abcdef.serverless.use1.cache.amazonaws.com</Address><Port>6380</Port></ReaderEndpoint>
        <ARN>arn:aws:elasticache:us-east-1:123456789012:serverlesscache:carts</ARN>
      </member></ServerlessCaches></DescribeServerlessCachesResult></DescribeServerlessCachesResponse>"#;
    let found =
        elasticache::serverless_cache(&members(xml, "ServerlessCaches")[0], "us-east-1").unwrap();
    let uris: Vec<&str> = found.iter().map(|f| f.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "carts-abcdef.serverless.use1.cache.amazonaws.com:6380",
            "carts-abcdef.serverless.use1.cache.amazonaws.com:6379"
        ]
    );
    assert!(
        found[1]
            .labels
            .contains(&(labels::LABEL_ENGINE, "valkey".to_owned()))
    );

    let xml = r#"<R><ReplicationGroups><ReplicationGroup><ReplicationGroupId>big</ReplicationGroupId>
      <Status>available</Status><TransitEncryptionEnabled>true</TransitEncryptionEnabled><ClusterEnabled>true</ClusterEnabled>
      <ConfigurationEndpoint><Address>clustercfg.big.abc123.use1.cache.amazonaws.com</Address><Port>6379</Port></ConfigurationEndpoint>
      <ARN>arn:aws:elasticache:us-east-1:1:replicationgroup:big</ARN></ReplicationGroup></ReplicationGroups></R>"#;
    let found =
        elasticache::replication_group(&members(xml, "ReplicationGroups")[0], "us-east-1").unwrap();
    assert_eq!(found.len(), 1);
    assert!(
        found[0]
            .labels
            .contains(&(labels::LABEL_ENDPOINT_TYPE, "configuration".to_owned()))
    );
    let memcached = xml.replace("<Status>", "<Engine>memcached</Engine><Status>");
    assert!(
        elasticache::replication_group(&members(&memcached, "ReplicationGroups")[0], "us-east-1")
            .is_err()
    );
}

#[test]
fn opensearch_domains_with_vpc_and_custom_endpoints() {
    let status = json!({
        "DomainName": "logs", "ARN": "arn:aws:es:us-east-1:123456789012:domain/logs", "Created": true,
        "Deleted": false, "EngineVersion": "Elasticsearch_7.10",
        "Endpoints": {"vpc": "vpc-logs-abc123.us-east-1.es.amazonaws.com"},
        "VPCOptions": {"VPCId": "vpc-9"},
        "DomainEndpointOptions": {"CustomEndpointEnabled": true, "CustomEndpoint": "logs.example.com"}
    });
    let found = opensearch::domain(&status, "us-east-1").unwrap();
    let got: Vec<(&str, &str)> = found
        .iter()
        .map(|f| (f.resource.as_str(), f.uri.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "logs-vpc",
                "https://vpc-logs-abc123.us-east-1.es.amazonaws.com"
            ),
            ("logs-custom", "https://logs.example.com")
        ]
    );
    assert!(
        found[0]
            .labels
            .contains(&(labels::LABEL_ENGINE, "elasticsearch".to_owned()))
    );
    assert!(
        found[0]
            .labels
            .contains(&(labels::LABEL_VPC_ID, "vpc-9".to_owned()))
    );
    let deleted = json!({"DomainName": "old", "ARN": "a", "Deleted": true, "Endpoint": "x"});
    assert!(opensearch::domain(&deleted, "us-east-1").is_err());
}

#[test]
fn rds_proxy_default_endpoints_are_the_proxy_itself() {
    let proxy_xml = r#"<R><DBProxies><member><DBProxyName>p</DBProxyName><Status>available</Status>
      <EngineFamily>MYSQL</EngineFamily><Endpoint>p.proxy-abc123.us-east-1.rds.amazonaws.com</Endpoint>
      <DBProxyArn>arn:aws:rds:us-east-1:1:db-proxy:prx-0123</DBProxyArn>
      <Auth><member><IAMAuth>DISABLED</IAMAuth></member></Auth></member></DBProxies></R>"#;
    let proxy = rds_proxy::proxy(&members(proxy_xml, "DBProxies")[0], "us-east-1").unwrap();
    assert_eq!(proxy.uri, "p.proxy-abc123.us-east-1.rds.amazonaws.com:3306");
    assert_eq!(proxy.iam_auth, Some(false));
    let proxies = BTreeMap::from([(proxy.resource.clone(), proxy)]);
    let default = r#"<R><DBProxyEndpoints><member><DBProxyEndpointName>default</DBProxyEndpointName>
      <DBProxyName>p</DBProxyName><IsDefault>true</IsDefault></member></DBProxyEndpoints></R>"#;
    let e = &members(default, "DBProxyEndpoints")[0];
    assert_eq!(
        rds_proxy::proxy_endpoint(e, &proxies, "us-east-1"),
        Ok(None)
    );
}

fn found(arn: &str, uri: &str) -> Found {
    Found {
        resource: "orders".into(),
        token: "rds",
        description: String::new(),
        protocol: Protocol::Postgres,
        uri: uri.into(),
        arn: arn.into(),
        tags: vec![
            ("region".into(), "spoofed".into()),
            ("team".into(), "a".into()),
        ],
        labels: Vec::new(),
        ids: build::Ids::RdsInstance {
            instance_id: "orders".into(),
            resource_id: None,
        },
        iam_auth: Some(true),
    }
}

#[tokio::test]
async fn databases_are_built_validated_and_kept_in_their_account() {
    let client = client_without_roots();
    let d = Discoverer::new(client, Arc::new(NoRoles));
    let mut m = AwsMatcher::default();
    m.assume_role_arn = Some("arn:aws:iam::222222222222:role/disc".into());
    m.external_id = Some(ExternalId::new("ext-id-1"));
    let role: RoleArn = "arn:aws:iam::222222222222:role/disc".parse().unwrap();
    let creds = Credentials::new("AKID", "secret", None, None, "t");
    let scope = Scope {
        inner: &d.inner,
        index: 3,
        matcher: &m,
        role: Some(&role),
        credentials: &creds,
        region: "us-east-1",
        kind: DiscoveryType::Rds,
    };
    let ok = build::database(
        &scope,
        found(
            "arn:aws:rds:us-east-1:222222222222:db:orders",
            "h.example:5432",
        ),
    )
    .unwrap();
    assert_eq!(ok.database.name, "orders-rds-us-east-1-222222222222");
    assert_eq!(
        ok.database.labels["region"], "us-east-1",
        "AWS facts win over tags"
    );
    assert_eq!(ok.database.labels["team"], "a");
    let foreign = build::database(
        &scope,
        found("arn:aws:rds:us-east-1:999999999999:db:orders", "h:5432"),
    );
    assert!(matches!(
        foreign,
        Err(DiscoveryError::ForeignAccount { matcher: 3, .. })
    ));
    let bad_uri = build::database(
        &scope,
        found("arn:aws:rds:us-east-1:222222222222:db:orders", "h:0"),
    );
    assert!(matches!(bad_uri, Err(DiscoveryError::Invalid { .. })));
    let no_arn = build::database(&scope, found("nope", "h:5432"));
    assert!(matches!(no_arn, Err(DiscoveryError::Invalid { .. })));

    // A matcher whose role cannot be had fails as a whole, and says so once.
    let report = d.discover(7, &m).await;
    assert!(report.failed());
    assert_eq!(report.matcher, 7);
    assert_eq!(report.errors.len(), 1);
    assert!(!format!("{report:?} {}", report.errors[0]).contains("ext-id-1"));
    // A matcher whose external ID has no role is unusable.
    let mut orphan = AwsMatcher::default();
    orphan.external_id = Some(ExternalId::new("ext-id-1"));
    orphan.types = vec!["rds".into()];
    orphan.regions = vec!["us-east-1".into()];
    let report = d.discover(0, &orphan).await;
    assert!(report.failed(), "{:?}", report.errors);
}

proptest! {
    #[test]
    fn any_bytes_through_every_parser_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzz(&data);
    }

    #[test]
    fn answers_with_any_ids_make_valid_names(id in "\\PC{0,80}", host in "[a-z0-9.-]{1,60}") {
        let xml = format!(
            "<R><L><DBInstanceIdentifier>{}</DBInstanceIdentifier><Engine>postgres</Engine>\
             <Endpoint><Address>{host}</Address><Port>5432</Port></Endpoint>\
             <DBInstanceArn>arn:aws:rds:us-east-1:1:db:x</DBInstanceArn></L></R>",
            id.replace('&', "&amp;").replace('<', "&lt;")
        );
        fuzz(xml.as_bytes());
    }
}
