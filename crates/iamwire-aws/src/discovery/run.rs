//! One discovery run: the matcher's credentials once, then every region/type listing at once (within
//! [`DiscoveryLimits::concurrency`](super::DiscoveryLimits)), each failing on its own.

use std::sync::Arc;

use aws_credential_types::Credentials;
use iamwire_core::{Aws, AwsMatcher, DiscoveryType, RoleArn};
use tokio::task::JoinSet;

use super::build::{self, Found};
use super::labels::tags_match;
use super::page::Scope;
use super::{
    DiscoveredDatabase, DiscoveryError, Inner, MatcherReport, Scope as ScopeKey, elasticache,
    memorydb, opensearch, rds, rds_proxy, redshift,
};
use crate::role::RoleChain;

/// What a listing leaves out as it goes: resources, for what they are, and failures of one part of the
/// listing (one resource's tags, the serverless half of ElastiCache) that do not stop the rest but make
/// the listing incomplete.
#[derive(Debug, Default)]
pub(crate) struct Skips {
    items: Vec<(String, &'static str)>,
    errors: Vec<DiscoveryError>,
}

impl Skips {
    /// Leave `resource` out because `why`.
    pub(crate) fn skip(&mut self, resource: String, why: &'static str) {
        if self.items.len() < MAX_SKIPS {
            self.items.push((resource, why));
        }
    }

    /// Part of the listing failed: report it, and do not call the listing complete.
    pub(crate) fn fail(&mut self, error: DiscoveryError) {
        if self.errors.len() < MAX_SKIPS {
            self.errors.push(error);
        }
    }
}

/// The most skipped resources remembered per listing.
const MAX_SKIPS: usize = 1000;

/// The `aws` section a matcher gives the databases it finds (and the chain it lists them with).
pub(crate) fn matcher_aws(m: &AwsMatcher) -> Aws {
    let mut aws = Aws::default();
    aws.assume_role_arn.clone_from(&m.assume_role_arn);
    aws.external_id.clone_from(&m.external_id);
    aws
}

/// Every matcher at once; reports in matcher order.
pub(crate) async fn all(inner: &Arc<Inner>, matchers: &[AwsMatcher]) -> Vec<MatcherReport> {
    let mut tasks = JoinSet::new();
    for (index, m) in matchers.iter().enumerate() {
        let (inner, m) = (Arc::clone(inner), m.clone());
        tasks.spawn(async move { matcher(&inner, index, &m).await });
    }
    let mut reports: Vec<MatcherReport> = tasks.join_all().await;
    reports.sort_by_key(|r| r.matcher);
    reports
}

/// What matcher `index` finds.
pub(crate) async fn matcher(inner: &Arc<Inner>, index: usize, m: &AwsMatcher) -> MatcherReport {
    let mut report = MatcherReport {
        matcher: index,
        ..MatcherReport::default()
    };
    let aws = matcher_aws(m);
    let chain = match RoleChain::for_database(&aws, None, &inner.reach.session_name) {
        Ok(chain) => chain,
        Err(source) => {
            report.errors.push(DiscoveryError::Matcher {
                matcher: index,
                source: Box::new(source),
            });
            return report;
        }
    };
    let role = aws.assume_role().ok().flatten();
    let credentials = match inner.reach.roles.credentials(&chain).await {
        Ok(c) => c,
        Err(source) => {
            tracing::warn!(matcher = index, error = %source, "discovery: the matcher's role could not be assumed");
            report.errors.push(DiscoveryError::Role {
                matcher: index,
                role: role.as_ref().map_or_else(
                    || "the proxy's own identity".to_owned(),
                    ToString::to_string,
                ),
                code: source.code().map(str::to_owned),
                source: Box::new(source),
            });
            return report;
        }
    };
    let mut scopes = Vec::new();
    for region in &m.regions {
        for kind in m.discovery_types() {
            if !scopes.contains(&(region.clone(), kind)) {
                scopes.push((region.clone(), kind));
            }
        }
    }
    let shared = Arc::new((m.clone(), role, credentials));
    let mut pending = scopes.into_iter();
    let mut tasks = JoinSet::new();
    loop {
        while tasks.len() < inner.limits.concurrency {
            let Some((region, kind)) = pending.next() else {
                break;
            };
            let (inner, shared) = (Arc::clone(inner), Arc::clone(&shared));
            tasks.spawn(async move {
                let (m, role, credentials) = &*shared;
                let listed =
                    listing(&inner, index, m, role.as_ref(), credentials, &region, kind).await;
                (ScopeKey { region, kind }, listed)
            });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        match done {
            Ok((key, listed)) => merge(&mut report, key, listed),
            Err(e) => {
                tracing::error!(matcher = index, error = %e, "discovery: a listing task died")
            }
        }
    }
    finish(&mut report);
    report
}

/// What one region/type listing produced.
struct Listed {
    databases: Vec<DiscoveredDatabase>,
    errors: Vec<DiscoveryError>,
    complete: bool,
    filtered_out: usize,
    skips: Skips,
}

async fn listing(
    inner: &Inner,
    index: usize,
    m: &AwsMatcher,
    role: Option<&RoleArn>,
    credentials: &Credentials,
    region: &str,
    kind: DiscoveryType,
) -> Listed {
    let scope = Scope {
        inner,
        index,
        matcher: m,
        role,
        credentials,
        region,
        kind,
    };
    let mut listed = Listed {
        databases: Vec::new(),
        errors: Vec::new(),
        complete: true,
        filtered_out: 0,
        skips: Skips::default(),
    };
    let found = list(&scope, &mut listed.skips).await;
    for e in std::mem::take(&mut listed.skips.errors) {
        tracing::warn!(matcher = index, %region, %kind, error = %e, "discovery: part of a listing failed");
        listed.errors.push(e);
        listed.complete = false;
    }
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(matcher = index, %region, %kind, error = %e, "discovery: a listing failed");
            listed.errors.push(e);
            listed.complete = false;
            return listed;
        }
    };
    let limit = inner.limits.max_databases;
    for f in found {
        if !tags_match(&m.tags, &f.tags) {
            listed.filtered_out += 1;
            continue;
        }
        if listed.databases.len() >= limit {
            listed.errors.push(scope.truncated("databases", limit));
            listed.complete = false;
            break;
        }
        match build::database(&scope, f) {
            Ok(db) => listed.databases.push(db),
            Err(e) => listed.errors.push(e),
        }
    }
    listed
}

async fn list(scope: &Scope<'_>, skips: &mut Skips) -> Result<Vec<Found>, DiscoveryError> {
    match scope.kind {
        DiscoveryType::Rds => rds::list_rds(scope, skips).await,
        DiscoveryType::DocDb => rds::list_docdb(scope, skips).await,
        DiscoveryType::RdsProxy => rds_proxy::list(scope, skips).await,
        DiscoveryType::Redshift => redshift::list_clusters(scope, skips).await,
        DiscoveryType::RedshiftServerless => redshift::list_serverless(scope, skips).await,
        DiscoveryType::ElastiCache => elasticache::list(scope, skips).await,
        DiscoveryType::MemoryDb => memorydb::list(scope, skips).await,
        DiscoveryType::OpenSearch => opensearch::list(scope, skips).await,
        _ => Ok(Vec::new()),
    }
}

fn merge(report: &mut MatcherReport, key: ScopeKey, listed: Listed) {
    for (resource, why) in listed.skips.items {
        let at = format!("{} {}/{resource}", key.kind, key.region);
        report.skipped.insert(at, why);
    }
    report.databases.extend(listed.databases);
    report.errors.extend(listed.errors);
    report.filtered_out += listed.filtered_out;
    if listed.complete {
        report.complete.insert(key);
    }
}

/// Sort by name and leave out the second of two databases with one name.
fn finish(report: &mut MatcherReport) {
    report.databases.sort_by(|a, b| {
        (&a.database.name, &a.arn, &a.database.uri).cmp(&(
            &b.database.name,
            &b.arn,
            &b.database.uri,
        ))
    });
    let mut kept: Vec<DiscoveredDatabase> = Vec::with_capacity(report.databases.len());
    for db in std::mem::take(&mut report.databases) {
        if kept
            .last()
            .is_some_and(|k| k.database.name == db.database.name)
        {
            report.errors.push(DiscoveryError::NameTaken {
                matcher: report.matcher,
                name: db.database.name.clone(),
                resource: db.arn.clone(),
            });
            continue;
        }
        kept.push(db);
    }
    report.databases = kept;
}
