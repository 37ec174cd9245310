//! The catalog's tasks: one discovery loop per matcher, and the reconciler that merges static
//! databases, discovery results and the store's resources into the desired set.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use iamwire_aws::discovery::{DiscoveredDatabase, Discoverer, MatcherReport};
use iamwire_aws::endpoint_check::EndpointGuard;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::admit::{Admitted, admit};
use super::store::{ResourceStore, StoreState};
use super::{CatalogConfig, CatalogEntry, CatalogStatus, DesiredSet, MatcherStatus, Origin};

/// What one matcher serves now.
#[derive(Default)]
struct MatcherState {
    found: BTreeMap<String, DiscoveredDatabase>,
    status: MatcherStatus,
}

/// Start the loops; the desired set's receiver and the tasks to abort on drop.
pub(super) fn spawn(
    config: &CatalogConfig,
    store: Arc<dyn ResourceStore>,
    discoverer: Option<Discoverer>,
    guard: Option<EndpointGuard>,
) -> (watch::Receiver<Arc<DesiredSet>>, Vec<JoinHandle<()>>) {
    let mut tasks = Vec::new();
    // Bounded: a matcher waits for the reconciler rather than piling up reports.
    let (reports, report_rx) = mpsc::channel(config.matchers.len().max(1));
    if let Some(discoverer) = discoverer {
        for (index, matcher) in config.matchers.iter().enumerate() {
            let (discoverer, matcher, reports) =
                (discoverer.clone(), matcher.clone(), reports.clone());
            let interval = config.discovery_interval.max(Duration::from_secs(1));
            tasks.push(tokio::spawn(async move {
                // Databases this matcher has tried to turn IAM authentication on for (once each).
                let mut tried = BTreeSet::new();
                loop {
                    let mut report = discoverer.discover(index, &matcher).await;
                    if matcher.enable_iam_auth {
                        enable_iam_auth(&discoverer, &mut report, &mut tried).await;
                    }
                    if reports.send(report).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(interval).await;
                }
            }));
        }
    }
    drop(reports);
    let mut reconciler = Reconciler {
        config: config.clone(),
        matchers: config
            .matchers
            .iter()
            .enumerate()
            .map(|(index, m)| MatcherState {
                found: BTreeMap::new(),
                status: MatcherStatus {
                    index,
                    role: m.assume_role_arn.clone(),
                    ..MatcherStatus::default()
                },
            })
            .collect(),
        guard,
        describe: store.describe(),
    };
    let mut store_rx = store.watch();
    let first = reconciler.desired(&store_rx.borrow_and_update());
    let (desired_tx, desired_rx) = watch::channel(Arc::new(first));
    tasks.push(tokio::spawn(async move {
        reconciler.run(&mut store_rx, report_rx, desired_tx).await;
    }));
    (desired_rx, tasks)
}

/// Turn IAM database authentication on for every database of `report` found with it off, once per
/// database: a failure (a role without `rds:ModifyDBInstance`, say) is reported with the matcher's
/// other errors and not retried until the process restarts.
async fn enable_iam_auth(
    discoverer: &Discoverer,
    report: &mut MatcherReport,
    tried: &mut BTreeSet<String>,
) {
    for found in &report.databases {
        if !found.can_enable_iam_auth() || !tried.insert(found.database.name.clone()) {
            continue;
        }
        match discoverer.enable_iam_auth(found).await {
            Ok(()) => tracing::info!(
                database = %found.database.name,
                "turned IAM database authentication on (db_service.aws[].enable_iam_auth)"
            ),
            Err(error) => report.errors.push(error),
        }
    }
}

struct Reconciler {
    config: CatalogConfig,
    matchers: Vec<MatcherState>,
    guard: Option<EndpointGuard>,
    describe: String,
}

impl Reconciler {
    async fn run(
        &mut self,
        store_rx: &mut watch::Receiver<StoreState>,
        mut reports: mpsc::Receiver<MatcherReport>,
        desired_tx: watch::Sender<Arc<DesiredSet>>,
    ) {
        let mut reports_open = true;
        loop {
            tokio::select! {
                changed = store_rx.changed() => if changed.is_err() { return },
                report = reports.recv(), if reports_open => match report {
                    Some(report) => self.merge(report),
                    None => reports_open = false,
                },
            }
            let next = self.desired(&store_rx.borrow_and_update());
            desired_tx.send_if_modified(|current| {
                let changed = current.databases != next.databases
                    || format!("{:?}", current.status) != format!("{:?}", next.status);
                if changed {
                    log_changes(&current.databases, &next.databases);
                    *current = Arc::new(next);
                }
                changed
            });
        }
    }

    /// Take a matcher's new report: what it found replaces what it had, except in region/type
    /// scopes it could not list to the end (a throttled region or a role that cannot be assumed keeps
    /// what an earlier run found).
    fn merge(&mut self, report: MatcherReport) {
        let Some(state) = self.matchers.get_mut(report.matcher) else {
            return;
        };
        let mut found: BTreeMap<String, DiscoveredDatabase> = report
            .databases
            .iter()
            .map(|d| (d.database.name.clone(), d.clone()))
            .collect();
        for (name, old) in &state.found {
            if found.contains_key(name) {
                continue;
            }
            if report.is_complete(old.region(), old.kind) {
                if let Some(guard) = &self.guard {
                    guard.forget(&old.database);
                }
            } else {
                found.insert(name.clone(), old.clone());
            }
        }
        if let Some(guard) = &self.guard {
            for d in &report.databases {
                // Discovery saw this endpoint through the database's own role, in its account.
                guard.record_confirmed(&d.database);
            }
        }
        for error in &report.errors {
            tracing::warn!(matcher = report.matcher, error = %error, "discovery");
        }
        state.status.last_run = Some(SystemTime::now());
        state.status.errors = report.errors.iter().map(ToString::to_string).collect();
        state.status.failed = report.failed();
        state.status.databases = found.len();
        state.found = found;
    }

    /// Static, then discovered, then dynamic; the first of a name wins.
    fn desired(&self, store: &StoreState) -> DesiredSet {
        let mut databases = BTreeMap::new();
        for db in &self.config.static_databases {
            databases.insert(
                db.name.clone(),
                Arc::new(CatalogEntry {
                    database: db.clone(),
                    origin: Origin::Static,
                    source: None,
                }),
            );
        }
        for (index, m) in self.matchers.iter().enumerate() {
            for (name, found) in &m.found {
                databases.entry(name.clone()).or_insert_with(|| {
                    Arc::new(CatalogEntry {
                        database: found.database.clone(),
                        origin: Origin::Discovered,
                        source: Some(index),
                    })
                });
            }
        }
        let mut status = CatalogStatus {
            store: self.describe.clone(),
            store_health: store.health.clone(),
            store_loaded: store.loaded,
            matchers: self.matchers.iter().map(|m| m.status.clone()).collect(),
            ..CatalogStatus::default()
        };
        for (name, document) in store.resources.iter() {
            match admit(document.as_bytes(), &self.config.selectors) {
                Err(e) => {
                    status.rejected.insert(name.clone(), e.to_string());
                }
                Ok(Admitted::NotSelected { .. }) => {
                    status.not_selected.insert(name.clone());
                }
                Ok(Admitted::Served { database, selector }) => {
                    if database.name != *name {
                        status
                            .rejected
                            .insert(name.clone(), "stored under another name".into());
                    } else if let Some(taken) = databases.get(name) {
                        let why = format!("the name is taken by a {:?} database", taken.origin);
                        status.rejected.insert(name.clone(), why);
                    } else {
                        databases.insert(
                            name.clone(),
                            Arc::new(CatalogEntry {
                                database,
                                origin: Origin::Dynamic,
                                source: Some(selector),
                            }),
                        );
                    }
                }
            }
        }
        DesiredSet { databases, status }
    }
}

fn log_changes(
    before: &BTreeMap<String, Arc<CatalogEntry>>,
    after: &BTreeMap<String, Arc<CatalogEntry>>,
) {
    for (name, entry) in after {
        match before.get(name) {
            None => tracing::info!(database = %name, origin = ?entry.origin, "database added"),
            Some(old) if old != entry => {
                tracing::info!(database = %name, origin = ?entry.origin, "database changed");
            }
            Some(_) => {}
        }
    }
    for (name, entry) in before {
        if !after.contains_key(name) {
            tracing::info!(database = %name, origin = ?entry.origin, "database removed");
        }
    }
}
