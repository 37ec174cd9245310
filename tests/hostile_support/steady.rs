//! The healthy side: real clients (tokio-postgres, mysql_async, redis-rs, pymongo, the DataStax Python
//! driver, boto3) logging in through the proxy,
//! and one session per protocol running a query every 50 ms for as long as the attacks last.

use std::ffi::OsString;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use iamwire_testkit::PemFiles;
use mysql_async::prelude::Queryable;
use tokio::task::JoinHandle;

use super::{BOUND, Rig};
use crate::e2e_run_support::{client_tls, pg_config};
use crate::my_support::{Login, async_conn};
use crate::redis_support::tls_client;

/// A fresh tokio-postgres session as `iam_user` on `app`.
pub(crate) async fn pg_login(rig: &Rig) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = pg_config(rig.ports[0])
        .connect(client_tls(rig.dir(), "alice"))
        .await?;
    tokio::spawn(connection);
    Ok(client)
}

/// How mysql_async logs in as `iam_user` on `app` with alice's certificate.
pub(crate) fn my_login(rig: &Rig) -> Login {
    my_login_at(rig, rig.ports[1])
}

/// [`my_login`] through the listener on `port`.
pub(crate) fn my_login_at(rig: &Rig, port: u16) -> Login {
    let files = PemFiles {
        cert: rig.file("alice.crt"),
        key: rig.file("alice.key"),
        ca: rig.file("ca.crt"),
    };
    Login::mtls(
        SocketAddr::from(([127, 0, 0, 1], port)),
        super::IAM_USER,
        &files,
    )
}

/// A fresh mysql_async session.
pub(crate) async fn my_session(rig: &Rig) -> Result<mysql_async::Conn, mysql_async::Error> {
    async_conn(&my_login(rig)).await
}

/// A fresh redis-rs session as `admin`.
pub(crate) async fn redis_session(
    rig: &Rig,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    tls_client(rig.ports[2], rig.dir(), "alice", "admin").await
}

/// One query per protocol on fresh sessions; `Err` says which failed and how.
pub(crate) async fn fresh_logins(rig: &Rig) -> Result<(), String> {
    let pg = pg_login(rig)
        .await
        .map_err(|e| format!("postgres: {e:?}"))?;
    let one: i32 = pg
        .query_one("SELECT 1", &[])
        .await
        .map_err(|e| format!("postgres: {e:?}"))?
        .get(0);
    assert_eq!(one, 1);
    let mut my = my_session(rig).await.map_err(|e| format!("mysql: {e:?}"))?;
    let one: Option<u32> = my
        .query_first("SELECT 1")
        .await
        .map_err(|e| format!("mysql: {e:?}"))?;
    assert_eq!(one, Some(1));
    let _ = my.disconnect().await;
    let mut cache = redis_session(rig)
        .await
        .map_err(|e| format!("redis: {e:?}"))?;
    let pong: String = redis::cmd("PING")
        .query_async(&mut cache)
        .await
        .map_err(|e| format!("redis: {e:?}"))?;
    assert_eq!(pong, "PONG");
    for (protocol, (script, args)) in [
        ("mongodb", super::mongo::pymongo(rig)),
        ("cql", super::cql::driver(rig)),
        ("dynamodb", super::http::boto3(rig)),
    ] {
        let once = python_loop(script, &args, &rig.file("once.stop"));
        let (queries, errors) = tokio::task::spawn_blocking(move || finish(once))
            .await
            .expect("python thread");
        if queries != 1 || !errors.is_empty() {
            return Err(format!("{protocol}: {errors:?}"));
        }
    }
    Ok(())
}

/// The loop around a Python client's `once()` (its script, between [`PYTHON_HEAD`] and this, defines it
/// from `ARGS`): call it every 50 ms
/// until the file `STOP` exists (once, if it already does); print `{"queries": n, "errors": [...]}`.
const PYTHON_HEAD: &str = r#"
import json, os, sys, time
STOP, ARGS = sys.argv[1], sys.argv[2:]
"#;
const PYTHON_LOOP: &str = r#"
queries, errors = 0, []
while True:
    try:
        once()
        queries += 1
    except Exception as e:
        errors.append(repr(e))
    if os.path.exists(STOP):
        break
    time.sleep(0.05)
print(json.dumps({"queries": queries, "errors": errors}))
"#;

/// Start `script`'s `once()` in [`PYTHON_LOOP`] with `args`, until the file `stop` exists.
pub(crate) fn python_loop(script: &str, args: &[OsString], stop: &Path) -> Child {
    let program = [PYTHON_HEAD, script, PYTHON_LOOP].concat();
    Command::new(iamwire_testkit::python())
        .args(["-c", &program])
        .arg(stop)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the venv's python")
}

/// Wait for a [`python_loop`] (after its stop file exists): (queries, errors).
pub(crate) fn finish(child: Child) -> (u64, Vec<String>) {
    let out = child.wait_with_output().expect("python loop");
    let text = String::from_utf8_lossy(&out.stdout);
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text.trim()) else {
        panic!(
            "python loop: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let errors = v["errors"]
        .as_array()
        .map(|a| a.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    (v["queries"].as_u64().unwrap_or(0), errors)
}

/// What one steady session did.
#[derive(Debug)]
pub(crate) struct Tally {
    pub(crate) protocol: &'static str,
    pub(crate) queries: u64,
    pub(crate) errors: Vec<String>,
}

/// The steady sessions, one per protocol, until [`stop`](Self::stop).
pub(crate) struct Steady {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<Tally>>,
    /// The Python clients' loops (pymongo, the DataStax driver, boto3: the real clients here are
    /// Python's) and
    /// their stop file.
    python: (Vec<(&'static str, Child)>, PathBuf),
}

/// Run `query` every 50 ms until `stop`, each answer within [`BOUND`].
fn spawn_loop<F, Fut>(
    protocol: &'static str,
    stop: Arc<AtomicBool>,
    mut query: F,
) -> JoinHandle<Tally>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    tokio::spawn(async move {
        let mut tally = Tally {
            protocol,
            queries: 0,
            errors: Vec::new(),
        };
        while !stop.load(Ordering::Relaxed) {
            match tokio::time::timeout(BOUND, query()).await {
                Ok(Ok(())) => tally.queries += 1,
                Ok(Err(e)) => tally.errors.push(e),
                Err(_) => tally.errors.push(format!("no answer within {BOUND:?}")),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tally
    })
}

impl Steady {
    /// Log in once per protocol and start the loops.
    pub(crate) async fn start(rig: &Rig) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let pg = Arc::new(pg_login(rig).await.expect("steady postgres session"));
        let my = Arc::new(tokio::sync::Mutex::new(
            my_session(rig).await.expect("steady mysql session"),
        ));
        let cache = redis_session(rig).await.expect("steady redis session");
        let tasks = vec![
            spawn_loop("postgres", stop.clone(), move || {
                let pg = pg.clone();
                async move {
                    let row = pg
                        .query_one("SELECT 1", &[])
                        .await
                        .map_err(|e| format!("{e:?}"))?;
                    (row.get::<_, i32>(0) == 1)
                        .then_some(())
                        .ok_or_else(|| "not 1".into())
                }
            }),
            spawn_loop("mysql", stop.clone(), move || {
                let my = my.clone();
                async move {
                    let one: Option<u32> = my
                        .lock()
                        .await
                        .query_first("SELECT 1")
                        .await
                        .map_err(|e| format!("{e:?}"))?;
                    (one == Some(1)).then_some(()).ok_or_else(|| "not 1".into())
                }
            }),
            spawn_loop("redis", stop.clone(), move || {
                let mut cache = cache.clone();
                async move {
                    let pong: String = redis::cmd("PING")
                        .query_async(&mut cache)
                        .await
                        .map_err(|e| format!("{e:?}"))?;
                    (pong == "PONG").then_some(()).ok_or(pong)
                }
            }),
        ];
        let stop_file = rig.file("steady.stop");
        let mut loops = Vec::new();
        for (protocol, (script, args)) in [
            ("mongodb", super::mongo::pymongo(rig)),
            ("cql", super::cql::driver(rig)),
            ("dynamodb", super::http::boto3(rig)),
        ] {
            loops.push((protocol, python_loop(script, &args, &stop_file)));
        }
        Self {
            stop,
            tasks,
            python: (loops, stop_file),
        }
    }

    /// Stop the loops and return what each did.
    pub(crate) async fn stop(self) -> Vec<Tally> {
        self.stop.store(true, Ordering::Relaxed);
        let mut tallies = Vec::new();
        for task in self.tasks {
            tallies.push(task.await.expect("a steady loop panicked"));
        }
        let (loops, stop_file) = self.python;
        std::fs::write(&stop_file, "").expect("write the stop file");
        for (protocol, child) in loops {
            let (queries, errors) = tokio::task::spawn_blocking(move || finish(child))
                .await
                .expect("python thread");
            tallies.push(Tally {
                protocol,
                queries,
                errors,
            });
        }
        tallies
    }
}
