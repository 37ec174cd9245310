//! ElastiCache (Redis OSS / Valkey) and MemoryDB host names.
//!
//! Both services name a cluster differently depending on whether it was created with in-transit
//! encryption: with it, the role or node comes first (`clustercfg.<group>.<hash>`); without it,
//! the group comes first (`<group>.<hash>.clustercfg`, `<group>.<hash>.ng.0001`).

use super::error::EndpointError;
use super::host::{is_digits, is_hash};
use super::kind::{CacheRole, EndpointKind, Service};
use super::region::region_from_short_code;

fn malformed(service: Service, reason: &'static str) -> EndpointError {
    EndpointError::Malformed { service, reason }
}

/// ElastiCache: the labels in front of `cache`, ending in the short region code.
/// Returns the full region name and the endpoint.
pub(super) fn parse_elasticache(
    labels: &[&str],
) -> Result<(&'static str, EndpointKind), EndpointError> {
    let [front @ .., short] = labels else {
        return Err(malformed(
            Service::ElastiCache,
            "no short region code before `cache`",
        ));
    };
    let region =
        region_from_short_code(short).ok_or_else(|| EndpointError::UnknownShortRegion {
            code: (*short).to_owned(),
        })?;
    let group = |id: &str, role: CacheRole, transit_encryption: bool| EndpointKind::ElastiCache {
        replication_group_id: id.to_owned(),
        role,
        transit_encryption,
    };
    let kind = match front {
        [name_hash, "serverless"] => match name_hash.rsplit_once('-') {
            Some((name, hash)) if is_hash(hash) => EndpointKind::ElastiCacheServerless {
                cache_name: name.to_owned(),
            },
            _ => {
                return Err(malformed(
                    Service::ElastiCache,
                    "a serverless cache label must be <name>-<hash>",
                ));
            }
        },
        ["clustercfg", id, hash] if is_hash(hash) => group(id, CacheRole::Configuration, true),
        ["master", id, hash] if is_hash(hash) => group(id, CacheRole::Primary, true),
        ["replica", id, hash] if is_hash(hash) => group(id, CacheRole::Reader, true),
        [id, hash, "clustercfg"] if is_hash(hash) => group(id, CacheRole::Configuration, false),
        [_, hash, "cfg"] if is_hash(hash) => {
            return Err(malformed(
                Service::ElastiCache,
                "Memcached configuration endpoints are not supported",
            ));
        }
        [node, hash, number] if is_hash(hash) && is_digits(number, 4) => group(
            trim_node_suffix(node),
            CacheRole::Node {
                node_id: (*node).to_owned(),
            },
            false,
        ),
        [node, id, hash] if is_hash(hash) && has_node_suffix(node) => group(
            id,
            CacheRole::Node {
                node_id: (*node).to_owned(),
            },
            true,
        ),
        [id, hash, "ng", number] if is_hash(hash) && is_digits(number, 4) => {
            match id.strip_suffix("-ro") {
                Some(id) => group(id, CacheRole::Reader, false),
                None => group(id, CacheRole::Primary, false),
            }
        }
        _ => {
            return Err(malformed(
                Service::ElastiCache,
                "not a configuration, primary, reader, node or serverless endpoint form",
            ));
        }
    };
    Ok((region, kind))
}

/// MemoryDB: the labels in front of `memorydb.<region>`.
pub(super) fn parse_memorydb(front: &[&str]) -> Result<EndpointKind, EndpointError> {
    let cluster = |name: &str, role: CacheRole, transit_encryption: bool| EndpointKind::MemoryDb {
        cluster_name: name.to_owned(),
        role,
        transit_encryption,
    };
    match front {
        ["clustercfg", name, hash] if is_hash(hash) => {
            Ok(cluster(name, CacheRole::Configuration, true))
        }
        [name, hash, "clustercfg"] if is_hash(hash) => {
            Ok(cluster(name, CacheRole::Configuration, false))
        }
        [node, hash, number] if is_hash(hash) && is_digits(number, 4) => Ok(cluster(
            trim_node_suffix(node),
            CacheRole::Node {
                node_id: (*node).to_owned(),
            },
            false,
        )),
        [node, name, hash] if is_hash(hash) && has_node_suffix(node) => Ok(cluster(
            name,
            CacheRole::Node {
                node_id: (*node).to_owned(),
            },
            true,
        )),
        _ => Err(malformed(
            Service::MemoryDb,
            "not a cluster (clustercfg) or node endpoint form",
        )),
    }
}

/// Whether a node label ends in a node number (`-001`), as `<group>-001` and
/// `<group>-0001-001` do.
fn has_node_suffix(node: &str) -> bool {
    node.rsplit_once('-')
        .is_some_and(|(group, number)| !group.is_empty() && is_digits(number, 3))
}

/// `<group>-0001-001` → `<group>`, `<group>-001` → `<group>`; anything else unchanged.
fn trim_node_suffix(node: &str) -> &str {
    let node = match node.rsplit_once('-') {
        Some((rest, number)) if !rest.is_empty() && is_digits(number, 3) => rest,
        _ => return node,
    };
    match node.rsplit_once('-') {
        Some((rest, shard)) if !rest.is_empty() && is_digits(shard, 4) => rest,
        _ => node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_suffixes() {
        let cases = [
            ("grp-0001-001", "grp", true),
            ("grp-001", "grp", true),
            ("my-grp-0002-003", "my-grp", true),
            ("jobs", "jobs", false),
            ("grp-0001", "grp-0001", false),
            ("grp-01", "grp-01", false),
            ("0001-001", "0001", true),
        ];
        for (node, trimmed, has_suffix) in cases {
            assert_eq!(trim_node_suffix(node), trimmed, "{node}");
            assert_eq!(has_node_suffix(node), has_suffix, "{node}");
        }
    }
}
