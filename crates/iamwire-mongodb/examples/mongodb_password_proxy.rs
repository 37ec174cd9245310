//! A complete MongoDB proxy for one database, embedded in a program of its own: clients log in with
//! `authMechanism=PLAIN&authSource=$external` and a proxy password (never the database's), or a client
//! certificate; the proxy authorizes them and logs in upstream as `DB_USER` (PLAIN over TLS, e.g.
//! MongoDB Enterprise with LDAP) with a password the clients never see. For Amazon DocumentDB, swap
//! the injector for `iamwire-aws`'s `DocumentDbInjector` (the workspace's `examples/documentdb_proxy.rs`).
//!
//! ```text
//! DB_URI=mongo.internal:27017 DB_CA=db-ca.crt DB_USER=app DB_PASSWORD=... TLS_CERT=proxy.crt \
//! TLS_KEY=proxy.key CLIENT_CA=ca.crt PROXY_USER=app PROXY_PASSWORD=... \
//! cargo run -p iamwire-mongodb --example mongodb_password_proxy
//! ```
#![allow(clippy::print_stderr)]

use std::sync::Arc;

use iamwire_core::tls::{ClientAuth, server_config};
use iamwire_core::{AllowList, Database, Glob, IdentityRules, Protocol, StaticPasswordInjector};
use iamwire_mongodb::{Mongo, MongoProxy};
use iamwire_proxy::ProxyPasswordAuthenticator;
use iamwire_proxy::scram::{DEFAULT_ITERATIONS, MockKey, ScramSecret};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn var(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("set {name}").into())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Error> {
    let database = Database::new("mongo", Protocol::MongoDb, var("DB_URI")?);
    let server_tls = server_config(
        &std::fs::read(var("TLS_CERT")?)?,
        &std::fs::read(var("TLS_KEY")?)?,
        Some(&std::fs::read(var("CLIENT_CA")?)?),
        ClientAuth::Optional,
    )?;
    // The PLAIN user names the database user, so the proxy user is the database user too.
    let user = var("PROXY_USER")?;
    let allow = AllowList::new(vec![IdentityRules {
        name: user.clone(),
        db_labels: [("*".to_owned(), Glob::new("*"))].into(),
        db_users: vec![Glob::new(&user)],
        db_names: vec![Glob::new("*")],
    }]);
    // Store the proxy password as a salted secret; a real proxy keeps a random salt and mock key.
    let secret = ScramSecret::from_password(
        var("PROXY_PASSWORD")?.as_bytes(),
        b"example-salt-16b",
        DEFAULT_ITERATIONS,
    );
    let passwords =
        ProxyPasswordAuthenticator::new(MockKey::from_random_bytes([7; 32])).user(user, secret);
    let injector = StaticPasswordInjector::new(var("DB_PASSWORD")?).as_user(var("DB_USER")?);
    let proxy = MongoProxy::builder(
        Mongo::new(),
        database,
        server_tls,
        Arc::new(allow),
        Arc::new(injector),
    )
    .client_authenticator(Arc::new(passwords))
    .upstream_tls(std::fs::read(var("DB_CA")?)?)
    .build()?;

    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:27017".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("listening on {listen}");
    proxy
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
