//! A MySQL proxy in a program of its own, for clients without certificates: each person logs in with a
//! proxy password of their own (`mysql --ssl-mode=REQUIRED -u alice -p`), sent inside TLS and checked
//! against a salted hash; upstream the proxy is one database user whose password only it holds.
//!
//! ```text
//! DB_URI=db.internal:3306 DB_CA=db-ca.crt DB_USER=app DB_PASSWORD=... TLS_CERT=proxy.crt \
//! TLS_KEY=proxy.key PROXY_USERS=alice:s3cret,bob:hunter2 \
//! cargo run -p iamwire-mysql --example proxy_password
//! ```
#![allow(clippy::print_stderr)]

use std::sync::Arc;

use iamwire_core::tls::{ClientAuth, server_config};
use iamwire_core::{AllowList, Database, Glob, IdentityRules, Protocol, StaticPasswordInjector};
use iamwire_mysql::{MySql, MySqlProxy};
use iamwire_proxy::ProxyPasswordAuthenticator;
use iamwire_proxy::scram::{DEFAULT_ITERATIONS, MockKey, SALT_LEN, ScramSecret};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn env(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let random: &dyn iamwire_core::Randomness = &iamwire_core::SystemRandom;
    Ok(random.array()?)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Error> {
    let db_user = env("DB_USER")?;
    let mut users = ProxyPasswordAuthenticator::new(MockKey::from_random_bytes(random()?));
    let mut rules = Vec::new();
    for entry in env("PROXY_USERS")?.split(',') {
        let (name, password) = entry
            .split_once(':')
            .ok_or("PROXY_USERS is name:password,...")?;
        let salt: [u8; SALT_LEN] = random()?;
        users = users.user(
            name,
            ScramSecret::from_password(password.as_bytes(), &salt, DEFAULT_ITERATIONS),
        );
        // Each person may be the one database user, on any database name it grants.
        rules.push(IdentityRules {
            name: name.to_owned(),
            db_labels: [("*".to_owned(), Glob::new("*"))].into(),
            db_users: vec![Glob::new(name)],
            db_names: vec![Glob::new("*")],
        });
    }
    let tls = server_config(
        &std::fs::read(env("TLS_CERT")?)?,
        &std::fs::read(env("TLS_KEY")?)?,
        None,
        ClientAuth::None,
    )?;
    // People log in under their own names; upstream, everyone is DB_USER.
    let injector = StaticPasswordInjector::new(env("DB_PASSWORD")?).as_user(db_user);
    let database = Database::new("db", Protocol::MySql, env("DB_URI")?);
    let proxy = MySqlProxy::builder(
        MySql::new(),
        database,
        tls,
        Arc::new(AllowList::new(rules)),
        Arc::new(injector),
    )
    .client_authenticator(Arc::new(users))
    .upstream_tls(std::fs::read(env("DB_CA")?)?)
    .build()?;
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3307".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("MySQL proxy on {listen}");
    let ctrl_c = async { tokio::signal::ctrl_c().await.unwrap_or_default() };
    proxy.serve(listener, ctrl_c).await;
    Ok(())
}
