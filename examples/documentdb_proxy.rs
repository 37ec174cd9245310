//! A complete single-database MongoDB proxy in front of Amazon DocumentDB: clients connect with mutual
//! TLS and log in with `authMechanism=PLAIN&authSource=$external` whose user is the IAM role they want
//! to be (one of `DB_USERS`; the password is not used); the proxy assumes `AWS_ASSUME_ROLE_ARN` (with
//! `AWS_EXTERNAL_ID`), then that role, and logs in to DocumentDB with `MONGODB-AWS`.
//!
//! ```text
//! AWS_REGION=us-east-1 DB_URI=docs.cluster-abc.us-east-1.docdb.amazonaws.com:27017 TLS_CERT=proxy.crt \
//! TLS_KEY=proxy.key CLIENT_CA=clients-ca.crt DB_CA=global-bundle.pem ALLOWED=alice \
//! DB_USERS=docs-reader cargo run --example documentdb_proxy
//! ```
#![allow(clippy::print_stderr)]

use std::sync::Arc;

use iamwire_aws::base::BaseCredentialsConfig;
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_aws::inject::DocumentDbInjector;
use iamwire_core::tls::{ClientAuth, server_config};
use iamwire_core::{AllowList, Database, ExternalId, Glob, IdentityRules, Protocol};
use iamwire_mongodb::{Mongo, MongoProxy};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn var(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("set {name}").into())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Error> {
    let region = var("AWS_REGION")?;
    let mut database = Database::new("documentdb", Protocol::MongoDb, var("DB_URI")?);
    database.aws.region = Some(region.clone());
    database.aws.assume_role_arn = std::env::var("AWS_ASSUME_ROLE_ARN").ok();
    database.aws.external_id = std::env::var("AWS_EXTERNAL_ID").ok().map(ExternalId::new);

    let base = BaseCredentialsConfig::from_env(std::env::vars())
        .region(region)
        .load()
        .await;
    let cache = CredentialCache::new(CacheConfig::default(), Arc::new(SystemClock));
    let roles = Arc::new(base.role_provider(cache)?);

    let server_tls = server_config(
        &std::fs::read(var("TLS_CERT")?)?,
        &std::fs::read(var("TLS_KEY")?)?,
        Some(&std::fs::read(var("CLIENT_CA")?)?),
        ClientAuth::Required,
    )?;
    let allow = AllowList::new(vec![IdentityRules {
        name: var("ALLOWED")?,
        db_labels: [("*".to_owned(), Glob::new("*"))].into(),
        db_users: var("DB_USERS")?.split(',').map(Glob::new).collect(),
        db_names: vec![Glob::new("*")],
    }]);
    let injector = Arc::new(DocumentDbInjector::new(roles));
    let proxy = MongoProxy::builder(
        Mongo::new(),
        database,
        server_tls,
        Arc::new(allow),
        injector,
    )
    .upstream_tls(std::fs::read(var("DB_CA")?)?)
    .build()?;
    if let Err(e) = proxy.warm_up().await {
        eprintln!("warning: {e}");
    }

    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:27017".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("listening on {listen}");
    // Ctrl-C drains: live sessions get the shutdown timeout, then ShutdownInProgress between messages.
    proxy
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
