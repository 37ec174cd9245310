//! What every session of a cluster proxy shares: the map from the cluster's node addresses to the
//! proxy's ports ([`NodeMap`], replaced whole on each change), the listeners bound for the nodes, and
//! the state of the refreshes (one at a time, see `refresh.rs`).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use iamwire_proxy::UpstreamEndpoint;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, watch};

use super::rewrite::Addresses;
use super::topology::Node;
use super::{ClusterConfig, NodePorts};

/// How many connections wait in the kernel for a node listener while the proxy is busy.
const LISTEN_BACKLOG: u32 = 1024;

/// The proxy's addresses for the nodes it serves. A snapshot: sessions hold it while they rewrite.
#[derive(Debug, Default)]
pub(crate) struct NodeMap {
    announce: String,
    by_name: HashMap<(String, u16), u16>,
    nodes: Vec<(String, u16, u16)>,
}

impl NodeMap {
    /// A map announcing `announce`, with `nodes`: `(names the cluster gives the node, proxy port)`.
    pub(crate) fn new(announce: &str, nodes: &[(Vec<(String, u16)>, u16)]) -> Self {
        let mut map = Self {
            announce: announce.to_owned(),
            ..Self::default()
        };
        for (names, port) in nodes {
            for (host, p) in names {
                map.by_name.insert((host.to_ascii_lowercase(), *p), *port);
            }
            if let Some((host, p)) = names.first() {
                map.nodes.push((host.clone(), *p, *port));
            }
        }
        map
    }

    /// `(node host, node port, proxy port)` of each node served.
    pub(crate) fn nodes(&self) -> &[(String, u16, u16)] {
        &self.nodes
    }
}

impl Addresses for NodeMap {
    fn proxy_port(&self, host: &[u8], port: u16) -> Option<u16> {
        let host = std::str::from_utf8(host).ok()?.to_ascii_lowercase();
        self.by_name.get(&(host, port)).copied()
    }

    fn announce(&self) -> &str {
        &self.announce
    }
}

/// A listener bound for a node, for the serving loop to serve (until `retire` says `true`).
pub(crate) struct NodeListener {
    pub(crate) listener: TcpListener,
    pub(crate) endpoint: UpstreamEndpoint,
    pub(crate) retire: watch::Receiver<bool>,
}

/// Where node listeners are bound while a [`RedisCluster`](super::RedisCluster) serves.
#[derive(Clone)]
pub(crate) struct Serving {
    pub(crate) ip: IpAddr,
    pub(crate) main_port: u16,
    pub(crate) announce: String,
    pub(crate) tx: mpsc::Sender<NodeListener>,
}

/// A node with a listener.
struct Bound {
    port: u16,
    names: Vec<(String, u16)>,
    retire: watch::Sender<bool>,
}

/// What only the refresh in progress changes.
#[derive(Default)]
pub(crate) struct State {
    /// When the last refresh started.
    pub(crate) last: Option<Instant>,
    /// Nodes with a listener, by the address the proxy dials.
    bound: BTreeMap<(String, u16), Bound>,
    /// When each port was last given up.
    retired: HashMap<u16, Instant>,
}

/// A cluster proxy's shared state.
pub(crate) struct ClusterShared {
    pub(crate) config: ClusterConfig,
    origin: OnceLock<UpstreamEndpoint>,
    map: Mutex<Arc<NodeMap>>,
    generation: AtomicU64,
    pub(crate) state: tokio::sync::Mutex<State>,
    serving: Mutex<Option<Serving>>,
}

impl std::fmt::Debug for ClusterShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterShared")
            .field("config", &self.config)
            .field("nodes", &self.map().nodes().len())
            .finish_non_exhaustive()
    }
}

impl ClusterShared {
    pub(crate) fn new(config: ClusterConfig) -> Self {
        Self {
            config,
            origin: OnceLock::new(),
            map: Mutex::default(),
            generation: AtomicU64::new(0),
            state: tokio::sync::Mutex::default(),
            serving: Mutex::default(),
        }
    }

    /// The configuration endpoint: where topology is asked for, and whose TLS policy nodes get.
    pub(crate) fn set_origin(&self, endpoint: UpstreamEndpoint) {
        let _ = self.origin.set(endpoint);
    }

    pub(crate) fn origin(&self) -> Option<&UpstreamEndpoint> {
        self.origin.get()
    }

    /// The map now.
    pub(crate) fn map(&self) -> Arc<NodeMap> {
        Arc::clone(&self.map.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// How many refreshes have finished (a frame that found its node unknown waits for a later one).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn bump_generation(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn serving(&self) -> Option<Serving> {
        self.serving
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Node listeners are bound per `serving` from now on; `false` if another serve already does.
    pub(crate) fn start_serving(&self, serving: Serving) -> bool {
        let mut slot = self.serving.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_some() {
            return false;
        }
        *slot = Some(serving);
        true
    }

    /// Close every node listener and forget the map (their live sessions go on).
    pub(crate) async fn stop_serving(&self) {
        let mut state = self.state.lock().await;
        *self.serving.lock().unwrap_or_else(PoisonError::into_inner) = None;
        for (_, bound) in std::mem::take(&mut state.bound) {
            let _ = bound.retire.send(true);
        }
        *self.map.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(NodeMap::default());
        self.bump_generation();
    }

    /// Make the served nodes `nodes`: a listener for each new one, none for those gone; then publish
    /// the map.
    pub(crate) fn apply(&self, state: &mut State, nodes: &[Node]) {
        let (Some(serving), Some(origin)) = (self.serving(), self.origin()) else {
            return;
        };
        let keep: Vec<(String, u16)> = nodes.iter().map(|n| (n.host.clone(), n.port)).collect();
        let gone: Vec<(String, u16)> = state
            .bound
            .keys()
            .filter(|k| !keep.contains(k))
            .cloned()
            .collect();
        let now = Instant::now();
        for key in gone {
            if let Some(bound) = state.bound.remove(&key) {
                tracing::info!(
                    node = %format_args!("{}:{}", key.0, key.1),
                    port = bound.port,
                    "a cluster node left the topology; its proxy address no longer accepts"
                );
                let _ = bound.retire.send(true);
                state.retired.insert(bound.port, now);
            }
        }
        for node in nodes {
            let key = (node.host.clone(), node.port);
            if let Some(bound) = state.bound.get_mut(&key) {
                bound.names.clone_from(&node.names);
                continue;
            }
            match self.bind(state, &serving, origin, node) {
                Ok(bound) => {
                    tracing::info!(
                        node = %format_args!("{}:{}", node.host, node.port),
                        proxy = %format_args!("{}:{}", serving.announce, bound.port),
                        "serving a cluster node"
                    );
                    state.bound.insert(key, bound);
                }
                Err(why) => tracing::warn!(
                    node = %format_args!("{}:{}", node.host, node.port),
                    why,
                    "cannot serve this cluster node; redirections to it are refused until a later \
                     refresh can"
                ),
            }
        }
        let served: Vec<(Vec<(String, u16)>, u16)> = state
            .bound
            .values()
            .map(|b| (b.names.clone(), b.port))
            .collect();
        let map = Arc::new(NodeMap::new(&serving.announce, &served));
        *self.map.lock().unwrap_or_else(PoisonError::into_inner) = map;
    }

    /// A listener for `node` on a free port, handed to the serving loop.
    fn bind(
        &self,
        state: &State,
        serving: &Serving,
        origin: &UpstreamEndpoint,
        node: &Node,
    ) -> Result<Bound, String> {
        let endpoint = origin
            .at(&node.host, node.port)
            .map_err(|e| e.to_string())?;
        let in_use: Vec<u16> = state.bound.values().map(|b| b.port).collect();
        let candidates: Vec<u16> = match self.config.ports {
            NodePorts::Any { max } if in_use.len() >= max => Vec::new(),
            NodePorts::Any { .. } => vec![0],
            NodePorts::Range { first, last } => {
                let mut ports: Vec<u16> = (first..=last)
                    .filter(|p| *p != serving.main_port && !in_use.contains(p))
                    .collect();
                // Never-used ports first, then the one given up longest ago: a client that still
                // holds an old address is least likely to reach another node by it.
                ports.sort_by_key(|p| (state.retired.get(p).copied(), *p));
                ports
            }
        };
        if candidates.is_empty() {
            return Err(format!(
                "every node port is taken ({} nodes): widen the cluster's node_ports",
                in_use.len()
            ));
        }
        let mut last_error = String::new();
        for port in candidates {
            match listen(SocketAddr::new(serving.ip, port)) {
                Ok(listener) => {
                    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
                    let (retire, retired) = watch::channel(false);
                    let handed = serving.tx.try_send(NodeListener {
                        listener,
                        endpoint: endpoint.clone(),
                        retire: retired,
                    });
                    if handed.is_err() {
                        return Err("the node listeners are not being served".into());
                    }
                    return Ok(Bound {
                        port,
                        names: node.names.clone(),
                        retire,
                    });
                }
                Err(e) => last_error = format!("cannot listen on {}:{port}: {e}", serving.ip),
            }
        }
        Err(last_error)
    }
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_in_any_case_and_unknown_ones_are_not() {
        let map = NodeMap::new(
            "proxy.example",
            &[
                (
                    vec![("node-a.example".into(), 6379), ("10.0.0.1".into(), 6379)],
                    7001,
                ),
                (vec![("10.0.0.2".into(), 6380)], 7002),
            ],
        );
        assert_eq!(map.proxy_port(b"NODE-A.example", 6379), Some(7001));
        assert_eq!(map.proxy_port(b"10.0.0.1", 6379), Some(7001));
        assert_eq!(map.proxy_port(b"10.0.0.2", 6380), Some(7002));
        assert_eq!(map.proxy_port(b"10.0.0.2", 6379), None);
        assert_eq!(map.proxy_port(b"evil.example", 6379), None);
        assert_eq!(map.announce(), "proxy.example");
        assert_eq!(map.nodes().len(), 2);
    }
}
