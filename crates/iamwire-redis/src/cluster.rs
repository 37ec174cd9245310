//! Cluster mode (ElastiCache with cluster mode enabled, MemoryDB, a self-hosted Redis Cluster): one
//! proxy address per node, with redirections and topology replies rewritten to name those addresses.
//! See the [crate docs](crate#cluster-mode) for the design, its limits and how to configure it.
//!
//! - [`ClusterConfig`] / [`NodePorts`]: where the node addresses are; [`Redis::cluster`] turns it on.
//! - [`RedisCluster`]: serves the main address (the configuration endpoint's) and a listener per node,
//!   opened and closed as the cluster's nodes come and go.

mod admit;
mod nodes;
mod refresh;
pub(crate) mod rewrite;
mod serve;
pub(crate) mod topology;
pub(crate) mod value;

use std::net::IpAddr;

pub use admit::NodeHost;
pub(crate) use nodes::ClusterShared;
pub use serve::RedisCluster;

#[cfg(doc)]
use crate::Redis;

/// The most node addresses one cluster gets with [`NodePorts::Any`] unless told otherwise (a
/// cluster of 500 shards with replicas is far beyond what ElastiCache allows).
pub const DEFAULT_MAX_NODES: usize = 1000;

/// Which ports the proxy serves the nodes of a cluster on: each node of the cluster gets one, on the IP
/// address of the main listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodePorts {
    /// The ports `first..=last` (the main listener's port left out): at least as many as the cluster
    /// has nodes, primaries and replicas, with room for the nodes a scaling or a node replacement adds
    /// before the old ones leave.
    Range {
        /// The first port.
        first: u16,
        /// The last port.
        last: u16,
    },
    /// Ports the system picks, at most `max` of them (for tests and for clients on the same host:
    /// firewalls cannot know them in advance).
    Any {
        /// The most nodes served.
        max: usize,
    },
}

impl NodePorts {
    /// The most nodes these ports serve.
    pub fn capacity(&self) -> usize {
        match *self {
            Self::Range { first, last } => usize::from(last.saturating_sub(first)) + 1,
            Self::Any { max } => max,
        }
    }
}

/// How the proxy presents a cluster: the ports its nodes get, the host clients are told to reach
/// them at, and the hosts its nodes may be on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub(crate) ports: NodePorts,
    pub(crate) announce: Option<String>,
    pub(crate) node_hosts: Option<Vec<NodeHost>>,
}

impl ClusterConfig {
    /// Serve each node on one of `ports`.
    pub fn new(ports: NodePorts) -> Self {
        Self {
            ports,
            announce: None,
            node_hosts: None,
        }
    }

    /// The hosts the cluster's nodes may be announced at: a node announced anywhere else gets no
    /// listener and no login (no connection is made to it), and redirections to it are refused.
    ///
    /// Without it, a self-hosted cluster's nodes must be on the configuration endpoint's own host (the
    /// database address's host, as written; every loopback name and address count as one host), and
    /// an AWS cache's (`aws.elasticache` / `aws.memorydb`) under the configuration endpoint's domain.
    /// With it, a self-hosted cluster's nodes must match one of `hosts`; an AWS cache's must match one
    /// *and* be under that domain.
    #[must_use]
    pub fn node_hosts(mut self, hosts: Vec<NodeHost>) -> Self {
        self.node_hosts = Some(hosts);
        self
    }

    /// The host clients reach the proxy at, put into every redirection and topology reply: a name in
    /// the proxy's certificate (clients that verify host names check it) that resolves to this proxy.
    /// Without it, the main listener's IP address, which must then not be unspecified (`0.0.0.0`).
    #[must_use]
    pub fn announce_host(mut self, host: impl Into<String>) -> Self {
        self.announce = Some(host.into());
        self
    }

    /// The host announced for a main listener on `ip`, if there is one.
    pub(crate) fn announce_for(&self, ip: IpAddr) -> Option<String> {
        match &self.announce {
            Some(host) => Some(host.clone()),
            None if ip.is_unspecified() => None,
            None => Some(ip.to_string()),
        }
    }
}
