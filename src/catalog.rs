//! The catalog: which databases this replica serves, from three sources — static configuration,
//! discovery (each `db_service.aws` matcher re-run every interval through its role), and dynamic
//! `kind: db` resources in the [`store`] — merged into one desired set published on a
//! `tokio::sync::watch` channel ([`Catalog::subscribe`]), with a [`CatalogStatus`] for `/readyz`.
//!
//! The supervisor that starts, stops and replaces a proxy per database watches that channel; discovered
//! and dynamic databases log in only through [`guard_injector`] (the endpoint is confirmed to belong to
//! the database's account and region before any token or signature is sent). The admin API's handlers
//! over a catalog are in [`api`].
//!
//! Name clashes: a static database wins over a discovered one of the same name, and both over a dynamic
//! one (a dynamic resource cannot take an existing name; if it already exists in the store it is left
//! out and reported).

pub(crate) mod admit;
pub(crate) mod api;
pub(crate) mod pg_store;
mod reconcile;
mod settings;
mod start;
pub(crate) mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use iamwire_aws::discovery::Discoverer;
use iamwire_aws::endpoint_check::EndpointGuard;
use iamwire_aws::inject::GuardedInjector;
use iamwire_core::{AuthInjector, AwsMatcher, Database, ResourceMatcher};
use tokio::sync::watch;

pub(crate) use settings::{CatalogSection, PortRange, open_store};
pub(crate) use start::start as start_from_config;
use store::{ResourceStore, StoreHealth};

/// Where a database in the catalog comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Origin {
    /// `db_service.databases`.
    Static,
    /// A `db_service.aws` matcher found it.
    Discovered,
    /// A `kind: db` resource in the store, matched by a `db_service.resources` selector.
    Dynamic,
}

impl Origin {
    /// Whether its endpoint must be confirmed before a credential is sent (discovered and dynamic).
    pub(crate) fn needs_endpoint_check(self) -> bool {
        self != Self::Static
    }
}

/// One database of the desired set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CatalogEntry {
    /// The database, validated, with its role.
    pub(crate) database: Database,
    /// Where it comes from.
    pub(crate) origin: Origin,
    /// The discovery matcher (`db_service.aws[i]`) or resource selector (`db_service.resources[i]`)
    /// behind it.
    pub(crate) source: Option<usize>,
}

/// What the catalog wants served, and why not more.
#[derive(Debug, Clone, Default)]
pub(crate) struct DesiredSet {
    /// Every database to serve, by name.
    pub(crate) databases: BTreeMap<String, Arc<CatalogEntry>>,
    /// Store, discovery and resource problems.
    pub(crate) status: CatalogStatus,
}

/// The catalog's health, for `/readyz` and `db ls`.
#[derive(Debug, Clone, Default)]
pub(crate) struct CatalogStatus {
    /// The store (`file /path`, `postgres host:port/db`).
    pub(crate) store: String,
    /// Whether the store can be reached; when not, the last set read is served.
    pub(crate) store_health: StoreHealth,
    /// Whether the store has been read at least once.
    pub(crate) store_loaded: bool,
    /// One per discovery matcher, in config order.
    pub(crate) matchers: Vec<MatcherStatus>,
    /// Dynamic resources in the store that are not served, with why (invalid, name taken).
    pub(crate) rejected: BTreeMap<String, String>,
    /// Valid dynamic resources no `db_service.resources` selector of this replica matches.
    pub(crate) not_selected: BTreeSet<String>,
}

/// How the last run of one discovery matcher went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MatcherStatus {
    /// Index in `db_service.aws`.
    pub(crate) index: usize,
    /// The matcher's role, if any.
    pub(crate) role: Option<String>,
    /// When it last finished (None: not yet).
    pub(crate) last_run: Option<SystemTime>,
    /// Databases it serves now.
    pub(crate) databases: usize,
    /// What went wrong in its last run (a role that cannot be assumed, a region that failed).
    pub(crate) errors: Vec<String>,
    /// Whether the whole matcher failed (its role could not be assumed).
    pub(crate) failed: bool,
}

impl CatalogStatus {
    /// Ready to serve: the store has been read and can be reached now. Discovery problems do not
    /// make a replica unready (it serves everything else); they are listed by [`Self::problems`].
    pub(crate) fn ready(&self) -> bool {
        self.store_loaded && self.store_health.is_ok()
    }

    /// Every problem, one line each, for `/readyz` and the logs.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let StoreHealth::Unavailable { error, since } = &self.store_health {
            let secs = since.elapsed().map(|d| d.as_secs()).unwrap_or_default();
            out.push(format!(
                "resource store {} unavailable for {secs}s ({error}); serving the last known databases",
                self.store
            ));
        } else if !self.store_loaded {
            out.push(format!("resource store {} not read yet", self.store));
        }
        for m in &self.matchers {
            for e in &m.errors {
                out.push(format!(
                    "discovery matcher db_service.aws[{}]: {e}",
                    m.index
                ));
            }
        }
        for (name, why) in &self.rejected {
            out.push(format!("dynamic database {name:?} not served: {why}"));
        }
        out
    }
}

/// Everything the catalog is built from.
#[derive(Debug, Clone, Default)]
pub(crate) struct CatalogConfig {
    /// `db_service.databases`, validated.
    pub(crate) static_databases: Vec<Database>,
    /// `db_service.aws`.
    pub(crate) matchers: Vec<AwsMatcher>,
    /// `db_service.resources`.
    pub(crate) selectors: Vec<ResourceMatcher>,
    /// How often each matcher runs again.
    pub(crate) discovery_interval: Duration,
}

/// The running catalog; dropping the last handle stops its tasks.
#[derive(Clone)]
pub(crate) struct Catalog {
    inner: Arc<Inner>,
}

struct Inner {
    config: CatalogConfig,
    store: Arc<dyn ResourceStore>,
    desired: watch::Receiver<Arc<DesiredSet>>,
    guard: Option<EndpointGuard>,
    /// Where the supervisor serves each database (for `db ls`).
    listening: Mutex<BTreeMap<String, SocketAddr>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Catalog {
    /// Start the catalog: one discovery task per matcher (when `discoverer` is given) and the
    /// reconciler. `guard` learns each discovered endpoint as confirmed and forgets removed ones.
    pub(crate) fn start(
        config: CatalogConfig,
        store: Arc<dyn ResourceStore>,
        discoverer: Option<Discoverer>,
        guard: Option<EndpointGuard>,
    ) -> Self {
        let (desired, tasks) = reconcile::spawn(&config, store.clone(), discoverer, guard.clone());
        Self {
            inner: Arc::new(Inner {
                config,
                store,
                desired,
                guard,
                listening: Mutex::default(),
                tasks,
            }),
        }
    }

    /// The desired set as it changes: the supervisor's input.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<DesiredSet>> {
        self.inner.desired.clone()
    }

    /// The desired set now.
    pub(crate) fn current(&self) -> Arc<DesiredSet> {
        self.inner.desired.borrow().clone()
    }

    /// The resource selectors (`db_service.resources`).
    pub(crate) fn selectors(&self) -> &[ResourceMatcher] {
        &self.inner.config.selectors
    }

    /// The store dynamic resources live in.
    pub(crate) fn store(&self) -> &Arc<dyn ResourceStore> {
        &self.inner.store
    }

    /// The endpoint guard discovered and dynamic databases go through.
    pub(crate) fn guard(&self) -> Option<&EndpointGuard> {
        self.inner.guard.as_ref()
    }

    /// The supervisor says where it serves `name` (or that it stopped, with `None`).
    pub(crate) fn set_listening(&self, name: &str, addr: Option<SocketAddr>) {
        let mut map = self
            .inner
            .listening
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match addr {
            Some(addr) => map.insert(name.to_owned(), addr),
            None => map.remove(name),
        };
    }

    /// Where `name` is served, if the supervisor said.
    pub(crate) fn listening(&self, name: &str) -> Option<SocketAddr> {
        self.inner
            .listening
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .copied()
    }

    /// Wait until the desired set satisfies `check`, up to `within`; whether it did.
    pub(crate) async fn wait_for(
        &self,
        within: Duration,
        check: impl Fn(&DesiredSet) -> bool,
    ) -> bool {
        let mut rx = self.subscribe();
        tokio::time::timeout(within, rx.wait_for(|d| check(d)))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// The injector a catalog entry logs in through: for discovered and dynamic databases, `inner` behind
/// the endpoint guard (no token or signature leaves before the endpoint is confirmed to belong to the
/// database's account and region); static databases as configured.
pub(crate) fn guard_injector(
    entry: &CatalogEntry,
    guard: &EndpointGuard,
    inner: Arc<dyn AuthInjector>,
) -> Arc<dyn AuthInjector> {
    if entry.origin.needs_endpoint_check() {
        Arc::new(GuardedInjector::new(guard.clone(), inner))
    } else {
        inner
    }
}

#[cfg(test)]
pub(crate) mod tests;
