//! The databases a running `iamwire run` serves, by name, and how a reload changes them.
//!
//! Every database has a listening socket and a proxy accepting on it. A reload (SIGHUP) loads the file
//! again and, only if all of it is valid and every new address can be bound, applies it at once:
//! - a database that is new starts on its address;
//! - a database that is gone stops accepting (its socket is closed); its live sessions go on;
//! - every other database gets a new proxy built from the new file (certificates, rules, timeouts and
//!   its own settings), which takes over its predecessor's live sessions, counters and pause, and accepts
//!   on the same socket (a moved address is bound anew) — so new sessions see the new config and no live
//!   session is dropped.
//!
//! Sessions of every proxy live under one process [`Drain`]: SIGTERM stops every listener and drains
//! them all together.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use iamwire_aws::endpoint_check::EndpointGuard;
use iamwire_aws::inject::TokenMap;
use iamwire_aws::role::RoleProvider;
use iamwire_aws::sts::StsRoleProvider;
use iamwire_proxy::{Drain, Listener};
use tokio::sync::watch;

use crate::admin::{AdminState, Readiness};
use crate::proxy_config::{self, ListenAddr, LoadedConfig};
use crate::servers::{Server, Shared};

mod catalog;

/// How long sessions told to close get to do so once the drain deadline passed.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// The first and the longest wait between tries to obtain a database's credentials.
const WARM_UP_RETRY: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(30));

/// A socket a database listens on, kept so a successor can accept on it too.
enum Socket {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener, std::path::PathBuf),
}

impl Socket {
    fn bind(addr: &ListenAddr) -> std::io::Result<Self> {
        match addr {
            ListenAddr::Tcp(addr) => Ok(Self::Tcp(bind_tcp(*addr)?.into_std()?)),
            ListenAddr::Unix { path, mode } => {
                use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
                // A socket left by an earlier run is replaced; any other file is not ours to remove.
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                    std::fs::remove_file(path)?;
                }
                let listener = std::os::unix::net::UnixListener::bind(path)?;
                listener.set_nonblocking(true)?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode))?;
                Ok(Self::Unix(listener, path.clone()))
            }
        }
    }

    /// A tokio listener on the same socket.
    fn listener(&self) -> std::io::Result<Listener> {
        Ok(match self {
            Self::Tcp(l) => tokio::net::TcpListener::from_std(l.try_clone()?)?.into(),
            Self::Unix(l, _) => tokio::net::UnixListener::from_std(l.try_clone()?)?.into(),
        })
    }

    /// What to print for it.
    fn describe(&self) -> String {
        match self {
            Self::Tcp(l) => l
                .local_addr()
                .map_or_else(|e| format!("(unknown: {e})"), |a| a.to_string()),
            Self::Unix(_, path) => format!("unix:{}", path.display()),
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Self::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// How many finished TCP handshakes the kernel holds for a listener while the proxy is busy (a burst of
/// clients, or the handshake bound taken): the platform's own default of 128 makes clients beyond it
/// wait seconds for SYN retries.
const LISTEN_BACKLOG: u32 = 1024;

/// A TCP listener on `addr` with [`LISTEN_BACKLOG`].
fn bind_tcp(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// One database being served.
struct Running {
    server: Server,
    /// What it was built from, to tell a changed database from an unchanged one in the logs.
    fingerprint: String,
    listen: ListenAddr,
    socket: Arc<Socket>,
    /// Stops this proxy's accept loop and its credential retries.
    stop: watch::Sender<bool>,
}

/// The running databases and what they share.
pub(super) struct Supervisor {
    roles: Arc<StsRoleProvider>,
    tokens: Arc<TokenMap>,
    aws_tls: Arc<rustls::ClientConfig>,
    env: BTreeMap<String, String>,
    state: Arc<AdminState>,
    drain: Drain,
    running: BTreeMap<String, Running>,
    /// Discovered and dynamic databases served (see [`catalog`]).
    from_catalog: BTreeMap<String, Running>,
    /// Catalog databases that cannot be served, with why (logged once per reason).
    unservable: BTreeMap<String, String>,
    overrides: super::Overrides,
}

impl Supervisor {
    pub(super) fn new(
        roles: Arc<StsRoleProvider>,
        tokens: Arc<TokenMap>,
        aws_tls: Arc<rustls::ClientConfig>,
        env: BTreeMap<String, String>,
        state: Arc<AdminState>,
    ) -> Self {
        Self {
            roles,
            tokens,
            aws_tls,
            env,
            state,
            drain: Drain::new(),
            running: BTreeMap::new(),
            from_catalog: BTreeMap::new(),
            unservable: BTreeMap::new(),
            overrides: super::Overrides::default(),
        }
    }

    /// Flags and variables applied over the file at every reload.
    pub(super) fn overrides(mut self, overrides: super::Overrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// What every proxy of `loaded` is built with; `guard` for a discovered or dynamic database.
    fn shared<'a>(
        &'a self,
        loaded: &'a LoadedConfig,
        guard: Option<(&'a crate::catalog::CatalogEntry, &'a EndpointGuard)>,
    ) -> Shared<'a> {
        Shared {
            config: loaded,
            roles: Arc::clone(&self.roles) as Arc<dyn RoleProvider>,
            aws_tls: &self.aws_tls,
            env: &self.env,
            tokens: Arc::clone(&self.tokens),
            guard,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Serve `loaded`: build every proxy, bind every new address, then switch. Nothing changes if any of
    /// it fails.
    pub(super) fn apply(&mut self, loaded: &LoadedConfig) -> Result<Changes, String> {
        let shared = self.shared(loaded, None);
        // Build and bind first, without touching what runs.
        let mut next = Vec::with_capacity(loaded.listeners.len());
        let mut kept = Vec::new();
        for listener in &loaded.listeners {
            let name = &listener.database.name;
            let previous = self.running.get(name);
            let fingerprint = fingerprint(listener);
            // A Redis cluster's node listeners hold their ports while it runs: it is kept as started.
            if let Some(running) = previous.filter(|r| matches!(r.server, Server::RedisCluster(_)))
            {
                if running.fingerprint != fingerprint {
                    tracing::warn!(
                        database = %name,
                        "a Redis cluster database keeps the settings it started with; restart iamwire to apply its changes"
                    );
                }
                kept.push(name.clone());
                continue;
            }
            let server = Server::for_listener(listener, &shared, previous.map(|r| &r.server))?;
            let socket = match previous {
                Some(r) if r.listen == listener.listen => Arc::clone(&r.socket),
                _ => Arc::new(Socket::bind(&listener.listen).map_err(|e| {
                    format!("cannot listen on {} for {name:?}: {e}", listener.listen)
                })?),
            };
            next.push((server, fingerprint, listener.listen.clone(), socket));
        }
        // Then switch: start every new proxy, then stop what it replaces or what is gone.
        self.state.configure(
            loaded
                .admin
                .as_ref()
                .map(|a| a.identities.clone())
                .unwrap_or_default(),
            loaded.limits.max_connections,
        );
        let mut changes = Changes::default();
        let mut old = std::mem::take(&mut self.running);
        for name in kept {
            if let Some(running) = old.remove(&name) {
                self.running.insert(name, running);
            }
        }
        for (server, fingerprint, listen, socket) in next {
            let name = server.database().name.clone();
            let running = self.start(server, fingerprint, listen, socket)?;
            match old.remove(&name) {
                None => changes.added.push(name.clone()),
                Some(before) => {
                    if before.fingerprint != running.fingerprint {
                        changes.changed.push(name.clone());
                    }
                    let _ = before.stop.send(true);
                }
            }
            self.running.insert(name, running);
        }
        for (name, gone) in old {
            let _ = gone.stop.send(true);
            self.state.remove(&name);
            changes.removed.push(name);
        }
        Ok(changes)
    }

    /// Start accepting for `server` on `socket`, and its credential warm-up (retried until it works).
    fn start(
        &self,
        server: Server,
        fingerprint: String,
        listen: ListenAddr,
        socket: Arc<Socket>,
    ) -> Result<Running, String> {
        let database = server.database().clone();
        let listener = socket
            .listener()
            .map_err(|e| format!("cannot accept on {listen} for {:?}: {e}", database.name))?;
        println!(
            "iamwire: {} ({}) on {} -> {}",
            database.name,
            database.protocol,
            socket.describe(),
            database.uri
        );
        let (stop, stopped) = watch::channel(false);
        let mut accept_stopped = stopped.clone();
        tokio::spawn(server.serve_until(
            listener,
            async move {
                let _ = accept_stopped.wait_for(|stop| *stop).await;
            },
            self.drain.clone(),
        ));
        self.state.insert(&server, socket.describe());
        tokio::spawn(warm_up(
            server.clone_handle(),
            Arc::clone(&self.state),
            stopped,
        ));
        Ok(Running {
            server,
            fingerprint,
            listen,
            socket,
            stop,
        })
    }

    /// SIGHUP: load the file at `path` again and apply it; on any error keep serving `current`.
    /// Returns the new config when applied.
    pub(super) fn reload(&mut self, path: &Path, current: &LoadedConfig) -> Option<LoadedConfig> {
        tracing::info!(config = %path.display(), "SIGHUP: reloading the configuration");
        let overrides = &self.overrides;
        let loaded = proxy_config::load_with(path, &|file| overrides.apply(file));
        let loaded = match loaded.map_err(|e| crate::config_messages::describe(path, &e)) {
            Ok(loaded) if loaded.listeners.is_empty() && loaded.catalog.listen.is_none() => {
                Err("no listeners configured (proxy.listeners) and no catalog.listen".to_owned())
            }
            other => other,
        };
        let applied =
            loaded.and_then(|loaded| self.apply(&loaded).map(|changes| (loaded, changes)));
        match applied {
            Ok((loaded, changes)) => {
                self.state.reloaded(true);
                if loaded.aws != current.aws {
                    tracing::warn!(
                        "the aws section changed: the proxy's own AWS credentials and region are read at \
                         start only; restart iamwire to use the new ones"
                    );
                }
                if loaded.admin.as_ref().map(|a| a.listen)
                    != current.admin.as_ref().map(|a| a.listen)
                {
                    tracing::warn!(
                        "proxy.admin.listen changed: the admin address moves at restart only"
                    );
                }
                tracing::info!(
                    added = ?changes.added,
                    removed = ?changes.removed,
                    changed = ?changes.changed,
                    "configuration reloaded: new sessions use it; live sessions go on"
                );
                Some(loaded)
            }
            Err(error) => {
                self.state.reloaded(false);
                tracing::error!(
                    config = %path.display(),
                    %error,
                    "configuration reload refused; still serving the previous configuration"
                );
                None
            }
        }
    }

    /// Stop every listener and drain: sessions may go on for `deadline`, then are told to end.
    pub(super) async fn shutdown(&mut self, deadline: Duration) {
        for running in self.running.values().chain(self.from_catalog.values()) {
            let _ = running.stop.send(true);
        }
        self.drain.shutdown(deadline, CLOSE_GRACE).await;
        self.running.clear();
        self.from_catalog.clear();
    }
}

/// What a listener's database was built from, to tell a changed database from an unchanged one.
fn fingerprint(listener: &crate::proxy_config::Listener) -> String {
    format!(
        "{:?}|{}|{:?}|{}|{:?}",
        listener.database,
        listener.listen,
        listener.reauth_interval,
        listener.password.is_some(),
        listener.cluster
    )
}

/// What a reload changed, by database name.
#[derive(Debug, Default)]
pub(super) struct Changes {
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
}

/// Obtain `server`'s role credentials, retrying with backoff until it works or `stopped`; each result
/// is shown on `/readyz` and logged when it changes.
async fn warm_up(server: Server, state: Arc<AdminState>, mut stopped: watch::Receiver<bool>) {
    let name = server.database().name.clone();
    let mut wait = WARM_UP_RETRY.0;
    let mut last_error = None;
    loop {
        let result = tokio::select! {
            result = server.warm_up() => result,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        match result {
            Ok(()) => {
                tracing::info!(database = %name, "AWS credentials ready");
                state.set_readiness(&name, Readiness::Ready);
                return;
            }
            Err(e) => {
                let shown = e
                    .hint()
                    .map_or_else(|| e.to_string(), |hint| format!("{e}; {hint}"));
                if last_error.as_ref() != Some(&shown) {
                    tracing::warn!(
                        database = %name,
                        error = %e,
                        hint = e.hint(),
                        retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "cannot get AWS credentials for this database yet; its clients are refused until this is fixed"
                    );
                }
                state.set_readiness(&name, Readiness::Failed(shown.clone()));
                last_error = Some(shown);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        wait = (wait * 2).min(WARM_UP_RETRY.1);
    }
}
