//! `iamwire run --config FILE`: serve every configured listener with the Postgres driver.

use std::sync::Arc;

use std::collections::BTreeMap;

use iamwire_aws::aws_api::ApiClient;
use iamwire_aws::base::BaseCredentialsConfig;
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_aws::role::{RoleChain, RoleProvider as _};
use iamwire_aws::sts::StsRoleProvider;
use iamwire_core::Protocol;
use iamwire_postgres::driver::PgProxy;
use iamwire_postgres::inject::{RedshiftApi, injector_for};

use crate::proxy_config::{self, LoadedConfig};

/// Load the config, check the AWS side eagerly, bind every listener, and serve until Ctrl-C.
pub(crate) fn run(path: &std::path::Path) -> Result<(), String> {
    let loaded = proxy_config::load(path).map_err(|e| proxy_config::chain(&e))?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(serve(loaded))
}

async fn serve(loaded: LoadedConfig) -> Result<(), String> {
    let env = crate::envfile::environment(loaded.aws.env_file.as_deref(), false)?;
    let roles = Arc::new(role_provider(&loaded, &env).await?);
    prefetch(&loaded, &roles).await;
    let aws_tls = aws_api_tls()?;
    let mut tasks = tokio::task::JoinSet::new();
    for listener in &loaded.listeners {
        let database = &listener.database;
        if database.protocol != Protocol::Postgres {
            return Err(format!(
                "listener {}: database {:?} speaks {}; this build serves postgres only",
                listener.listen,
                database.name,
                database.protocol.as_str()
            ));
        }
        // RDS IAM token, Redshift or Redshift Serverless credentials, as the database says.
        let injector = injector_for(
            database,
            roles.clone(),
            redshift_api(database, &aws_tls, &env),
        );
        let proxy = PgProxy::builder(
            database.clone(),
            loaded.server_tls.clone(),
            loaded.allow_list.clone(),
            injector,
        )
        .upstream_tls_config(listener.upstream_tls.clone())
        .handshake_timeout(loaded.handshake_timeout)
        .build()
        .map_err(|e| format!("database {:?}: {e}", database.name))?;
        let socket = tokio::net::TcpListener::bind(listener.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", listener.listen))?;
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        println!(
            "iamwire: {} (postgres) on {local} -> {}",
            database.name, database.uri
        );
        tasks.spawn(async move { proxy.serve(socket).await });
    }
    if tasks.is_empty() {
        return Err("no listeners configured (proxy.listeners)".into());
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {
            println!("iamwire: shutting down");
            Ok(())
        }
        Some(ended) = tasks.join_next() => match ended {
            Ok(Ok(())) => Err("a listener stopped".into()),
            Ok(Err(e)) => Err(format!("a listener failed: {e}")),
            Err(e) => Err(format!("a listener task failed: {e}")),
        },
    }
}

/// TLS for the proxy's own calls to AWS APIs (Redshift credentials): the system's root certificates.
fn aws_api_tls() -> Result<Arc<rustls::ClientConfig>, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(format!(
            "no usable system root certificates for AWS API calls ({:?})",
            found.errors
        ));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The Redshift API client for `database`, honouring the SDKs' endpoint variables
/// (`AWS_ENDPOINT_URL_REDSHIFT[_SERVERLESS]`, then `AWS_ENDPOINT_URL`); an `http://` endpoint there is the
/// operator's explicit choice (an emulator), so plaintext is allowed for it only.
fn redshift_api(
    database: &iamwire_core::Database,
    tls: &Arc<rustls::ClientConfig>,
    env: &BTreeMap<String, String>,
) -> RedshiftApi {
    let specific = if database.aws.redshift_serverless.is_some() {
        "AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS"
    } else {
        "AWS_ENDPOINT_URL_REDSHIFT"
    };
    let endpoint = env
        .get(specific)
        .or_else(|| env.get("AWS_ENDPOINT_URL"))
        .filter(|e| !e.is_empty());
    let client =
        ApiClient::new(tls.clone()).allow_http(endpoint.is_some_and(|e| e.starts_with("http://")));
    match endpoint {
        Some(url) => RedshiftApi::new(client).endpoint(url.clone()),
        None => RedshiftApi::new(client),
    }
}

async fn role_provider(
    loaded: &LoadedConfig,
    env: &BTreeMap<String, String>,
) -> Result<StsRoleProvider, String> {
    let mut config = BaseCredentialsConfig::from_env(env.clone());
    let region = loaded.aws.region.clone().or_else(|| {
        loaded
            .listeners
            .iter()
            .find_map(|l| l.database.aws.region.clone())
    });
    if let Some(region) = region {
        config = config.region(region);
    }
    let base = config.load().await;
    let cache = CredentialCache::new(CacheConfig::default(), Arc::new(SystemClock));
    base.role_provider(cache)
        .map_err(|e| format!("AWS credentials: {e}"))
}

/// Assume every database's role once at start-up, so a bad role or trust policy shows up now, not at the
/// first client. Failures are reported, not fatal: the trust policy may be fixed while the proxy runs.
async fn prefetch(loaded: &LoadedConfig, roles: &StsRoleProvider) {
    for listener in &loaded.listeners {
        let db = &listener.database;
        if db.aws.assume_role_arn.is_none() {
            continue;
        }
        let chain = match RoleChain::for_database(&db.aws, None, "iamwire") {
            Ok(chain) => chain,
            Err(e) => {
                eprintln!("iamwire: database {:?}: {e}", db.name);
                continue;
            }
        };
        match roles.credentials(&chain).await {
            Ok(_) => println!("iamwire: database {:?}: role assumed", db.name),
            Err(e) => eprintln!(
                "iamwire: database {:?}: cannot assume its role yet: {e}",
                db.name
            ),
        }
    }
}
