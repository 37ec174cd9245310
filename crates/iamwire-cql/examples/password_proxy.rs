//! A complete CQL proxy for one Cassandra cluster, embedded in a program of its own: clients log in with
//! the driver's PasswordAuthenticator and a proxy password (never the database's), or a client
//! certificate; the proxy authorizes them and logs in upstream as `DB_USER` with a password the clients
//! never see. (For Amazon Keyspaces, swap the injector for `iamwire-aws`'s `KeyspacesInjector`; see the
//! workspace's `examples/keyspaces_proxy.rs`.)
//!
//! ```text
//! DB_URI=cassandra.internal:9142 DB_CA=db-ca.crt DB_USER=app DB_PASSWORD=... TLS_CERT=proxy.crt \
//! TLS_KEY=proxy.key CLIENT_CA=ca.crt PROXY_USER=alice PROXY_PASSWORD=... \
//! cargo run -p iamwire-cql --example password_proxy
//! ```
#![allow(clippy::print_stderr)]

use std::sync::Arc;

use iamwire_core::tls::{ClientAuth, server_config};
use iamwire_core::{AllowList, Database, Glob, IdentityRules, Protocol, StaticPasswordInjector};
use iamwire_cql::{Cql, CqlProxy};
use iamwire_proxy::ProxyPasswordAuthenticator;
use iamwire_proxy::scram::{DEFAULT_ITERATIONS, MockKey, ScramSecret};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn var(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("set {name}").into())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Error> {
    let database = Database::new("cassandra", Protocol::Cassandra, var("DB_URI")?);
    let server_tls = server_config(
        &std::fs::read(var("TLS_CERT")?)?,
        &std::fs::read(var("TLS_KEY")?)?,
        Some(&std::fs::read(var("CLIENT_CA")?)?),
        ClientAuth::Optional,
    )?;
    let (user, db_user) = (var("PROXY_USER")?, var("DB_USER")?);
    let allow = AllowList::new(vec![IdentityRules {
        name: user.clone(),
        db_labels: [("*".to_owned(), Glob::new("*"))].into(),
        db_users: vec![Glob::new(&db_user)],
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
    let injector = StaticPasswordInjector::new(var("DB_PASSWORD")?).as_user(db_user);
    let proxy = CqlProxy::builder(
        Cql::new(),
        database,
        server_tls,
        Arc::new(allow),
        Arc::new(injector),
    )
    .client_authenticator(Arc::new(passwords))
    .upstream_tls(std::fs::read(var("DB_CA")?)?)
    .build()?;

    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:9142".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("listening on {listen}");
    proxy
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
