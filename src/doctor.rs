//! `iamwire doctor [--config FILE] [DATABASE…]` and `iamwire run --check`: walk the path a session takes
//! for each database, one step at a time — the proxy's own AWS identity, each AssumeRole hop, the token or
//! credentials, DNS, TCP, TLS (certificate and name), and a login as a test user — and print one line per
//! step with ✓ or ✗, and the fix for the first failure. Steps after a failure are not tried: they would
//! only fail for the same reason.

mod aws;
mod login;
mod mysql;
mod net;
mod pg;

use std::path::{Path, PathBuf};
use std::time::Duration;

use iamwire_core::{Database, Protocol};

use crate::proxy_config::{self, Listener, LoadedConfig};

/// The config file `iamwire doctor` reads when none is given.
pub(crate) const DEFAULT_CONFIG: &str = "iamwire.yaml";

/// `iamwire doctor`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct DoctorArgs {
    /// The YAML config file `iamwire run` serves.
    #[arg(long, short, default_value = DEFAULT_CONFIG)]
    pub(crate) config: PathBuf,
    /// The database user to log in as (default: the first user the config's identities name literally).
    #[arg(long)]
    pub(crate) db_user: Option<String>,
    /// The database name to log in to, where the protocol has one (default: the first name the
    /// identities name literally, else `postgres`).
    #[arg(long)]
    pub(crate) db_name: Option<String>,
    /// The databases to check (names from `db_service.databases` that have a listener); all when none.
    pub(crate) databases: Vec<String>,
}

/// How one step went.
pub(crate) enum Step {
    /// It worked; what it found.
    Ok(String),
    /// It failed: what happened, and what to do about it.
    Failed {
        /// What failed, in one line.
        what: String,
        /// What to change.
        fix: String,
    },
    /// Not applicable to this database; why.
    NotChecked(String),
}

impl Step {
    /// A failure with its fix.
    pub(crate) fn failed(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::Failed {
            what: what.into(),
            fix: fix.into(),
        }
    }
}

/// Prints steps as they finish, and remembers whether any failed.
struct Report {
    failed: bool,
}

impl Report {
    /// Print `step` as `name`; `true` if the walk may go on.
    fn step(&mut self, name: &str, step: Step) -> bool {
        match step {
            Step::Ok(found) => println!("  ✓ {name}: {found}"),
            Step::NotChecked(why) => println!("  - {name}: not checked ({why})"),
            Step::Failed { what, fix } => {
                println!("  ✗ {name}: {what}");
                println!("    fix: {fix}");
                self.failed = true;
                return false;
            }
        }
        true
    }
}

/// `iamwire doctor`: check every selected database; `Err` (a non-zero exit) if any step failed.
pub(crate) fn run(args: &DoctorArgs) -> Result<String, String> {
    let loaded = match proxy_config::load(&args.config) {
        Ok(loaded) => loaded,
        Err(e) => {
            println!(
                "  ✗ config: {}",
                crate::config_messages::describe(&args.config, &e)
            );
            println!(
                "    fix: correct the file, then `iamwire check-config --config {}`",
                args.config.display()
            );
            return Err("the config file cannot be loaded".into());
        }
    };
    println!("  ✓ config: {} is valid", loaded.path.display());
    let listeners = select(&loaded, &args.databases)?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(check_all(&loaded, &listeners, args))
}

/// The listeners of the databases asked for, in config order; an unknown name is an error that lists
/// the known ones.
fn select<'a>(loaded: &'a LoadedConfig, names: &[String]) -> Result<Vec<&'a Listener>, String> {
    if loaded.listeners.is_empty() {
        return Err(format!(
            "{}: no listeners configured (proxy.listeners): there is nothing to check",
            loaded.path.display()
        ));
    }
    if names.is_empty() {
        return Ok(loaded.listeners.iter().collect());
    }
    names
        .iter()
        .map(|name| {
            loaded
                .listeners
                .iter()
                .find(|l| &l.database.name == name)
                .ok_or_else(|| {
                    let known: Vec<_> = loaded
                        .listeners
                        .iter()
                        .map(|l| l.database.name.as_str())
                        .collect();
                    format!(
                        "no listener serves database {name:?} (known: {})",
                        known.join(", ")
                    )
                })
        })
        .collect()
}

async fn check_all(
    loaded: &LoadedConfig,
    listeners: &[&Listener],
    args: &DoctorArgs,
) -> Result<String, String> {
    let env = crate::envfile::environment(loaded.aws.env_file.as_deref(), false)?;
    let mut report = Report { failed: false };
    let mut failed = Vec::new();
    for listener in listeners {
        let db = &listener.database;
        println!("database {} ({}) at {}", db.name, db.protocol, db.uri);
        let before = report.failed;
        report.failed = false;
        check_one(loaded, listener, &env, args, &mut report).await;
        if report.failed {
            failed.push(db.name.clone());
        }
        report.failed |= before;
    }
    if failed.is_empty() {
        Ok(format!(
            "all checks passed for {} database(s)\n",
            listeners.len()
        ))
    } else {
        Err(format!("checks failed for: {}", failed.join(", ")))
    }
}

/// Every step for one database, until the first failure.
async fn check_one(
    loaded: &LoadedConfig,
    listener: &Listener,
    env: &std::collections::BTreeMap<String, String>,
    args: &DoctorArgs,
    report: &mut Report,
) {
    let db = &listener.database;
    let user = args
        .db_user
        .clone()
        .or_else(|| first_literal(loaded, db, Users));
    let timeouts = loaded.timeouts;
    let Some(aws) = aws::Aws::start(loaded, env, timeouts.credentials, report).await else {
        return;
    };
    if !aws.hops(db, user.as_deref(), report).await {
        return;
    }
    let login = match aws.login(listener, env, user.as_deref(), report).await {
        Some(login) => login,
        None => return,
    };
    let Some(endpoint) = net::endpoint(listener, report) else {
        return;
    };
    let connect = timeouts.connect;
    let Some(addrs) = net::dns(&endpoint, connect, report).await else {
        return;
    };
    let Some(tcp) = net::tcp(&endpoint, &addrs, connect, report).await else {
        return;
    };
    let db_name = args
        .db_name
        .clone()
        .or_else(|| first_literal(loaded, db, Names));
    match db.protocol {
        Protocol::MySql => {
            let dir = loaded.path.parent().unwrap_or_else(|| Path::new(""));
            drop(tcp);
            let name = db_name.as_deref();
            mysql::tls_and_login(db, dir, &endpoint, login, name, timeouts.login, report).await;
        }
        Protocol::Postgres => {
            let db_name = db_name.unwrap_or_else(|| "postgres".to_owned());
            let Some(tls) = pg::tls(db, &endpoint, tcp, connect, report).await else {
                return;
            };
            if let Some(login) = login {
                report.step(
                    "login",
                    pg::login(db, tls, login, &db_name, timeouts.login).await,
                );
            }
        }
        Protocol::Redis | Protocol::Cassandra | Protocol::MongoDb => {
            let Some(mut upstream) = login::tls(db, &endpoint, tcp, connect, report).await else {
                return;
            };
            if let Some(login) = login {
                let step = login::session(db, &mut upstream, login, timeouts.login).await;
                report.step("login", step);
            }
            drop(upstream);
        }
        Protocol::DynamoDb | Protocol::OpenSearch => {
            if net::direct_tls(db, &endpoint, tcp, connect, report).await {
                let roles = aws.roles();
                let limit = timeouts.login.max(timeouts.credentials);
                let step = login::http(loaded, listener, env, roles, user.as_deref(), limit).await;
                report.step("login", step);
            }
        }
        _ => {
            report.step(
                "TLS",
                Step::NotChecked(format!(
                    "{} negotiates TLS inside its handshake, which iamwire doctor does not speak yet",
                    db.protocol
                )),
            );
        }
    }
}

/// Which list of an identity's rules [`first_literal`] reads.
#[derive(Clone, Copy)]
enum Which {
    Users,
    Names,
}
use Which::{Names, Users};

/// The first database user (or name) that an identity allowed on `db` names without wildcards.
fn first_literal(loaded: &LoadedConfig, db: &Database, which: Which) -> Option<String> {
    loaded
        .identities
        .iter()
        .filter(|rules| rules.covers(&db.labels))
        .flat_map(|rules| match which {
            Users => rules.db_users.iter(),
            Names => rules.db_names.iter(),
        })
        .find(|glob| glob.is_literal() && !glob.as_str().contains("{{"))
        .map(|glob| glob.as_str().to_owned())
}

/// The `rds-db:connect` resource for `user` on `db` (placeholders where the config does not say).
pub(crate) fn rds_connect_arn(db: &Database, user: &str) -> String {
    let aws = &db.aws;
    let region = aws.region.as_deref().unwrap_or("REGION");
    let account = aws.account_id.as_deref().unwrap_or("ACCOUNT");
    let resource = aws
        .rds
        .as_ref()
        .and_then(|r| r.resource_id.as_deref())
        .or_else(|| {
            aws.rds_proxy
                .as_ref()
                .and_then(|p| p.resource_id.as_deref())
        })
        .unwrap_or("RESOURCE_ID");
    format!("arn:aws:rds-db:{region}:{account}:dbuser:{resource}/{user}")
}

/// `run --check`: the doctor for every database of `config`.
pub(crate) fn check_before_run(config: &Path) -> Result<String, String> {
    run(&DoctorArgs {
        config: config.to_path_buf(),
        db_user: None,
        db_name: None,
        databases: Vec::new(),
    })
}

/// A bound on a step that waits for a peer: `Err` names how long it waited.
pub(crate) async fn within<T>(
    limit: Duration,
    future: impl std::future::Future<Output = T>,
) -> Result<T, String> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| format!("no answer within {limit:?}"))
}
