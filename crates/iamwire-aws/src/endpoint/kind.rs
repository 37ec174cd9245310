//! What a parsed endpoint points at: the service, the resource, and what that implies.

use std::fmt;

/// An AWS database service, as far as endpoint parsing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// Amazon RDS, Aurora and RDS Proxy.
    Rds,
    /// Amazon Redshift (provisioned clusters).
    Redshift,
    /// Amazon Redshift Serverless.
    RedshiftServerless,
    /// Amazon ElastiCache (Redis OSS / Valkey), node-based and serverless.
    ElastiCache,
    /// Amazon MemoryDB.
    MemoryDb,
    /// Amazon DynamoDB, DynamoDB Streams and the DAX control-plane API.
    DynamoDb,
    /// A DynamoDB Accelerator (DAX) cluster (its own binary protocol).
    Dax,
    /// Amazon OpenSearch Service domains.
    OpenSearch,
    /// Amazon Keyspaces (for Apache Cassandra).
    Keyspaces,
}

impl Service {
    /// Whether clients talk to this service over HTTP(S), so that an `https://` URL names it.
    pub fn speaks_http(self) -> bool {
        matches!(self, Self::DynamoDb | Self::OpenSearch)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rds => "RDS",
            Self::Redshift => "Redshift",
            Self::RedshiftServerless => "Redshift Serverless",
            Self::ElastiCache => "ElastiCache",
            Self::MemoryDb => "MemoryDB",
            Self::DynamoDb => "DynamoDB",
            Self::Dax => "DAX",
            Self::OpenSearch => "OpenSearch",
            Self::Keyspaces => "Keyspaces",
        })
    }
}

/// What the host name says about TLS on the upstream connection.
///
/// The upstream dialer turns this into a decision; iamwire's default is TLS with full
/// verification whenever the answer is not [`Unknown`](Self::Unknown), and IAM tokens are never
/// sent over plaintext whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsExpectation {
    /// Use TLS: the service refuses anything else (Keyspaces, FIPS endpoints, ElastiCache
    /// serverless, the host-name form ElastiCache/MemoryDB give clusters created with in-transit
    /// encryption), or it is an HTTP API that iamwire only ever calls over HTTPS (DynamoDB,
    /// OpenSearch).
    Required,
    /// The server offers TLS but may also accept plaintext (RDS, Aurora, RDS Proxy, Redshift,
    /// Redshift Serverless): connect with TLS and verify-full.
    Optional,
    /// The host name does not say (DAX clusters; the ElastiCache/MemoryDB host-name form of
    /// clusters created without in-transit encryption, which may have had it turned on later):
    /// use the database's configured setting.
    Unknown,
}

/// Which Aurora cluster endpoint a host names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuroraRole {
    /// The cluster (writer) endpoint, `cluster-<hash>`.
    Writer,
    /// The reader endpoint, `cluster-ro-<hash>`.
    Reader,
}

/// Which node or group of nodes an ElastiCache or MemoryDB host names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CacheRole {
    /// The configuration endpoint of a cluster-mode-enabled replication group, or of a MemoryDB
    /// cluster (`clustercfg`).
    Configuration,
    /// The primary endpoint of a cluster-mode-disabled replication group (`master`).
    Primary,
    /// The reader endpoint of a cluster-mode-disabled replication group (`replica`, `-ro`).
    Reader,
    /// One node.
    Node {
        /// The node's cache cluster id, such as `my-group-0001-001`.
        node_id: String,
    },
}

/// Which DynamoDB-family HTTP API a host names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DynamoDbApi {
    /// `dynamodb.<region>`.
    Standard,
    /// `dynamodb-fips.<region>`.
    Fips,
    /// DynamoDB Streams, `streams.dynamodb.<region>`.
    Streams,
    /// The DAX control-plane API, `dax.<region>`.
    Dax,
    /// An account-based endpoint, `<account-id>.ddb.<region>`.
    AccountBased {
        /// The 12-digit AWS account id.
        account_id: String,
    },
}

/// How an OpenSearch domain endpoint is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenSearchAccess {
    /// A public endpoint, `search-<domain>-<hash>`.
    Public,
    /// A VPC endpoint, `vpc-<domain>-<hash>`.
    Vpc,
}

/// The resource a host name points at. Ids are lower case, as DNS compares them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndpointKind {
    /// An RDS DB instance (or an Aurora instance's own endpoint).
    RdsInstance {
        /// The DB instance identifier.
        instance_id: String,
    },
    /// An Aurora cluster's writer or reader endpoint.
    AuroraCluster {
        /// The DB cluster identifier.
        cluster_id: String,
        /// Writer or reader endpoint.
        role: AuroraRole,
    },
    /// An Aurora custom endpoint. The host name does not contain the cluster id.
    AuroraCustom {
        /// The custom endpoint's name.
        endpoint_name: String,
    },
    /// An Aurora PostgreSQL Limitless Database shard group endpoint (`shardgrp-<hash>`).
    AuroraShardGroup {
        /// The shard group identifier.
        shard_group_id: String,
    },
    /// An RDS Proxy's default endpoint.
    RdsProxy {
        /// The proxy's name.
        proxy_name: String,
    },
    /// An additional RDS Proxy endpoint (`<name>.endpoint.proxy-<hash>`). The host name does not
    /// contain the proxy's name.
    RdsProxyEndpoint {
        /// The proxy endpoint's name.
        endpoint_name: String,
    },
    /// A provisioned Redshift cluster.
    Redshift {
        /// The cluster identifier.
        cluster_id: String,
    },
    /// A Redshift Serverless workgroup endpoint.
    RedshiftServerless {
        /// The workgroup name.
        workgroup: String,
        /// The 12-digit AWS account id in the host name.
        account_id: String,
    },
    /// A Redshift Serverless managed VPC endpoint (`<name>-endpoint-<hash>`).
    RedshiftServerlessVpcEndpoint {
        /// The VPC endpoint's name.
        endpoint_name: String,
        /// The 12-digit AWS account id in the host name.
        account_id: String,
    },
    /// A node-based ElastiCache (Redis OSS / Valkey) endpoint.
    ElastiCache {
        /// The replication group id (or, for a standalone node, its cache cluster id).
        replication_group_id: String,
        /// Which endpoint of the group.
        role: CacheRole,
        /// Whether the host has the form ElastiCache gives groups created with in-transit
        /// encryption (`clustercfg.`, `master.`, `replica.`, `<node>.<group>.` prefixes).
        transit_encryption: bool,
    },
    /// An ElastiCache serverless cache (always TLS).
    ElastiCacheServerless {
        /// The serverless cache's name.
        cache_name: String,
    },
    /// A MemoryDB cluster or node endpoint.
    MemoryDb {
        /// The cluster name.
        cluster_name: String,
        /// [`CacheRole::Configuration`] or [`CacheRole::Node`].
        role: CacheRole,
        /// Whether the host has the form MemoryDB gives clusters created with TLS.
        transit_encryption: bool,
    },
    /// A DynamoDB-family HTTP API endpoint.
    DynamoDb {
        /// Which API.
        api: DynamoDbApi,
    },
    /// A DAX cluster's discovery endpoint, or one of its nodes.
    DaxCluster {
        /// The cluster name.
        cluster_name: String,
        /// The node id (`<cluster>-a`), for a node endpoint.
        node_id: Option<String>,
    },
    /// An OpenSearch Service domain endpoint.
    OpenSearch {
        /// The domain name.
        domain: String,
        /// Public or VPC endpoint.
        access: OpenSearchAccess,
    },
    /// The Amazon Keyspaces service endpoint of a region.
    Keyspaces {
        /// Whether it is the FIPS endpoint (`cassandra-fips`).
        fips: bool,
    },
}

impl EndpointKind {
    /// The service this endpoint belongs to.
    pub fn service(&self) -> Service {
        match self {
            Self::RdsInstance { .. }
            | Self::AuroraCluster { .. }
            | Self::AuroraCustom { .. }
            | Self::AuroraShardGroup { .. }
            | Self::RdsProxy { .. }
            | Self::RdsProxyEndpoint { .. } => Service::Rds,
            Self::Redshift { .. } => Service::Redshift,
            Self::RedshiftServerless { .. } | Self::RedshiftServerlessVpcEndpoint { .. } => {
                Service::RedshiftServerless
            }
            Self::ElastiCache { .. } | Self::ElastiCacheServerless { .. } => Service::ElastiCache,
            Self::MemoryDb { .. } => Service::MemoryDb,
            Self::DynamoDb { .. } => Service::DynamoDb,
            Self::DaxCluster { .. } => Service::Dax,
            Self::OpenSearch { .. } => Service::OpenSearch,
            Self::Keyspaces { .. } => Service::Keyspaces,
        }
    }

    /// What the host name says about TLS; see [`TlsExpectation`] for each service.
    pub fn tls(&self) -> TlsExpectation {
        match self {
            Self::ElastiCache {
                transit_encryption, ..
            }
            | Self::MemoryDb {
                transit_encryption, ..
            } => {
                if *transit_encryption {
                    TlsExpectation::Required
                } else {
                    TlsExpectation::Unknown
                }
            }
            Self::DaxCluster { .. } => TlsExpectation::Unknown,
            Self::ElastiCacheServerless { .. }
            | Self::DynamoDb { .. }
            | Self::OpenSearch { .. }
            | Self::Keyspaces { .. } => TlsExpectation::Required,
            Self::RdsInstance { .. }
            | Self::AuroraCluster { .. }
            | Self::AuroraCustom { .. }
            | Self::AuroraShardGroup { .. }
            | Self::RdsProxy { .. }
            | Self::RdsProxyEndpoint { .. }
            | Self::Redshift { .. }
            | Self::RedshiftServerless { .. }
            | Self::RedshiftServerlessVpcEndpoint { .. } => TlsExpectation::Optional,
        }
    }

    /// The port the service listens on by default, when the host name alone determines it.
    /// `None` for RDS (it depends on the engine) and DAX clusters (8111 plain, 9111 TLS).
    pub fn default_port(&self) -> Option<u16> {
        match self.service() {
            Service::Rds | Service::Dax => None,
            Service::Redshift | Service::RedshiftServerless => Some(5439),
            Service::ElastiCache | Service::MemoryDb => Some(6379),
            Service::DynamoDb | Service::OpenSearch => Some(443),
            Service::Keyspaces => Some(9142),
        }
    }
}
