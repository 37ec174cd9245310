//! The AWS services the proxy calls, as [`Service`]s: one definition each.

use super::Service;

/// Amazon RDS (also Aurora, RDS Proxy and DocumentDB's control plane).
pub(crate) const RDS: Service = Service {
    name: "RDS",
    signing_name: "rds",
    host_prefix: "rds",
};
/// Amazon Redshift (provisioned clusters).
pub(crate) const REDSHIFT: Service = Service {
    name: "Redshift",
    signing_name: "redshift",
    host_prefix: "redshift",
};
/// Amazon Redshift Serverless.
pub(crate) const REDSHIFT_SERVERLESS: Service = Service {
    name: "Redshift Serverless",
    signing_name: "redshift-serverless",
    host_prefix: "redshift-serverless",
};
/// Amazon ElastiCache.
pub(crate) const ELASTICACHE: Service = Service {
    name: "ElastiCache",
    signing_name: "elasticache",
    host_prefix: "elasticache",
};
/// Amazon MemoryDB (its endpoints are `memory-db.<region>`).
pub(crate) const MEMORYDB: Service = Service {
    name: "MemoryDB",
    signing_name: "memorydb",
    host_prefix: "memory-db",
};
/// Amazon OpenSearch Service's control plane (signing name `es`).
pub(crate) const OPENSEARCH: Service = Service {
    name: "OpenSearch",
    signing_name: "es",
    host_prefix: "es",
};
