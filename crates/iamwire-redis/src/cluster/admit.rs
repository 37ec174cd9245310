//! Which announced nodes of a cluster the proxy serves.
//!
//! Every node connection logs in with the database's credential: an IAM token of the cache's account
//! (ElastiCache, MemoryDB) or the operator's password (a self-hosted cluster). A node announced on a
//! host that is not the cluster's — another cluster, another account, a host a compromised or
//! misconfigured node names — would get it, so such a node gets no listener, no connection and no
//! login, and redirections to it are refused.
//!
//! - An AWS cache: AWS names a cluster's nodes under its configuration endpoint's domain
//!   (`clustercfg.orders.ab12cd.use1.cache.amazonaws.com` → `orders-0001-001.orders.ab12cd.use1.
//!   cache.amazonaws.com`), so a node must be named there (public CAs certify every
//!   `*.amazonaws.com` host: TLS alone does not tell the clusters apart), and on
//!   [`ClusterConfig::node_hosts`](super::ClusterConfig::node_hosts) if it is set.
//! - A self-hosted cluster: a node must be on one of `node_hosts`; by default, on the configuration
//!   endpoint's own host (as written in the database address). TLS to the node (verify-full against the
//!   operator's CA) is a second line, not the only one: a certificate from that CA for another host
//!   would pass it.

use std::net::IpAddr;

use iamwire_core::Database;

use super::topology::Node;

/// One entry of a cluster's node allow list
/// ([`ClusterConfig::node_hosts`](super::ClusterConfig::node_hosts)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeHost(Pattern);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// A host name (lowercase, no trailing dot): the node named exactly so.
    Name(String),
    /// `*.domain`: any name under `domain` (not `domain` itself).
    Under(String),
    /// An address block: an address is `/32` or `/128`.
    Net(IpAddr, u8),
}

impl NodeHost {
    /// `text` as an entry: a host name (`redis-0.cache.internal`), every name under a domain
    /// (`*.cache.internal`), an address (`10.0.0.7`, `fd00::7`) or an address block in CIDR notation
    /// (`10.0.0.0/24`, `fd00::/64`); `None` if it is none of these. A loopback entry (`localhost`,
    /// `127.0.0.1`, `::1`) matches every loopback name and address of those three.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_end_matches('.').to_ascii_lowercase();
        let text = text.trim_start_matches('[').trim_end_matches(']');
        if let Some((addr, bits)) = text.split_once('/') {
            let addr: IpAddr = addr.parse().ok()?;
            let bits: u8 = bits.parse().ok()?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            return (bits <= max).then_some(Self(Pattern::Net(addr, bits)));
        }
        if let Ok(addr) = text.parse::<IpAddr>() {
            let bits = if addr.is_ipv4() { 32 } else { 128 };
            return Some(Self(Pattern::Net(addr, bits)));
        }
        let (wild, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return None;
        }
        Some(Self(if wild {
            Pattern::Under(name.to_owned())
        } else {
            Pattern::Name(name.to_owned())
        }))
    }

    /// Whether `host` (a node's announced name or address) matches.
    fn matches(&self, host: &str) -> bool {
        let host = host
            .trim_end_matches('.')
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if self.is_loopback() && is_loopback(&host) {
            return true;
        }
        match &self.0 {
            Pattern::Name(name) => host == *name,
            Pattern::Under(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            Pattern::Net(net, bits) => host
                .parse::<IpAddr>()
                .is_ok_and(|addr| in_block(addr, *net, *bits)),
        }
    }

    fn is_loopback(&self) -> bool {
        match &self.0 {
            Pattern::Name(name) => is_loopback(name),
            Pattern::Net(addr, bits) => is_loopback(&addr.to_string()) && *bits >= 32,
            Pattern::Under(_) => false,
        }
    }
}

impl std::fmt::Display for NodeHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Pattern::Name(name) => f.write_str(name),
            Pattern::Under(domain) => write!(f, "*.{domain}"),
            Pattern::Net(addr, bits) => write!(f, "{addr}/{bits}"),
        }
    }
}

/// Whether `addr` is in the block `net`/`bits` (an IPv4 address never in an IPv6 block, nor the
/// other way round).
fn in_block(addr: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// `nodes` without those `database`, reached at `origin_host`, does not own (see the module docs):
/// `allowed` is the configured allow list, if any. Each left out is logged.
pub(crate) fn admitted(
    database: &Database,
    origin_host: &str,
    allowed: Option<&[NodeHost]>,
    nodes: Vec<Node>,
) -> Vec<Node> {
    let aws = database.aws.elasticache.is_some() || database.aws.memorydb.is_some();
    let origin = NodeHost::parse(origin_host);
    let allowed: &[NodeHost] = match (allowed, &origin) {
        (Some(list), _) => list,
        (None, Some(origin)) if !aws => std::slice::from_ref(origin),
        (None, _) => &[],
    };
    let name = database.tls.server_name.as_deref();
    nodes
        .into_iter()
        .filter(|node| {
            let listed = allowed.iter().any(|host| host.matches(&node.host));
            let (ok, why) = if aws {
                let under = belongs(origin_host, name, &node.host);
                let listed = listed || allowed.is_empty();
                (
                    under && listed,
                    if under {
                        "a cluster node is announced on a host that is not in cluster.node_hosts"
                    } else {
                        "a cluster node is announced outside the configuration endpoint's domain"
                    },
                )
            } else {
                (
                    listed,
                    "a cluster node is announced on a host that is not in cluster.node_hosts (by \
                     default the configuration endpoint's host)",
                )
            };
            if !ok {
                tracing::warn!(
                    database = %database.name,
                    node = %format_args!("{}:{}", node.host, node.port),
                    endpoint = origin_host,
                    "{why}: not served (no connection, no login), redirections to it are refused"
                );
            }
            ok
        })
        .collect()
}

/// Whether `node` is the configuration endpoint (`origin`, verified as `name`), under its domain, or
/// on the same loopback host.
fn belongs(origin: &str, name: Option<&str>, node: &str) -> bool {
    let node = node.trim_end_matches('.').to_ascii_lowercase();
    let references = [Some(origin), name].into_iter().flatten();
    for reference in references {
        let reference = reference.trim_end_matches('.').to_ascii_lowercase();
        if node == reference || (is_loopback(&reference) && is_loopback(&node)) {
            return true;
        }
        if reference.parse::<std::net::IpAddr>().is_ok() {
            continue;
        }
        // The parent domain: the endpoint's name without its first label, if that leaves at least
        // three labels (never a bare `amazonaws.com`).
        if let Some((_, parent)) = reference.split_once('.')
            && parent.split('.').count() >= 3
            && node.ends_with(&format!(".{parent}"))
        {
            return true;
        }
    }
    false
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use iamwire_core::Protocol;

    use super::*;

    const CFG: &str = "clustercfg.orders.ab12cd.use1.cache.amazonaws.com";

    fn node(host: &str) -> Node {
        Node {
            host: host.into(),
            port: 6379,
            names: vec![(host.into(), 6379)],
        }
    }

    #[test]
    fn nodes_under_the_configuration_endpoints_domain_belong() {
        for host in [
            "orders-0001-001.orders.ab12cd.use1.cache.amazonaws.com",
            "ORDERS-0002-001.orders.ab12cd.use1.cache.amazonaws.com.",
            CFG,
        ] {
            assert!(belongs(CFG, None, host), "{host}");
        }
        for host in [
            "payroll-0001-001.payroll.zz99zz.use1.cache.amazonaws.com",
            "orders-0001-001.orders.ab12cd.use1.cache.amazonaws.com.evil.example",
            "xorders.ab12cd.use1.cache.amazonaws.com",
            "10.0.0.7",
            "127.0.0.1",
        ] {
            assert!(!belongs(CFG, None, host), "{host}");
        }
        // Reached by address or a private name, verified as the endpoint's name: that name counts.
        assert!(belongs(
            "10.0.0.5",
            Some(CFG),
            "orders-0001-001.orders.ab12cd.use1.cache.amazonaws.com"
        ));
        assert!(!belongs("10.0.0.5", None, "10.0.0.6"));
        // Never the bare service domain.
        assert!(!belongs(
            "clustercfg.amazonaws.com",
            None,
            "x.amazonaws.com"
        ));
        // The same loopback host (a local stand-in), but not another loopback address.
        assert!(belongs("localhost", None, "127.0.0.1"));
        assert!(!belongs("localhost", None, "127.0.0.2"));
    }

    fn hosts(list: &[&str]) -> Vec<NodeHost> {
        list.iter().map(|h| NodeHost::parse(h).unwrap()).collect()
    }

    fn kept(nodes: Vec<Node>) -> Vec<String> {
        nodes.into_iter().map(|n| n.host).collect()
    }

    #[test]
    fn aws_caches_by_domain_and_the_list_if_any() {
        let nodes = vec![
            node("orders-0001-001.orders.ab12cd.use1.cache.amazonaws.com"),
            node("orders-0002-001.orders.ab12cd.use1.cache.amazonaws.com"),
            node("10.9.9.9"),
        ];
        let mut cache = Database::new("c", Protocol::Redis, format!("{CFG}:6379"));
        cache.aws.elasticache = Some(Default::default());
        assert_eq!(
            kept(admitted(&cache, CFG, None, nodes.clone())),
            [
                "orders-0001-001.orders.ab12cd.use1.cache.amazonaws.com",
                "orders-0002-001.orders.ab12cd.use1.cache.amazonaws.com"
            ]
        );
        // A list narrows the domain; it never widens it.
        let list = hosts(&[
            "orders-0001-001.orders.ab12cd.use1.cache.amazonaws.com",
            "10.0.0.0/8",
        ]);
        assert_eq!(
            kept(admitted(&cache, CFG, Some(&list), nodes)),
            ["orders-0001-001.orders.ab12cd.use1.cache.amazonaws.com"]
        );
    }

    #[test]
    fn self_hosted_clusters_by_the_list_by_default_the_seed_host() {
        let nodes = vec![
            node("redis-0.cache.internal"),
            node("10.1.2.3"),
            node("127.0.0.1"),
            node("127.0.0.2"),
        ];
        let seeded = |seed: &str| {
            let db = Database::new("c", Protocol::Redis, format!("{seed}:6379"));
            kept(admitted(&db, seed, None, nodes.clone()))
        };
        assert_eq!(seeded("redis-0.cache.internal"), ["redis-0.cache.internal"]);
        assert_eq!(seeded("10.1.2.3"), ["10.1.2.3"]);
        // The loopback host, by name or address; never another loopback address.
        assert_eq!(seeded("localhost"), ["127.0.0.1"]);
        assert_eq!(seeded("127.0.0.1"), ["127.0.0.1"]);
        let db = Database::new("c", Protocol::Redis, "redis-0.cache.internal:6379");
        let list = hosts(&["*.cache.internal", "10.1.0.0/16"]);
        assert_eq!(
            kept(admitted(
                &db,
                "redis-0.cache.internal",
                Some(&list),
                nodes.clone()
            )),
            ["redis-0.cache.internal", "10.1.2.3"]
        );
        assert!(admitted(&db, "redis-0.cache.internal", Some(&[]), nodes).is_empty());
    }

    #[test]
    fn node_host_entries() {
        for (entry, yes, no) in [
            (
                "redis-0.cache.internal",
                "REDIS-0.cache.internal.",
                "redis-1.cache.internal",
            ),
            ("*.cache.internal", "a.b.cache.internal", "cache.internal"),
            (
                "*.cache.internal",
                "redis-0.cache.internal",
                "xcache.internal",
            ),
            ("10.0.0.0/24", "10.0.0.255", "10.0.1.0"),
            ("10.0.0.7", "10.0.0.7", "10.0.0.8"),
            ("0.0.0.0/0", "192.0.2.1", "::1"),
            ("fd00::/64", "fd00::1234", "fd00:0:0:1::1"),
            ("[fd00::7]", "[FD00::7]", "fd00::8"),
            ("localhost", "127.0.0.1", "127.0.0.2"),
            ("::1", "localhost", "127.0.0.3"),
        ] {
            let host = NodeHost::parse(entry).unwrap();
            assert!(host.matches(yes), "{entry} ~ {yes}");
            assert!(!host.matches(no), "{entry} !~ {no}");
        }
        for bad in [
            "",
            "*.",
            "10.0.0.0/33",
            "fd00::/129",
            "a..b",
            "a b",
            "x/8",
            "10.0.0.0/x",
        ] {
            assert_eq!(NodeHost::parse(bad), None, "{bad}");
        }
        assert_eq!(
            NodeHost::parse("10.0.0.0/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(NodeHost::parse("*.A.b").unwrap().to_string(), "*.a.b");
    }
}
