//! `iamwire run --config FILE`: serve every configured listener, each with the proxy its database's
//! protocol needs, and the admin address if configured, until SIGTERM or SIGINT; then drain (sessions get
//! `proxy.shutdown_timeout`, then are told in their protocol, Postgres `57P01`) and exit 0. A second
//! signal exits at once. SIGHUP reloads the config file (see [`supervisor`]).

mod fd_limit;
mod overrides;
mod supervisor;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use iamwire_aws::base::{BaseCredentials, BaseCredentialsConfig};
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_aws::inject::TokenMap;
use iamwire_aws::sts::StsRoleProvider;
use iamwire_aws::token::TokenReuse;
use tokio::signal::unix::{SignalKind, signal};

use crate::admin::{self, AdminState};
use crate::catalog::Catalog;
use crate::logging::{self, LogFormat};
use crate::proxy_config::{self, LoadedConfig};
pub(crate) use overrides::Overrides;
use supervisor::Supervisor;

/// Load the config, set up logging, bind every listener, and serve until a shutdown signal.
pub(crate) fn run(path: &Path, log_format: LogFormat, overrides: Overrides) -> Result<(), String> {
    logging::init(log_format)?;
    fd_limit::raise();
    let loaded = proxy_config::load_with(path, &|file| overrides.apply(file))
        .map_err(|e| crate::config_messages::describe(path, &e))?;
    for note in crate::config_messages::unserved(&loaded) {
        tracing::warn!("{note}");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(serve(path.to_path_buf(), loaded, overrides))
}

async fn serve(path: PathBuf, loaded: LoadedConfig, overrides: Overrides) -> Result<(), String> {
    // Before anything is printed or bound: a signal from whoever waits for the listener lines must
    // never meet the default action (SIGHUP would end the process).
    let signals = Signals::install()?;
    let env = crate::envfile::environment(loaded.aws.env_file.as_deref(), false)?;
    let roles = Arc::new(role_provider(&loaded, &env).await?);
    let tokens = Arc::new(TokenMap::new(TokenReuse::default()));
    let state = Arc::new(AdminState::new(Arc::clone(&roles), Arc::clone(&tokens)));
    let aws_tls = aws_api_tls()?;
    let mut supervisor =
        Supervisor::new(roles, tokens, aws_tls, env, Arc::clone(&state)).overrides(overrides);
    supervisor.apply(&loaded)?;
    if supervisor.is_empty() && loaded.catalog.listen.is_none() {
        return Err(
            "no listeners configured (proxy.listeners) and no catalog.listen for discovered and \
             dynamic databases"
                .into(),
        );
    }
    // Static, discovered and dynamic databases; discovery problems are logged as each matcher runs.
    let catalog = supervisor.start_catalog(&loaded)?;
    if let Some(settings) = &loaded.admin {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(|e| {
                format!(
                    "cannot listen on {} (proxy.admin.listen): {e}",
                    settings.listen
                )
            })?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        println!("iamwire: admin address https://{local}");
        tokio::spawn(admin::serve(
            listener,
            Arc::clone(&settings.tls),
            Arc::clone(&state),
        ));
    }
    wait_for_signals(&path, signals, supervisor, loaded, catalog).await
}

/// How often catalog databases that could not be served are tried again.
const CATALOG_RETRY: std::time::Duration = std::time::Duration::from_secs(30);
/// The longest a reloaded catalog may take to read its store and run its matchers once before the
/// supervisor follows it anyway.
const CATALOG_SETTLE: std::time::Duration = std::time::Duration::from_secs(60);

/// The signals `iamwire run` handles.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Self, String> {
        let install =
            |kind: SignalKind| signal(kind).map_err(|e| format!("cannot handle signals: {e}"));
        Ok(Self {
            term: install(SignalKind::terminate())?,
            int: install(SignalKind::interrupt())?,
            hup: install(SignalKind::hangup())?,
        })
    }
}

/// Until every listener has drained: SIGTERM / SIGINT start the drain (a second one exits at once),
/// SIGHUP reloads the config file.
async fn wait_for_signals(
    path: &Path,
    signals: Signals,
    mut supervisor: Supervisor,
    mut current: LoadedConfig,
    mut catalog: Catalog,
) -> Result<(), String> {
    let Signals {
        mut term,
        mut int,
        mut hup,
    } = signals;
    let mut desired = catalog.subscribe();
    let set = desired.borrow_and_update().clone();
    supervisor.apply_catalog(&current, &set, &catalog);
    let mut settling = None;
    let mut retry = tokio::time::interval(CATALOG_RETRY);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let name = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = retry.tick(), if supervisor.has_unservable() || settling.is_some() => {
                let set = desired.borrow().clone();
                follow(&mut supervisor, &current, &set, &catalog, &mut settling);
            }
            _ = hup.recv() => {
                let Some(loaded) = supervisor.reload(path, &current) else { continue };
                if catalog_inputs(&loaded) != catalog_inputs(&current) {
                    match supervisor.start_catalog(&loaded) {
                        Ok(fresh) => {
                            // What runs goes on until the new catalog has read its store and run
                            // every matcher once: a database in both is never stopped in between.
                            catalog = fresh;
                            desired = catalog.subscribe();
                            settling = Some(tokio::time::Instant::now() + CATALOG_SETTLE);
                        }
                        Err(error) => tracing::error!(
                            %error,
                            "the catalog settings changed but cannot be used; discovery and dynamic \
                             databases go on as before"
                        ),
                    }
                }
                current = loaded;
                let set = desired.borrow_and_update().clone();
                follow(&mut supervisor, &current, &set, &catalog, &mut settling);
            }
            changed = desired.changed() => {
                if changed.is_err() {
                    // The catalog's tasks ended (they do not, short of a panic): serve what runs.
                    tracing::error!("the catalog stopped; discovered and dynamic databases stay as they are");
                    std::future::pending::<()>().await;
                }
                let set = desired.borrow_and_update().clone();
                follow(&mut supervisor, &current, &set, &catalog, &mut settling);
            }
        }
    };
    let drain = current.limits.listener.shutdown_timeout;
    tracing::info!(
        signal = name,
        timeout_ms = u64::try_from(drain.as_millis()).unwrap_or(u64::MAX),
        "shutting down: no new connections; live sessions may finish until the shutdown timeout"
    );
    let second = async {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    };
    tokio::select! {
        () = supervisor.shutdown(drain) => {
            tracing::info!("all listeners drained; stopped");
            Ok(())
        }
        signal = second => {
            tracing::warn!(signal, "second shutdown signal: exiting without waiting");
            std::process::exit(1);
        }
    }
}

/// Serve what the catalog wants, unless a new catalog is still settling (it has not read its store
/// or run every discovery matcher once, and [`CATALOG_SETTLE`] has not passed): its first sets would
/// stop databases that are about to come back.
fn follow(
    supervisor: &mut Supervisor,
    loaded: &LoadedConfig,
    set: &crate::catalog::DesiredSet,
    catalog: &Catalog,
    settling: &mut Option<tokio::time::Instant>,
) {
    if let Some(until) = *settling {
        let settled =
            set.status.store_loaded && set.status.matchers.iter().all(|m| m.last_run.is_some());
        if !settled && tokio::time::Instant::now() < until {
            return;
        }
        *settling = None;
    }
    supervisor.apply_catalog(loaded, set, catalog);
}

/// What the catalog is built from: when a reload changes it, the catalog starts again.
fn catalog_inputs(loaded: &LoadedConfig) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}",
        loaded.db_service.databases,
        loaded.db_service.aws,
        loaded.db_service.resources,
        loaded.catalog
    )
}

/// The proxy's own AWS credentials, from `env` and the standard chain, in the config's region (else the
/// first database's). `iamwire doctor` starts from the same.
pub(crate) async fn base_credentials(
    loaded: &LoadedConfig,
    env: &BTreeMap<String, String>,
) -> BaseCredentials {
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
    config.load().await
}

async fn role_provider(
    loaded: &LoadedConfig,
    env: &BTreeMap<String, String>,
) -> Result<StsRoleProvider, String> {
    let base = base_credentials(loaded, env).await;
    // A fetch may not outlast a client's wait for credentials: the next client then tries again. It
    // ends a tenth sooner, so a silent STS reaches the client as the cache's error, naming the role.
    let wait = loaded.timeouts.credentials;
    let cache_config = CacheConfig::default().fetch_timeout(wait.saturating_sub(wait / 10));
    let cache = CredentialCache::new(cache_config, Arc::new(SystemClock));
    base.role_provider(cache)
        .map_err(|e| format!("AWS credentials: {e}"))
}

/// TLS for the proxy's own calls to AWS APIs (Redshift credentials): the system's root certificates.
pub(crate) fn aws_api_tls() -> Result<Arc<rustls::ClientConfig>, String> {
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
