//! List what the discovery matchers (`db_service.aws`) of an iamwire config find, through their roles,
//! and confirm each endpoint the way a proxy would before serving it:
//!
//! ```text
//! cargo run -p iamwire-aws --example discover -- iamwire.yaml
//! ```
//!
//! Credentials come from the standard AWS chain; `AWS_ENDPOINT_URL` points every call at an emulator.

use std::error::Error;
use std::sync::Arc;

use iamwire_aws::aws_api::ApiClient;
use iamwire_aws::base::BaseCredentialsConfig;
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_aws::discovery::Discoverer;
use iamwire_aws::endpoint_check::EndpointGuard;
use iamwire_core::Config;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: discover CONFIG.yaml")?;
    let config = Config::from_yaml(&std::fs::read(path)?)?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();

    let base = BaseCredentialsConfig::from_env(std::env::vars())
        .load()
        .await;
    let cache = CredentialCache::new(CacheConfig::default(), Arc::new(SystemClock));
    let roles = Arc::new(base.role_provider(cache)?);

    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let client = ApiClient::new(Arc::new(tls)).allow_http(endpoint.is_some());

    let mut discoverer = Discoverer::new(client.clone(), roles.clone());
    let mut guard = EndpointGuard::new(client, roles);
    if let Some(url) = &endpoint {
        discoverer = discoverer.endpoint_override(url);
        guard = guard.endpoint_override(url);
    }
    for report in discoverer.discover_all(&config.db_service.aws).await {
        println!(
            "matcher {}: {} found, {} filtered out by tags",
            report.matcher,
            report.databases.len(),
            report.filtered_out
        );
        for found in &report.databases {
            let db = &found.database;
            let verdict = match guard.confirm(db).await {
                Ok(()) => "endpoint confirmed".to_owned(),
                Err(e) => format!("endpoint refused: {e}"),
            };
            println!(
                "  {} {} {} (IAM auth: {:?}; {verdict})",
                db.name, db.protocol, db.uri, found.iam_auth
            );
        }
        for error in &report.errors {
            let mut line = error.to_string();
            let mut cause = error.source();
            while let Some(c) = cause {
                line.push_str(&format!(": {c}"));
                cause = c.source();
            }
            println!("  error: {line}");
        }
    }
    Ok(())
}
