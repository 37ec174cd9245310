//! `iamwire run --config FILE`: serve every configured listener, each with the proxy its database's
//! protocol needs, until SIGTERM or SIGINT; then drain (sessions get `proxy.shutdown_timeout`, then are
//! told in their protocol, Postgres `57P01`) and exit 0. A second signal exits at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use iamwire_aws::base::BaseCredentialsConfig;
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_aws::role::RoleProvider;
use iamwire_aws::sts::StsRoleProvider;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::logging::{self, LogFormat};
use crate::proxy_config::{self, LoadedConfig};
use crate::servers::{Server, Shared};

/// Load the config, set up logging, bind every listener, and serve until a shutdown signal.
pub(crate) fn run(path: &std::path::Path, log_format: LogFormat) -> Result<(), String> {
    logging::init(log_format)?;
    let loaded = proxy_config::load(path).map_err(|e| proxy_config::chain(&e))?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(serve(loaded))
}

async fn serve(loaded: LoadedConfig) -> Result<(), String> {
    let env = crate::envfile::environment(loaded.aws.env_file.as_deref(), false)?;
    let roles: Arc<dyn RoleProvider> = Arc::new(role_provider(&loaded, &env).await?);
    let aws_tls = aws_api_tls()?;
    let shared = Shared {
        config: &loaded,
        roles,
        aws_tls: &aws_tls,
        env: &env,
    };
    // Static, discovered and dynamic databases; discovery problems are logged as each matcher runs.
    // The supervisor that serves what the catalog adds is the lead's (issue 14 wiring).
    let catalog = crate::catalog::start_from_config(&loaded, shared.roles.clone(), &aws_tls, &env)?;
    // Every database's proxy first: a protocol this build does not serve stops the start, naming it.
    let servers = loaded
        .listeners
        .iter()
        .map(|listener| Server::for_listener(listener, &shared).map(|s| (listener, s)))
        .collect::<Result<Vec<_>, _>>()?;
    if servers.is_empty() {
        return Err("no listeners configured (proxy.listeners)".into());
    }
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for (listener, server) in servers {
        let socket = bind(listener.listen)
            .map_err(|e| format!("cannot listen on {}: {e}", listener.listen))?;
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        let database = server.database().clone();
        println!(
            "iamwire: {} ({}) on {local} -> {}",
            database.name, database.protocol, database.uri
        );
        // Credentials for the database's role in the background: the listener is up already, and a
        // role that cannot be assumed yet is reported, not fatal (the trust policy may be fixed later).
        let warm_up = server.warm_up();
        tokio::spawn(async move {
            match warm_up.await {
                Ok(()) => tracing::info!(database = %database.name, "AWS credentials ready"),
                Err(e) => tracing::warn!(
                    database = %database.name,
                    error = %e,
                    hint = e.hint(),
                    "cannot get AWS credentials for this database yet; its clients are refused until this is fixed"
                ),
            }
        });
        let mut stopped = stopped.clone();
        tasks.spawn(server.serve(socket, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }));
    }
    let result = wait_for_signals(&stop, &mut tasks, loaded.limits.listener.shutdown_timeout).await;
    drop(catalog);
    result
}

/// How many finished TCP handshakes the kernel holds for a listener while the proxy is busy (a burst of
/// clients, or the handshake bound taken): the platform's own default of 128 makes clients beyond it
/// wait seconds for SYN retries.
const LISTEN_BACKLOG: u32 = 1024;

/// A TCP listener on `addr` with [`LISTEN_BACKLOG`].
fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Until every listener has drained: SIGTERM / SIGINT start the drain (a second one exits at once),
/// SIGHUP is acknowledged.
async fn wait_for_signals(
    stop: &watch::Sender<bool>,
    tasks: &mut JoinSet<()>,
    drain: std::time::Duration,
) -> Result<(), String> {
    let install =
        |kind: SignalKind| signal(kind).map_err(|e| format!("cannot handle signals: {e}"));
    let (mut term, mut int, mut hup) = (
        install(SignalKind::terminate())?,
        install(SignalKind::interrupt())?,
        install(SignalKind::hangup())?,
    );
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = hup.recv() => {
                tracing::warn!(
                    "SIGHUP: reloading the configuration is not supported by this build; \
                     still serving the configuration loaded at start"
                );
                continue;
            }
            ended = tasks.join_next() => match ended {
                None => {
                    tracing::info!("all listeners drained; stopped");
                    return Ok(());
                }
                Some(Err(e)) => return Err(format!("a listener task failed: {e}")),
                Some(Ok(())) if *stop.borrow() => continue,
                Some(Ok(())) => return Err("a listener stopped on its own".into()),
            },
        };
        if *stop.borrow() {
            tracing::warn!(
                signal = name,
                "second shutdown signal: exiting without waiting"
            );
            std::process::exit(1);
        }
        tracing::info!(
            signal = name,
            timeout_ms = drain.as_millis() as u64,
            "shutting down: no new connections; live sessions may finish until the shutdown timeout"
        );
        let _ = stop.send(true);
    }
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
    // A fetch may not outlast a client's wait for credentials: the next client then tries again.
    let cache_config = CacheConfig::default().fetch_timeout(loaded.timeouts.credentials);
    let cache = CredentialCache::new(cache_config, Arc::new(SystemClock));
    base.role_provider(cache)
        .map_err(|e| format!("AWS credentials: {e}"))
}
