//! `redshift` (provisioned clusters, `DescribeClusters`) and `redshift-serverless` (workgroups and their
//! VPC endpoints, `ListWorkgroups` / `ListEndpointAccess`, tags by `ListTagsForResource`).
//!
//! Answer shapes: <https://docs.aws.amazon.com/redshift/latest/APIReference/API_DescribeClusters.html>,
//! <https://docs.aws.amazon.com/redshift-serverless/latest/APIReference/API_ListWorkgroups.html>,
//! <https://docs.aws.amazon.com/redshift-serverless/latest/APIReference/API_ListEndpointAccess.html>.

use std::collections::BTreeMap;

use iamwire_core::Protocol;
use serde_json::{Value, json};

use super::build::{Found, Ids, host_port};
use super::labels::{LABEL_ENDPOINT_TYPE, LABEL_ENGINE, LABEL_ENGINE_VERSION, LABEL_VPC_ID};
use super::page::{Scope, json_tags, str_at, tag_by_arn, text, xml_tags};
use super::rds::Skip;
use super::{DiscoveryError, Skips};
use crate::aws_api::services::{REDSHIFT, REDSHIFT_SERVERLESS as SERVERLESS};
use crate::aws_api::wire::Element;

/// Cluster statuses that take no connections.
const UNAVAILABLE: [&str; 7] = [
    "creating",
    "deleting",
    "final-snapshot",
    "paused",
    "hardware-failure",
    "incompatible-hsm",
    "incompatible-network",
];

/// Provisioned clusters.
pub(crate) async fn list_clusters(
    scope: &Scope<'_>,
    skips: &mut Skips,
) -> Result<Vec<Found>, DiscoveryError> {
    let mut clusters = Vec::new();
    scope
        .query_pages(
            REDSHIFT,
            "2012-12-01",
            "DescribeClusters",
            Vec::new(),
            &["Clusters"],
            |e| {
                clusters.push(e.clone());
            },
        )
        .await?;
    let account = fallback_account(scope);
    let mut found = Vec::new();
    for e in &clusters {
        match cluster(e, scope.region, account.as_deref()) {
            Ok(f) => found.push(f),
            Err((resource, why)) => skips.skip(resource, why),
        }
    }
    Ok(found)
}

/// The account of resources whose answer carries no ARN: the matcher's role's, else the credentials'.
fn fallback_account(scope: &Scope<'_>) -> Option<String> {
    scope.role.map(|r| r.account_id().to_owned()).or_else(|| {
        scope
            .credentials
            .account_id()
            .map(|a| a.as_str().to_owned())
    })
}

/// One `<Cluster>`; `account` names the account when the answer has no `ClusterNamespaceArn`.
pub(crate) fn cluster(e: &Element, region: &str, account: Option<&str>) -> Result<Found, Skip> {
    let id = text(e, "ClusterIdentifier").ok_or(("?".to_owned(), "no ClusterIdentifier"))?;
    let skip = |why| (id.to_owned(), why);
    let status = text(e, "ClusterStatus")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if UNAVAILABLE.contains(&status.as_str()) {
        return Err(skip("not available (creating, paused, deleting or failed)"));
    }
    let host = e
        .text_at(&["Endpoint", "Address"])
        .ok_or_else(|| skip("no endpoint yet"))?;
    let port = e
        .text_at(&["Endpoint", "Port"])
        .and_then(|p| p.parse().ok())
        .unwrap_or(5439);
    // The namespace ARN names the account; the cluster ARN is built as AWS spells it.
    let account = text(e, "ClusterNamespaceArn")
        .and_then(super::page::arn_account_region)
        .map(|(a, _)| a)
        .or(account)
        .ok_or_else(|| skip("its account is unknown (no ClusterNamespaceArn and no role)"))?;
    let partition =
        iamwire_core::Partition::of_region(region).unwrap_or(iamwire_core::Partition::Aws);
    let mut found = Found {
        resource: id.to_owned(),
        token: "redshift",
        description: format!("Redshift cluster in {region}"),
        protocol: Protocol::Postgres,
        uri: host_port(host, port),
        arn: format!("arn:{partition}:redshift:{region}:{account}:cluster:{id}"),
        tags: xml_tags(e.child("Tags")),
        labels: Vec::new(),
        ids: Ids::Redshift {
            cluster_id: id.to_owned(),
        },
        iam_auth: Some(true),
    };
    found.label(LABEL_ENGINE, Some("redshift"));
    found.label(LABEL_ENGINE_VERSION, text(e, "ClusterVersion"));
    found.label(LABEL_ENDPOINT_TYPE, Some("primary"));
    found.label(LABEL_VPC_ID, text(e, "VpcId"));
    Ok(found)
}

/// Serverless workgroups and their VPC endpoints.
pub(crate) async fn list_serverless(
    scope: &Scope<'_>,
    skips: &mut Skips,
) -> Result<Vec<Found>, DiscoveryError> {
    let pages = ("workgroups", "nextToken", "maxResults");
    let mut answers = Vec::new();
    scope
        .json_pages(
            SERVERLESS,
            "RedshiftServerless.ListWorkgroups",
            "ListWorkgroups",
            json!({}),
            pages,
            |v| {
                answers.push(v.clone());
            },
        )
        .await?;
    let mut served = Vec::new();
    for v in &answers {
        match workgroup(v, scope.region) {
            Ok(f) => served.push(f),
            Err((resource, why)) => skips.skip(resource, why),
        }
    }
    tag_by_arn(scope, &mut served, skips, |arn| async move {
        let body = json!({ "resourceArn": arn });
        let target = "RedshiftServerless.ListTagsForResource";
        let answer = scope
            .json(SERVERLESS, target, "ListTagsForResource", body)
            .await?;
        Ok(json_tags(answer.get("tags")))
    })
    .await?;
    let workgroups: BTreeMap<String, Found> = served
        .into_iter()
        .map(|f| (f.resource.clone(), f))
        .collect();
    let mut endpoints = Vec::new();
    if !workgroups.is_empty() {
        let pages = ("endpoints", "nextToken", "maxResults");
        scope
            .json_pages(
                SERVERLESS,
                "RedshiftServerless.ListEndpointAccess",
                "ListEndpointAccess",
                json!({}),
                pages,
                |v| {
                    endpoints.push(v.clone());
                },
            )
            .await?;
    }
    let mut found = Vec::new();
    for v in &endpoints {
        match vpc_endpoint(v, &workgroups, scope.region) {
            Ok(f) => found.push(f),
            Err((resource, why)) => skips.skip(resource, why),
        }
    }
    found.extend(workgroups.into_values());
    Ok(found)
}

fn port_at(v: &Value, path: &str) -> Option<u16> {
    v.pointer(path)
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
}

/// One workgroup of `ListWorkgroups`.
pub(crate) fn workgroup(v: &Value, region: &str) -> Result<Found, Skip> {
    let name = str_at(v, "/workgroupName").ok_or(("?".to_owned(), "no workgroupName"))?;
    let skip = |why| (name.to_owned(), why);
    if matches!(str_at(v, "/status"), Some("CREATING" | "DELETING")) {
        return Err(skip("not available (creating or deleting)"));
    }
    let host = str_at(v, "/endpoint/address").ok_or_else(|| skip("no endpoint yet"))?;
    let port = port_at(v, "/endpoint/port").unwrap_or(5439);
    let arn = str_at(v, "/workgroupArn").ok_or_else(|| skip("no workgroupArn"))?;
    let mut found = Found {
        resource: name.to_owned(),
        token: "redshift-serverless",
        description: format!("Redshift Serverless workgroup in {region}"),
        protocol: Protocol::Postgres,
        uri: host_port(host, port),
        arn: arn.to_owned(),
        tags: Vec::new(),
        labels: Vec::new(),
        ids: Ids::RedshiftServerless {
            workgroup: name.to_owned(),
            endpoint: None,
        },
        iam_auth: Some(true),
    };
    found.label(LABEL_ENGINE, Some("redshift-serverless"));
    found.label(LABEL_ENDPOINT_TYPE, Some("workgroup"));
    found.label(LABEL_VPC_ID, str_at(v, "/endpoint/vpcEndpoints/0/vpcId"));
    Ok(found)
}

/// One VPC endpoint of `ListEndpointAccess`, with its workgroup's tags.
pub(crate) fn vpc_endpoint(
    v: &Value,
    workgroups: &BTreeMap<String, Found>,
    region: &str,
) -> Result<Found, Skip> {
    let name = str_at(v, "/endpointName").ok_or(("?".to_owned(), "no endpointName"))?;
    let skip = |why| (name.to_owned(), why);
    let wg_name = str_at(v, "/workgroupName").ok_or_else(|| skip("no workgroupName"))?;
    let wg = workgroups
        .get(wg_name)
        .ok_or_else(|| skip("its workgroup is not served"))?;
    if matches!(
        str_at(v, "/endpointStatus")
            .map(str::to_ascii_uppercase)
            .as_deref(),
        Some("CREATING" | "DELETING")
    ) {
        return Err(skip("not available (creating or deleting)"));
    }
    let host = str_at(v, "/address").ok_or_else(|| skip("no address yet"))?;
    let port = port_at(v, "/port").unwrap_or(5439);
    let arn = str_at(v, "/endpointArn").ok_or_else(|| skip("no endpointArn"))?;
    let mut found = wg.clone();
    found.resource = format!("{wg_name}-{name}");
    found.description = format!("Redshift Serverless endpoint {name} of {wg_name} in {region}");
    found.uri = host_port(host, port);
    found.arn = arn.to_owned();
    found.ids = Ids::RedshiftServerless {
        workgroup: wg_name.to_owned(),
        endpoint: Some(name.to_owned()),
    };
    found
        .labels
        .retain(|(k, _)| *k != LABEL_ENDPOINT_TYPE && *k != LABEL_VPC_ID);
    found.label(LABEL_ENDPOINT_TYPE, Some("vpc-endpoint"));
    found.label(LABEL_VPC_ID, str_at(v, "/vpcEndpoint/vpcId"));
    Ok(found)
}
