//! MySQL and MariaDB for iamwire: the client/server protocol (sans-IO packets for both sides of the
//! handshake and the commands a proxy must guard), the authentication exchanges
//! (`mysql_clear_password` for RDS and Aurora IAM tokens, `mysql_native_password`,
//! `caching_sha2_password`), and [`MySql`], the protocol's phases on the [`iamwire_proxy`] framework.
//! RDS for MySQL and MariaDB, Aurora MySQL and RDS Proxy all speak it.
//!
//! - [`codec`]: packets with limits checked on each header, every connection-phase message both
//!   ways, `COM_CHANGE_USER`, and what the relay follows in both streams.
//! - [`auth`]: the password plugins, the proxy's login to the database, and how a client's proxy
//!   password is had in clear over TLS.
//! - [`MySql`] / [`MySqlProxy`]: a complete proxy for one database; credentials come from any
//!   [`AuthInjector`](iamwire_core::AuthInjector) (the RDS IAM one is in `iamwire-aws`).
//!
//! # What `db_names` can and cannot enforce
//!
//! The Authorizer sees the database user and the database the client names in its handshake, and
//! again at every `COM_CHANGE_USER`, `COM_INIT_DB` (`mysql`'s `use`, drivers' `select_db`) and a
//! query that *starts* with `USE` (after comments). That is where `db_names` applies. It does not
//! and cannot reach inside statements: `SELECT * FROM other.t`, a `USE` after another statement of
//! a multi-statement query, stored procedures, prepared statements and views all name databases the
//! proxy never sees. For MySQL, `db_names` keeps well-behaved clients where they should be; **the
//! database user's grants are the real boundary** — grant each IAM database user only the schemas
//! its identities may use.
//!
//! # COM_CHANGE_USER
//!
//! A session keeps the identity it proved at login (its certificate, or its proxy password). A
//! `COM_CHANGE_USER` asks the Authorizer whether that identity may be the new database user on the
//! new database; if so the injector resolves fresh credentials and the proxy logs in again upstream
//! (following the database's auth switch, e.g. to `mysql_clear_password` for an IAM user), and the
//! client hears the database's OK; if not, the client gets `1045` (or `1044` for the database) and
//! the session goes on as before. The password inside the client's `COM_CHANGE_USER` is not what
//! decides: the identity is.
//!
//! # Capabilities
//!
//! Each hop settles TLS, auth framing, the database and attributes on its own; what changes the
//! format of the database's replies (`CLIENT_DEPRECATE_EOF`, `CLIENT_SESSION_TRACK`, ...) must be the
//! same on both, so the proxy offers clients what it last saw the database offer (before it has seen
//! it: what MySQL 5.7+, MySQL 8, Aurora and MariaDB 10.2+ all have), and a session whose database
//! turns out to lack one is refused with `1043` before any login. Compression is never offered (the
//! relay reads commands), nor `CLIENT_QUERY_ATTRIBUTES` (attributes come before the statement text).
//!
//! # KILL
//!
//! A client sees the proxy's session id as its connection id (the greeting's), so `KILL [QUERY] <id>`
//! — `mysql`'s Ctrl-C, drivers' query timeouts — names a proxy session: the relay maps it to the
//! database's thread id of that session, if it is a session of the same identity, and refuses any
//! other id as unknown (`1094`). The mapped `KILL` runs on the requesting session's own database
//! connection, so the database's own rules apply too (a user may kill its own threads).
//! `CONNECTION_ID()` and `SHOW PROCESSLIST` show the database's ids, which `KILL` through the proxy
//! does not take.
//!
//! A proxy in front of one database, clients identified by their certificates:
//!
//! ```no_run
//! use std::sync::Arc;
//! use iamwire_core::tls::{ClientAuth, server_config};
//! use iamwire_core::{AllowList, Database, Glob, IdentityRules, Protocol, StaticPasswordInjector};
//! use iamwire_mysql::{MySql, MySqlProxy};
//!
//! # async fn run(cert: &[u8], key: &[u8], client_ca: &[u8], db_ca: &[u8])
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let database = Database::new("orders", Protocol::MySql, "orders.internal:3306");
//! let tls = server_config(cert, key, Some(client_ca), ClientAuth::Required)?;
//! let allow = AllowList::new(vec![IdentityRules {
//!     name: "alice".into(),
//!     db_labels: [("*".to_owned(), Glob::new("*"))].into(),
//!     db_users: vec![Glob::new("app")],
//!     db_names: vec![Glob::new("orders")],
//! }]);
//! let injector = StaticPasswordInjector::new("the-app-password");
//! let proxy = MySqlProxy::builder(MySql::new(), database, tls, Arc::new(allow), Arc::new(injector))
//!     .upstream_tls(db_ca.to_vec())
//!     .build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3307").await?;
//! // Serve until Ctrl-C, then drain: sessions get the shutdown timeout, then ERR 1053.
//! proxy.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod auth;
pub mod codec;
pub mod error;
mod proxy;

pub use error::{MyError, error_packet};
pub use proxy::{KillTarget, MySql, MySqlProxy, MyState};

#[doc(hidden)]
pub mod fuzzing;
