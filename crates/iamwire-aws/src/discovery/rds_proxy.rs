//! `rdsproxy`: RDS proxies (`DescribeDBProxies`) and their additional endpoints
//! (`DescribeDBProxyEndpoints`), with the proxy's tags (`ListTagsForResource`) on both.
//!
//! Answer shapes: <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBProxies.html>,
//! <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBProxyEndpoints.html>.

use std::collections::BTreeMap;

use iamwire_core::Protocol;

use super::build::{Found, Ids, host_port};
use super::labels::{LABEL_ENDPOINT_TYPE, LABEL_ENGINE, LABEL_VPC_ID};
use super::page::{RDS, RDS_VERSION, Scope, tag_by_arn, text, xml_tags};
use super::rds::Skip;
use super::{DiscoveryError, Skips};
use crate::aws_api::wire::Element;

/// RDS proxies and their endpoints.
pub(crate) async fn list(
    scope: &Scope<'_>,
    skips: &mut Skips,
) -> Result<Vec<Found>, DiscoveryError> {
    let mut proxies = Vec::new();
    scope
        .query_pages(
            RDS,
            RDS_VERSION,
            "DescribeDBProxies",
            Vec::new(),
            &["DBProxies"],
            |e| {
                proxies.push(e.clone());
            },
        )
        .await?;
    let mut served = Vec::new();
    for e in &proxies {
        match proxy(e, scope.region) {
            Ok(f) => served.push(f),
            Err((resource, why)) => skips.skip(resource, why),
        }
    }
    tag_by_arn(scope, &mut served, skips, |arn| async move {
        tags(scope, &arn).await
    })
    .await?;
    let by_name: BTreeMap<String, Found> = served
        .into_iter()
        .map(|f| (f.resource.clone(), f))
        .collect();
    let mut endpoints = Vec::new();
    if !by_name.is_empty() {
        scope
            .query_pages(
                RDS,
                RDS_VERSION,
                "DescribeDBProxyEndpoints",
                Vec::new(),
                &["DBProxyEndpoints"],
                |e| endpoints.push(e.clone()),
            )
            .await?;
    }
    let mut found: Vec<Found> = Vec::new();
    for e in &endpoints {
        match proxy_endpoint(e, &by_name, scope.region) {
            Ok(Some(f)) => found.push(f),
            Ok(None) => {}
            Err((resource, why)) => skips.skip(resource, why),
        }
    }
    found.extend(by_name.into_values());
    Ok(found)
}

/// The tags of the RDS resource `arn`.
pub(crate) async fn tags(
    scope: &Scope<'_>,
    arn: &str,
) -> Result<Vec<(String, String)>, DiscoveryError> {
    let result = scope
        .query(
            RDS,
            RDS_VERSION,
            "ListTagsForResource",
            vec![("ResourceName".into(), arn.to_owned())],
        )
        .await?;
    Ok(xml_tags(result.child("TagList")))
}

fn engine(family: &str) -> Option<(Protocol, u16, &'static str)> {
    match family {
        "POSTGRESQL" => Some((Protocol::Postgres, 5432, "postgres")),
        "MYSQL" => Some((Protocol::MySql, 3306, "mysql")),
        _ => None,
    }
}

/// Whether any of the proxy's `Auth` entries takes IAM (`REQUIRED` or `ENABLED`).
fn iam_auth(e: &Element) -> Option<bool> {
    let modes: Vec<&str> = e
        .child("Auth")
        .into_iter()
        .flat_map(|a| &a.children)
        .filter_map(|a| text(a, "IAMAuth"))
        .collect();
    if modes.is_empty() {
        return None;
    }
    Some(modes.iter().any(|m| matches!(*m, "REQUIRED" | "ENABLED")))
}

fn usable(status: Option<&str>) -> bool {
    !matches!(
        status,
        Some("creating" | "deleting" | "incompatible-network" | "insufficient-resource-limits")
    )
}

/// One `<DBProxy>`: its default endpoint (tags are added later).
pub(crate) fn proxy(e: &Element, region: &str) -> Result<Found, Skip> {
    let name = text(e, "DBProxyName").ok_or(("?".to_owned(), "no DBProxyName"))?;
    let skip = |why| (name.to_owned(), why);
    let family = text(e, "EngineFamily").unwrap_or_default();
    let (protocol, port, engine) =
        engine(family).ok_or_else(|| skip("an engine family iamwire does not serve"))?;
    if !usable(text(e, "Status")) {
        return Err(skip("not available (creating or deleting)"));
    }
    let host = text(e, "Endpoint").ok_or_else(|| skip("no endpoint yet"))?;
    let arn = text(e, "DBProxyArn").ok_or_else(|| skip("no DBProxyArn"))?;
    let mut found = Found {
        resource: name.to_owned(),
        token: "rdsproxy",
        description: format!("RDS Proxy in {region}"),
        protocol,
        uri: host_port(host, port),
        arn: arn.to_owned(),
        tags: Vec::new(),
        labels: Vec::new(),
        ids: Ids::RdsProxy {
            name: name.to_owned(),
            custom_endpoint: None,
            resource_id: arn.rsplit(':').next().map(str::to_owned),
        },
        iam_auth: iam_auth(e),
    };
    found.label(LABEL_ENGINE, Some(engine));
    found.label(LABEL_ENDPOINT_TYPE, Some("READ_WRITE"));
    found.label(LABEL_VPC_ID, text(e, "VpcId"));
    Ok(found)
}

/// One `<DBProxyEndpoint>`: `Ok(None)` for the default endpoint (the proxy itself); otherwise a
/// database with its proxy's protocol, tags and identifiers.
pub(crate) fn proxy_endpoint(
    e: &Element,
    proxies: &BTreeMap<String, Found>,
    region: &str,
) -> Result<Option<Found>, Skip> {
    let name = text(e, "DBProxyEndpointName").ok_or(("?".to_owned(), "no DBProxyEndpointName"))?;
    let skip = |why| (name.to_owned(), why);
    if text(e, "IsDefault").is_some_and(|d| d.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let proxy_name = text(e, "DBProxyName").ok_or_else(|| skip("no DBProxyName"))?;
    let Some(proxy) = proxies.get(proxy_name) else {
        return Err(skip("its proxy is not served"));
    };
    if !usable(text(e, "Status")) {
        return Err(skip("not available (creating or deleting)"));
    }
    let host = text(e, "Endpoint").ok_or_else(|| skip("no endpoint yet"))?;
    let arn = text(e, "DBProxyEndpointArn").ok_or_else(|| skip("no DBProxyEndpointArn"))?;
    let port = iamwire_core::host_port(&proxy.uri, 0).map_or(0, |(_, p)| p);
    let mut found = proxy.clone();
    found.resource = format!("{proxy_name}-{name}");
    found.description = format!("RDS Proxy endpoint {name} of {proxy_name} in {region}");
    found.uri = host_port(host, port);
    found.arn = arn.to_owned();
    if let Ids::RdsProxy {
        custom_endpoint, ..
    } = &mut found.ids
    {
        *custom_endpoint = Some(name.to_owned());
    }
    found
        .labels
        .retain(|(k, _)| *k != LABEL_ENDPOINT_TYPE && *k != LABEL_VPC_ID);
    found.label(
        LABEL_ENDPOINT_TYPE,
        Some(text(e, "TargetRole").unwrap_or("READ_WRITE")),
    );
    found.label(LABEL_VPC_ID, text(e, "VpcId"));
    Ok(Some(found))
}
