//! AWS discovery: the databases a `db_service.aws` matcher finds, through the matcher's role.
//!
//! A [`Discoverer`] takes an [`AwsMatcher`] (types, regions, tags, `assume_role_arn`, `external_id`),
//! gets the credentials of the matcher's role from a [`RoleProvider`] (the same chain, and so the same
//! cache entry, the injectors use for the databases found), and lists each type in each region with
//! signed calls through an [`ApiClient`]:
//!
//! | type | AWS calls |
//! |---|---|
//! | `rds` | `rds:DescribeDBInstances` (Postgres, MySQL, MariaDB; Aurora members left out), `rds:DescribeDBClusters` (Aurora: writer, reader when the cluster has readers, and custom endpoints) |
//! | `rdsproxy` | `rds:DescribeDBProxies`, `rds:DescribeDBProxyEndpoints`, `rds:ListTagsForResource` |
//! | `redshift` | `redshift:DescribeClusters` |
//! | `redshift-serverless` | `redshift-serverless:ListWorkgroups`, `ListEndpointAccess`, `ListTagsForResource` |
//! | `elasticache` | `elasticache:DescribeReplicationGroups`, `DescribeServerlessCaches`, `ListTagsForResource` |
//! | `memorydb` | `memorydb:DescribeClusters`, `memorydb:ListTags` |
//! | `opensearch` | `es:ListDomainNames`, `es:DescribeDomains`, `es:ListTags` |
//! | `docdb` | `rds:DescribeDBClusters` (engine `docdb`) |
//!
//! Each found resource passes the matcher's tag filter ([`tags_match`]) or is left out; its tags become
//! labels, with `account-id`, `region`, `engine`, `engine-version`, `endpoint-type`, `vpc-id` and the
//! `iamwire.dev/*` labels on top; its region, account (from its ARN), identifiers and the matcher's
//! role and external ID fill the database's `aws` section, and the result is validated like static
//! configuration. Names follow [`NameStyle`]: by default `<resource>-<type>-<region>-<account>`, so
//! the same resource always gets the same name and resources in different regions or accounts never
//! collide.
//!
//! Failures are reported per matcher, region and type in the [`MatcherReport`] beside what was found;
//! one never stops another. [`MatcherReport::is_complete`] says which region/type lists are whole, so
//! a caller removes databases that disappeared only from those (a throttled region keeps what it had).
//!
//! ```no_run
//! # async fn example(client: iamwire_aws::aws_api::ApiClient,
//! #                  roles: std::sync::Arc<dyn iamwire_aws::role::RoleProvider>,
//! #                  matchers: Vec<iamwire_core::AwsMatcher>) {
//! use iamwire_aws::discovery::Discoverer;
//!
//! let discoverer = Discoverer::new(client, roles);
//! for report in discoverer.discover_all(&matchers).await {
//!     for found in &report.databases {
//!         println!("{} {} iam auth: {:?}", found.database.name, found.database.uri, found.iam_auth);
//!     }
//!     for error in &report.errors {
//!         eprintln!("{error}"); // e.g. a role that cannot be assumed; the other matchers ran anyway
//!     }
//! }
//! # }
//! ```

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use iamwire_core::{AwsMatcher, Clock, Database, DiscoveryType};

use crate::aws_api::ApiClient;
use crate::reach::Reach;
use crate::role::RoleProvider;

mod build;
mod elasticache;
mod error;
mod iam_auth;
mod labels;
mod memorydb;
mod names;
mod opensearch;
mod page;
mod rds;
mod rds_proxy;
mod redshift;
mod run;

pub use error::DiscoveryError;
pub use labels::{
    LABEL_ACCOUNT_ID, LABEL_CLOUD, LABEL_DISCOVERY_TYPE, LABEL_ENDPOINT_TYPE, LABEL_ENGINE,
    LABEL_ENGINE_VERSION, LABEL_ORIGIN, LABEL_REGION, LABEL_VPC_ID, tags_match,
};
pub use names::NameStyle;

pub(crate) use run::Skips;

/// Bounds on one discovery run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscoveryLimits {
    /// Resources asked for per page (`MaxRecords` / `MaxResults`); AWS allows 20 to 100 for most
    /// calls. Default 50.
    pub page_size: u32,
    /// Pages read per listing before it stops as [`DiscoveryError::Truncated`]. Default 200.
    pub max_pages: usize,
    /// Databases kept per matcher, region and type before the rest is dropped as
    /// [`DiscoveryError::Truncated`]. Default 5000.
    pub max_databases: usize,
    /// Region/type listings run at once per matcher. Default 4.
    pub concurrency: usize,
}

impl Default for DiscoveryLimits {
    fn default() -> Self {
        Self {
            page_size: 50,
            max_pages: 200,
            max_databases: 5000,
            concurrency: 4,
        }
    }
}

impl DiscoveryLimits {
    /// These limits with `page_size` resources per page (clamped to AWS's 20..=100).
    #[must_use]
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(20, 100);
        self
    }

    /// These limits with at most `max_pages` pages per listing (at least 1).
    #[must_use]
    pub fn max_pages(mut self, max_pages: usize) -> Self {
        self.max_pages = max_pages.max(1);
        self
    }

    /// These limits with at most `max_databases` databases per matcher, region and type.
    #[must_use]
    pub fn max_databases(mut self, max_databases: usize) -> Self {
        self.max_databases = max_databases;
        self
    }

    /// These limits with `concurrency` listings at once per matcher (at least 1).
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }
}

/// One database found by discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscoveredDatabase {
    /// The database, validated, ready to serve with the matcher's role.
    pub database: Database,
    /// The discovery type that found it.
    pub kind: DiscoveryType,
    /// The ARN of the AWS resource behind it (the cluster of an Aurora endpoint, the proxy endpoint...).
    pub arn: String,
    /// Whether IAM database authentication is on: `Some(false)` for an RDS instance or Aurora cluster
    /// that has it off (see [`Discoverer::enable_iam_auth`]), `None` where AWS does not say.
    pub iam_auth: Option<bool>,
}

impl DiscoveredDatabase {
    /// The region the database was found in.
    pub fn region(&self) -> &str {
        self.database.aws.region.as_deref().unwrap_or_default()
    }

    /// The account the database lives in.
    pub fn account_id(&self) -> &str {
        self.database.aws.account_id.as_deref().unwrap_or_default()
    }

    /// Whether [`Discoverer::enable_iam_auth`] can turn IAM authentication on for this database.
    pub fn can_enable_iam_auth(&self) -> bool {
        self.iam_auth == Some(false)
            && self.kind == DiscoveryType::Rds
            && self.database.aws.rds.is_some()
    }
}

/// A region and type a matcher lists: the unit that succeeds or fails on its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The region.
    pub region: String,
    /// The database type.
    pub kind: DiscoveryType,
}

/// What one matcher found, and what went wrong, side by side.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct MatcherReport {
    /// The matcher's index in `db_service.aws`.
    pub matcher: usize,
    /// The databases found, sorted by name.
    pub databases: Vec<DiscoveredDatabase>,
    /// What failed; empty when everything was listed.
    pub errors: Vec<DiscoveryError>,
    /// The region/type lists that were read to the end without error.
    pub complete: HashSet<Scope>,
    /// How many resources the tag filter left out.
    pub filtered_out: usize,
    /// Resources left out for what they are (a stopped instance, an engine iamwire does not serve, a
    /// cache without in-transit encryption), with why, by resource.
    pub skipped: BTreeMap<String, &'static str>,
}

impl MatcherReport {
    /// Whether `kind` in `region` was listed to the end: databases of that scope missing from this
    /// report are gone. For an incomplete scope, keep what an earlier run found.
    pub fn is_complete(&self, region: &str, kind: DiscoveryType) -> bool {
        self.complete.contains(&Scope {
            region: region.to_owned(),
            kind,
        })
    }

    /// Whether the whole matcher failed (its role could not be assumed, its settings are unusable).
    pub fn failed(&self) -> bool {
        self.errors.iter().any(DiscoveryError::is_matcher_wide)
    }
}

/// Lists the databases of discovery matchers through their roles. Cheap to clone; share one.
#[derive(Clone, Debug)]
pub struct Discoverer {
    inner: Arc<Inner>,
}

#[derive(Clone, Debug)]
pub(crate) struct Inner {
    pub(crate) reach: Reach,
    pub(crate) limits: DiscoveryLimits,
    pub(crate) names: NameStyle,
}

impl Discoverer {
    /// A discoverer calling AWS through `client` with credentials from `roles`, on the system clock,
    /// with the default session name (the one the injectors use, so they share cached credentials).
    pub fn new(client: ApiClient, roles: Arc<dyn RoleProvider>) -> Self {
        Self {
            inner: Arc::new(Inner {
                reach: Reach::new(client, roles),
                limits: DiscoveryLimits::default(),
                names: NameStyle::default(),
            }),
        }
    }

    /// Sign calls at the time `clock` gives (a test seam).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        Arc::make_mut(&mut self.inner).reach.clock = clock;
        self
    }

    /// The AssumeRole session name; keep it equal to the injectors' so credentials are shared.
    #[must_use]
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner).reach.session_name = name.into();
        self
    }

    /// Send every call to `url` (an emulator) instead of the services' regional endpoints.
    #[must_use]
    pub fn endpoint_override(mut self, url: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner).reach.endpoint = Some(url.into());
        self
    }

    /// Send calls of one service to `url` (a VPC endpoint); `service` is the signing name: `rds`,
    /// `redshift`, `redshift-serverless`, `elasticache`, `memorydb` or `es`.
    #[must_use]
    pub fn service_endpoint(mut self, service: &str, url: impl Into<String>) -> Self {
        let reach = &mut Arc::make_mut(&mut self.inner).reach;
        reach
            .service_endpoints
            .insert(service.to_owned(), url.into());
        self
    }

    /// Bounds on pages, databases and concurrency.
    #[must_use]
    pub fn limits(mut self, limits: DiscoveryLimits) -> Self {
        Arc::make_mut(&mut self.inner).limits = limits;
        self
    }

    /// How databases are named.
    #[must_use]
    pub fn name_style(mut self, style: NameStyle) -> Self {
        Arc::make_mut(&mut self.inner).names = style;
        self
    }

    /// List what matcher number `index` finds. Never fails as a whole: errors are in the report.
    pub async fn discover(&self, index: usize, matcher: &AwsMatcher) -> MatcherReport {
        run::matcher(&self.inner, index, matcher).await
    }

    /// [`discover`](Self::discover) every matcher at once (a matcher whose STS call hangs delays no
    /// other); one report per matcher, in matcher order.
    pub async fn discover_all(&self, matchers: &[AwsMatcher]) -> Vec<MatcherReport> {
        run::all(&self.inner, matchers).await
    }

    /// Turn IAM database authentication on for a discovered RDS instance or Aurora cluster that has it
    /// off (`ModifyDBInstance` / `ModifyDBCluster` with `EnableIAMDatabaseAuthentication`, applied
    /// immediately), through the database's own role. For matchers that ask for it; needs
    /// `rds:ModifyDBInstance` / `rds:ModifyDBCluster`.
    ///
    /// # Errors
    ///
    /// [`DiscoveryError::NotRds`] for other databases; [`DiscoveryError::Credentials`] or
    /// [`DiscoveryError::EnableIamAuth`] when AWS refuses.
    pub async fn enable_iam_auth(&self, found: &DiscoveredDatabase) -> Result<(), DiscoveryError> {
        iam_auth::enable(&self.inner, found).await
    }
}

/// Fuzz entry point: arbitrary bytes as a discovery answer (XML or JSON), through every parser of every
/// type, and every resource id through the naming rule. Never panics; every name is valid.
pub(crate) fn fuzz(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let region = "us-east-1";
    let mut resources: Vec<String> = Vec::new();
    if let Some(root) = crate::aws_api::wire::parse_xml_limited(text, 50_000) {
        let members = root
            .children
            .iter()
            .chain(root.children.iter().flat_map(|c| &c.children));
        for e in members {
            if let Ok(Some(f)) = rds::instance(e, region) {
                resources.push(f.resource);
            }
            for engines in [
                &["aurora-postgresql", "aurora-mysql", "aurora"][..],
                &["docdb"],
            ] {
                if let Ok(found) = rds::cluster(e, engines, region) {
                    resources.extend(found.into_iter().map(|f| f.resource));
                }
            }
            if let Ok(proxy) = rds_proxy::proxy(e, region) {
                let proxies = BTreeMap::from([(proxy.resource.clone(), proxy)]);
                if let Ok(Some(f)) = rds_proxy::proxy_endpoint(e, &proxies, region) {
                    resources.push(f.resource);
                }
            }
            if let Ok(f) = redshift::cluster(e, region, Some("222222222222")) {
                resources.push(f.resource);
            }
            for found in [
                elasticache::replication_group(e, region),
                elasticache::serverless_cache(e, region),
            ]
            .into_iter()
            .flatten()
            {
                resources.extend(found.into_iter().map(|f| f.resource));
            }
        }
    }
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let items = std::iter::once(&value).chain(value.as_array().into_iter().flatten());
        for v in items {
            if let Ok(wg) = redshift::workgroup(v, region) {
                let groups = BTreeMap::from([(wg.resource.clone(), wg)]);
                if let Ok(f) = redshift::vpc_endpoint(v, &groups, region) {
                    resources.push(f.resource);
                }
            }
            if let Ok(f) = memorydb::cluster(v, region) {
                resources.push(f.resource);
            }
            if let Ok(found) = opensearch::domain(v, region) {
                resources.extend(found.into_iter().map(|f| f.resource));
            }
        }
    }
    resources.push(text.chars().take(200).collect());
    for resource in &resources {
        for style in [NameStyle::Qualified, NameStyle::Plain] {
            let name = names::database_name(style, resource, "rds", region, "222222222222");
            let mut db = Database::new(name, iamwire_core::Protocol::Postgres, "h:1");
            assert!(db.validate_static().is_ok(), "{:?}", db.name);
        }
    }
}

#[cfg(test)]
mod tests;
