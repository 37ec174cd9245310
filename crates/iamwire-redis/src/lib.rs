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
//! A client `RESET` logs the database connection out: the proxy logs it in again right behind the
//! `RESET`, before any later command. `CLIENT REPLY OFF|SKIP`, `MONITOR`, `SYNC` and `PSYNC` would make the
//! database stop answering commands one for one; the proxy refuses them with `-ERR`.
//!
//! # Cluster mode
//!
//! Not served yet: this crate relays one database endpoint (a standalone node, a replication group's
//! primary endpoint, a serverless cache). A cluster's `MOVED` / `ASK` redirections and `CLUSTER SLOTS` /
//! `CLUSTER SHARDS` / `CLUSTER NODES` replies pass through unchanged and name node addresses the client
//! cannot reach with its proxy credentials. The design chosen for it is one proxy address per node, with
//! redirections and topology replies rewritten to those addresses (each node dialed with
//! [`UpstreamEndpoint::at`](iamwire_proxy::UpstreamEndpoint::at), the same TLS policy): ordinary cluster
//! clients keep routing by slot themselves, and the relay above stays one connection to one node. See the
//! README for what is missing.
#![forbid(unsafe_code)]

pub mod codec;
pub mod error;
mod proxy;
mod relay;

pub use codec::Limits;
pub use error::{RedisError, error_reply};
pub use proxy::{DEFAULT_REAUTH_INTERVAL, Redis, RedisProxy, RedisState};

#[doc(hidden)]
pub mod fuzzing;
