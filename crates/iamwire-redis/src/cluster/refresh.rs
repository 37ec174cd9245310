//! Refreshing the node map: the proxy's own connection to the configured endpoint (the database's
//! address, its TLS policy), logged in with a token for the database user of the session that needs the
//! refresh, asking `CLUSTER SHARDS` (or `CLUSTER NODES` from an engine without it), then closed.
//!
//! One refresh at a time for the whole proxy, and at most one a second: a session that finds a node it
//! does not know waits for the next refresh that starts after it looked, and a flood of made-up
//! redirections costs the cluster at most one connection a second.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use iamwire_core::SessionRequest;
use iamwire_proxy::{Cx, SessionError, UpstreamConn, UpstreamEndpoint};
use tokio::io::AsyncWriteExt;

use super::nodes::ClusterShared;
use super::topology::{self, Node};
use crate::codec::{Limits, Reply, ReplyKind, encode_command};
use crate::error::RedisError;
use crate::proxy::{AuthForm, login_command, read_reply, wipe};

/// The shortest time between the starts of two refreshes.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(1);

type Result<T> = std::result::Result<T, SessionError<RedisError>>;

impl ClusterShared {
    /// Refresh the map from the configured endpoint as `user` (already authorized for the session
    /// asking), unless a refresh has finished since generation `seen`.
    pub(crate) async fn refresh_after(
        &self,
        seen: u64,
        cx: &Cx<'_, ()>,
        user: &str,
        limits: Limits,
    ) {
        let mut state = self.state.lock().await;
        if self.generation() > seen {
            return;
        }
        let origin = match (self.origin(), self.serving()) {
            (Some(origin), Some(_)) => origin.clone(),
            _ => {
                tracing::warn!(
                    "a cluster node is not known, and the node listeners are not served (serve the \
                     proxy with RedisCluster): the redirection is refused"
                );
                self.bump_generation();
                return;
            }
        };
        if let Some(last) = state.last {
            tokio::time::sleep_until((last + MIN_INTERVAL).into()).await;
        }
        state.last = Some(Instant::now());
        let max = self.config.ports.capacity();
        match query(&origin, cx, user, limits, max).await {
            Ok(nodes) => {
                let allowed = self.config.node_hosts.as_deref();
                let nodes = super::admit::admitted(cx.database, origin.host(), allowed, nodes);
                tracing::debug!(nodes = nodes.len(), "refreshed the cluster's topology");
                self.apply(&mut state, &nodes);
            }
            Err(error) => tracing::warn!(
                endpoint = origin.addr(),
                db_user = user,
                error = %iamwire_proxy::error_chain(&error),
                "could not refresh the cluster's topology; the nodes known so far stay"
            ),
        }
        self.bump_generation();
    }
}

/// The cluster's nodes, from a fresh connection to `origin` logged in as `user`.
async fn query(
    origin: &UpstreamEndpoint,
    cx: &Cx<'_, ()>,
    user: &str,
    limits: Limits,
    max: usize,
) -> Result<Vec<Node>> {
    let want = SessionRequest {
        database: cx.database,
        db_user: user,
        db_name: None,
    };
    let timeouts = cx.timeouts;
    let login = match tokio::time::timeout(timeouts.credentials, cx.injector.login(&want)).await {
        Ok(Ok(login)) => login,
        Ok(Err(source)) => return Err(SessionError::Credentials { source }),
        Err(_) => {
            return Err(SessionError::CredentialTimeout {
                timeout: timeouts.credentials,
            });
        }
    };
    let addr = || origin.addr().to_owned();
    let mut upstream = tokio::time::timeout(timeouts.connect, async {
        let tcp = cx
            .dialer
            .dial(origin)
            .await
            .map_err(|source| SessionError::Connect {
                addr: addr(),
                source,
            })?;
        UpstreamConn::start_tls(origin, tcp, &[])
            .await
            .map_err(|source| SessionError::upstream_tls(addr(), source))
    })
    .await
    .map_err(|_| SessionError::ConnectTimeout {
        addr: addr(),
        timeout: timeouts.connect,
    })??;
    let asked = tokio::time::timeout(timeouts.login, async {
        let mut out = BytesMut::new();
        login_command(&AuthForm::Auth, &login, &mut out);
        encode_command(&[b"CLUSTER", b"SHARDS"], &mut out);
        let sent = upstream.send(&out).await;
        wipe(&mut out);
        sent.map_err(|source| SessionError::UpstreamIo { source })?;
        let auth = read_reply(limits, &mut upstream).await?;
        if let ReplyKind::Error { code, message } = Reply::decode(auth, false) {
            return Err(RedisError::UpstreamRejected { code, message }.into());
        }
        let shards = read_reply(limits, &mut upstream).await?;
        match topology::from_shards(&shards, max) {
            Err(topology::BadTopology::Error) => {}
            other => return other.map_err(bad),
        }
        // An engine before Redis 7 has no CLUSTER SHARDS.
        encode_command(&[b"CLUSTER", b"NODES"], &mut out);
        upstream
            .send(&out)
            .await
            .map_err(|source| SessionError::UpstreamIo { source })?;
        let nodes = read_reply(limits, &mut upstream).await?;
        topology::from_nodes(&nodes, max).map_err(bad)
    })
    .await
    .map_err(|_| SessionError::LoginTimeout {
        timeout: timeouts.login,
    })?;
    let (mut stream, _) = upstream.into_parts();
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
    asked
}

fn bad(what: topology::BadTopology) -> SessionError<RedisError> {
    RedisError::Topology {
        what: what.to_string(),
    }
    .into()
}
