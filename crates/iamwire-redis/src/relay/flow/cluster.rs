//! Cluster mode in the [`Flow`]: a redirection (`-MOVED` / `-ASK`) or a topology reply (`CLUSTER
//! SLOTS` / `SHARDS` / `NODES` / `REPLICAS`) is rewritten to name the proxy's node addresses before it
//! reaches the client. A frame that names a node the proxy does not know yet is held (no later frame
//! passes it, so order is kept) while the driver refreshes the node map, then rewritten once more as
//! the last try: unknown nodes are then left out of topology replies, and a redirection to one becomes
//! an error (it is never passed on, so no client dials an address the proxy does not serve).

use std::sync::Arc;

use bytes::Bytes;
use iamwire_proxy::SessionError;

use super::{Entry, Flow, Track};
use crate::cluster::ClusterShared;
use crate::cluster::rewrite::{Rewriter, Rewritten, Topology};
use crate::codec::{Command, ReplyKind};
use crate::error::{RedisError, error_reply};

/// How one connection of a cluster proxy rewrites node addresses.
pub(crate) struct ClusterView {
    /// The proxy's node map and its refreshes.
    pub(crate) shared: Arc<ClusterShared>,
    /// The host of the node this connection is to (what an empty host in a reply stands for).
    pub(crate) own_host: String,
}

/// The topology reply a `CLUSTER` command gets, if it is one the proxy rewrites.
pub(super) fn topology_of(cmd: &Command) -> Option<Topology> {
    let sub = cmd.arg(1)?;
    let is = |name: &str| sub.eq_ignore_ascii_case(name.as_bytes());
    if is("SLOTS") {
        Some(Topology::Slots)
    } else if is("SHARDS") {
        Some(Topology::Shards)
    } else if is("NODES") || is("REPLICAS") || is("SLAVES") {
        Some(Topology::Nodes)
    } else {
        None
    }
}

impl Flow {
    /// Serve this connection as one to a cluster node.
    pub(crate) fn set_cluster(&mut self, view: ClusterView) {
        self.cluster = Some(view);
    }

    /// Whether frames starting with `first` must be looked into for the cluster (errors may be
    /// redirections).
    pub(super) fn cluster_inspects(&self, first: u8) -> bool {
        self.cluster.is_some() && matches!(first, b'-' | b'!')
    }

    /// The frame to pass on for the reply at the front of the queue, rewritten for the cluster; `None`
    /// if it is held until the node map has been refreshed.
    pub(super) fn for_cluster(
        &mut self,
        frame: Bytes,
        kind: &ReplyKind,
        last_try: bool,
    ) -> Option<Bytes> {
        let Some(view) = &self.cluster else {
            return Some(frame);
        };
        let topology = match self.queue.front() {
            Some(Entry::Reply(Track::Topology(t))) => Some(*t),
            _ => None,
        };
        let is_error = matches!(kind, ReplyKind::Error { .. });
        if topology.is_none() && !is_error {
            return Some(frame);
        }
        let seen = view.shared.generation();
        let map = view.shared.map();
        let rewriter = Rewriter {
            map: &*map,
            own_host: &view.own_host,
            last_try,
        };
        let result = match topology {
            Some(t) => rewriter.topology(t, &frame),
            None => rewriter.redirect(&frame),
        };
        match result {
            Rewritten::Same => Some(frame),
            Rewritten::New(bytes) => Some(bytes.into()),
            Rewritten::Unknown => {
                self.held = Some((frame, kind.clone()));
                self.refresh = Some(seen);
                None
            }
            Rewritten::Refused { code, target } => {
                let error = match topology {
                    Some(t) if !is_error => RedisError::UnreadableTopology { what: t.name() },
                    _ => RedisError::UnknownNode { code, target },
                };
                tracing::warn!(%error, "a cluster reply was not passed on");
                let line = error_reply(&SessionError::from(error)).unwrap_or_default();
                Some(line.into())
            }
        }
    }

    /// The node map generation a held frame was rewritten against, once: the driver refreshes the
    /// map unless a refresh has finished since, then calls [`refreshed`](Self::refreshed).
    pub(crate) fn take_refresh(&mut self) -> Option<u64> {
        self.refresh.take()
    }

    /// The node map has been refreshed (or could not be): the held frame gets its last try.
    pub(crate) fn refreshed(&mut self) {
        if let Some((frame, kind)) = self.held.take()
            && let Some(frame) = self.for_cluster(frame, &kind, true)
        {
            self.reply(&frame, &kind);
        }
    }

    /// Whether a frame is held for a refresh (no later frame may pass it).
    pub(super) fn holding(&self) -> bool {
        self.held.is_some()
    }
}
