//! Which nodes of an AWS cache (ElastiCache, MemoryDB) the proxy serves: only those named under the
//! configuration endpoint's own domain.
//!
//! Every node connection logs in with an IAM token for the cache, a credential of the cache's account.
//! AWS names a cluster's nodes under its configuration endpoint's domain
//! (`clustercfg.orders.ab12cd.use1.cache.amazonaws.com` → `orders-0001-001.orders.ab12cd.use1.cache.
//! amazonaws.com`), so a node announced anywhere else — another cluster, another account, a host a
//! compromised node names — is not this database's, and would get that token (public CAs certify every
//! `*.amazonaws.com` host: TLS alone does not tell the clusters apart). Such a node gets no listener,
//! and redirections to it are refused. A self-hosted cluster (no `aws.elasticache` / `aws.memorydb`)
//! logs in with the operator's own password, verified against the operator's CA; its nodes may be
//! anywhere, and are not checked here.

use iamwire_core::Database;

use super::topology::Node;

/// `nodes` without those `database` (an AWS cache reached at `origin_host`) does not own; each left
/// out is logged.
pub(crate) fn admitted(database: &Database, origin_host: &str, nodes: Vec<Node>) -> Vec<Node> {
    if database.aws.elasticache.is_none() && database.aws.memorydb.is_none() {
        return nodes;
    }
    let name = database.tls.server_name.as_deref();
    nodes
        .into_iter()
        .filter(|node| {
            let ok = belongs(origin_host, name, &node.host);
            if !ok {
                tracing::warn!(
                    database = %database.name,
                    node = %format_args!("{}:{}", node.host, node.port),
                    endpoint = origin_host,
                    "a cluster node is announced outside the configuration endpoint's domain: not \
                     served (no login is sent to it), redirections to it are refused"
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

    #[test]
    fn only_aws_caches_are_checked() {
        let nodes = vec![
            node("orders-0001-001.orders.ab12cd.use1.cache.amazonaws.com"),
            node("10.9.9.9"),
        ];
        let mut self_hosted = Database::new("c", Protocol::Redis, format!("{CFG}:6379"));
        assert_eq!(admitted(&self_hosted, CFG, nodes.clone()).len(), 2);
        self_hosted.aws.elasticache = Some(Default::default());
        let kept = admitted(&self_hosted, CFG, nodes);
        assert_eq!(
            kept,
            vec![node(
                "orders-0001-001.orders.ab12cd.use1.cache.amazonaws.com"
            )]
        );
    }
}
