//! Building a [`Catalog`] from a loaded config file: its store, a discoverer and an endpoint guard that
//! reach AWS the way the injectors do (the SDKs' `AWS_ENDPOINT_URL[_<SERVICE>]` variables honoured).

use std::collections::BTreeMap;
use std::sync::Arc;

use iamwire_aws::aws_api::ApiClient;
use iamwire_aws::discovery::Discoverer;
use iamwire_aws::endpoint_check::EndpointGuard;
use iamwire_aws::role::RoleProvider;

use super::{Catalog, CatalogConfig, open_store};
use crate::proxy_config::LoadedConfig;

/// The services discovery and the endpoint guard call, by signing name, and the SDK variable that
/// points each elsewhere.
const SERVICES: &[(&str, &str)] = &[
    ("rds", "AWS_ENDPOINT_URL_RDS"),
    ("redshift", "AWS_ENDPOINT_URL_REDSHIFT"),
    (
        "redshift-serverless",
        "AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS",
    ),
    ("elasticache", "AWS_ENDPOINT_URL_ELASTICACHE"),
    ("memorydb", "AWS_ENDPOINT_URL_MEMORYDB"),
    ("es", "AWS_ENDPOINT_URL_OPENSEARCH"),
];

/// Start the catalog of `loaded`: static databases, discovery matchers (re-run every
/// `catalog.discovery_interval`), resource selectors, and the store `catalog.store` names. Must run
/// inside the runtime.
///
/// # Errors
///
/// The `catalog` section is unusable (a bad interval, an unreadable store file or DSN file).
pub(crate) fn start(
    loaded: &LoadedConfig,
    roles: Arc<dyn RoleProvider>,
    aws_tls: &Arc<rustls::ClientConfig>,
    env: &BTreeMap<String, String>,
) -> Result<Catalog, String> {
    let base = loaded
        .path
        .parent()
        .unwrap_or_else(|| std::path::Path::new(""));
    let store = open_store(&loaded.catalog, base)?;
    let config = CatalogConfig {
        static_databases: loaded.db_service.databases.clone(),
        matchers: loaded.db_service.aws.clone(),
        selectors: loaded.db_service.resources.clone(),
        discovery_interval: loaded.catalog.interval()?,
    };
    let (discoverer, guard) = reach_aws(roles, aws_tls, env);
    let guard = guard.unknown_hosts(loaded.catalog.unknown_hosts()?);
    loaded.catalog.listen_range()?;
    Ok(Catalog::start(config, store, Some(discoverer), Some(guard)))
}

/// A discoverer and an endpoint guard on the same client and role provider.
fn reach_aws(
    roles: Arc<dyn RoleProvider>,
    aws_tls: &Arc<rustls::ClientConfig>,
    env: &BTreeMap<String, String>,
) -> (Discoverer, EndpointGuard) {
    let var = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
    let all = var("AWS_ENDPOINT_URL");
    let specific: Vec<(&str, String)> = SERVICES
        .iter()
        .filter_map(|(service, name)| var(name).map(|url| (*service, url)))
        .collect();
    // An http:// endpoint is the operator's explicit choice (an emulator): plaintext for it only.
    let plaintext = all
        .iter()
        .chain(specific.iter().map(|(_, u)| u))
        .any(|u| u.starts_with("http://"));
    let client = ApiClient::new(aws_tls.clone()).allow_http(plaintext);
    let mut discoverer = Discoverer::new(client.clone(), roles.clone());
    let mut guard = EndpointGuard::new(client, roles);
    if let Some(url) = &all {
        discoverer = discoverer.endpoint_override(url.clone());
        guard = guard.endpoint_override(url.clone());
    }
    for (service, url) in specific {
        discoverer = discoverer.service_endpoint(service, url.clone());
        guard = guard.service_endpoint(service, url);
    }
    (discoverer, guard)
}
