//! A complete Redis proxy for one database, embedded in a program of its own: clients prove who they are
//! with client certificates and name their user with `AUTH user anything`; the proxy authorizes them and
//! logs in upstream with a password they never see, re-authenticating long sessions every hour. (For
//! ElastiCache or MemoryDB, swap the injector for `iamwire_aws::inject::CacheIamInjector`.)
//!
//! ```text
//! DB_URI=cache.internal:6380 DB_PASSWORD=... TLS_CERT=proxy.crt TLS_KEY=proxy.key CLIENT_CA=ca.crt \
//! DB_CA=db-ca.crt ALLOWED=alice DB_USER=app cargo run -p iamwire-redis --example redis_proxy
//! redis-cli --tls --cacert ca.crt --cert alice.crt --key alice.key -p 6380 --user app --pass x PING
//! ```
#![allow(clippy::print_stderr)]

use std::sync::Arc;
use std::time::Duration;

use iamwire_core::tls::{ClientAuth, server_config};
use iamwire_core::{AllowList, Database, Glob, IdentityRules, Protocol, StaticPasswordInjector};
use iamwire_redis::{Redis, RedisProxy};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn var(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("set {name}").into())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Error> {
    let database = Database::new("cache", Protocol::Redis, var("DB_URI")?);
    let server_tls = server_config(
        &std::fs::read(var("TLS_CERT")?)?,
        &std::fs::read(var("TLS_KEY")?)?,
        Some(&std::fs::read(var("CLIENT_CA")?)?),
        ClientAuth::Required,
    )?;
    let user = var("DB_USER")?;
    let allow = AllowList::new(vec![IdentityRules {
        name: var("ALLOWED")?,
        db_labels: [("*".to_owned(), Glob::new("*"))].into(),
        db_users: vec![Glob::new(&user)],
        db_names: vec![],
    }]);
    let injector = StaticPasswordInjector::new(var("DB_PASSWORD")?);
    let redis = Redis::new().reauth_interval(Some(Duration::from_secs(3600)));
    let proxy = RedisProxy::builder(
        redis,
        database,
        server_tls,
        Arc::new(allow),
        Arc::new(injector),
    )
    .upstream_tls(std::fs::read(var("DB_CA")?)?)
    .max_connections(500)
    .shutdown_timeout(Duration::from_secs(10))
    .build()?;

    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:6380".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("listening on {listen}");
    proxy
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
