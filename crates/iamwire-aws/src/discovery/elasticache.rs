//! `elasticache`: replication groups (`DescribeReplicationGroups`) and serverless caches
//! (`DescribeServerlessCaches`), with tags by `ListTagsForResource`. Only caches with in-transit
//! encryption are served: IAM authentication needs it, and tokens never travel in plaintext.
//!
//! Answer shapes: <https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeReplicationGroups.html>,
//! <https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeServerlessCaches.html>.

use iamwire_core::Protocol;

use super::build::{Found, Ids, host_port};
use super::labels::{LABEL_ENDPOINT_TYPE, LABEL_ENGINE, LABEL_ENGINE_VERSION};
use super::page::{Scope, tag_by_arn, text, xml_tags};
use super::rds::Skip;
use super::{DiscoveryError, Skips};
use crate::aws_api::services::ELASTICACHE;
use crate::aws_api::wire::Element;

const VERSION: &str = "2015-02-02";

/// Replication groups, then serverless caches. A failure of one half is reported and the other half is
/// still listed.
pub(crate) async fn list(
    scope: &Scope<'_>,
    skips: &mut Skips,
) -> Result<Vec<Found>, DiscoveryError> {
    let mut groups = Vec::new();
    let listed = scope
        .query_pages(
            ELASTICACHE,
            VERSION,
            "DescribeReplicationGroups",
            Vec::new(),
            &["ReplicationGroups"],
            |e| {
                groups.push(e.clone());
            },
        )
        .await;
    if let Err(e) = listed {
        skips.fail(e);
    }
    let mut found = Vec::new();
    for e in &groups {
        match replication_group(e, scope.region) {
            Ok(endpoints) => found.extend(endpoints),
            Err((resource, why)) => skips.skip(resource, why),
        }
    }
    let serverless = serverless_caches(scope).await;
    match serverless {
        Ok(caches) => {
            for e in &caches {
                match serverless_cache(e, scope.region) {
                    Ok(endpoints) => found.extend(endpoints),
                    Err((resource, why)) => skips.skip(resource, why),
                }
            }
        }
        Err(e) => skips.fail(e),
    }
    tag_by_arn(scope, &mut found, skips, |arn| async move {
        let params = vec![("ResourceName".into(), arn)];
        let result = scope
            .query(ELASTICACHE, VERSION, "ListTagsForResource", params)
            .await?;
        Ok(xml_tags(result.child("TagList")))
    })
    .await?;
    Ok(found)
}

/// `DescribeServerlessCaches` pages with `NextToken` / `MaxResults` (unlike the older calls).
async fn serverless_caches(scope: &Scope<'_>) -> Result<Vec<Element>, DiscoveryError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..scope.inner.limits.max_pages {
        let mut params: super::page::Params = vec![(
            "MaxResults".into(),
            scope.inner.limits.page_size.to_string(),
        )];
        if let Some(t) = &token {
            params.push(("NextToken".into(), t.clone()));
        }
        let result = scope
            .query(ELASTICACHE, VERSION, "DescribeServerlessCaches", params)
            .await?;
        out.extend(
            result
                .at(&["ServerlessCaches"])
                .into_iter()
                .flat_map(|l| l.children.clone()),
        );
        let next = result.text_at(&["NextToken"]).map(str::to_owned);
        if next.is_none() || next == token {
            return Ok(out);
        }
        token = next;
    }
    Err(scope.truncated("pages", scope.inner.limits.max_pages))
}

fn endpoint(e: Option<&Element>) -> Option<(&str, u16)> {
    let e = e?;
    let host = text(e, "Address")?;
    let port = text(e, "Port").and_then(|p| p.parse().ok()).unwrap_or(6379);
    Some((host, port))
}

fn engine_of(e: &Element) -> Result<&str, &'static str> {
    match text(e, "Engine").unwrap_or("redis") {
        engine @ ("redis" | "valkey") => Ok(engine),
        _ => Err("an engine iamwire does not serve (memcached)"),
    }
}

/// One `<ReplicationGroup>`: its configuration endpoint (cluster mode), or its primary and reader
/// endpoints.
pub(crate) fn replication_group(e: &Element, region: &str) -> Result<Vec<Found>, Skip> {
    let id = text(e, "ReplicationGroupId").ok_or(("?".to_owned(), "no ReplicationGroupId"))?;
    let skip = |why| (id.to_owned(), why);
    let engine = engine_of(e).map_err(skip)?;
    if matches!(
        text(e, "Status"),
        Some("creating" | "deleting" | "create-failed")
    ) {
        return Err(skip("not available (creating, deleting or failed)"));
    }
    if text(e, "TransitEncryptionEnabled") != Some("true") {
        return Err(skip(
            "no in-transit encryption: IAM authentication needs TLS",
        ));
    }
    let arn = text(e, "ARN").ok_or_else(|| skip("no ARN"))?;
    let base = Found {
        resource: id.to_owned(),
        token: "elasticache",
        description: format!("ElastiCache replication group in {region}"),
        protocol: Protocol::Redis,
        uri: String::new(),
        arn: arn.to_owned(),
        tags: Vec::new(),
        labels: Vec::new(),
        ids: Ids::ElastiCache {
            replication_group_id: id.to_owned(),
        },
        iam_auth: None,
    };
    let make = |resource: String, (host, port): (&str, u16), kind: &str| {
        let mut f = base.clone();
        f.resource = resource;
        f.uri = host_port(host, port);
        f.label(LABEL_ENGINE, Some(engine));
        f.label(LABEL_ENDPOINT_TYPE, Some(kind));
        if kind == "reader" {
            f.description = format!("ElastiCache replication group in {region} (reader endpoint)");
        }
        f
    };
    if let Some(config) = endpoint(e.child("ConfigurationEndpoint")) {
        return Ok(vec![make(id.to_owned(), config, "configuration")]);
    }
    let group = e.at(&["NodeGroups"]).and_then(|g| g.children.first());
    let primary = endpoint(group.and_then(|g| g.child("PrimaryEndpoint")))
        .ok_or_else(|| skip("no endpoint yet"))?;
    let mut out = vec![make(id.to_owned(), primary, "primary")];
    if let Some(reader) = endpoint(group.and_then(|g| g.child("ReaderEndpoint"))) {
        out.push(make(format!("{id}-reader"), reader, "reader"));
    }
    Ok(out)
}

/// One serverless cache `<member>`: its endpoint and its reader endpoint.
pub(crate) fn serverless_cache(e: &Element, region: &str) -> Result<Vec<Found>, Skip> {
    let name = text(e, "ServerlessCacheName").ok_or(("?".to_owned(), "no ServerlessCacheName"))?;
    let skip = |why| (name.to_owned(), why);
    let engine = engine_of(e).map_err(skip)?;
    if matches!(
        text(e, "Status"),
        Some("creating" | "deleting" | "create-failed")
    ) {
        return Err(skip("not available (creating, deleting or failed)"));
    }
    let arn = text(e, "ARN").ok_or_else(|| skip("no ARN"))?;
    let primary = endpoint(e.child("Endpoint")).ok_or_else(|| skip("no endpoint yet"))?;
    let mut base = Found {
        resource: name.to_owned(),
        token: "elasticache-serverless",
        description: format!("ElastiCache serverless cache in {region}"),
        protocol: Protocol::Redis,
        uri: host_port(primary.0, primary.1),
        arn: arn.to_owned(),
        tags: Vec::new(),
        labels: Vec::new(),
        ids: Ids::ElastiCacheServerless {
            name: name.to_owned(),
        },
        iam_auth: None,
    };
    base.label(LABEL_ENGINE, Some(engine));
    base.label(LABEL_ENGINE_VERSION, text(e, "FullEngineVersion"));
    let mut out = Vec::new();
    if let Some(reader) = endpoint(e.child("ReaderEndpoint")) {
        let mut r = base.clone();
        r.resource = format!("{name}-reader");
        r.uri = host_port(reader.0, reader.1);
        r.description = format!("ElastiCache serverless cache in {region} (reader endpoint)");
        r.label(LABEL_ENDPOINT_TYPE, Some("reader"));
        out.push(r);
    }
    base.label(LABEL_ENDPOINT_TYPE, Some("primary"));
    out.push(base);
    Ok(out)
}
