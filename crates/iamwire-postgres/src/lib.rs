//! PostgreSQL for iamwire: the wire protocol (both sides of the handshake, sans-IO), the authentication
//! exchanges (SCRAM-SHA-256(-PLUS), MD5, cleartext), and [`Postgres`], the protocol's phases on the
//! [`iamwire_proxy`] framework. RDS, Aurora, RDS Proxy and Redshift all speak it.
//!
//! - [`codec`]: `FrontendDecoder` / `BackendDecoder` with limits, every startup-phase message both ways.
//! - [`auth`]: the proxy's SCRAM server (for proxy-side passwords) and its upstream login exchange.
//! - [`Postgres`] / [`PgProxy`]: a complete proxy for one database; the credentials come from any
//!   [`AuthInjector`](iamwire_core::AuthInjector) (the AWS ones are in `iamwire-aws`).
//!
//! A proxy in front of one database, clients identified by their certificates:
//!
//! ```no_run
//! use std::sync::Arc;
//! use iamwire_core::tls::{ClientAuth, server_config};
//! use iamwire_core::{AllowList, Database, Glob, IdentityRules, Protocol, StaticPasswordInjector};
//! use iamwire_postgres::{PgProxy, Postgres};
//!
//! # async fn run(cert: &[u8], key: &[u8], client_ca: &[u8], db_ca: &[u8])
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let database = Database::new("orders", Protocol::Postgres, "orders.internal:5432");
//! let tls = server_config(cert, key, Some(client_ca), ClientAuth::Required)?;
//! let allow = AllowList::new(vec![IdentityRules {
//!     name: "alice".into(),
//!     db_labels: [("*".to_owned(), Glob::new("*"))].into(),
//!     db_users: vec![Glob::new("app")],
//!     db_names: vec![Glob::new("orders")],
//! }]);
//! let injector = StaticPasswordInjector::new("the-app-password");
//! let proxy = PgProxy::builder(Postgres::new(), database, tls, Arc::new(allow), Arc::new(injector))
//!     .upstream_tls(db_ca.to_vec())
//!     .build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:6432").await?;
//! // Serve until Ctrl-C, then drain: sessions get the shutdown timeout, then `57P01`.
//! proxy.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod auth;
pub mod codec;
pub mod error;
mod proxy;

pub use error::{PgError, error_fields};
pub use proxy::{CancelTarget, PgProxy, PgState, Postgres};

#[doc(hidden)]
pub mod fuzzing;
