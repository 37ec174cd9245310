//! Describe the resource an endpoint host names, in one account and region: which host names it
//! answers to, and its ARN.

use aws_credential_types::Credentials;
use http::Method;
use serde_json::{Value, json};

use super::answers::{every_address, from_json, from_xml, memorydb, opensearch};
use crate::aws_api::services::{
    ELASTICACHE, MEMORYDB, OPENSEARCH, RDS, REDSHIFT, REDSHIFT_SERVERLESS as SERVERLESS,
};
use crate::aws_api::wire::{Element, form_encode};
use crate::aws_api::{ApiError, ApiRequest, Body, Service};
use crate::reach::Reach;

/// The most XML elements one Describe answer may hold (a replication group of 500 shards).
const MAX_ELEMENTS: usize = 50_000;
use crate::endpoint::EndpointKind;

/// What the owner's account said about the resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Owned {
    /// Every host name the resource answers to (writer, reader, custom, node endpoints...).
    pub(crate) hosts: Vec<String>,
    /// Its ARN, when the answer has one.
    pub(crate) arn: Option<String>,
}

/// Where and as whom to ask.
pub(crate) struct Asker<'a> {
    pub(crate) reach: &'a Reach,
    pub(crate) credentials: &'a Credentials,
    pub(crate) region: &'a str,
}

impl Asker<'_> {
    fn request(&self, service: Service, operation: &'static str, body: Body) -> ApiRequest<'_> {
        ApiRequest {
            service,
            operation,
            body,
            call: self.reach.call(self.credentials, self.region, service),
        }
    }

    async fn query(
        &self,
        service: Service,
        version: &'static str,
        operation: &'static str,
        params: Vec<(&'static str, String)>,
    ) -> Result<Option<Element>, ApiError> {
        let resource = params.first().map(|(_, v)| v.clone()).unwrap_or_default();
        let body = Body::Query {
            action: operation,
            version,
            params: params.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        };
        let request = self.request(service, operation, body);
        not_found_is_none(
            self.reach
                .client
                .query(&request, &resource, MAX_ELEMENTS)
                .await,
        )
    }

    async fn json(
        &self,
        service: Service,
        operation: &'static str,
        body: Body,
    ) -> Result<Option<Value>, ApiError> {
        let request = self.request(service, operation, body);
        not_found_is_none(self.reach.client.json(&request, self.region).await)
    }
}

/// "No such resource here" is an answer, not a failure.
fn not_found_is_none<T>(result: Result<T, ApiError>) -> Result<Option<T>, ApiError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code().is_some_and(is_not_found) => Ok(None),
        Err(e) => Err(e),
    }
}

/// AWS's "not found" codes (`DBInstanceNotFound`, `DBClusterNotFoundFault`, `ClusterNotFound`,
/// `ResourceNotFoundException`, `ReplicationGroupNotFoundFault`, ...).
pub(crate) fn is_not_found(code: &str) -> bool {
    code.ends_with("NotFound")
        || code.ends_with("NotFoundFault")
        || code.ends_with("NotFoundException")
}

/// Ask the account `asker` acts in about the resource `kind` names. `Ok(None)`: no such resource there.
/// `Err` for kinds that name no describable resource.
pub(crate) async fn describe(
    asker: &Asker<'_>,
    kind: &EndpointKind,
) -> Result<Option<Owned>, Unsupported> {
    let answer = match kind {
        EndpointKind::RdsInstance { instance_id } => {
            let e = rds(
                asker,
                "DescribeDBInstances",
                "DBInstanceIdentifier",
                instance_id,
            )
            .await;
            e.map(|e| {
                e.map(|e| {
                    from_xml(
                        &e,
                        &["DBInstances"],
                        &[&["Endpoint", "Address"]],
                        "DBInstanceArn",
                    )
                })
            })
        }
        EndpointKind::AuroraCluster { cluster_id, .. } => rds(
            asker,
            "DescribeDBClusters",
            "DBClusterIdentifier",
            cluster_id,
        )
        .await
        .map(|e| {
            e.map(|e| {
                let mut owned = from_xml(
                    &e,
                    &["DBClusters"],
                    &[&["Endpoint"], &["ReaderEndpoint"]],
                    "DBClusterArn",
                );
                for c in e.at(&["DBClusters"]).into_iter().flat_map(|l| &l.children) {
                    let custom = c
                        .child("CustomEndpoints")
                        .into_iter()
                        .flat_map(|l| &l.children);
                    owned.hosts.extend(custom.map(|h| h.text.trim().to_owned()));
                }
                owned
            })
        }),
        EndpointKind::AuroraCustom { endpoint_name } => {
            let e = rds(
                asker,
                "DescribeDBClusterEndpoints",
                "DBClusterEndpointIdentifier",
                endpoint_name,
            )
            .await;
            e.map(|e| {
                e.map(|e| {
                    from_xml(
                        &e,
                        &["DBClusterEndpoints"],
                        &[&["Endpoint"]],
                        "DBClusterEndpointArn",
                    )
                })
            })
        }
        EndpointKind::RdsProxy { proxy_name } => {
            let e = rds(asker, "DescribeDBProxies", "DBProxyName", proxy_name).await;
            e.map(|e| e.map(|e| from_xml(&e, &["DBProxies"], &[&["Endpoint"]], "DBProxyArn")))
        }
        EndpointKind::RdsProxyEndpoint { endpoint_name } => {
            let e = rds(
                asker,
                "DescribeDBProxyEndpoints",
                "DBProxyEndpointName",
                endpoint_name,
            )
            .await;
            e.map(|e| {
                e.map(|e| {
                    from_xml(
                        &e,
                        &["DBProxyEndpoints"],
                        &[&["Endpoint"]],
                        "DBProxyEndpointArn",
                    )
                })
            })
        }
        EndpointKind::Redshift { cluster_id } => {
            let params = vec![("ClusterIdentifier", cluster_id.clone())];
            let e = asker
                .query(REDSHIFT, "2012-12-01", "DescribeClusters", params)
                .await;
            e.map(|e| {
                e.map(|e| {
                    from_xml(
                        &e,
                        &["Clusters"],
                        &[&["Endpoint", "Address"]],
                        "ClusterNamespaceArn",
                    )
                })
            })
        }
        EndpointKind::RedshiftServerless { workgroup, .. } => {
            let body = Body::Json {
                target: "RedshiftServerless.GetWorkgroup",
                body: json!({ "workgroupName": workgroup }),
            };
            let v = asker.json(SERVERLESS, "GetWorkgroup", body).await;
            v.map(|v| {
                v.map(|v| from_json(&v, "/workgroup", &["/endpoint/address"], "/workgroupArn"))
            })
        }
        EndpointKind::RedshiftServerlessVpcEndpoint { endpoint_name, .. } => {
            let body = Body::Json {
                target: "RedshiftServerless.GetEndpointAccess",
                body: json!({ "endpointName": endpoint_name }),
            };
            let v = asker.json(SERVERLESS, "GetEndpointAccess", body).await;
            v.map(|v| v.map(|v| from_json(&v, "/endpoint", &["/address"], "/endpointArn")))
        }
        EndpointKind::ElastiCache {
            replication_group_id,
            ..
        } => {
            let params = vec![("ReplicationGroupId", replication_group_id.clone())];
            let e = asker
                .query(
                    ELASTICACHE,
                    "2015-02-02",
                    "DescribeReplicationGroups",
                    params,
                )
                .await;
            e.map(|e| e.map(|e| every_address(&e, &["ReplicationGroups"], "ARN")))
        }
        EndpointKind::ElastiCacheServerless { cache_name } => {
            let params = vec![("ServerlessCacheName", cache_name.clone())];
            let e = asker
                .query(
                    ELASTICACHE,
                    "2015-02-02",
                    "DescribeServerlessCaches",
                    params,
                )
                .await;
            e.map(|e| e.map(|e| every_address(&e, &["ServerlessCaches"], "ARN")))
        }
        EndpointKind::MemoryDb { cluster_name, .. } => {
            let body = Body::Json {
                target: "AmazonMemoryDB.DescribeClusters",
                body: json!({ "ClusterName": cluster_name, "ShowShardDetails": true }),
            };
            let v = asker.json(MEMORYDB, "DescribeClusters", body).await;
            v.map(|v| v.map(|v| memorydb(&v)))
        }
        EndpointKind::OpenSearch { domain, .. } => {
            let mut path = "/2021-01-01/opensearch/domain/".to_owned();
            form_encode(domain, &mut path);
            let body = Body::Rest {
                method: Method::GET,
                path_and_query: path,
                body: None,
            };
            let v = asker.json(OPENSEARCH, "DescribeDomain", body).await;
            v.map(|v| v.map(|v| opensearch(&v)))
        }
        _ => return Err(Unsupported::NoResource),
    };
    answer.map_err(Unsupported::Api)
}

/// Why [`describe`] has no answer.
#[derive(Debug)]
pub(crate) enum Unsupported {
    /// The endpoint names no resource iamwire can describe (a shard group, a DAX cluster).
    NoResource,
    /// The call failed.
    Api(ApiError),
}

async fn rds(
    asker: &Asker<'_>,
    operation: &'static str,
    param: &'static str,
    id: &str,
) -> Result<Option<Element>, ApiError> {
    asker
        .query(RDS, "2014-10-31", operation, vec![(param, id.to_owned())])
        .await
}
