//! The `aws` section of a database: account, role to assume, and per-service identifiers.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use crate::error::ArnError;
use crate::resource::RoleArn;

/// The external ID sent with `sts:AssumeRole` against the confused-deputy problem.
///
/// Its `Debug` output is redacted so that it never reaches logs; read it with
/// [`ExternalId::expose`] only where it is sent to STS.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ExternalId(String);

impl ExternalId {
    /// Wraps an external ID.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The external ID itself, for the AssumeRole request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExternalId(** redacted **)")
    }
}

/// AWS settings of a database (Teleport's `aws` section of a database / `spec.aws`).
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aws {
    /// Region of the database, e.g. `us-west-1`.
    pub region: Option<String>,
    /// Account the database lives in. Static configuration derives it from `assume_role_arn`;
    /// a dynamic resource that sets `assume_role_arn` must carry it and it must match.
    pub account_id: Option<String>,
    /// The role to assume before logging in (usually in the database's account).
    pub assume_role_arn: Option<String>,
    /// External ID for the AssumeRole call; redacted in `Debug`.
    pub external_id: Option<ExternalId>,
    /// STS session tags for the AssumeRole call.
    #[serde(default)]
    pub session_tags: BTreeMap<String, String>,
    /// RDS / Aurora identifiers.
    pub rds: Option<Rds>,
    /// RDS Proxy identifiers (`rdsproxy`, as in Teleport's resource; `rds_proxy` also accepted).
    #[serde(rename = "rdsproxy", alias = "rds_proxy")]
    pub rds_proxy: Option<RdsProxy>,
    /// Redshift (provisioned) identifiers.
    pub redshift: Option<Redshift>,
    /// Redshift Serverless identifiers; when set, the database logs in as an IAM role.
    pub redshift_serverless: Option<RedshiftServerless>,
    /// ElastiCache identifiers.
    pub elasticache: Option<ElastiCache>,
    /// MemoryDB identifiers.
    pub memorydb: Option<MemoryDb>,
}

impl Aws {
    /// `assume_role_arn` parsed, or `None` when it is not set.
    ///
    /// # Errors
    ///
    /// The [`ArnError`] if it is set but is not an IAM role ARN (validation rejects that).
    pub fn assume_role(&self) -> Result<Option<RoleArn>, ArnError> {
        self.assume_role_arn.as_deref().map(str::parse).transpose()
    }
}

/// RDS / Aurora identifiers of a database.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rds {
    /// The DB instance identifier.
    pub instance_id: Option<String>,
    /// The Aurora cluster identifier.
    pub cluster_id: Option<String>,
    /// The resource id (`db-...` / `cluster-...`) that RDS IAM policies name.
    pub resource_id: Option<String>,
}

/// RDS Proxy identifiers of a database.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RdsProxy {
    /// The proxy's name.
    pub name: Option<String>,
    /// The proxy's custom endpoint, when the URI points at one.
    pub custom_endpoint_name: Option<String>,
    /// The proxy's resource id (`prx-...`).
    pub resource_id: Option<String>,
}

/// Redshift (provisioned) identifiers of a database.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redshift {
    /// The cluster identifier.
    pub cluster_id: Option<String>,
}

/// Redshift Serverless identifiers of a database.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedshiftServerless {
    /// The workgroup name (required when this section is set).
    pub workgroup_name: Option<String>,
    /// The VPC endpoint name, when the URI points at one.
    pub endpoint_name: Option<String>,
}

/// ElastiCache identifiers of a database.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElastiCache {
    /// The replication group id (node-based clusters).
    pub replication_group_id: Option<String>,
    /// The serverless cache name (ElastiCache Serverless).
    pub serverless_cache_name: Option<String>,
}

/// MemoryDB identifiers of a database.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryDb {
    /// The cluster name.
    pub cluster_name: Option<String>,
}
