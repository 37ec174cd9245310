//! Regional service endpoints (DynamoDB, Streams, DAX API, Keyspaces), DAX clusters and
//! OpenSearch domains: hosts whose region is the last label before the AWS domain, or (for
//! OpenSearch) is followed by `es`.

use super::error::EndpointError;
use super::host::{is_digits, is_hash};
use super::kind::{DynamoDbApi, EndpointKind, OpenSearchAccess, Service};

/// A regional service endpoint: the labels in front of `<region>`. `Ok(None)` if they name no
/// service known here.
pub(super) fn parse_regional(front: &[&str]) -> Result<Option<EndpointKind>, EndpointError> {
    let dynamodb = |api| Some(EndpointKind::DynamoDb { api });
    Ok(match front {
        ["cassandra"] => Some(EndpointKind::Keyspaces { fips: false }),
        ["cassandra-fips"] => Some(EndpointKind::Keyspaces { fips: true }),
        ["dynamodb"] => dynamodb(DynamoDbApi::Standard),
        ["dynamodb-fips"] => dynamodb(DynamoDbApi::Fips),
        ["streams", "dynamodb"] => dynamodb(DynamoDbApi::Streams),
        ["dax"] => dynamodb(DynamoDbApi::Dax),
        [account_id, "ddb"] => {
            if !is_digits(account_id, 12) {
                return Err(EndpointError::Malformed {
                    service: Service::DynamoDb,
                    reason: "an account-based endpoint must start with a 12-digit account id",
                });
            }
            dynamodb(DynamoDbApi::AccountBased {
                account_id: (*account_id).to_owned(),
            })
        }
        _ => None,
    })
}

/// A DAX cluster: the labels in front of `dax-clusters.<region>`, either `<cluster>.<hash>`
/// (the discovery endpoint) or `<cluster>-<x>.<hash>.nodes` (one node).
pub(super) fn parse_dax_cluster(front: &[&str]) -> Result<EndpointKind, EndpointError> {
    match front {
        [cluster, hash] if is_hash(hash) => Ok(EndpointKind::DaxCluster {
            cluster_name: (*cluster).to_owned(),
            node_id: None,
        }),
        [node, hash, "nodes"] if is_hash(hash) => match node.rsplit_once('-') {
            Some((cluster, letter))
                if !cluster.is_empty()
                    && (1..=2).contains(&letter.len())
                    && letter.bytes().all(|b| b.is_ascii_lowercase()) =>
            {
                Ok(EndpointKind::DaxCluster {
                    cluster_name: cluster.to_owned(),
                    node_id: Some((*node).to_owned()),
                })
            }
            _ => Err(EndpointError::Malformed {
                service: Service::Dax,
                reason: "a node label must be <cluster>-<letter>",
            }),
        },
        _ => Err(EndpointError::Malformed {
            service: Service::Dax,
            reason: "expected <cluster>.<hash> or <node>.<hash>.nodes before dax-clusters",
        }),
    }
}

/// An OpenSearch domain: the labels in front of `<region>.es`, which must be exactly
/// `search-<domain>-<hash>` or `vpc-<domain>-<hash>`.
pub(super) fn parse_opensearch(front: &[&str]) -> Result<EndpointKind, EndpointError> {
    let malformed = |reason| EndpointError::Malformed {
        service: Service::OpenSearch,
        reason,
    };
    let [label] = front else {
        return Err(malformed(
            "expected one search-<domain>-<hash> or vpc-<domain>-<hash> label",
        ));
    };
    let (access, rest) = if let Some(rest) = label.strip_prefix("search-") {
        (OpenSearchAccess::Public, rest)
    } else if let Some(rest) = label.strip_prefix("vpc-") {
        (OpenSearchAccess::Vpc, rest)
    } else {
        return Err(malformed(
            "the domain label must start with search- or vpc-",
        ));
    };
    match rest.rsplit_once('-') {
        Some((domain, hash)) if !domain.is_empty() && is_hash(hash) => {
            Ok(EndpointKind::OpenSearch {
                domain: domain.to_owned(),
                access,
            })
        }
        _ => Err(malformed("the domain label must end in -<hash>")),
    }
}
