//! A complete single-database Postgres proxy: clients connect with mutual TLS, the proxy logs in
//! to RDS with an IAM token minted from credentials of `AWS_ASSUME_ROLE_ARN` (with
//! `AWS_EXTERNAL_ID`), starting from the standard AWS credential chain in the environment.
//!
//! ```text
//! DB_URI=mydb.abc.us-east-1.rds.amazonaws.com:5432 AWS_REGION=us-east-1 \
//! TLS_CERT=proxy.crt TLS_KEY=proxy.key CLIENT_CA=clients-ca.crt DB_CA=rds-global-bundle.pem \
//! ALLOWED=alice DB_USERS=app cargo run -p iamwire-postgres --example single_db_proxy
//! ```
#![allow(clippy::print_stderr)]

use std::sync::Arc;

use iamwire_aws::base::BaseCredentialsConfig;
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_core::tls::{ClientAuth, server_config};
use iamwire_core::{AllowList, Database, ExternalId, Glob, IdentityRules, Protocol};
use iamwire_postgres::driver::PgProxy;
use iamwire_postgres::inject::RdsIamInjector;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn var(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("set {name}").into())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Error> {
    let region = var("AWS_REGION")?;
    let mut database = Database::new("db", Protocol::Postgres, var("DB_URI")?);
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
    let proxy = PgProxy::builder(
        database,
        server_tls,
        Arc::new(allow),
        Arc::new(RdsIamInjector::new(roles)),
    )
    .upstream_tls(std::fs::read(var("DB_CA")?)?)
    .build()?;

    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:6432".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("listening on {listen}");
    proxy.serve(listener).await?;
    Ok(())
}
