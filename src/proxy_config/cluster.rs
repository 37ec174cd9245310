//! `proxy.listeners[].cluster`: Redis cluster mode (ElastiCache with cluster mode enabled, MemoryDB, a
//! self-hosted Redis Cluster). The database's address is the cluster's configuration endpoint; each node
//! is served on one of `node_ports`, announced to clients as `announce_host`.
//!
//! ```yaml
//! cluster:
//!   node_ports: 7001-7020      # or "any": ports the system picks
//!   announce_host: cache-proxy.internal
//!   node_hosts: ["*.redis.internal", 10.0.8.0/24]   # where nodes may be; default: the endpoint's host
//! ```

use serde::Deserialize;

use super::ConfigError;
use iamwire_redis::{ClusterConfig, DEFAULT_MAX_NODES, NodeHost, NodePorts};

/// The `cluster` section of a Redis listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClusterSection {
    /// `first-last` (inclusive), or `any`.
    pub(crate) node_ports: String,
    /// The host clients reach the proxy at (a name in the proxy's certificate); the listen address's
    /// IP when absent.
    #[serde(default)]
    pub(crate) announce_host: Option<String>,
    /// The hosts the cluster's nodes may be on (names, `*.domain`, addresses, CIDR blocks); a node
    /// announced elsewhere is not served. Self-hosted: the configuration endpoint's host when absent.
    #[serde(default)]
    pub(crate) node_hosts: Option<Vec<String>>,
}

/// The cluster mode of a listener for `database`, if its section asks for one.
pub(super) fn cluster_config(
    section: Option<&ClusterSection>,
    database: &str,
    protocol: iamwire_core::Protocol,
    listen: &super::ListenAddr,
) -> Result<Option<ClusterConfig>, ConfigError> {
    let Some(section) = section else {
        return Ok(None);
    };
    let super::ListenAddr::Tcp(listen) = listen else {
        return Err(ConfigError::Cluster {
            database: database.to_owned(),
            problem: "cluster mode needs an ip:port listener (clients are sent to node addresses)"
                .to_owned(),
        });
    };
    if protocol != iamwire_core::Protocol::Redis {
        return Err(ConfigError::NotForProtocol {
            database: database.to_owned(),
            field: "cluster",
            protocol,
        });
    }
    let bad = |problem: &str| ConfigError::Cluster {
        database: database.to_owned(),
        problem: problem.to_owned(),
    };
    let text = section.node_ports.trim();
    let ports = if text.eq_ignore_ascii_case("any") {
        NodePorts::Any {
            max: DEFAULT_MAX_NODES,
        }
    } else {
        let (first, last) = text
            .split_once('-')
            .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)))
            .filter(|(a, b)| *a != 0 && a <= b)
            .ok_or_else(|| bad("node_ports must be first-last (like 7001-7020) or any"))?;
        NodePorts::Range { first, last }
    };
    let mut config = ClusterConfig::new(ports);
    match &section.announce_host {
        Some(host) if host.trim().is_empty() => return Err(bad("announce_host is empty")),
        Some(host) => config = config.announce_host(host.trim()),
        None if listen.ip().is_unspecified() => {
            return Err(bad(
                "a listener on an unspecified address needs announce_host (the host clients reach \
                 the proxy at)",
            ));
        }
        None => {}
    }
    if let Some(hosts) = &section.node_hosts {
        let parsed = hosts
            .iter()
            .map(|text| {
                NodeHost::parse(text).ok_or_else(|| {
                    bad(&format!(
                        "node_hosts entry {text:?} is not a host name, *.domain, IP address or CIDR \
                         block"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if parsed.is_empty() {
            return Err(bad("node_hosts is empty: no node could be served"));
        }
        config = config.node_hosts(parsed);
    }
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(ports: &str, host: Option<&str>) -> ClusterSection {
        ClusterSection {
            node_ports: ports.into(),
            announce_host: host.map(str::to_owned),
            node_hosts: None,
        }
    }

    #[test]
    fn node_hosts_are_parsed_or_refused() {
        let listen = &super::super::ListenAddr::Tcp("127.0.0.1:6379".parse().unwrap());
        let redis = iamwire_core::Protocol::Redis;
        let mut with = section("any", None);
        with.node_hosts = Some(vec!["*.redis.internal".into(), "10.0.8.0/24".into()]);
        let config = cluster_config(Some(&with), "c", redis, listen)
            .unwrap()
            .unwrap();
        let want = iamwire_redis::ClusterConfig::new(NodePorts::Any {
            max: DEFAULT_MAX_NODES,
        })
        .node_hosts(vec![
            NodeHost::parse("*.redis.internal").unwrap(),
            NodeHost::parse("10.0.8.0/24").unwrap(),
        ]);
        assert_eq!(config, want);
        for bad in [
            vec!["10.0.0.0/40".to_owned()],
            vec!["a b".to_owned()],
            vec![],
        ] {
            with.node_hosts = Some(bad.clone());
            let err = cluster_config(Some(&with), "c", redis, listen);
            assert!(matches!(err, Err(ConfigError::Cluster { .. })), "{bad:?}");
        }
    }

    #[test]
    fn ranges_any_and_mistakes() {
        let listen = &super::super::ListenAddr::Tcp("127.0.0.1:6379".parse().unwrap());
        let redis = iamwire_core::Protocol::Redis;
        let ok = cluster_config(Some(&section("7001-7003", None)), "c", redis, listen).unwrap();
        assert!(ok.is_some());
        assert!(cluster_config(Some(&section("any", Some("h"))), "c", redis, listen).is_ok());
        assert!(cluster_config(None, "c", redis, listen).unwrap().is_none());
        for bad in ["7003-7001", "0-5", "7001", "a-b", ""] {
            let err = cluster_config(Some(&section(bad, None)), "c", redis, listen);
            assert!(matches!(err, Err(ConfigError::Cluster { .. })), "{bad}");
        }
        let any = &super::super::ListenAddr::Tcp("0.0.0.0:6379".parse().unwrap());
        let unix = &super::super::ListenAddr::Unix {
            path: "/tmp/redis.sock".into(),
            mode: 0o600,
        };
        assert!(cluster_config(Some(&section("any", Some("h"))), "c", redis, unix).is_err());
        assert!(cluster_config(Some(&section("any", None)), "c", redis, any).is_err());
        let pg = iamwire_core::Protocol::Postgres;
        assert!(matches!(
            cluster_config(Some(&section("any", None)), "c", pg, listen),
            Err(ConfigError::NotForProtocol { .. })
        ));
    }
}
