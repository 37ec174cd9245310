//! `memorydb`: MemoryDB clusters (`DescribeClusters`), with tags by `ListTags`. Only clusters with TLS
//! are served: IAM authentication needs it.
//!
//! Answer shape: <https://docs.aws.amazon.com/memorydb/latest/APIReference/API_DescribeClusters.html>.

use iamwire_core::Protocol;
use serde_json::{Value, json};

use super::build::{Found, Ids, host_port};
use super::labels::{LABEL_ENDPOINT_TYPE, LABEL_ENGINE, LABEL_ENGINE_VERSION};
use super::page::{Scope, json_tags, str_at, tag_by_arn};
use super::rds::Skip;
use super::{DiscoveryError, Skips};
use crate::aws_api::services::MEMORYDB;

/// MemoryDB clusters.
pub(crate) async fn list(
    scope: &Scope<'_>,
    skips: &mut Skips,
) -> Result<Vec<Found>, DiscoveryError> {
    let mut clusters = Vec::new();
    scope
        .json_pages(
            MEMORYDB,
            "AmazonMemoryDB.DescribeClusters",
            "DescribeClusters",
            json!({ "ShowShardDetails": false }),
            ("Clusters", "NextToken", "MaxResults"),
            |v| clusters.push(v.clone()),
        )
        .await?;
    let mut found = Vec::new();
    for v in &clusters {
        match cluster(v, scope.region) {
            Ok(f) => found.push(f),
            Err((resource, why)) => skips.skip(resource, why),
        }
    }
    tag_by_arn(scope, &mut found, skips, |arn| async move {
        let body = json!({ "ResourceArn": arn });
        let answer = scope
            .json(MEMORYDB, "AmazonMemoryDB.ListTags", "ListTags", body)
            .await?;
        Ok(json_tags(answer.get("TagList")))
    })
    .await?;
    Ok(found)
}

/// One cluster of `DescribeClusters`.
pub(crate) fn cluster(v: &Value, region: &str) -> Result<Found, Skip> {
    let name = str_at(v, "/Name").ok_or(("?".to_owned(), "no Name"))?;
    let skip = |why| (name.to_owned(), why);
    let engine = str_at(v, "/Engine").unwrap_or("redis");
    if !matches!(engine, "redis" | "valkey") {
        return Err(skip("an engine iamwire does not serve"));
    }
    if matches!(
        str_at(v, "/Status"),
        Some("creating" | "deleting" | "create-failed")
    ) {
        return Err(skip("not available (creating, deleting or failed)"));
    }
    if v.get("TLSEnabled").and_then(Value::as_bool) != Some(true) {
        return Err(skip("no TLS: IAM authentication needs it"));
    }
    let host = str_at(v, "/ClusterEndpoint/Address").ok_or_else(|| skip("no endpoint yet"))?;
    let port = v
        .pointer("/ClusterEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .unwrap_or(6379);
    let arn = str_at(v, "/ARN").ok_or_else(|| skip("no ARN"))?;
    let mut found = Found {
        resource: name.to_owned(),
        token: "memorydb",
        description: format!("MemoryDB cluster in {region}"),
        protocol: Protocol::Redis,
        uri: host_port(host, port),
        arn: arn.to_owned(),
        tags: Vec::new(),
        labels: Vec::new(),
        ids: Ids::MemoryDb {
            cluster_name: name.to_owned(),
        },
        iam_auth: None,
    };
    found.label(LABEL_ENGINE, Some(engine));
    found.label(LABEL_ENGINE_VERSION, str_at(v, "/EngineVersion"));
    found.label(LABEL_ENDPOINT_TYPE, Some("cluster"));
    Ok(found)
}
