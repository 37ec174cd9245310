//! Every endpoint form, in every partition, with the service, region, ids and TLS expectation
//! it must parse to; and the lookalikes and near misses it must not parse.

use iamwire_aws::endpoint::{
    self, AuroraRole, CacheRole, DynamoDbApi, EndpointError, EndpointKind, LabelProblem,
    OpenSearchAccess, Partition, Service, TlsExpectation,
};

const STD: Partition = Partition::Aws;
const GOV: Partition = Partition::AwsUsGov;
const CN: Partition = Partition::AwsCn;

use TlsExpectation::{Optional, Required, Unknown};

fn s(v: &str) -> String {
    v.to_owned()
}
fn instance(id: &str) -> EndpointKind {
    EndpointKind::RdsInstance { instance_id: s(id) }
}
fn aurora(id: &str, role: AuroraRole) -> EndpointKind {
    EndpointKind::AuroraCluster {
        cluster_id: s(id),
        role,
    }
}
fn aurora_custom(name: &str) -> EndpointKind {
    EndpointKind::AuroraCustom {
        endpoint_name: s(name),
    }
}
fn proxy(name: &str) -> EndpointKind {
    EndpointKind::RdsProxy {
        proxy_name: s(name),
    }
}
fn proxy_endpoint(name: &str) -> EndpointKind {
    EndpointKind::RdsProxyEndpoint {
        endpoint_name: s(name),
    }
}
fn redshift(id: &str) -> EndpointKind {
    EndpointKind::Redshift { cluster_id: s(id) }
}
fn workgroup(name: &str, account: &str) -> EndpointKind {
    EndpointKind::RedshiftServerless {
        workgroup: s(name),
        account_id: s(account),
    }
}
fn rs_vpc(name: &str, account: &str) -> EndpointKind {
    EndpointKind::RedshiftServerlessVpcEndpoint {
        endpoint_name: s(name),
        account_id: s(account),
    }
}
fn cache(group: &str, role: CacheRole, tls: bool) -> EndpointKind {
    EndpointKind::ElastiCache {
        replication_group_id: s(group),
        role,
        transit_encryption: tls,
    }
}
fn node(id: &str) -> CacheRole {
    CacheRole::Node { node_id: s(id) }
}
fn serverless(name: &str) -> EndpointKind {
    EndpointKind::ElastiCacheServerless {
        cache_name: s(name),
    }
}
fn memorydb(name: &str, role: CacheRole, tls: bool) -> EndpointKind {
    EndpointKind::MemoryDb {
        cluster_name: s(name),
        role,
        transit_encryption: tls,
    }
}
fn ddb(api: DynamoDbApi) -> EndpointKind {
    EndpointKind::DynamoDb { api }
}
fn dax(cluster: &str, node: Option<&str>) -> EndpointKind {
    EndpointKind::DaxCluster {
        cluster_name: s(cluster),
        node_id: node.map(s),
    }
}
fn opensearch(domain: &str, access: OpenSearchAccess) -> EndpointKind {
    EndpointKind::OpenSearch {
        domain: s(domain),
        access,
    }
}
fn keyspaces(fips: bool) -> EndpointKind {
    EndpointKind::Keyspaces { fips }
}

/// (input, partition, region, kind, tls, port)
type Row = (
    &'static str,
    Partition,
    &'static str,
    EndpointKind,
    TlsExpectation,
    Option<u16>,
);

#[rustfmt::skip]
fn positive_rows() -> Vec<Row> {
    use AuroraRole::{Reader, Writer};
    use CacheRole::{Configuration, Primary};
    use OpenSearchAccess::{Public, Vpc};
    vec![
        // RDS instances
        ("aurora-instance-1.abcdefghijkl.us-west-1.rds.amazonaws.com:5432", STD, "us-west-1", instance("aurora-instance-1"), Optional, Some(5432)),
        ("mydb.c9akciq32lmn.us-gov-west-1.rds.amazonaws.com", GOV, "us-gov-west-1", instance("mydb"), Optional, None),
        ("aurora-instance-2.abcdefghijkl.rds.cn-north-1.amazonaws.com.cn", CN, "cn-north-1", instance("aurora-instance-2"), Optional, None),
        ("instance-test-name.xyz.cn-northwest-1.rds.amazonaws.com.cn", CN, "cn-northwest-1", instance("instance-test-name"), Optional, None),
        ("MyDB.ABCDEFGHIJKL.US-EAST-1.RDS.AMAZONAWS.COM.", STD, "us-east-1", instance("mydb"), Optional, None),
        ("mysql-1.abcdefghijkl.ap-southeast-7.rds.amazonaws.com.:3306", STD, "ap-southeast-7", instance("mysql-1"), Optional, Some(3306)),
        // Aurora clusters
        ("my-cluster.cluster-abcdefghijkl.us-west-1.rds.amazonaws.com", STD, "us-west-1", aurora("my-cluster", Writer), Optional, None),
        ("my-cluster.cluster-ro-abcdefghijkl.us-west-1.rds.amazonaws.com", STD, "us-west-1", aurora("my-cluster", Reader), Optional, None),
        ("my-custom.cluster-custom-abcdefghijkl.us-west-1.rds.amazonaws.com", STD, "us-west-1", aurora_custom("my-custom"), Optional, None),
        ("gov-cluster.cluster-abc123.us-gov-east-1.rds.amazonaws.com", GOV, "us-gov-east-1", aurora("gov-cluster", Writer), Optional, None),
        ("gov-cluster.cluster-ro-abc123.us-gov-east-1.rds.amazonaws.com", GOV, "us-gov-east-1", aurora("gov-cluster", Reader), Optional, None),
        ("gov-custom.cluster-custom-abc123.us-gov-west-1.rds.amazonaws.com", GOV, "us-gov-west-1", aurora_custom("gov-custom"), Optional, None),
        ("cn-cluster.cluster-abc123.rds.cn-north-1.amazonaws.com.cn", CN, "cn-north-1", aurora("cn-cluster", Writer), Optional, None),
        ("cn-cluster.cluster-ro-abc123.rds.cn-northwest-1.amazonaws.com.cn", CN, "cn-northwest-1", aurora("cn-cluster", Reader), Optional, None),
        ("cn-custom.cluster-custom-abc123.rds.cn-north-1.amazonaws.com.cn", CN, "cn-north-1", aurora_custom("cn-custom"), Optional, None),
        ("database-test-name.cluster-xyz.cn-northwest-1.rds.amazonaws.com.cn", CN, "cn-northwest-1", aurora("database-test-name", Writer), Optional, None),
        ("limitless.shardgrp-abc123.us-east-2.rds.amazonaws.com", STD, "us-east-2", EndpointKind::AuroraShardGroup { shard_group_id: s("limitless") }, Optional, None),
        // RDS Proxy
        ("my-proxy.proxy-abcdefghijkl.us-west-1.rds.amazonaws.com", STD, "us-west-1", proxy("my-proxy"), Optional, None),
        ("my-custom.endpoint.proxy-abcdefghijkl.us-west-1.rds.amazonaws.com:5432", STD, "us-west-1", proxy_endpoint("my-custom"), Optional, Some(5432)),
        ("gov-proxy.proxy-abc123.us-gov-west-1.rds.amazonaws.com", GOV, "us-gov-west-1", proxy("gov-proxy"), Optional, None),
        ("gov-ro.endpoint.proxy-abc123.us-gov-west-1.rds.amazonaws.com", GOV, "us-gov-west-1", proxy_endpoint("gov-ro"), Optional, None),
        ("cn-proxy.proxy-abc123.rds.cn-north-1.amazonaws.com.cn", CN, "cn-north-1", proxy("cn-proxy"), Optional, None),
        ("cn-ro.endpoint.proxy-abc123.rds.cn-north-1.amazonaws.com.cn", CN, "cn-north-1", proxy_endpoint("cn-ro"), Optional, None),
        // Redshift
        ("redshift-cluster-1.abcdefghijkl.us-east-1.redshift.amazonaws.com:5439", STD, "us-east-1", redshift("redshift-cluster-1"), Optional, Some(5439)),
        ("gov-dw.abc123.us-gov-west-1.redshift.amazonaws.com", GOV, "us-gov-west-1", redshift("gov-dw"), Optional, None),
        ("redshift-cluster-2.abcdefghijkl.redshift.cn-north-1.amazonaws.com.cn", CN, "cn-north-1", redshift("redshift-cluster-2"), Optional, None),
        // Redshift Serverless
        ("my-workgroup.123456789012.us-east-1.redshift-serverless.amazonaws.com:5439", STD, "us-east-1", workgroup("my-workgroup", "123456789012"), Optional, Some(5439)),
        ("my-vpc-endpoint-xxxyyyzzz.123456789012.us-east-1.redshift-serverless.amazonaws.com", STD, "us-east-1", rs_vpc("my-vpc", "123456789012"), Optional, None),
        ("gov-wg.123456789012.us-gov-west-1.redshift-serverless.amazonaws.com", GOV, "us-gov-west-1", workgroup("gov-wg", "123456789012"), Optional, None),
        ("cn-wg.123456789012.cn-north-1.redshift-serverless.amazonaws.com.cn", CN, "cn-north-1", workgroup("cn-wg", "123456789012"), Optional, None),
        ("cn-wg.123456789012.redshift-serverless.cn-northwest-1.amazonaws.com.cn", CN, "cn-northwest-1", workgroup("cn-wg", "123456789012"), Optional, None),
        // ElastiCache, in-transit encryption form
        ("clustercfg.my-redis-shards.xxxxxx.use1.cache.amazonaws.com:6379", STD, "us-east-1", cache("my-redis-shards", Configuration, true), Required, Some(6379)),
        ("master.my-redis-cluster.xxxxxx.cac1.cache.amazonaws.com", STD, "ca-central-1", cache("my-redis-cluster", Primary, true), Required, None),
        ("replica.my-redis-cluster.xxxxxx.cac1.cache.amazonaws.com", STD, "ca-central-1", cache("my-redis-cluster", CacheRole::Reader, true), Required, None),
        ("my-redis-shards-0002-001.my-redis-shards.xxxxxx.cac1.cache.amazonaws.com", STD, "ca-central-1", cache("my-redis-shards", node("my-redis-shards-0002-001"), true), Required, None),
        ("my-redis-cluster-001.my-redis-cluster.xxxxxx.euc1.cache.amazonaws.com", STD, "eu-central-1", cache("my-redis-cluster", node("my-redis-cluster-001"), true), Required, None),
        ("clustercfg.x.abc123.apne3.cache.amazonaws.com", STD, "ap-northeast-3", cache("x", Configuration, true), Required, None),
        ("master.x.abc123.mxc1.cache.amazonaws.com", STD, "mx-central-1", cache("x", Primary, true), Required, None),
        ("master.prd-abc.pw1qnn.usgw1.cache.amazonaws.com", GOV, "us-gov-west-1", cache("prd-abc", Primary, true), Required, None),
        ("clustercfg.gov-shards.abc123.usge1.cache.amazonaws.com", GOV, "us-gov-east-1", cache("gov-shards", Configuration, true), Required, None),
        ("replica.my-redis-cluster.xxxxxx.cnn1.cache.amazonaws.com.cn:6379", CN, "cn-north-1", cache("my-redis-cluster", CacheRole::Reader, true), Required, Some(6379)),
        ("clustercfg.cn-shards.abc123.cnw1.cache.amazonaws.com.cn", CN, "cn-northwest-1", cache("cn-shards", Configuration, true), Required, None),
        // ElastiCache, plaintext form
        ("my-redis-shards.xxxxxx.clustercfg.use1.cache.amazonaws.com", STD, "us-east-1", cache("my-redis-shards", Configuration, false), Unknown, None),
        ("my-redis-cluster.xxxxxx.ng.0001.cac1.cache.amazonaws.com", STD, "ca-central-1", cache("my-redis-cluster", Primary, false), Unknown, None),
        ("my-redis-cluster-ro.xxxxxx.ng.0001.cac1.cache.amazonaws.com", STD, "ca-central-1", cache("my-redis-cluster", CacheRole::Reader, false), Unknown, None),
        ("my-redis-shards-0001-001.xxxxxx.0001.apse1.cache.amazonaws.com", STD, "ap-southeast-1", cache("my-redis-shards", node("my-redis-shards-0001-001"), false), Unknown, None),
        ("jobs.be6b1p.0001.usgw1.cache.amazonaws.com", GOV, "us-gov-west-1", cache("jobs", node("jobs"), false), Unknown, None),
        ("redis-log-cache.pe5q7k.0001.cnw1.cache.amazonaws.com.cn", CN, "cn-northwest-1", cache("redis-log-cache", node("redis-log-cache"), false), Unknown, None),
        ("eya-prod.enujjj.ng.0001.cnw1.cache.amazonaws.com.cn", CN, "cn-northwest-1", cache("eya-prod", Primary, false), Unknown, None),
        // ElastiCache serverless
        ("my-cache-abc123.serverless.use1.cache.amazonaws.com:6379", STD, "us-east-1", serverless("my-cache"), Required, Some(6379)),
        ("gov-cache-q1w2e3.serverless.usgw1.cache.amazonaws.com", GOV, "us-gov-west-1", serverless("gov-cache"), Required, None),
        ("test-es-serverless-xyzw1a.serverless.cnw1.cache.amazonaws.com.cn", CN, "cn-northwest-1", serverless("test-es-serverless"), Required, None),
        // MemoryDB
        ("clustercfg.my-memorydb.xxxxxx.memorydb.us-east-1.amazonaws.com:6379", STD, "us-east-1", memorydb("my-memorydb", Configuration, true), Required, Some(6379)),
        ("my-memorydb.xxxxxx.clustercfg.memorydb.us-east-1.amazonaws.com", STD, "us-east-1", memorydb("my-memorydb", Configuration, false), Unknown, None),
        ("my-memorydb-0002-001.my-memorydb.xxxxxx.memorydb.us-east-1.amazonaws.com", STD, "us-east-1", memorydb("my-memorydb", node("my-memorydb-0002-001"), true), Required, None),
        ("my-memorydb-0002-001.xxxxx.0002.memorydb.us-east-1.amazonaws.com", STD, "us-east-1", memorydb("my-memorydb", node("my-memorydb-0002-001"), false), Unknown, None),
        ("clustercfg.gov-mdb.abc123.memorydb.us-gov-west-1.amazonaws.com", GOV, "us-gov-west-1", memorydb("gov-mdb", Configuration, true), Required, None),
        ("clustercfg.my-memorydb.xxxxxx.memorydb.cn-north-1.amazonaws.com.cn", CN, "cn-north-1", memorydb("my-memorydb", Configuration, true), Required, None),
        // DynamoDB family
        ("dynamodb.us-east-1.amazonaws.com", STD, "us-east-1", ddb(DynamoDbApi::Standard), Required, None),
        ("https://dynamodb-fips.us-east-1.amazonaws.com:443", STD, "us-east-1", ddb(DynamoDbApi::Fips), Required, Some(443)),
        ("streams.dynamodb.us-west-2.amazonaws.com", STD, "us-west-2", ddb(DynamoDbApi::Streams), Required, None),
        ("dax.eu-west-1.amazonaws.com", STD, "eu-west-1", ddb(DynamoDbApi::Dax), Required, None),
        ("123456789012.ddb.us-east-2.amazonaws.com", STD, "us-east-2", ddb(DynamoDbApi::AccountBased { account_id: s("123456789012") }), Required, None),
        ("dynamodb.us-gov-east-1.amazonaws.com", GOV, "us-gov-east-1", ddb(DynamoDbApi::Standard), Required, None),
        ("dynamodb-fips.us-gov-west-1.amazonaws.com", GOV, "us-gov-west-1", ddb(DynamoDbApi::Fips), Required, None),
        ("https://dynamodb.cn-north-1.amazonaws.com.cn/", CN, "cn-north-1", ddb(DynamoDbApi::Standard), Required, None),
        ("streams.dynamodb.cn-northwest-1.amazonaws.com.cn", CN, "cn-northwest-1", ddb(DynamoDbApi::Streams), Required, None),
        // DAX clusters
        ("mycluster.lbbth4.dax-clusters.eu-west-1.amazonaws.com:9111", STD, "eu-west-1", dax("mycluster", None), Unknown, Some(9111)),
        ("daxcluster-a.abc123.nodes.dax-clusters.us-east-2.amazonaws.com", STD, "us-east-2", dax("daxcluster", Some("daxcluster-a")), Unknown, None),
        ("gov-dax.abc123.dax-clusters.us-gov-west-1.amazonaws.com", GOV, "us-gov-west-1", dax("gov-dax", None), Unknown, None),
        ("cn-dax.abc123.dax-clusters.cn-northwest-1.amazonaws.com.cn", CN, "cn-northwest-1", dax("cn-dax", None), Unknown, None),
        // OpenSearch
        ("search-my-domain-abcdefghijklmnopqrstuvwxyz.us-east-1.es.amazonaws.com", STD, "us-east-1", opensearch("my-domain", Public), Required, None),
        ("vpc-my-domain-abcdefghijklmnopqrstuvwxyz.eu-west-1.es.amazonaws.com:443", STD, "eu-west-1", opensearch("my-domain", Vpc), Required, Some(443)),
        ("https://search-gov-logs-abc123.us-gov-west-1.es.amazonaws.com/_search?q=x", GOV, "us-gov-west-1", opensearch("gov-logs", Public), Required, None),
        ("https://search-se-jinshi-capoiecpteku4kivjhdxtp3nr4.cn-northwest-1.es.amazonaws.com.cn", CN, "cn-northwest-1", opensearch("se-jinshi", Public), Required, None),
        ("vpc-knowledgegraph-4zarhbj33zcjjkqfo3afso45la.cn-north-1.es.amazonaws.com.cn", CN, "cn-north-1", opensearch("knowledgegraph", Vpc), Required, None),
        // Keyspaces
        ("cassandra.us-east-1.amazonaws.com:9142", STD, "us-east-1", keyspaces(false), Required, Some(9142)),
        ("cassandra-fips.us-east-1.amazonaws.com", STD, "us-east-1", keyspaces(true), Required, None),
        ("cassandra.us-gov-east-1.amazonaws.com", GOV, "us-gov-east-1", keyspaces(false), Required, None),
        ("cassandra-fips.us-gov-west-1.amazonaws.com", GOV, "us-gov-west-1", keyspaces(true), Required, None),
        ("cassandra.cn-north-1.amazonaws.com.cn", CN, "cn-north-1", keyspaces(false), Required, None),
    ]
}

#[test]
fn every_form_parses_to_its_service_region_ids_and_tls() {
    let rows = positive_rows();
    assert!(rows.len() >= 60, "only {} rows", rows.len());
    for (input, partition, region, kind, tls, port) in rows {
        let ep = endpoint::parse(input).unwrap_or_else(|e| panic!("{input}: {e} ({e:?})"));
        assert_eq!(ep.partition, partition, "{input}");
        assert_eq!(ep.region, region, "{input}");
        assert_eq!(ep.kind, kind, "{input}");
        assert_eq!(ep.tls(), tls, "{input}");
        assert_eq!(ep.port, port, "{input}");
        assert_eq!(ep.service(), kind.service(), "{input}");
        assert_eq!(
            Partition::from_region(&ep.region),
            Some(ep.partition),
            "{input}"
        );
    }
}

#[test]
fn normalised_host_reparses_to_the_same_endpoint() {
    for (input, ..) in positive_rows() {
        let ep = endpoint::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert!(!ep.host.ends_with('.') && !ep.host.contains(':'), "{input}");
        assert_eq!(ep.host, ep.host.to_ascii_lowercase(), "{input}");
        let again = endpoint::parse(&ep.host).unwrap_or_else(|e| panic!("{}: {e}", ep.host));
        assert_eq!(
            (again.partition, &again.region, &again.kind),
            (ep.partition, &ep.region, &ep.kind)
        );
        // The same host is found through FromStr, too.
        let via_from_str: endpoint::Endpoint = ep.host.parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(via_from_str, again);
    }
}

fn malformed(want: Service) -> impl Fn(&EndpointError) -> bool {
    move |e| matches!(e, EndpointError::Malformed { service, .. } if *service == want)
}

/// What a rejected input's error must satisfy.
type Check = Box<dyn Fn(&EndpointError) -> bool>;

fn is(want: EndpointError) -> impl Fn(&EndpointError) -> bool {
    move |e| *e == want
}

fn mismatch(
    region: &'static str,
    partition: Partition,
    suffix: &'static str,
) -> impl Fn(&EndpointError) -> bool {
    is(EndpointError::PartitionMismatch {
        region: s(region),
        partition,
        suffix,
    })
}

#[test]
fn lookalikes_and_near_misses_are_rejected() {
    let not_aws = || is(EndpointError::NotAws);
    let unknown = || is(EndpointError::UnknownService);
    #[rustfmt::skip]
    let rows: Vec<(&str, Check)> = vec![
        // Not AWS at all, or only pretending.
        ("x.rds.amazonaws.com.evil.com", Box::new(not_aws())),
        ("mydb.abc123.us-east-1.rds.amazonaws.com.evil.com", Box::new(not_aws())),
        ("mydb.abc123.us-east-1.rds.evilamazonaws.com", Box::new(not_aws())),
        ("mydb.abc123.us-east-1.rds.amazonaws.co", Box::new(not_aws())),
        ("replica.my-redis.xxxxxx.cac1.cache.amazonaws.ca:6379", Box::new(not_aws())),
        ("localhost", Box::new(not_aws())),
        ("localhost:5432", Box::new(not_aws())),
        ("10.0.0.1:5432", Box::new(not_aws())),
        ("db.example.com", Box::new(not_aws())),
        ("search.example.com", Box::new(not_aws())),
        ("https://search.mycorp.internal/_cluster/health", Box::new(not_aws())),
        ("dynamodb.us-east-1.api.aws", Box::new(not_aws())),
        // AWS, but no database endpoint form.
        ("amazonaws.com", Box::new(unknown())),
        ("rds.amazonaws.com", Box::new(unknown())),
        ("rds.us-east-1.amazonaws.com", Box::new(unknown())),
        ("rds.cn-north-1.amazonaws.com.cn", Box::new(unknown())),
        ("s3.us-east-1.amazonaws.com", Box::new(unknown())),
        ("foo.us-east-1.amazonaws.com", Box::new(unknown())),
        ("elb-name.elb.us-east-2.amazonaws.com", Box::new(unknown())),
        ("foo.dynamodb.us-east-1.amazonaws.com", Box::new(unknown())),
        ("streams.foo.us-east-1.amazonaws.com", Box::new(unknown())),
        ("dynamodb.amazonaws.com", Box::new(unknown())),
        ("foo.cassandra.us-east-1.amazonaws.com", Box::new(unknown())),
        // Wrong label counts or shapes for a known service.
        ("mydb.us-east-1.rds.amazonaws.com", Box::new(malformed(Service::Rds))),
        ("a.b.c.d.us-east-1.rds.amazonaws.com", Box::new(malformed(Service::Rds))),
        ("my-custom.notendpoint.proxy-abc.us-east-1.rds.amazonaws.com", Box::new(malformed(Service::Rds))),
        ("mydb.abc-def.us-east-1.rds.amazonaws.com", Box::new(malformed(Service::Rds))),
        ("mydb.cluster-ro-a-b.us-east-1.rds.amazonaws.com", Box::new(malformed(Service::Rds))),
        ("mydb.abc123.rds.us-east-1.amazonaws.com", Box::new(malformed(Service::Rds))),
        ("redshift-cluster-1.us-east-1.redshift.amazonaws.com", Box::new(malformed(Service::Redshift))),
        ("dw.abc123.redshift.us-east-1.amazonaws.com", Box::new(malformed(Service::Redshift))),
        ("wg.1234567890.us-east-1.redshift-serverless.amazonaws.com", Box::new(malformed(Service::RedshiftServerless))),
        ("wg.us-east-1.redshift-serverless.amazonaws.com", Box::new(malformed(Service::RedshiftServerless))),
        ("my-redis-cluster.cac1.cache.amazonaws.com:6379", Box::new(malformed(Service::ElastiCache))),
        ("my-memcached.abc123.cfg.use1.cache.amazonaws.com", Box::new(malformed(Service::ElastiCache))),
        ("foo.my-redis.xxxxxx.use1.cache.amazonaws.com", Box::new(malformed(Service::ElastiCache))),
        ("serverless.use1.cache.amazonaws.com", Box::new(malformed(Service::ElastiCache))),
        ("unknown.format.memorydb.ca-central-1.amazonaws.com:6379", Box::new(malformed(Service::MemoryDb))),
        ("12345.ddb.us-east-1.amazonaws.com", Box::new(malformed(Service::DynamoDb))),
        ("mycluster.abc123.nodes.dax-clusters.us-east-1.amazonaws.com", Box::new(malformed(Service::Dax))),
        ("my-domain-abc.us-east-1.es.amazonaws.com", Box::new(malformed(Service::OpenSearch))),
        ("search-abc.us-east-1.es.amazonaws.com", Box::new(malformed(Service::OpenSearch))),
        ("a.search-d-abc.us-east-1.es.amazonaws.com", Box::new(malformed(Service::OpenSearch))),
        // Regions: unknown short codes, bad names, partition mismatches.
        ("clustercfg.my-redis.xxxxxx.use9.cache.amazonaws.com", Box::new(is(EndpointError::UnknownShortRegion { code: s("use9") }))),
        ("clustercfg.my-redis.xxxxxx.us-east-1.cache.amazonaws.com", Box::new(is(EndpointError::UnknownShortRegion { code: s("us-east-1") }))),
        ("master.my-redis.xxxxxx.cnnw1.cache.amazonaws.com.cn", Box::new(is(EndpointError::UnknownShortRegion { code: s("cnnw1") }))),
        ("mydb.abc123.useast1.rds.amazonaws.com", Box::new(is(EndpointError::InvalidRegion { region: s("useast1") }))),
        ("mydb.abc123.us-iso-east-1.rds.amazonaws.com", Box::new(is(EndpointError::InvalidRegion { region: s("us-iso-east-1") }))),
        ("dynamodb.local.amazonaws.com", Box::new(is(EndpointError::InvalidRegion { region: s("local") }))),
        ("clustercfg.my-redis.xxxxxx.cnn1.cache.amazonaws.com", Box::new(mismatch("cn-north-1", CN, "amazonaws.com"))),
        ("replica.my-redis.xxxxxx.use1.cache.amazonaws.com.cn", Box::new(mismatch("us-east-1", STD, "amazonaws.com.cn"))),
        ("mydb.abc123.us-east-1.rds.amazonaws.com.cn", Box::new(mismatch("us-east-1", STD, "amazonaws.com.cn"))),
        ("mydb.abc123.cn-north-1.rds.amazonaws.com", Box::new(mismatch("cn-north-1", CN, "amazonaws.com"))),
        ("dynamodb.us-gov-west-1.amazonaws.com.cn", Box::new(mismatch("us-gov-west-1", GOV, "amazonaws.com.cn"))),
        ("dynamodb.cn-north-1.amazonaws.com", Box::new(mismatch("cn-north-1", CN, "amazonaws.com"))),
        // Schemes: https only, and only for HTTP services.
        ("https://mydb.abc123.us-east-1.rds.amazonaws.com", Box::new(is(EndpointError::SchemeNotAllowed { service: Service::Rds }))),
        ("https://cassandra.us-east-1.amazonaws.com", Box::new(is(EndpointError::SchemeNotAllowed { service: Service::Keyspaces }))),
        ("https://clustercfg.x.abc.use1.cache.amazonaws.com", Box::new(is(EndpointError::SchemeNotAllowed { service: Service::ElastiCache }))),
        ("https://mycluster.abc.dax-clusters.us-east-1.amazonaws.com", Box::new(is(EndpointError::SchemeNotAllowed { service: Service::Dax }))),
        ("http://dynamodb.us-east-1.amazonaws.com", Box::new(is(EndpointError::UnsupportedScheme))),
        ("redis://clustercfg.my-memorydb.xxxxxx.memorydb.us-east-1.amazonaws.com:6379", Box::new(is(EndpointError::UnsupportedScheme))),
        // Syntax.
        ("", Box::new(is(EndpointError::Empty))),
        ("mydb.abc123.us-east-1.rds.amazonaws.com:99999", Box::new(is(EndpointError::InvalidPort))),
        ("mydb.abc123.us-east-1.rds.amazonaws.com:", Box::new(is(EndpointError::InvalidPort))),
        ("my_db.abc123.us-east-1.rds.amazonaws.com", Box::new(is(EndpointError::InvalidLabel { index: 0, problem: LabelProblem::BadChar }))),
        ("mydb..us-east-1.rds.amazonaws.com", Box::new(is(EndpointError::InvalidLabel { index: 1, problem: LabelProblem::Empty }))),
        ("mydb.abc123.us-east-1.rds.amazonaws.com..", Box::new(is(EndpointError::InvalidLabel { index: 6, problem: LabelProblem::Empty }))),
    ];
    assert!(rows.len() >= 40);
    for (input, check) in rows {
        match endpoint::parse(input) {
            Ok(ep) => panic!("{input} parsed as {ep:?}"),
            Err(err) => assert!(check(&err), "{input}: unexpected {err:?}"),
        }
    }
}

#[test]
fn default_ports() {
    let cases: &[(&str, Option<u16>)] = &[
        ("mydb.abc123.us-east-1.rds.amazonaws.com", None),
        ("mydb.abc123.us-east-1.rds.amazonaws.com:3306", Some(3306)),
        ("dw.abc123.us-east-1.redshift.amazonaws.com", Some(5439)),
        ("master.g.abc123.use1.cache.amazonaws.com", Some(6379)),
        ("https://dynamodb.us-east-1.amazonaws.com", Some(443)),
        ("cassandra.us-east-1.amazonaws.com", Some(9142)),
        ("c.abc123.dax-clusters.us-east-1.amazonaws.com", None),
    ];
    for (input, want) in cases {
        let ep = endpoint::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(ep.port_or_default(), *want, "{input}");
    }
}

#[test]
fn only_http_services_accept_https() {
    let http: Vec<Service> = [
        Service::Rds,
        Service::Redshift,
        Service::RedshiftServerless,
        Service::ElastiCache,
        Service::MemoryDb,
        Service::DynamoDb,
        Service::Dax,
        Service::OpenSearch,
        Service::Keyspaces,
    ]
    .into_iter()
    .filter(|s| s.speaks_http())
    .collect();
    assert_eq!(http, [Service::DynamoDb, Service::OpenSearch]);
}

#[test]
fn errors_display_without_echoing_long_input() {
    let long = format!("{}.example.com", "a".repeat(60));
    let err = endpoint::parse(&long).err();
    assert_eq!(err, Some(EndpointError::NotAws));
    let too_long = "a.".repeat(2000);
    let err = endpoint::parse(&too_long).err().map(|e| e.to_string());
    assert!(err.is_some_and(|m| m.len() < 200));
}
