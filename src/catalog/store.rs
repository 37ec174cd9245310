//! Where dynamic `kind: db` resources live: never only in process memory. A [`ResourceStore`] keeps each
//! resource's document by name and publishes what it holds on a `watch` channel ([`StoreState`]), with
//! its health: a store that cannot be reached keeps publishing the last set it read, marked
//! [`StoreHealth::Unavailable`], so the proxy goes on serving it and says it is not ready.
//!
//! [`FileStore`] is one JSON file for one node (the default); [`super::pg_store::PgStore`] is a
//! PostgreSQL table shared by replicas, with LISTEN/NOTIFY.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{Mutex, watch};

/// The largest document kept per resource (a `kind: db` document is a few hundred bytes).
pub(crate) const MAX_DOCUMENT: usize = 64 * 1024;
/// The most resources a store holds.
pub(crate) const MAX_RESOURCES: usize = 10_000;

/// A boxed store operation.
pub(crate) type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A place dynamic resources live in.
pub(crate) trait ResourceStore: Send + Sync + 'static {
    /// Keep `document` as resource `name`; [`StoreError::Exists`] when the name is taken.
    fn create<'a>(&'a self, name: &'a str, document: &'a str) -> StoreFuture<'a, ()>;
    /// Remove resource `name`; whether it was there.
    fn delete<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool>;
    /// What the store holds, and whether it can be reached, as it changes.
    fn watch(&self) -> watch::Receiver<StoreState>;
    /// The store, for logs and `/readyz` (`file /path`, `postgres host:port/db`; never a password).
    fn describe(&self) -> String;
}

/// What a store holds, as last read.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoreState {
    /// Resource documents by name.
    pub(crate) resources: Arc<BTreeMap<String, String>>,
    /// Whether the store could be read when this was published.
    pub(crate) health: StoreHealth,
    /// Whether `resources` has been read from the store at least once (false: nothing known yet).
    pub(crate) loaded: bool,
}

/// Whether a store can be reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum StoreHealth {
    /// Reachable: `resources` is current.
    #[default]
    Ok,
    /// Not reachable since `since`: `resources` is the last set read.
    Unavailable {
        /// Why (no secret: connection strings are never part of it).
        error: String,
        /// When the store was lost.
        since: SystemTime,
    },
}

impl StoreHealth {
    /// Whether the store is reachable.
    pub(crate) fn is_ok(&self) -> bool {
        matches!(self, Self::Ok)
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum StoreError {
    /// A resource with that name exists.
    #[error("a database named {name:?} exists already")]
    Exists {
        /// The name.
        name: String,
    },
    /// The store cannot be reached or refused the operation; nothing was changed.
    #[error("the resource store is unavailable: {reason}")]
    Unavailable {
        /// What happened (no secret).
        reason: String,
    },
    /// A document over [`MAX_DOCUMENT`] or a store over [`MAX_RESOURCES`].
    #[error("the resource store's limit was reached: {what}")]
    Limit {
        /// Which limit.
        what: &'static str,
    },
}

/// Checks every store makes before it keeps a document.
pub(crate) fn check_limits(count: usize, document: &str) -> Result<(), StoreError> {
    if document.len() > MAX_DOCUMENT {
        return Err(StoreError::Limit {
            what: "a document is at most 64 KiB",
        });
    }
    if count >= MAX_RESOURCES {
        return Err(StoreError::Limit {
            what: "at most 10000 dynamic databases",
        });
    }
    Ok(())
}

/// One JSON file (`{"databases": {name: document}}`) for a single node, replaced atomically (written
/// beside it, synced, renamed) on every change.
pub(crate) struct FileStore {
    path: PathBuf,
    /// Serializes writers; holds the current contents.
    contents: Mutex<BTreeMap<String, String>>,
    state: watch::Sender<StoreState>,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct FileContents {
    databases: BTreeMap<String, String>,
}

impl FileStore {
    /// The store in `path`, read now (a missing file is an empty store).
    ///
    /// # Errors
    ///
    /// The file exists but cannot be read or is not a store file.
    pub(crate) fn open(path: &Path) -> Result<Self, String> {
        let contents = match std::fs::read(path) {
            Ok(bytes) => {
                if bytes.len() > MAX_RESOURCES * MAX_DOCUMENT {
                    return Err(format!(
                        "{} is too large for a resource store",
                        path.display()
                    ));
                }
                serde_json::from_slice::<FileContents>(&bytes)
                    .map_err(|e| {
                        format!("{} is not an iamwire resource store: {e}", path.display())
                    })?
                    .databases
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let (state, _) = watch::channel(StoreState {
            resources: Arc::new(contents.clone()),
            health: StoreHealth::Ok,
            loaded: true,
        });
        Ok(Self {
            path: path.to_path_buf(),
            contents: Mutex::new(contents),
            state,
        })
    }

    async fn change(
        &self,
        edit: impl FnOnce(&mut BTreeMap<String, String>) -> Result<bool, StoreError>,
    ) -> Result<bool, StoreError> {
        let mut contents = self.contents.lock().await;
        let mut next = contents.clone();
        let changed = edit(&mut next)?;
        if !changed {
            return Ok(false);
        }
        let bytes = serde_json::to_vec_pretty(&FileContents {
            databases: next.clone(),
        })
        .map_err(|e| StoreError::Unavailable {
            reason: e.to_string(),
        })?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| StoreError::Unavailable {
                reason: e.to_string(),
            })?
            .map_err(|e| StoreError::Unavailable {
                reason: format!("cannot write {}: {e}", self.path.display()),
            })?;
        *contents = next.clone();
        self.state.send_replace(StoreState {
            resources: Arc::new(next),
            health: StoreHealth::Ok,
            loaded: true,
        });
        Ok(true)
    }
}

/// Write `bytes` to a file beside `path`, sync it, and rename it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable once the directory is synced.
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl ResourceStore for FileStore {
    fn create<'a>(&'a self, name: &'a str, document: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.change(|map| {
                if map.contains_key(name) {
                    return Err(StoreError::Exists { name: name.into() });
                }
                check_limits(map.len(), document)?;
                map.insert(name.into(), document.into());
                Ok(true)
            })
            .await
            .map(drop)
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move { self.change(|map| Ok(map.remove(name).is_some())).await })
    }

    fn watch(&self) -> watch::Receiver<StoreState> {
        self.state.subscribe()
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}
