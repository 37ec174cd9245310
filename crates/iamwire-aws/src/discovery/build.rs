//! From what a service said about a resource to a validated [`Database`].

use iamwire_core::{
    Database, ElastiCache, MemoryDb, Protocol, Rds, RdsProxy, Redshift, RedshiftServerless,
};

use super::labels::{
    LABEL_ACCOUNT_ID, LABEL_CLOUD, LABEL_DISCOVERY_TYPE, LABEL_ORIGIN, LABEL_REGION, from_tags,
};
use super::names::database_name;
use super::page::{Scope, arn_account_region};
use super::{DiscoveredDatabase, DiscoveryError};

/// The identifiers that go into a database's `aws` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ids {
    /// An RDS instance.
    RdsInstance {
        instance_id: String,
        resource_id: Option<String>,
    },
    /// An Aurora or DocumentDB cluster (any of its endpoints).
    RdsCluster {
        cluster_id: String,
        resource_id: Option<String>,
    },
    /// An RDS Proxy or one of its endpoints.
    RdsProxy {
        name: String,
        custom_endpoint: Option<String>,
        resource_id: Option<String>,
    },
    /// A Redshift cluster.
    Redshift { cluster_id: String },
    /// A Redshift Serverless workgroup or one of its VPC endpoints.
    RedshiftServerless {
        workgroup: String,
        endpoint: Option<String>,
    },
    /// An ElastiCache replication group.
    ElastiCache { replication_group_id: String },
    /// An ElastiCache serverless cache.
    ElastiCacheServerless { name: String },
    /// A MemoryDB cluster.
    MemoryDb { cluster_name: String },
    /// Nothing beyond region and account (OpenSearch).
    None,
}

/// A resource (or one endpoint of it) as a service described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// The resource part of the database name (`orders`, `orders-reader`).
    pub(crate) resource: String,
    /// The kind of resource in the name (`rds`, `aurora`, ...).
    pub(crate) token: &'static str,
    pub(crate) description: String,
    pub(crate) protocol: Protocol,
    pub(crate) uri: String,
    /// The resource's ARN: its account is the database's account.
    pub(crate) arn: String,
    pub(crate) tags: Vec<(String, String)>,
    /// Labels from the service's answer (engine, engine version, endpoint type, VPC).
    pub(crate) labels: Vec<(&'static str, String)>,
    pub(crate) ids: Ids,
    pub(crate) iam_auth: Option<bool>,
}

impl Found {
    /// Add label `key` if the service said `value`.
    pub(crate) fn label(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            self.labels.push((key, v.to_owned()));
        }
    }
}

/// The validated database for `found`, or why it is left out.
pub(crate) fn database(
    scope: &Scope<'_>,
    found: Found,
) -> Result<DiscoveredDatabase, DiscoveryError> {
    let invalid = |source: iamwire_core::Error| DiscoveryError::Invalid {
        matcher: scope.index,
        region: scope.region.to_owned(),
        kind: scope.kind,
        resource: found.arn.clone(),
        source: Box::new(source),
    };
    let account = match arn_account_region(&found.arn) {
        Some((account, _)) => account.to_owned(),
        None => {
            return Err(invalid(iamwire_core::Error::Database {
                database: found.resource.clone(),
                field: "aws.account_id",
                problem: iamwire_core::Problem::Missing,
            }));
        }
    };
    if let Some(role) = scope.role
        && role.account_id() != account
    {
        return Err(DiscoveryError::ForeignAccount {
            matcher: scope.index,
            region: scope.region.to_owned(),
            kind: scope.kind,
            resource: found.arn.clone(),
            account,
            role_account: role.account_id().to_owned(),
        });
    }
    let name = database_name(
        scope.inner.names,
        &found.resource,
        found.token,
        scope.region,
        &account,
    );
    let mut db = Database::new(name, found.protocol, found.uri.clone());
    db.description.clone_from(&found.description);
    db.labels = from_tags(&found.tags);
    for (key, value) in &found.labels {
        db.labels.insert((*key).to_owned(), value.clone());
    }
    for (key, value) in [
        (LABEL_ACCOUNT_ID, account.as_str()),
        (LABEL_REGION, scope.region),
        (LABEL_DISCOVERY_TYPE, scope.kind.as_str()),
        (LABEL_ORIGIN, "cloud"),
        (LABEL_CLOUD, "AWS"),
    ] {
        db.labels.insert(key.to_owned(), value.to_owned());
    }
    let aws = &mut db.aws;
    aws.region = Some(scope.region.to_owned());
    aws.account_id = Some(account);
    aws.assume_role_arn
        .clone_from(&scope.matcher.assume_role_arn);
    aws.external_id.clone_from(&scope.matcher.external_id);
    fill_ids(aws, found.ids.clone());
    db.validate_static().map_err(invalid)?;
    Ok(DiscoveredDatabase {
        database: db,
        kind: scope.kind,
        arn: found.arn,
        iam_auth: found.iam_auth,
    })
}

fn fill_ids(aws: &mut iamwire_core::Aws, ids: Ids) {
    match ids {
        Ids::RdsInstance {
            instance_id,
            resource_id,
        } => {
            let mut rds = Rds::default();
            rds.instance_id = Some(instance_id);
            rds.resource_id = resource_id;
            aws.rds = Some(rds);
        }
        Ids::RdsCluster {
            cluster_id,
            resource_id,
        } => {
            let mut rds = Rds::default();
            rds.cluster_id = Some(cluster_id);
            rds.resource_id = resource_id;
            aws.rds = Some(rds);
        }
        Ids::RdsProxy {
            name,
            custom_endpoint,
            resource_id,
        } => {
            let mut proxy = RdsProxy::default();
            proxy.name = Some(name);
            proxy.custom_endpoint_name = custom_endpoint;
            proxy.resource_id = resource_id;
            aws.rds_proxy = Some(proxy);
        }
        Ids::Redshift { cluster_id } => {
            let mut redshift = Redshift::default();
            redshift.cluster_id = Some(cluster_id);
            aws.redshift = Some(redshift);
        }
        Ids::RedshiftServerless {
            workgroup,
            endpoint,
        } => {
            let mut rss = RedshiftServerless::default();
            rss.workgroup_name = Some(workgroup);
            rss.endpoint_name = endpoint;
            aws.redshift_serverless = Some(rss);
        }
        Ids::ElastiCache {
            replication_group_id,
        } => {
            let mut cache = ElastiCache::default();
            cache.replication_group_id = Some(replication_group_id);
            aws.elasticache = Some(cache);
        }
        Ids::ElastiCacheServerless { name } => {
            let mut cache = ElastiCache::default();
            cache.serverless_cache_name = Some(name);
            aws.elasticache = Some(cache);
        }
        Ids::MemoryDb { cluster_name } => {
            let mut memorydb = MemoryDb::default();
            memorydb.cluster_name = Some(cluster_name);
            aws.memorydb = Some(memorydb);
        }
        Ids::None => {}
    }
}

/// `host:port` for a database URI (IPv6 literals bracketed).
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
