//! `opensearch`: domains (`ListDomainNames`, then `DescribeDomains` five at a time), each as its
//! default, custom and VPC endpoints, with tags by `ListTags`. OpenSearch's control plane speaks
//! REST-JSON.
//!
//! Answer shapes: <https://docs.aws.amazon.com/opensearch-service/latest/APIReference/API_ListDomainNames.html>,
//! <https://docs.aws.amazon.com/opensearch-service/latest/APIReference/API_DescribeDomains.html>.

use http::Method;
use iamwire_core::Protocol;
use serde_json::{Value, json};

use super::build::{Found, Ids};
use super::labels::{LABEL_ENDPOINT_TYPE, LABEL_ENGINE, LABEL_ENGINE_VERSION, LABEL_VPC_ID};
use super::page::{Scope, json_tags, str_at, tag_by_arn};
use super::rds::Skip;
use super::{DiscoveryError, Skips};
use crate::aws_api::services::OPENSEARCH;
use crate::aws_api::wire::form_encode;

/// `DescribeDomains` takes at most five names.
const DESCRIBE_BATCH: usize = 5;

/// OpenSearch domains.
pub(crate) async fn list(
    scope: &Scope<'_>,
    skips: &mut Skips,
) -> Result<Vec<Found>, DiscoveryError> {
    let names = scope
        .rest(
            OPENSEARCH,
            "ListDomainNames",
            Method::GET,
            "/2021-01-01/domain".to_owned(),
            None,
        )
        .await?;
    let names: Vec<String> = names
        .get("DomainNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("DomainName").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    let limit = scope.inner.limits.max_databases;
    if names.len() > limit {
        return Err(scope.truncated("databases", limit));
    }
    let mut found = Vec::new();
    for batch in names.chunks(DESCRIBE_BATCH) {
        let body = json!({ "DomainNames": batch });
        let path = "/2021-01-01/opensearch/domain-info".to_owned();
        let answer = scope
            .rest(
                OPENSEARCH,
                "DescribeDomains",
                Method::POST,
                path,
                Some(body),
            )
            .await?;
        for status in answer
            .get("DomainStatusList")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match domain(status, scope.region) {
                Ok(endpoints) => found.extend(endpoints),
                Err((resource, why)) => skips.skip(resource, why),
            }
        }
    }
    tag_by_arn(scope, &mut found, skips, |arn| async move {
        let mut path = "/2021-01-01/tags/?arn=".to_owned();
        form_encode(&arn, &mut path);
        let answer = scope
            .rest(OPENSEARCH, "ListTags", Method::GET, path, None)
            .await?;
        Ok(json_tags(answer.get("TagList")))
    })
    .await?;
    Ok(found)
}

/// One `DomainStatus`: its default (public) endpoint, its VPC endpoint, its custom endpoint.
pub(crate) fn domain(v: &Value, region: &str) -> Result<Vec<Found>, Skip> {
    let name = str_at(v, "/DomainName").ok_or(("?".to_owned(), "no DomainName"))?;
    let skip = |why| (name.to_owned(), why);
    let flag = |p: &str| v.pointer(p).and_then(Value::as_bool);
    if flag("/Deleted") == Some(true) || flag("/Created") == Some(false) {
        return Err(skip("not available (being created or deleted)"));
    }
    let arn = str_at(v, "/ARN").ok_or_else(|| skip("no ARN"))?;
    let version = str_at(v, "/EngineVersion");
    let engine = match version {
        Some(v) if v.starts_with("Elasticsearch") => "elasticsearch",
        _ => "opensearch",
    };
    let base = Found {
        resource: name.to_owned(),
        token: "opensearch",
        description: format!("OpenSearch domain in {region}"),
        protocol: Protocol::OpenSearch,
        uri: String::new(),
        arn: arn.to_owned(),
        tags: Vec::new(),
        labels: Vec::new(),
        ids: Ids::None,
        iam_auth: Some(true),
    };
    let make = |resource: String, host: &str, kind: &str| {
        let mut f = base.clone();
        f.resource = resource;
        f.uri = format!("https://{host}");
        f.label(LABEL_ENGINE, Some(engine));
        f.label(LABEL_ENGINE_VERSION, version);
        f.label(LABEL_ENDPOINT_TYPE, Some(kind));
        if kind != "default" {
            f.description = format!("OpenSearch domain in {region} ({kind} endpoint)");
        }
        if kind == "vpc" {
            f.label(LABEL_VPC_ID, str_at(v, "/VPCOptions/VPCId"));
        }
        f
    };
    let mut out = Vec::new();
    if let Some(host) = str_at(v, "/Endpoint") {
        out.push(make(name.to_owned(), host, "default"));
    }
    if let Some(host) = str_at(v, "/Endpoints/vpc") {
        out.push(make(format!("{name}-vpc"), host, "vpc"));
    }
    if flag("/DomainEndpointOptions/CustomEndpointEnabled") == Some(true)
        && let Some(host) = str_at(v, "/DomainEndpointOptions/CustomEndpoint")
    {
        out.push(make(format!("{name}-custom"), host, "custom"));
    }
    if out.is_empty() {
        return Err(skip("no endpoint yet"));
    }
    Ok(out)
}
