//! The operator surface of `iamwire run`, through the real binary against the rig (moto with a
//! cross-account role and external ID, an RDS-like PostgreSQL that takes only IAM tokens): the admin
//! address (`/readyz`, `/metrics` read with the Prometheus project's own parser, the admin API and
//! `iamwire sessions|db`), SIGHUP reloads, and unix-socket listeners.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;

use std::process::Command;
use std::time::{Duration, Instant};

use e2e_run_support::{ALLOWED_CLIENT, Login, Options, Stack, admin, both, psycopg_login};
use iamwire_testkit::moto::{DATABASE_ACCOUNT, trust_policy};
use iamwire_testkit::postgres::IAM_USER;
use serde_json::Value;

const DATABASE: &str = "e2e-postgres";
/// The admin identity the tests configure (a client certificate from the proxy's CA).
const ADMIN: &str = "ops";
/// Much longer than anything should take on a loaded machine; only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(90);

fn admin_options(external_id: Option<&str>) -> Options {
    Options {
        external_id: external_id.map(str::to_owned),
        proxy_extra: format!("  admin:\n    listen: 127.0.0.1:0\n    identities: [{ADMIN}]"),
        ..Options::default()
    }
}

fn get(stack: &Stack, path: &str, client: Option<&str>) -> Value {
    admin::get(&stack.proxy, stack.dir(), path, client)
}

fn admin_cli(stack: &Stack, client: &str, args: &[&str]) -> std::process::Output {
    admin::cli(&stack.proxy, stack.dir(), client, args)
}

/// The value of the first sample named `name` whose labels include every pair of `labels`.
fn sample(metrics: &Value, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics["samples"].as_array().unwrap().iter().find_map(|s| {
        let matches = s[0] == name && labels.iter().all(|(k, v)| s[1][*k] == *v);
        matches.then(|| s[2].as_f64().unwrap())
    })
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn readyz_is_not_ready_while_the_role_cannot_be_assumed_and_ready_once_its_trust_is_fixed() {
    // The config gives an external ID the role's trust policy does not accept (yet).
    let stack = Stack::with(admin_options(Some("ext-new")));
    assert_eq!(get(&stack, "/livez", None)["status"], 200);
    wait_until("/readyz to report the role", || {
        let ready = get(&stack, "/readyz", None);
        ready["status"] == 503
            && ready["body"]
                .as_str()
                .unwrap()
                .contains(&format!("not ready: {DATABASE}: cannot get credentials"))
    });
    assert!(matches!(
        psycopg_login(&stack.dsn(ALLOWED_CLIENT)),
        Login::Refused { .. }
    ));
    // The database account's administrator changes the trust policy to the new external ID.
    let fixed = trust_policy(&stack.cross.proxy.arn, Some("ext-new"));
    stack
        .moto
        .apply_policies(&[serde_json::json!({"account": DATABASE_ACCOUNT,
            "attach_to": stack.cross.role_arn, "kind": "trust", "name": "trust", "document": fixed})])
        .unwrap();
    wait_until("/readyz to become ready without a restart", || {
        get(&stack, "/readyz", None)["status"] == 200
    });
    match psycopg_login(&stack.dsn(ALLOWED_CLIENT)) {
        Login::User(user) => assert_eq!(user, IAM_USER),
        refused => panic!("{refused:?}"),
    }
}

#[test]
fn metrics_after_a_psql_session_show_the_session_its_phases_the_sts_calls_and_the_token() {
    let stack = Stack::with(admin_options(None));
    match psycopg_login(&stack.dsn(ALLOWED_CLIENT)) {
        Login::User(user) => assert_eq!(user, IAM_USER),
        refused => panic!("{refused:?}"),
    }
    let db = [("database", DATABASE), ("protocol", "postgres")];
    let mut metrics = Value::Null;
    wait_until("the session to end and be counted", || {
        metrics = get(&stack, "/metrics", None);
        sample(&metrics, "iamwire_sessions_active", &db) == Some(0.0)
    });
    let accepted = [db[0], db[1], ("outcome", "accepted")];
    assert!(
        sample(&metrics, "iamwire_sessions_total", &accepted) >= Some(1.0),
        "{metrics}"
    );
    for phase in ["client_handshake", "credentials", "connect", "login"] {
        let labels = [db[0], ("phase", phase)];
        let count = sample(&metrics, "iamwire_phase_duration_seconds_count", &labels);
        assert!(count >= Some(1.0), "{phase}: {metrics}");
        let inf = [db[0], ("phase", phase), ("le", "+Inf")];
        assert_eq!(
            sample(&metrics, "iamwire_phase_duration_seconds_bucket", &inf),
            count
        );
    }
    let up = [db[0], ("direction", "up")];
    assert!(sample(&metrics, "iamwire_relayed_bytes_total", &up) > Some(0.0));
    let role = [("role", stack.cross.role_arn.as_str())];
    assert!(
        sample(&metrics, "iamwire_sts_calls_total", &role) >= Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "iamwire_sts_failures_total", &role),
        Some(0.0)
    );
    assert!(sample(&metrics, "iamwire_tokens_total", &[("result", "minted")]) >= Some(1.0));
    assert_eq!(
        sample(&metrics, "iamwire_database_credentials_ready", &db),
        Some(1.0)
    );
}

#[test]
fn the_admin_api_lists_and_ends_a_live_session_for_admins_only() {
    let stack = Stack::with(admin_options(None));
    stack.issue_client(ADMIN);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(stack.tokio_pg(ALLOWED_CLIENT, IAM_USER, Some("app")))
        .unwrap();
    rt.block_on(client.simple_query("SELECT 1")).unwrap();

    // Health needs no certificate; the admin API does, and only an admin's.
    assert_eq!(get(&stack, "/v1/sessions", None)["status"], 401);
    assert_eq!(
        get(&stack, "/v1/sessions", Some(ALLOWED_CLIENT))["status"],
        403
    );
    let out = admin_cli(&stack, ALLOWED_CLIENT, &["sessions", "ls"]);
    assert!(!out.status.success(), "{}", both(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{}",
        both(&out)
    );

    let out = admin_cli(&stack, ADMIN, &["sessions", "ls", "--json"]);
    assert!(out.status.success(), "{}", both(&out));
    let sessions: Value = serde_json::from_slice(&out.stdout).unwrap();
    let session = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["identity"] == ALLOWED_CLIENT)
        .unwrap_or_else(|| panic!("{sessions}"));
    assert_eq!(session["db_user"], IAM_USER);
    assert_eq!(session["database"], DATABASE);
    let id = session["id"].to_string();
    let table = admin_cli(&stack, ADMIN, &["sessions", "ls"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains(ALLOWED_CLIENT));

    let out = admin_cli(&stack, ADMIN, &["sessions", "kill", DATABASE, &id]);
    assert!(out.status.success(), "{}", both(&out));
    let ended = rt
        .block_on(async { tokio::time::timeout(PATIENCE, client.simple_query("SELECT 1")).await });
    assert!(
        matches!(ended, Ok(Err(_))),
        "the session still answers: {ended:?}"
    );
    let out = admin_cli(&stack, ADMIN, &["sessions", "kill", DATABASE, &id]);
    assert!(!out.status.success(), "killing it twice: {}", both(&out));

    // Pause refuses new sessions (57P03, as a starting-up Postgres does); resume lets them in.
    let out = admin_cli(&stack, ADMIN, &["db", "pause", DATABASE]);
    assert!(out.status.success(), "{}", both(&out));
    match psycopg_login(&stack.dsn(ALLOWED_CLIENT)) {
        Login::Refused { sqlstate, .. } => assert_eq!(sqlstate, "57P03"),
        other => panic!("{other:?}"),
    }
    let listed = admin_cli(&stack, ADMIN, &["db", "ls"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("paused"),
        "{}",
        both(&listed)
    );
    assert!(
        admin_cli(&stack, ADMIN, &["db", "resume", DATABASE])
            .status
            .success()
    );
    assert!(matches!(
        psycopg_login(&stack.dsn(ALLOWED_CLIENT)),
        Login::User(_)
    ));
}

/// The config with `edit` applied to its text.
fn rewrite(stack: &Stack, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(stack.config_path()).unwrap();
    std::fs::write(stack.config_path(), edit(text)).unwrap();
}

/// A second database on the same server, with its own listener.
fn add_second_database(text: String, listen: &str) -> String {
    let second = text
        .split_once("  - name: e2e-postgres\n")
        .map(|(_, db)| format!("  - name: second\n{db}"))
        .unwrap();
    text.replace(
        "  listeners:\n",
        &format!("  listeners:\n    - database: second\n      listen: \"{listen}\"\n"),
    ) + &second
}

#[test]
fn sighup_adds_a_database_while_a_session_runs_and_a_broken_file_keeps_the_old_config() {
    let stack = Stack::with(admin_options(None));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(stack.tokio_pg(ALLOWED_CLIENT, IAM_USER, Some("app")))
        .unwrap();
    rt.block_on(client.simple_query("SELECT 1")).unwrap();

    rewrite(&stack, |text| add_second_database(text, "127.0.0.1:0"));
    stack.proxy.signal("HUP");
    let addr = stack.proxy.wait_listen("second");
    let port = addr.rsplit(':').next().unwrap();
    let second = stack
        .dsn(ALLOWED_CLIENT)
        .replace(&format!("port={}", stack.port()), &format!("port={port}"));
    match psycopg_login(&second) {
        Login::User(user) => assert_eq!(user, IAM_USER),
        refused => panic!("the added database: {refused:?}\n{}", stack.proxy.stderr()),
    }
    // The session opened before the reload never noticed.
    rt.block_on(client.simple_query("SELECT 2")).unwrap();

    // A broken file: refused with a log line; both databases keep serving.
    rewrite(&stack, |text| {
        text.replace("  listeners:\n", "  listeners:\n   - broken: [\n")
    });
    stack.proxy.signal("HUP");
    let stderr = stack.proxy.wait_stderr("configuration reload refused");
    assert!(stderr.contains("configuration reload refused"), "{stderr}");
    assert!(matches!(psycopg_login(&second), Login::User(_)));
    assert!(matches!(
        psycopg_login(&stack.dsn(ALLOWED_CLIENT)),
        Login::User(_)
    ));
    rt.block_on(client.simple_query("SELECT 3")).unwrap();
    let metrics = get(&stack, "/metrics", None);
    assert_eq!(
        sample(
            &metrics,
            "iamwire_config_reloads_total",
            &[("result", "refused")]
        ),
        Some(1.0)
    );
}

#[test]
fn a_unix_socket_listener_serves_psql_as_the_os_user() {
    let stack = Stack::with(admin_options(None));
    let sockets = stack.file("sockets");
    std::fs::create_dir(&sockets).unwrap();
    let me = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let me = me.trim().to_owned();
    let socket = sockets.join(".s.PGSQL.5432");
    rewrite(&stack, |text| {
        let text = add_second_database(text, &format!("unix:{}", socket.display()));
        text.replace(
            "  identities:\n",
            &format!(
                "  identities:\n    - name: {me}\n      db_labels: {{\"*\": \"*\"}}\n      db_users: [\"{IAM_USER}\"]\n      db_names: [\"*\"]\n"
            ),
        )
    });
    stack.proxy.signal("HUP");
    assert!(stack.proxy.wait_listen("second").starts_with("unix:"));
    let dsn = format!(
        "host={} port=5432 user={IAM_USER} dbname=app connect_timeout=30",
        sockets.display()
    );
    match psycopg_login(&dsn) {
        Login::User(user) => assert_eq!(user, IAM_USER),
        refused => panic!("{refused:?}\n{}", stack.proxy.stderr()),
    }
    // The socket is the proxy user's only (0600 unless socket_mode says otherwise).
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn settings_come_from_flags_over_iamwire_variables_over_the_file() {
    // The file has no admin section and the default 30 s drain; a variable adds the admin address, and a
    // flag's drain time wins over the variable's.
    let stack = Stack::with(Options {
        args: vec!["--shutdown-timeout".into(), "1s".into()],
        env: vec![
            ("IAMWIRE_SHUTDOWN_TIMEOUT".into(), "10m".into()),
            ("IAMWIRE_ADMIN_LISTEN".into(), "127.0.0.1:0".into()),
        ],
        ..Options::default()
    });
    assert_eq!(get(&stack, "/livez", None)["status"], 200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(stack.tokio_pg(ALLOWED_CLIENT, IAM_USER, Some("app")))
        .unwrap();
    let long = rt.spawn(async move { client.simple_query("SELECT pg_sleep(300)").await });
    std::thread::sleep(Duration::from_millis(500));
    stack.proxy.signal("TERM");
    let ended = rt.block_on(async { tokio::time::timeout(PATIENCE, long).await });
    assert!(matches!(ended, Ok(Ok(Err(_)))), "{ended:?}");

    let help = Command::new(env!("CARGO_BIN_EXE_iamwire"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for shown in [
        "--shutdown-timeout",
        "IAMWIRE_SHUTDOWN_TIMEOUT",
        "--admin-listen",
        "IAMWIRE_CONFIG",
        "Precedence",
    ] {
        assert!(help.contains(shown), "{shown}: {help}");
    }
}
