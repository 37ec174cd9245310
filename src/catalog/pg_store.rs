//! The resource store replicas share: one PostgreSQL table, and LISTEN/NOTIFY so that a change made
//! through one replica reaches every other within a second.
//!
//! Each replica keeps one connection: it creates the table if needed, `LISTEN`s, reads the whole table,
//! and reads it again on every notification (and every [`RESYNC`], in case one was missed). Writes run on
//! the same connection, each as one statement that also notifies (`WITH ins AS (INSERT ...) SELECT
//! pg_notify(...)`), so a change and its notification commit together. When the connection is lost the
//! last set read stays published, marked unavailable, and the replica reconnects with backoff (up to
//! [`MAX_BACKOFF`]), reading the table again once it is back.

use std::collections::BTreeMap;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, watch};
use tokio_postgres::{AsyncMessage, Client, Config, Connection};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::store::{
    MAX_RESOURCES, ResourceStore, StoreError, StoreFuture, StoreHealth, StoreState, check_limits,
};

/// The table (and the notification channel) resources live in.
pub(crate) const TABLE: &str = "iamwire_databases";
/// How often the table is read again even without a notification.
pub(crate) const RESYNC: Duration = Duration::from_secs(30);
/// The longest wait between reconnection attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long connecting, and each statement, may take.
const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// A PostgreSQL-backed [`ResourceStore`]; dropping it stops its connection task.
pub(crate) struct PgStore {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    config: Config,
    tls: MakeRustlsConnect,
    /// The live connection's client, when there is one.
    client: tokio::sync::RwLock<Option<Client>>,
    state: watch::Sender<StoreState>,
    /// Woken by a notification or a local write: read the table again.
    dirty: Arc<Notify>,
    described: String,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PgStore {
    /// A store in the database `dsn` names (libpq key=value or URL form; `sslmode` as libpq, with
    /// `tls` verifying the server), connecting in the background. Until the first read the state is
    /// unavailable and not loaded.
    ///
    /// # Errors
    ///
    /// `dsn` cannot be parsed (the message never repeats it: it may hold a password).
    pub(crate) fn start(dsn: &str, tls: rustls::ClientConfig) -> Result<Self, String> {
        let mut config = Config::from_str(dsn.trim()).map_err(|_| {
            "the resource store's PostgreSQL connection string is invalid".to_owned()
        })?;
        config.connect_timeout(OP_TIMEOUT);
        let described = describe(&config);
        let (state, _) = watch::channel(StoreState {
            resources: Arc::default(),
            health: StoreHealth::Unavailable {
                error: "not connected yet".into(),
                since: SystemTime::now(),
            },
            loaded: false,
        });
        let shared = Arc::new(Shared {
            config,
            tls: MakeRustlsConnect::new(tls),
            client: tokio::sync::RwLock::new(None),
            state,
            dirty: Arc::new(Notify::new()),
            described,
        });
        let task = tokio::spawn(run(shared.clone()));
        Ok(Self { shared, task })
    }

    async fn write(
        &self,
        sql: &str,
        name: &str,
        document: Option<&str>,
    ) -> Result<u64, StoreError> {
        let guard = self.shared.client.read().await;
        let client = guard.as_ref().ok_or_else(|| StoreError::Unavailable {
            reason: unavailable_reason(&self.shared.state.borrow().health),
        })?;
        let result = match document {
            Some(doc) => {
                tokio::time::timeout(OP_TIMEOUT, client.execute(sql, &[&name, &doc])).await
            }
            None => tokio::time::timeout(OP_TIMEOUT, client.execute(sql, &[&name])).await,
        };
        let rows = match result {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                return Err(StoreError::Unavailable {
                    reason: pg_reason(&e),
                });
            }
            Err(_) => {
                return Err(StoreError::Unavailable {
                    reason: "the statement timed out".into(),
                });
            }
        };
        // Read back at once, so this replica serves the change before answering.
        drop(guard);
        self.shared.dirty.notify_one();
        Ok(rows)
    }

    /// Wait until the published state satisfies `ready` (a test and startup helper), up to `within`.
    #[cfg(test)]
    pub(crate) async fn wait_for(
        &self,
        within: Duration,
        ready: impl Fn(&StoreState) -> bool,
    ) -> bool {
        let mut rx = self.shared.state.subscribe();
        tokio::time::timeout(within, rx.wait_for(|s| ready(s)))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

fn unavailable_reason(health: &StoreHealth) -> String {
    match health {
        StoreHealth::Ok => "reconnecting".into(),
        StoreHealth::Unavailable { error, .. } => error.clone(),
    }
}

/// What PostgreSQL said, by SQLSTATE and message, or the connection error.
fn pg_reason(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None if e.is_closed() => "the connection is closed".into(),
        None => {
            // The I/O cause, never the connection string.
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                reason = format!("{reason}: {s}");
                source = s.source();
            }
            reason
        }
    }
}

/// `postgres host:port/dbname`.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("postgres {host}:{port}/{db}")
}

/// Connect, listen and read, forever; on loss, publish the last set as unavailable and retry.
async fn run(shared: Arc<Shared>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let error = match session(&shared).await {
            Ok(never) => match never {},
            Err(e) => e,
        };
        *shared.client.write().await = None;
        let mut lost = false;
        shared.state.send_if_modified(|state| {
            lost = state.health.is_ok();
            // Before the first read, the latest reason is worth showing; after, when it was lost.
            let first_reason = !state.loaded
                && !matches!(&state.health, StoreHealth::Unavailable { error: e, .. } if *e == error);
            if lost || first_reason {
                state.health = StoreHealth::Unavailable {
                    error: error.clone(),
                    since: SystemTime::now(),
                };
            }
            lost || first_reason
        });
        if lost {
            tracing::warn!(store = %shared.described, %error, "lost the resource store; serving the last known databases");
            backoff = Duration::from_millis(200);
        } else {
            tracing::debug!(store = %shared.described, %error, "resource store still unavailable");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection's life; returns why it ended.
async fn session(shared: &Shared) -> Result<std::convert::Infallible, String> {
    let (client, connection) =
        tokio::time::timeout(OP_TIMEOUT, shared.config.connect(shared.tls.clone()))
            .await
            .map_err(|_| "connecting timed out".to_owned())?
            .map_err(|e| pg_reason(&e))?;
    let (closed_tx, mut closed_rx) = tokio::sync::oneshot::channel();
    let driver = tokio::spawn(drive(connection, shared.dirty.clone(), closed_tx));
    let _abort = AbortOnDrop(driver);
    let setup = format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (name text PRIMARY KEY, document text NOT NULL, \
         created_at timestamptz NOT NULL DEFAULT now()); LISTEN {TABLE};"
    );
    match tokio::time::timeout(OP_TIMEOUT, client.batch_execute(&setup)).await {
        Ok(Ok(())) => {}
        // Replicas creating the table at once: one wins, the others see it exists next time.
        Ok(Err(e)) if is_create_race(&e) => {
            return Err("the table was being created by another replica".into());
        }
        Ok(Err(e)) => return Err(pg_reason(&e)),
        Err(_) => return Err("setting up the table timed out".into()),
    }
    *shared.client.write().await = Some(client);
    let mut resync = tokio::time::interval(RESYNC);
    loop {
        read_all(shared).await?;
        tokio::select! {
            () = shared.dirty.notified() => {}
            _ = resync.tick() => {}
            reason = &mut closed_rx => {
                return Err(reason.unwrap_or_else(|_| "the connection ended".into()));
            }
        }
    }
}

fn is_create_race(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == tokio_postgres::error::SqlState::UNIQUE_VIOLATION
            || *c == tokio_postgres::error::SqlState::DUPLICATE_TABLE
    })
}

/// Read the whole table and publish it as current.
async fn read_all(shared: &Shared) -> Result<(), String> {
    let sql = format!("SELECT name, document FROM {TABLE} ORDER BY name LIMIT {MAX_RESOURCES}");
    let rows = {
        let guard = shared.client.read().await;
        let client = guard.as_ref().ok_or("not connected")?;
        tokio::time::timeout(OP_TIMEOUT, client.query(&sql, &[]))
            .await
            .map_err(|_| "reading the table timed out".to_owned())?
            .map_err(|e| pg_reason(&e))?
    };
    let mut resources = BTreeMap::new();
    for row in rows {
        let name: String = row.try_get(0).map_err(|e| pg_reason(&e))?;
        let document: String = row.try_get(1).map_err(|e| pg_reason(&e))?;
        resources.insert(name, document);
    }
    let back = !shared.state.borrow().health.is_ok();
    shared.state.send_if_modified(|state| {
        let changed = !state.loaded || !state.health.is_ok() || *state.resources != resources;
        if changed {
            *state = StoreState {
                resources: Arc::new(resources),
                health: StoreHealth::Ok,
                loaded: true,
            };
        }
        changed
    });
    if back {
        tracing::info!(store = %shared.described, "resource store reachable");
    }
    Ok(())
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Poll the connection: notifications wake the reader; the end of the connection is reported.
async fn drive<S, T>(
    mut connection: Connection<S, T>,
    dirty: Arc<Notify>,
    closed: tokio::sync::oneshot::Sender<String>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let reason = loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(_))) => dirty.notify_one(),
            Some(Ok(_)) => {}
            Some(Err(e)) => break pg_reason(&e),
            None => break "the server closed the connection".to_owned(),
        }
    };
    let _ = closed.send(reason);
}

impl ResourceStore for PgStore {
    fn create<'a>(&'a self, name: &'a str, document: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let count = self.shared.state.borrow().resources.len();
            check_limits(count, document)?;
            let sql = format!(
                "WITH ins AS (INSERT INTO {TABLE} (name, document) VALUES ($1, $2) \
                 ON CONFLICT (name) DO NOTHING RETURNING name) \
                 SELECT pg_notify('{TABLE}', name) FROM ins"
            );
            match self.write(&sql, name, Some(document)).await? {
                0 => Err(StoreError::Exists { name: name.into() }),
                _ => Ok(()),
            }
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let sql = format!(
                "WITH del AS (DELETE FROM {TABLE} WHERE name = $1 RETURNING name) \
                 SELECT pg_notify('{TABLE}', name) FROM del"
            );
            Ok(self.write(&sql, name, None).await? > 0)
        })
    }

    fn watch(&self) -> watch::Receiver<StoreState> {
        self.shared.state.subscribe()
    }

    fn describe(&self) -> String {
        self.shared.described.clone()
    }
}
