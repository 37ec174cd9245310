//! A DynamoDB proxy in one program: clients sign with a key this proxy issued (printed at start), the
//! proxy re-signs each request as the database-user role reached through a cross-account role.
//!
//! ```sh
//! cargo run -p iamwire-http --example dynamodb_proxy -- \
//!     arn:aws:iam::222222222222:role/db-access orders-rw cert.pem key.pem
//! AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... aws dynamodb list-tables \
//!     --endpoint-url https://localhost:8443 --ca-bundle ca.pem --region us-east-1
//! ```
//! The proxy's own AWS credentials come from the standard chain (environment, profile, instance role).

use std::sync::Arc;

use iamwire_aws::base::BaseCredentialsConfig;
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_core::tls::{ClientAuth, server_config};
use iamwire_core::{AllowList, Database, IdentityRules, Protocol, Secret, SystemRandom};
use iamwire_http::HttpProxy;
use iamwire_http::keys::AccessKeys;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [role_arn, user_role, cert, key] = args.as_slice() else {
        return Err("usage: dynamodb_proxy ROLE_ARN USER_ROLE CERT_PEM KEY_PEM".into());
    };
    let mut database = Database::new(
        "orders",
        Protocol::DynamoDb,
        "https://dynamodb.us-east-1.amazonaws.com",
    );
    database.aws.assume_role_arn = Some(role_arn.clone());

    // One key for identity "app", acting as the user role. A real deployment keeps the master key in a
    // file and lists the keys in its configuration (see `iamwire keys`).
    let mut master = [0u8; 32];
    iamwire_core::Randomness::fill(&SystemRandom, &mut master).map_err(|_| "no randomness")?;
    let mut keys = AccessKeys::new(Secret::from(master.to_vec()))?;
    let (id, secret) = keys.mint("app", user_role, &SystemRandom)?;
    keys.insert(&id, "app", user_role)?;
    println!("AWS_ACCESS_KEY_ID={id}");
    println!(
        "AWS_SECRET_ACCESS_KEY={}",
        secret.expose_str().unwrap_or_default()
    );

    let rules: Vec<IdentityRules> = iamwire_core::parse_yaml(
        format!("- {{name: app, db_labels: {{'*': '*'}}, db_users: [{user_role}]}}").as_bytes(),
        &Default::default(),
    )?;
    let base = BaseCredentialsConfig::from_env(std::env::vars())
        .load()
        .await;
    let cache = CredentialCache::new(CacheConfig::default(), Arc::new(SystemClock));
    let roles = Arc::new(base.role_provider(cache)?);
    let tls = server_config(
        &std::fs::read(cert)?,
        &std::fs::read(key)?,
        None,
        ClientAuth::None,
    )?;
    let upstream = iamwire_core::tls::upstream_config(
        iamwire_core::TlsMode::VerifyFull,
        Some(&std::fs::read("/etc/ssl/certs/ca-certificates.crt")?),
        None,
    )?;
    let proxy = HttpProxy::builder(database, roles, Arc::new(AllowList::new(rules)))
        .server_tls(tls)
        .access_keys(keys)
        .upstream_tls(upstream)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
    proxy
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
