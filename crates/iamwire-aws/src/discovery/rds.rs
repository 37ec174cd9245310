//! `rds` (RDS instances and Aurora clusters) and `docdb` (DocumentDB clusters): both read through the
//! RDS query API (`DescribeDBInstances`, `DescribeDBClusters`).
//!
//! Answer shapes: <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html>,
//! <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBClusters.html>.

use iamwire_core::Protocol;

use super::build::{Found, Ids, host_port};
use super::labels::{LABEL_ENDPOINT_TYPE, LABEL_ENGINE, LABEL_ENGINE_VERSION, LABEL_VPC_ID};
use super::page::{Params, RDS, RDS_VERSION, Scope, text, xml_tags};
use super::{DiscoveryError, Skips};
use crate::aws_api::wire::Element;
use crate::endpoint::{self, EndpointKind};

/// Engines of RDS instances iamwire serves.
const INSTANCE_ENGINES: [&str; 3] = ["postgres", "mysql", "mariadb"];
/// Aurora engines.
const AURORA_ENGINES: [&str; 3] = ["aurora-postgresql", "aurora-mysql", "aurora"];
/// DocumentDB's engine.
const DOCDB_ENGINES: [&str; 1] = ["docdb"];

/// Statuses in which an instance or cluster cannot take connections (or is going away). Unknown
/// statuses are kept: AWS adds new ones, most of them harmless (`backing-up`, `modifying`...).
const UNAVAILABLE: [&str; 16] = [
    "creating",
    "deleting",
    "deleted",
    "failed",
    "stopped",
    "stopping",
    "starting",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-parameters",
    "incompatible-restore",
    "insufficient-capacity",
    "restore-error",
    "cloning-failed",
];

/// `Filters.Filter.1.Name=engine&Filters.Filter.1.Values.Value.N=...`.
pub(crate) fn engine_filter(engines: &[&str]) -> Params {
    let mut params: Params = vec![("Filters.Filter.1.Name".into(), "engine".to_owned())];
    for (i, engine) in engines.iter().enumerate() {
        params.push((
            format!("Filters.Filter.1.Values.Value.{}", i + 1).into(),
            (*engine).to_owned(),
        ));
    }
    params
}

/// RDS instances (not Aurora members), then Aurora clusters.
pub(crate) async fn list_rds(
    scope: &Scope<'_>,
    skips: &mut Skips,
) -> Result<Vec<Found>, DiscoveryError> {
    let mut found = Vec::new();
    let mut instances = Vec::new();
    scope
        .query_pages(
            RDS,
            RDS_VERSION,
            "DescribeDBInstances",
            engine_filter(&INSTANCE_ENGINES),
            &["DBInstances"],
            |e| instances.push(e.clone()),
        )
        .await?;
    for e in &instances {
        match instance(e, scope.region) {
            Ok(Some(f)) => found.push(f),
            Ok(None) => {}
            Err((resource, why)) => skips.skip(resource, why),
        }
    }
    found.extend(list_clusters(scope, &AURORA_ENGINES, skips).await?);
    Ok(found)
}

/// DocumentDB clusters.
pub(crate) async fn list_docdb(
    scope: &Scope<'_>,
    skips: &mut Skips,
) -> Result<Vec<Found>, DiscoveryError> {
    list_clusters(scope, &DOCDB_ENGINES, skips).await
}

async fn list_clusters(
    scope: &Scope<'_>,
    engines: &[&str],
    skips: &mut Skips,
) -> Result<Vec<Found>, DiscoveryError> {
    let mut clusters = Vec::new();
    scope
        .query_pages(
            RDS,
            RDS_VERSION,
            "DescribeDBClusters",
            engine_filter(engines),
            &["DBClusters"],
            |e| clusters.push(e.clone()),
        )
        .await?;
    let mut found = Vec::new();
    for e in &clusters {
        match cluster(e, engines, scope.region) {
            Ok(endpoints) => found.extend(endpoints),
            Err((resource, why)) => skips.skip(resource, why),
        }
    }
    Ok(found)
}

/// A resource left out, and why.
pub(crate) type Skip = (String, &'static str);

fn available(status: Option<&str>) -> bool {
    status.is_none_or(|s| !UNAVAILABLE.contains(&s.to_ascii_lowercase().as_str()))
}

fn flag(e: &Element, name: &str) -> Option<bool> {
    match text(e, name)?.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn port(e: &Element, path: &[&str]) -> Option<u16> {
    e.text_at(path)?.parse().ok().filter(|p| *p != 0)
}

fn protocol_of(engine: &str) -> Option<Protocol> {
    if engine.contains("postgres") {
        Some(Protocol::Postgres)
    } else if engine.contains("mysql") || engine.contains("mariadb") || engine == "aurora" {
        Some(Protocol::MySql)
    } else if engine == "docdb" {
        Some(Protocol::MongoDb)
    } else {
        None
    }
}

/// One `<DBInstance>`: `Ok(None)` for an Aurora member (listed with its cluster).
pub(crate) fn instance(e: &Element, region: &str) -> Result<Option<Found>, Skip> {
    let id = text(e, "DBInstanceIdentifier").ok_or(("?".to_owned(), "no DBInstanceIdentifier"))?;
    let skip = |why| (id.to_owned(), why);
    if text(e, "DBClusterIdentifier").is_some() {
        return Ok(None);
    }
    let engine = text(e, "Engine").unwrap_or_default();
    if !INSTANCE_ENGINES.contains(&engine) {
        return Err(skip("an engine iamwire does not serve"));
    }
    let protocol = protocol_of(engine).ok_or_else(|| skip("an engine iamwire does not serve"))?;
    if !available(text(e, "DBInstanceStatus")) {
        return Err(skip(
            "not available (creating, stopped, deleting or failed)",
        ));
    }
    let host = e
        .text_at(&["Endpoint", "Address"])
        .ok_or_else(|| skip("no endpoint yet"))?;
    let port = port(e, &["Endpoint", "Port"]).ok_or_else(|| skip("no endpoint port"))?;
    let arn = text(e, "DBInstanceArn").ok_or_else(|| skip("no DBInstanceArn"))?;
    let mut found = Found {
        resource: id.to_owned(),
        token: "rds",
        description: format!("RDS instance in {region}"),
        protocol,
        uri: host_port(host, port),
        arn: arn.to_owned(),
        tags: xml_tags(e.child("TagList")),
        labels: Vec::new(),
        ids: Ids::RdsInstance {
            instance_id: id.to_owned(),
            resource_id: text(e, "DbiResourceId").map(str::to_owned),
        },
        iam_auth: flag(e, "IAMDatabaseAuthenticationEnabled"),
    };
    found.label(LABEL_ENGINE, Some(engine));
    found.label(LABEL_ENGINE_VERSION, text(e, "EngineVersion"));
    found.label(LABEL_ENDPOINT_TYPE, Some("instance"));
    found.label(LABEL_VPC_ID, e.text_at(&["DBSubnetGroup", "VpcId"]));
    Ok(Some(found))
}

/// One `<DBCluster>`: its writer endpoint, its reader endpoint when it has readers, and its custom
/// endpoints.
pub(crate) fn cluster(e: &Element, engines: &[&str], region: &str) -> Result<Vec<Found>, Skip> {
    let id = text(e, "DBClusterIdentifier").ok_or(("?".to_owned(), "no DBClusterIdentifier"))?;
    let skip = |why| (id.to_owned(), why);
    let engine = text(e, "Engine").unwrap_or_default();
    if !engines.contains(&engine) {
        return Err(skip("an engine iamwire does not serve"));
    }
    let protocol = protocol_of(engine).ok_or_else(|| skip("an engine iamwire does not serve"))?;
    if !available(text(e, "Status")) {
        return Err(skip(
            "not available (creating, stopped, deleting or failed)",
        ));
    }
    let port = port(e, &["Port"]).ok_or_else(|| skip("no port"))?;
    let arn = text(e, "DBClusterArn").ok_or_else(|| skip("no DBClusterArn"))?;
    let docdb = engine == "docdb";
    let (token, what) = if docdb {
        ("docdb", "DocumentDB cluster")
    } else {
        ("aurora", "Aurora cluster")
    };
    let base = Found {
        resource: id.to_owned(),
        token,
        description: String::new(),
        protocol,
        uri: String::new(),
        arn: arn.to_owned(),
        tags: xml_tags(e.child("TagList")),
        labels: Vec::new(),
        ids: Ids::RdsCluster {
            cluster_id: id.to_owned(),
            resource_id: text(e, "DbClusterResourceId").map(str::to_owned),
        },
        iam_auth: if docdb {
            None
        } else {
            flag(e, "IAMDatabaseAuthenticationEnabled")
        },
    };
    let endpoint = |resource: String, host: &str, kind: &str, description: String| {
        let mut f = base.clone();
        f.resource = resource;
        f.uri = host_port(host, port);
        f.description = description;
        f.label(LABEL_ENGINE, Some(engine));
        f.label(LABEL_ENGINE_VERSION, text(e, "EngineVersion"));
        f.label(LABEL_ENDPOINT_TYPE, Some(kind));
        f
    };
    let mut out = Vec::new();
    let writer = text(e, "Endpoint").ok_or_else(|| skip("no endpoint yet"))?;
    out.push(endpoint(
        id.to_owned(),
        writer,
        "primary",
        format!("{what} in {region}"),
    ));
    let has_readers = e
        .child("DBClusterMembers")
        .into_iter()
        .flat_map(|m| &m.children)
        .any(|m| flag(m, "IsClusterWriter") == Some(false));
    if has_readers && let Some(reader) = text(e, "ReaderEndpoint") {
        let description = format!("{what} in {region} (reader endpoint)");
        out.push(endpoint(
            format!("{id}-reader"),
            reader,
            "reader",
            description,
        ));
    }
    for custom in e
        .child("CustomEndpoints")
        .into_iter()
        .flat_map(|c| &c.children)
    {
        let host = custom.text.trim();
        let name = match endpoint::parse(host).map(|ep| ep.kind) {
            Ok(EndpointKind::AuroraCustom { endpoint_name }) => endpoint_name,
            _ => continue,
        };
        let description = format!("{what} in {region} (custom endpoint {name})");
        out.push(endpoint(
            format!("{id}-custom-{name}"),
            host,
            "custom",
            description,
        ));
    }
    Ok(out)
}
