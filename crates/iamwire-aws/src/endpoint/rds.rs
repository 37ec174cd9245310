//! RDS, Aurora, RDS Proxy, Redshift and Redshift Serverless: `<resource labels>` in front of
//! `<region>.<service>` (or, in China, also `<service>.<region>`).

use super::error::EndpointError;
use super::host::{is_digits, is_hash};
use super::kind::{AuroraRole, EndpointKind, Service};

fn malformed(service: Service, reason: &'static str) -> EndpointError {
    EndpointError::Malformed { service, reason }
}

/// RDS host names, with the region and `rds` labels already removed:
///
/// - `<instance>.<hash>`: a DB instance
/// - `<cluster>.cluster-<hash>` / `.cluster-ro-<hash>`: Aurora writer / reader
/// - `<name>.cluster-custom-<hash>`: Aurora custom endpoint
/// - `<shard-group>.shardgrp-<hash>`: Aurora Limitless shard group
/// - `<proxy>.proxy-<hash>`: RDS Proxy default endpoint
/// - `<name>.endpoint.proxy-<hash>`: RDS Proxy additional endpoint
pub(super) fn parse_rds(resource: &[&str]) -> Result<EndpointKind, EndpointError> {
    let bad_hash = || {
        malformed(
            Service::Rds,
            "the label after the resource name is not <kind>-<hash>",
        )
    };
    match resource {
        [name, "endpoint", proxy] => {
            let hash = proxy.strip_prefix("proxy-").ok_or_else(bad_hash)?;
            if !is_hash(hash) {
                return Err(bad_hash());
            }
            Ok(EndpointKind::RdsProxyEndpoint {
                endpoint_name: (*name).to_owned(),
            })
        }
        [name, tagged] => {
            let name = (*name).to_owned();
            // Longest prefixes first: `cluster-ro-` and `cluster-custom-` also start `cluster-`.
            let (hash, kind) = if let Some(hash) = tagged.strip_prefix("cluster-custom-") {
                (
                    hash,
                    EndpointKind::AuroraCustom {
                        endpoint_name: name,
                    },
                )
            } else if let Some(hash) = tagged.strip_prefix("cluster-ro-") {
                let role = AuroraRole::Reader;
                (
                    hash,
                    EndpointKind::AuroraCluster {
                        cluster_id: name,
                        role,
                    },
                )
            } else if let Some(hash) = tagged.strip_prefix("cluster-") {
                let role = AuroraRole::Writer;
                (
                    hash,
                    EndpointKind::AuroraCluster {
                        cluster_id: name,
                        role,
                    },
                )
            } else if let Some(hash) = tagged.strip_prefix("proxy-") {
                (hash, EndpointKind::RdsProxy { proxy_name: name })
            } else if let Some(hash) = tagged.strip_prefix("shardgrp-") {
                (
                    hash,
                    EndpointKind::AuroraShardGroup {
                        shard_group_id: name,
                    },
                )
            } else {
                (*tagged, EndpointKind::RdsInstance { instance_id: name })
            };
            if is_hash(hash) {
                Ok(kind)
            } else {
                Err(bad_hash())
            }
        }
        _ => Err(malformed(
            Service::Rds,
            "expected <name>.<hash>, <name>.<kind>-<hash> or <name>.endpoint.proxy-<hash> before the region",
        )),
    }
}

/// Redshift: `<cluster>.<hash>` in front of the region and `redshift` labels.
pub(super) fn parse_redshift(resource: &[&str]) -> Result<EndpointKind, EndpointError> {
    match resource {
        [cluster, hash] if is_hash(hash) => Ok(EndpointKind::Redshift {
            cluster_id: (*cluster).to_owned(),
        }),
        _ => Err(malformed(
            Service::Redshift,
            "expected <cluster>.<hash> before the region",
        )),
    }
}

/// Redshift Serverless: `<workgroup>.<account-id>` or `<name>-endpoint-<hash>.<account-id>` in
/// front of the region and `redshift-serverless` labels.
///
/// A workgroup whose own name contains `-endpoint-` followed by a letters-and-digits tail reads
/// as a VPC endpoint; the host name alone cannot tell the two apart.
pub(super) fn parse_redshift_serverless(resource: &[&str]) -> Result<EndpointKind, EndpointError> {
    let [name, account_id] = resource else {
        return Err(malformed(
            Service::RedshiftServerless,
            "expected <workgroup>.<account-id> before the region",
        ));
    };
    if !is_digits(account_id, 12) {
        return Err(malformed(
            Service::RedshiftServerless,
            "the label after the workgroup is not a 12-digit account id",
        ));
    }
    let account_id = (*account_id).to_owned();
    if let Some((endpoint_name, hash)) = name.rsplit_once("-endpoint-")
        && is_hash(hash)
        && !endpoint_name.is_empty()
    {
        return Ok(EndpointKind::RedshiftServerlessVpcEndpoint {
            endpoint_name: endpoint_name.to_owned(),
            account_id,
        });
    }
    Ok(EndpointKind::RedshiftServerless {
        workgroup: (*name).to_owned(),
        account_id,
    })
}
