//! Dynamic databases served by `iamwire run`, through the real binary against the rig (moto with a
//! cross-account role and external ID, an RDS-like PostgreSQL that takes only IAM tokens checked by
//! botocore): `iamwire db create` → a client logs in at once on the port `catalog.listen` gives it;
//! the resource survives a restart; `db rm` refuses new sessions. Then three replicas sharing one
//! PostgreSQL store: a database created through one is served by the other two within about a second,
//! a removal likewise; with the store's server gone they keep serving and say they are not ready; when
//! it returns they catch up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e_run_support::{ALLOWED_CLIENT, EXTERNAL_ID, Options, Proxy, Stack, admin, both};
use iamwire_testkit::TestCa;
use iamwire_testkit::postgres::{IAM_USER, PgOptions, Postgres};

const ADMIN: &str = "ops";
/// Much longer than anything should take on a loaded machine; only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(60);
/// How many ports each replica's `catalog.listen` holds.
const RANGE: u16 = e2e_run_support::CATALOG_RANGE;

fn port_range() -> u16 {
    e2e_run_support::catalog_ports()
}

/// The stack with an admin address, a resource selector for `env: dyn` (giving matching resources the
/// rig's role and external ID), and `catalog` settings `catalog` (YAML lines under `catalog:`).
fn stack_with_catalog(catalog: &str) -> Stack {
    let mut stack = Stack::with(Options {
        proxy_extra: format!("  admin:\n    listen: 127.0.0.1:0\n    identities: [{ADMIN}]"),
        ..Options::default()
    });
    stack.issue_client(ADMIN);
    let role = stack.cross.role_arn.clone();
    let text = std::fs::read_to_string(stack.config_path()).unwrap();
    let text = format!(
        "{text}  resources:\n  - labels: {{env: dyn}}\n    aws:\n      assume_role_arn: \"{role}\"\n      external_id: \"{EXTERNAL_ID}\"\ncatalog:\n{catalog}"
    );
    std::fs::write(stack.config_path(), text).unwrap();
    stack.restart_proxy();
    stack
}

/// A `kind: db` document for the rig's PostgreSQL under the name `name`.
fn resource(stack: &Stack, name: &str) -> PathBuf {
    let account = stack.cross.role_arn.split(':').nth(4).unwrap().to_owned();
    let path = stack.file(&format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "kind: db\nversion: v3\nmetadata:\n  name: {name}\n  labels: {{env: dyn}}\nspec:\n  protocol: postgres\n  uri: \"localhost:{}\"\n  tls:\n    mode: verify-full\n    ca_cert_file: db-ca.crt\n  aws:\n    region: {}\n    account_id: \"{account}\"\n    rds: {{resource_id: \"{}\"}}\n",
            stack.pg.port(),
            e2e_run_support::REGION,
            e2e_run_support::RESOURCE_ID,
        ),
    )
    .unwrap();
    path
}

/// `iamwire db create <doc>` through `proxy`'s admin address, which must succeed.
fn create(stack: &Stack, proxy: &Proxy, doc: &Path) {
    let out = admin::cli(
        proxy,
        stack.dir(),
        ADMIN,
        &["db", "create", doc.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", both(&out));
}

/// Log in through `port` as the rig's IAM user and run `select current_user`.
async fn login(stack: &Stack, port: u16) -> Result<String, String> {
    let config = stack.tokio_pg_config(port);
    let connect = config.connect(stack.tokio_pg_tls(ALLOWED_CLIENT));
    let (client, connection) = tokio::time::timeout(PATIENCE, connect)
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let row = client
        .query_one("select current_user", &[])
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

/// Where `proxy` serves `name`, once it says so on stdout.
fn port_of(proxy: &Proxy, name: &str) -> u16 {
    let addr = proxy.wait_listen(name);
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// Poll until `check` holds (returns how long it took) or `PATIENCE` passes.
async fn until<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_database_is_served_at_once_survives_a_restart_and_db_rm_refuses_new_sessions() {
    let first = port_range();
    let mut stack = stack_with_catalog(&format!(
        "  listen: 127.0.0.1:{first}-{}\n  unknown_hosts: loopback\n",
        first + RANGE - 1
    ));
    let doc = resource(&stack, "orders");
    create(&stack, &stack.proxy, &doc);
    // Served once create returns: the first login needs no retry.
    let port = port_of(&stack.proxy, "orders");
    assert!((first..first + RANGE).contains(&port), "{port}");
    assert_eq!(login(&stack, port).await.unwrap(), IAM_USER);
    let ls = admin::cli(&stack.proxy, stack.dir(), ADMIN, &["db", "ls"]);
    let text = both(&ls);
    assert!(
        ls.status.success() && text.contains("orders") && text.contains(&port.to_string()),
        "{text}"
    );

    // One that cannot be served (no CA to verify it with) says why in db ls; the others go on.
    let bare = stack.file("bare.yaml");
    let text = std::fs::read_to_string(resource(&stack, "bare")).unwrap();
    std::fs::write(&bare, text.replace("    ca_cert_file: db-ca.crt\n", "")).unwrap();
    create(&stack, &stack.proxy, &bare);
    let ls = admin::cli(&stack.proxy, stack.dir(), ADMIN, &["db", "ls"]);
    let text = both(&ls);
    assert!(
        text.contains("not served: its tls settings name no CA"),
        "{text}"
    );
    assert_eq!(login(&stack, port).await.unwrap(), IAM_USER);

    // A reload that changes the catalog's settings starts a new catalog; orders goes on serving on
    // its port meanwhile, and db ls still says where.
    let text = std::fs::read_to_string(stack.config_path()).unwrap();
    std::fs::write(
        stack.config_path(),
        text.replace(
            "  unknown_hosts: loopback\n",
            "  unknown_hosts: loopback\n  discovery_interval: 7m\n",
        ),
    )
    .unwrap();
    stack.proxy.signal("HUP");
    stack.proxy.wait_stderr("configuration reloaded");
    assert_eq!(login(&stack, port).await.unwrap(), IAM_USER);
    until("db ls to show orders' port after the reload", || async {
        let ls = admin::cli(&stack.proxy, stack.dir(), ADMIN, &["db", "ls"]);
        both(&ls).contains(&format!("127.0.0.1:{port}"))
    })
    .await;

    // Kept in the store: served again after a restart, on the same port.
    stack.restart_proxy();
    assert_eq!(port_of(&stack.proxy, "orders"), port);
    until("orders after a restart", || async {
        login(&stack, port).await.is_ok()
    })
    .await;

    // Removed: a live session goes on, new ones are refused.
    let live = stack
        .tokio_pg_config(port)
        .connect(stack.tokio_pg_tls(ALLOWED_CLIENT))
        .await;
    let (live, connection) = live.unwrap();
    tokio::spawn(connection);
    let out = admin::cli(&stack.proxy, stack.dir(), ADMIN, &["db", "rm", "orders"]);
    assert!(out.status.success(), "{}", both(&out));
    let refused = login(&stack, port).await;
    assert!(refused.is_err(), "{refused:?}");
    let row = live.query_one("select 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
}

/// A replica of the stack's proxy with its own config (its own `catalog.listen` range starting at
/// `first`), sharing the store in `dsn_file`.
fn replica(stack: &Stack, index: usize, first: u16, dsn_file: &Path, ca: &Path) -> Proxy {
    let base = std::fs::read_to_string(stack.config_path()).unwrap();
    let base = base.split("catalog:\n").next().unwrap().to_owned();
    let config = stack.file(&format!("replica{index}.yaml"));
    std::fs::write(
        &config,
        format!(
            "{base}catalog:\n  listen: 127.0.0.1:{first}-{}\n  unknown_hosts: loopback\n  store:\n    postgres:\n      dsn_file: {}\n      ca_file: {}\n",
            first + RANGE - 1,
            dsn_file.display(),
            ca.display()
        ),
    )
    .unwrap();
    let home = stack.file(&format!("home{index}"));
    std::fs::create_dir_all(&home).unwrap();
    Proxy::spawn(&config, &home, &[], &[])
}

fn ready(stack: &Stack, proxy: &Proxy) -> (u64, String) {
    let got = admin::get(proxy, stack.dir(), "/readyz", None);
    (
        got["status"].as_u64().unwrap(),
        got["body"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_one_postgresql_store() {
    let first = port_range();
    let stack = stack_with_catalog(&format!(
        "  listen: 127.0.0.1:{first}-{}\n  unknown_hosts: loopback\n",
        first + RANGE - 1
    ));
    // The store: another PostgreSQL, SCRAM over TLS.
    let ca = TestCa::new().unwrap();
    let store = Postgres::start(&ca, PgOptions::default()).unwrap();
    store
        .sql("CREATE DATABASE iamwire OWNER scram_user")
        .unwrap();
    let dsn = stack.file("store.dsn");
    std::fs::write(
        &dsn,
        format!(
            "host=localhost port={} user=scram_user password=scram-pass dbname=iamwire sslmode=require",
            store.port()
        ),
    )
    .unwrap();
    let replicas: Vec<(Proxy, u16)> = (0..3)
        .map(|i| {
            let start = port_range();
            (replica(&stack, i, start, &dsn, &store.tls().ca), start)
        })
        .collect();
    // Ready once each has read the store and obtained its credentials.
    for (proxy, _) in &replicas {
        until("a replica to be ready", || async {
            ready(&stack, proxy).0 == 200
        })
        .await;
    }

    // Created through replica 1: replicas 2 and 3 serve it, on the same slot of their ranges.
    let doc = resource(&stack, "orders");
    let (one, one_first) = &replicas[0];
    create(&stack, one, &doc);
    let created = Instant::now();
    let slot = port_of(one, "orders") - one_first;
    for (proxy, start) in &replicas[1..] {
        let port = start + slot;
        until("orders on another replica", || async {
            login(&stack, port).await.is_ok()
        })
        .await;
        assert_eq!(port_of(proxy, "orders"), port);
    }
    eprintln!(
        "db create on replica 1 -> logins through replicas 2 and 3 after {:?}",
        created.elapsed()
    );

    // Removed through replica 2: replicas 1 and 3 refuse new sessions.
    let (two, _) = &replicas[1];
    let out = admin::cli(two, stack.dir(), ADMIN, &["db", "rm", "orders"]);
    assert!(out.status.success(), "{}", both(&out));
    let removed = Instant::now();
    for (_, start) in [&replicas[0], &replicas[2]] {
        let port = start + slot;
        until("orders gone", || async {
            login(&stack, port).await.is_err()
        })
        .await;
    }
    eprintln!(
        "db rm on replica 2 -> refused through replicas 1 and 3 after {:?}",
        removed.elapsed()
    );

    // Another database, then the store's server dies: every replica keeps serving it, not ready.
    let doc = resource(&stack, "ledger");
    create(&stack, one, &doc);
    let slot = port_of(one, "ledger") - one_first;
    for (_, start) in &replicas {
        let port = start + slot;
        until("ledger everywhere", || async {
            login(&stack, port).await.is_ok()
        })
        .await;
    }
    // The rig's PostgreSQL runs with synchronous_commit off (speed): make what was committed durable
    // before the kill, as a real server's commits are.
    store.sql("CHECKPOINT").unwrap();
    store.kill().unwrap();
    for (proxy, start) in &replicas {
        until("not ready without the store", || async {
            ready(&stack, proxy).0 == 503
        })
        .await;
        let (_, body) = ready(&stack, proxy);
        assert!(body.contains("resource store"), "{body}");
        assert_eq!(login(&stack, start + slot).await.unwrap(), IAM_USER);
    }
    let out = admin::cli(one, stack.dir(), ADMIN, &["db", "rm", "ledger"]);
    assert!(!out.status.success(), "{}", both(&out));

    // Back: ready again, and changes flow again.
    store.restart().unwrap();
    for (proxy, _) in &replicas {
        until("ready with the store back", || async {
            ready(&stack, proxy).0 == 200
        })
        .await;
    }
    let out = admin::cli(&replicas[2].0, stack.dir(), ADMIN, &["db", "rm", "ledger"]);
    assert!(out.status.success(), "{}", both(&out));
    for (_, start) in &replicas {
        let port = start + slot;
        until("ledger gone after the outage", || async {
            login(&stack, port).await.is_err()
        })
        .await;
    }
}
