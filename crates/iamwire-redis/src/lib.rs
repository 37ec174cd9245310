//! Redis and Valkey for iamwire: RESP2 and RESP3 (sans-IO, with limits), the client's `AUTH` / `HELLO`
//! read and answered by the proxy, the login upstream with injected credentials (ElastiCache and MemoryDB
//! IAM tokens from `iamwire-aws`, or a static password), and a message-aware relay that re-authenticates
//! long sessions. [`Redis`] is the protocol's phases on the [`iamwire_proxy`] framework.
//!
//! - [`codec`]: the [`FrameScanner`](codec::FrameScanner) finds frame ends incrementally and enforces
//!   the [`Limits`] (bulk length, aggregate length, nesting depth, line and command size) on each header,
//!   before anything is buffered; `redis-protocol` decodes the frames the proxy looks into.
//! - [`Redis`] / [`RedisProxy`]: a complete proxy for one database; [`error_reply`] is the one place a
//!   failure becomes a RESP error (`-WRONGPASS`, `-NOPERM`, `-ERR`), one line, with what to do.
//!
//! A proxy in front of one self-hosted Redis, clients identified by their certificates:
//!
//! ```no_run
//! use std::sync::Arc;
//! use iamwire_core::tls::{ClientAuth, server_config};
//! use iamwire_core::{AllowList, Database, Glob, IdentityRules, Protocol, StaticPasswordInjector};
//! use iamwire_redis::{Redis, RedisProxy};
//!
//! # async fn run(cert: &[u8], key: &[u8], client_ca: &[u8], db_ca: &[u8])
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let database = Database::new("cache", Protocol::Redis, "cache.internal:6380");
//! let tls = server_config(cert, key, Some(client_ca), ClientAuth::Required)?;
//! let allow = AllowList::new(vec![IdentityRules {
//!     name: "alice".into(),
//!     db_labels: [("*".to_owned(), Glob::new("*"))].into(),
//!     db_users: vec![Glob::new("app")],
//!     db_names: vec![],
//! }]);
//! let injector = StaticPasswordInjector::new("the-app-password");
//! let proxy = RedisProxy::builder(Redis::new(), database, tls, Arc::new(allow), Arc::new(injector))
//!     .upstream_tls(db_ca.to_vec())
//!     .build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:6380").await?;
//! // Clients: redis-cli --tls --cert alice.crt --key alice.key --user app --pass anything
//! proxy.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(())
//! # }
//! ```
//!
//! # Who the client is and which user it gets
//!
//! The client names its database user the way it would to Redis: `AUTH user pass`, `AUTH pass` (user
//! `default`), `HELLO 3 AUTH user pass` or `HELLO 2 AUTH ...`. Its identity comes from its certificate,
//! or from a proxy password (the `pass` of that command, checked against the proxy's stored secret); the
//! Authorizer decides whether that identity may be that user. The database never sees the client's
//! password: the proxy logs in with `AUTH <user> <token>` (or `HELLO <ver> AUTH <user> <token>`, the
//! same protocol version the client asked for). A later `AUTH` or `HELLO ... AUTH` is authorized again
//! for the session's identity (its password is not checked again: the identity was proven when the
//! session began) and logged in with fresh credentials in the same way.
//!
//! # Long sessions: re-AUTH, and the order of replies
//!
//! ElastiCache and MemoryDB close an IAM-authenticated connection 12 hours after its last `AUTH`. The
//! relay re-authenticates each database connection with a fresh token every
//! [`reauth_interval`](Redis::reauth_interval) (an hour by default), without the client noticing.
//!
//! Redis answers the commands of one connection in the order they were sent, one reply each, except for
//! pushes (RESP3) and pub/sub messages, which answer nothing. The relay keeps a queue with one entry per
//! reply the database owes, appended as each command is forwarded: "pass it on", "(un)subscribe
//! confirmations, so many", "the proxy's own: swallow it", "give the client this instead", or "the proxy's
//! own answer, when its turn comes". Each frame from the database is matched with the entry at the front:
//! pushes, pub/sub messages and confirmations nobody waits for are passed on and match nothing, so the
//! queue and the stream never drift apart. A command the proxy answers itself (a refused `AUTH`, a
//! `MONITOR`) gets its answer when every earlier reply has gone out.
//!
//! The re-AUTH is a command of the proxy's own placed between two of the client's, and only where it
//! cannot change what the client sees: when nothing is owed to the client (no reply pending, so no
//! blocking command such as `BLPOP` is waiting and no reply is half-sent), outside `MULTI` ... `EXEC`
//! (AWS refuses `AUTH` inside a transaction), and not while a RESP2 connection is subscribed (Redis
//! allows only (un)subscribe, `PING`, `QUIT` and `RESET` there; a RESP3 subscriber is re-authenticated
//! as usual). When it is due, the proxy first fetches the token, then holds the client's next commands
//! back until such a point (a transaction runs on to its `EXEC`; commands behind a blocking command would
//! have waited behind it in Redis anyway), sends `AUTH <user> <token>`, and swallows the `+OK`. A RESP2
//! connection that stays subscribed is re-authenticated as soon as it is no longer subscribed.
//!
//! In cluster mode, `ASKING` lets only the next command into a slot the node is importing, and the
//! re-AUTH is a command too: a re-AUTH that falls between the client's `ASKING` and its next command is
//! followed by an `ASKING` of the proxy's own (its `+OK` swallowed), so that command still lands.
//!
//! A client `RESET` logs the database connection out: the proxy logs it in again right behind the
//! `RESET`, before any later command. `CLIENT REPLY OFF|SKIP`, `MONITOR`, `SYNC` and `PSYNC` would make the
//! database stop answering commands one for one; the proxy refuses them with `-ERR`.
//!
//! # Cluster mode
//!
//! [`Redis::cluster`] and [`RedisCluster`] serve a cluster (ElastiCache with cluster mode enabled,
//! MemoryDB, a self-hosted Redis Cluster) whose configuration endpoint is the database's address. A
//! cluster's `MOVED` / `ASK` redirections and its `CLUSTER SLOTS` / `CLUSTER SHARDS` / `CLUSTER NODES`
//! / `CLUSTER REPLICAS` replies name node addresses the client cannot reach, and each node needs its
//! own IAM login.
//!
//! **The design: one proxy address per node**, rather than routing by key slot inside the proxy. Each
//! node the cluster reports gets a listener of the proxy's (a port from [`NodePorts`], on the main
//! listener's IP, announced as [`ClusterConfig::announce_host`]); its sessions dial that node (the
//! database's TLS policy, verify-full by default) and log in with the session's credentials, exactly as
//! a standalone session does — same identity check, same injector, same re-AUTH. The proxy rewrites
//! every node address in redirections and topology replies to its own address for that node, and
//! passes everything else byte for byte. So ordinary cluster clients (`redis-cli -c`, redis-rs,
//! redis-py's `RedisCluster`) keep routing by slot themselves, multi-key commands, transactions,
//! pipelines, `ASKING` and pub/sub behave as they do against the cluster, a slot migration is the
//! cluster's `ASK` / `MOVED` passed on with the proxy's addresses, and the relay above stays one client
//! connection to one node connection, with its ordering guarantees. Routing by slot inside the proxy
//! would instead need a connection per node per client, splitting of multi-key commands and
//! pipelines, and its own handling of migrations — a second Redis Cluster client inside the proxy.
//!
//! **Where node addresses come from.** Only the proxy's own query: a connection to the configuration
//! endpoint, logged in as the database user of the session that needs it, asking `CLUSTER SHARDS`
//! (or `CLUSTER NODES` on an engine before Redis 7). It runs when a reply names a node the proxy does
//! not know (the first `CLUSTER SLOTS` of the first client, a node added by a scaling), one at a time
//! and at most once a second; the reply waits for it (no later reply passes it). Nothing a client
//! sends, and no redirection or topology reply, adds a node. For an AWS cache (`aws.elasticache` /
//! `aws.memorydb`: its nodes get IAM tokens) a node is served only if it is named under the
//! configuration endpoint's domain (or is that endpoint, or both are this host's loopback); for a
//! self-hosted cluster (its nodes get the operator's password), only if it is on one of
//! [`ClusterConfig::node_hosts`] (host names, `*.domain`, addresses, CIDR blocks), by default the
//! configuration endpoint's own host. A node announced anywhere else — by a compromised or
//! misconfigured server — gets no listener, no connection and no login. On the last try, a redirection to an
//! address that is still not a node is refused with `-ERR` (never passed on, so no client dials an
//! address the proxy does not serve), and unknown nodes are left out of topology replies. A node
//! that leaves the topology has its listener closed (its live sessions go on).
//!
//! **Limits.** The database user of the session needing a refresh must be allowed `CLUSTER SHARDS`
//! or `CLUSTER NODES` by its ACL; without it redirections are refused (and the proxy logs why). [`NodePorts::Range`] must hold every node,
//! replicas included, with room for a scaling's new nodes. Do not announce `localhost`: redis-py
//! resolves it to `127.0.0.1` for the nodes it learns from `CLUSTER SLOTS` but not for an `ASK`
//! target, which it then cannot find. Other `CLUSTER` subcommands pass through unrewritten (none of
//! the others names a node address).
//!
//! **IAM.** Every node connection (a client's, and the proxy's own topology query) logs in with a
//! token for the cache (ElastiCache signs for the replication group, not for a node, so one token
//! serves every node) and is re-authenticated on its own schedule. The workspace's
//! `tests/redis_cluster.rs` runs this through `iamwire run` against a Redis Cluster whose nodes
//! announce IAM stand-ins (botocore checks every `AUTH`) as ElastiCache's nodes announce their TLS
//! endpoints.
#![forbid(unsafe_code)]

mod cluster;
pub mod codec;
pub mod error;
mod proxy;
mod relay;

pub use cluster::{ClusterConfig, DEFAULT_MAX_NODES, NodeHost, NodePorts, RedisCluster};
pub use codec::Limits;
pub use error::{RedisError, error_reply};
pub use proxy::{DEFAULT_REAUTH_INTERVAL, Redis, RedisProxy, RedisState};

#[doc(hidden)]
pub mod fuzzing;
