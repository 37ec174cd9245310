//! What the admin address reads: the databases being served (replaced on reload), whether each one's
//! role credentials were obtained, and the process-wide AWS counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use iamwire_aws::inject::TokenMap;
use iamwire_aws::sts::StsRoleProvider;

use crate::servers::Server;

/// Whether a database's role credentials were obtained (its warm-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Not tried yet.
    Pending,
    /// Obtained.
    Ready,
    /// The last try failed with this (no secret in it: the injector's error and hint).
    Failed(String),
}

/// One database being served.
pub(crate) struct Served {
    /// Its proxy.
    pub(crate) server: Server,
    /// Where it listens (as printed).
    pub(crate) listen: String,
    /// Whether its credentials were obtained.
    pub(crate) readiness: Readiness,
}

/// Everything the admin address shows or changes.
pub(crate) struct AdminState {
    databases: RwLock<BTreeMap<String, Served>>,
    admins: RwLock<Vec<String>>,
    max_connections: RwLock<usize>,
    roles: Arc<StsRoleProvider>,
    tokens: Arc<TokenMap>,
    reloads: AtomicU64,
    failed_reloads: AtomicU64,
    /// Static, discovered and dynamic databases (`/v1/databases`, `/readyz`), once started.
    catalog: RwLock<Option<crate::catalog::Catalog>>,
    /// Catalog databases the supervisor cannot serve, with why.
    unserved: RwLock<BTreeMap<String, String>>,
}

impl AdminState {
    /// A state for `roles` and `tokens` (the process's), with no database yet.
    pub(crate) fn new(roles: Arc<StsRoleProvider>, tokens: Arc<TokenMap>) -> Self {
        Self {
            databases: RwLock::new(BTreeMap::new()),
            admins: RwLock::new(Vec::new()),
            max_connections: RwLock::new(usize::MAX),
            roles,
            tokens,
            reloads: AtomicU64::new(0),
            failed_reloads: AtomicU64::new(0),
            catalog: RwLock::new(None),
            unserved: RwLock::new(BTreeMap::new()),
        }
    }

    /// The catalog the database routes and `/readyz` read.
    pub(crate) fn set_catalog(&self, catalog: crate::catalog::Catalog) {
        *self.catalog.write().unwrap_or_else(PoisonError::into_inner) = Some(catalog);
    }

    /// The catalog, once set.
    pub(crate) fn catalog(&self) -> Option<crate::catalog::Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Why each catalog database that is not served is not (from the supervisor).
    pub(crate) fn set_unserved(&self, unserved: BTreeMap<String, String>) {
        *self
            .unserved
            .write()
            .unwrap_or_else(PoisonError::into_inner) = unserved;
    }

    /// Why catalog database `name` is not served, if the supervisor said.
    pub(crate) fn unserved(&self, name: &str) -> Option<String> {
        self.unserved
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// The identities allowed on the admin API, and each database's session cap (from the config).
    pub(crate) fn configure(&self, admins: Vec<String>, max_connections: usize) {
        *self.admins.write().unwrap_or_else(PoisonError::into_inner) = admins;
        *self
            .max_connections
            .write()
            .unwrap_or_else(PoisonError::into_inner) = max_connections;
    }

    /// Whether `identity` may use the admin API.
    pub(crate) fn is_admin(&self, identity: &str) -> bool {
        self.admins
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|a| a == identity)
    }

    /// Each database's session cap.
    pub(crate) fn max_connections(&self) -> usize {
        *self
            .max_connections
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Start showing `server` under its database's name (replacing what was there: a reload).
    pub(crate) fn insert(&self, server: &Server, listen: String) {
        let name = server.database().name.clone();
        let mut databases = self.write();
        let readiness = databases
            .get(&name)
            .map_or(Readiness::Pending, |s| s.readiness.clone());
        databases.insert(
            name,
            Served {
                server: server.clone_handle(),
                listen,
                readiness,
            },
        );
    }

    /// Stop showing database `name` (removed by a reload).
    pub(crate) fn remove(&self, name: &str) {
        self.write().remove(name);
    }

    /// Record database `name`'s credential state.
    pub(crate) fn set_readiness(&self, name: &str, readiness: Readiness) {
        if let Some(served) = self.write().get_mut(name) {
            served.readiness = readiness;
        }
    }

    /// Run `f` over the databases served (a short read lock; no I/O inside).
    pub(crate) fn with_databases<R>(&self, f: impl FnOnce(&BTreeMap<String, Served>) -> R) -> R {
        f(&self
            .databases
            .read()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// A handle on database `name`'s proxy.
    pub(crate) fn server(&self, name: &str) -> Option<Server> {
        self.with_databases(|d| d.get(name).map(|s| s.server.clone_handle()))
    }

    /// The role provider (its credential cache's counters).
    pub(crate) fn roles(&self) -> &StsRoleProvider {
        &self.roles
    }

    /// The process's RDS / cache IAM tokens.
    pub(crate) fn tokens(&self) -> &TokenMap {
        &self.tokens
    }

    /// Count a configuration reload, applied or refused.
    pub(crate) fn reloaded(&self, applied: bool) {
        let counter = if applied {
            &self.reloads
        } else {
            &self.failed_reloads
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reloads applied and refused so far.
    pub(crate) fn reloads(&self) -> (u64, u64) {
        (
            self.reloads.load(Ordering::Relaxed),
            self.failed_reloads.load(Ordering::Relaxed),
        )
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Served>> {
        self.databases
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
