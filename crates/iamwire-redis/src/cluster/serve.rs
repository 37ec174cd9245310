//! [`RedisCluster`]: a [`RedisProxy`] serving a cluster: its main listener (the configuration
//! endpoint's address) and one listener per node, bound as refreshes of the topology find nodes and
//! closed when they leave.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use iamwire_proxy::Drain;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::nodes::{ClusterShared, NodeListener, Serving};
use crate::error::RedisError;
use crate::proxy::RedisProxy;

/// How long sessions still running when the drain deadline passes get to end.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A Redis proxy in front of a cluster: clients connect to the main address as they would to the
/// configuration endpoint, and every node address they learn (from `MOVED` / `ASK`, `CLUSTER SLOTS`,
/// `CLUSTER SHARDS`, `CLUSTER NODES`) is one of the proxy's, which logs in to that node with its own
/// credentials. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RedisCluster {
    proxy: RedisProxy,
    shared: Arc<ClusterShared>,
}

impl RedisCluster {
    /// Serve `proxy`, whose [`Redis`](crate::Redis) was built with [`Redis::cluster`](crate::Redis::cluster), as a
    /// cluster: the proxy's database address is the cluster's configuration endpoint.
    ///
    /// # Errors
    /// [`RedisError::NotACluster`] if the proxy's `Redis` has no cluster mode.
    pub fn new(proxy: RedisProxy) -> Result<Self, RedisError> {
        let shared = proxy
            .protocol()
            .cluster
            .clone()
            .ok_or(RedisError::NotACluster)?;
        shared.set_origin(proxy.endpoint().clone());
        Ok(Self { proxy, shared })
    }

    /// The proxy.
    pub fn proxy(&self) -> &RedisProxy {
        &self.proxy
    }

    /// `(node host, node port, proxy port)` for every node served now.
    pub fn nodes(&self) -> Vec<(String, u16, u16)> {
        self.shared.map().nodes().to_vec()
    }

    /// Serve until `shutdown` resolves, then drain (as [`Proxy::serve`](iamwire_proxy::Proxy::serve)
    /// does). Returns when every session has ended.
    pub async fn serve(&self, listener: TcpListener, shutdown: impl Future<Output = ()> + Send) {
        let drain = Drain::new();
        self.serve_until(listener, shutdown, &drain).await;
        drain
            .shutdown(self.proxy.limits().listener.shutdown_timeout, CLOSE_GRACE)
            .await;
    }

    /// Accept on `listener` and on the node listeners until `stop` resolves, with sessions that live
    /// under `drain`. Returns once every listener is closed (their sessions go on under `drain`). One
    /// serve at a time: a second concurrent call logs a warning and returns at once.
    pub async fn serve_until(
        &self,
        listener: TcpListener,
        stop: impl Future<Output = ()> + Send,
        drain: &Drain,
    ) {
        let local = match listener.local_addr() {
            Ok(local) => local,
            Err(error) => {
                tracing::warn!(%error, "the cluster's main listener has no address; not serving");
                return;
            }
        };
        let Some(announce) = self.shared.config.announce_for(local.ip()) else {
            tracing::warn!(
                listener = %local,
                "a cluster proxy listening on an unspecified address needs announce_host (the host \
                 clients reach it at); not serving"
            );
            return;
        };
        let capacity = self.shared.config.ports.capacity().clamp(1, 4096);
        let (tx, mut rx) = mpsc::channel::<NodeListener>(capacity);
        let serving = Serving {
            ip: local.ip(),
            main_port: local.port(),
            announce,
            tx,
        };
        if !self.shared.start_serving(serving) {
            tracing::warn!("this cluster proxy is already being served; not serving it twice");
            return;
        }
        let mut nodes = JoinSet::new();
        let main = self.proxy.serve_until(listener, stop, drain);
        tokio::pin!(main);
        loop {
            tokio::select! {
                () = &mut main => break,
                Some(node) = rx.recv() => {
                    let proxy = self.proxy.clone();
                    let drain = drain.clone();
                    nodes.spawn(async move {
                        let NodeListener { listener, endpoint, mut retire } = node;
                        let retired = async move {
                            let _ = retire.wait_for(|gone| *gone).await;
                        };
                        proxy.serve_until_at(listener, endpoint, retired, &drain).await;
                    });
                }
                Some(_) = nodes.join_next(), if !nodes.is_empty() => {}
            }
        }
        self.shared.stop_serving().await;
        while nodes.join_next().await.is_some() {}
    }
}
