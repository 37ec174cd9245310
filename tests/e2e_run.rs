//! `iamwire run` end to end: real clients (psql, tokio-postgres, psycopg 3, pgbench) with client certificates from
//! `iamwire certs`, through the proxy, which assumes a cross-account role and logs in to an RDS-like
//! PostgreSQL with an IAM token that the server checks with botocore.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod e2e_run_support;

use std::process::Command;
use std::time::{Duration, Instant};

use e2e_run_support::{Login, Stack, both, psycopg_login};
use iamwire_testkit::postgres::{self, IAM_USER};

const PGBENCH: &str = "/usr/lib/postgresql/15/bin/pgbench";
/// A refused login must come back well within this, even on a loaded machine.
const PROMPT: Duration = Duration::from_secs(30);

#[test]
fn psql_logs_in_with_a_client_certificate() {
    let stack = Stack::start();
    let before = stack.pg.connections_received();
    let answer = postgres::psql(&stack.dsn("alice"), None, "SELECT current_user").unwrap();
    assert_eq!(answer, IAM_USER);
    assert!(stack.pg.connections_received() > before);
}

#[test]
fn tokio_postgres_logs_in_with_a_client_certificate() {
    let stack = Stack::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let user: String = runtime.block_on(async {
        let client = stack
            .tokio_pg("alice", IAM_USER, Some("app"))
            .await
            .unwrap();
        client
            .query_one("SELECT current_user::text", &[])
            .await
            .unwrap()
            .get(0)
    });
    assert_eq!(user, IAM_USER);
}

#[test]
fn psycopg_logs_in_with_a_client_certificate() {
    let stack = Stack::start();
    match psycopg_login(&stack.dsn("alice")) {
        Login::User(user) => assert_eq!(user, IAM_USER),
        refused => panic!("psycopg was refused: {refused:?}"),
    }
}

#[test]
fn pgbench_runs_ten_clients_through_the_proxy() {
    let stack = Stack::start();
    // On PostgreSQL 15 the public schema belongs to the database owner: let iam_user create the tables.
    stack
        .pg
        .sql(&format!("ALTER DATABASE app OWNER TO {IAM_USER}"))
        .unwrap();
    let env = stack.libpq_env("alice");
    let pgbench = |args: &[&str]| {
        let out = Command::new(PGBENCH)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env_remove("PGPASSWORD")
            .output()
            .unwrap();
        assert!(out.status.success(), "pgbench {args:?}: {}", both(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    pgbench(&["-i", "-s", "1", "-q"]);
    let assume_before = stack.moto.count("AssumeRole").unwrap();
    let report = pgbench(&["-S", "-c", "10", "-j", "2", "-T", "10"]);

    let number = |label: &str| -> u64 {
        let line = report
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label:?} in the pgbench report:\n{report}"));
        line.split_whitespace().next().unwrap().parse().unwrap()
    };
    assert!(
        number("number of transactions actually processed: ") > 0,
        "{report}"
    );
    assert_eq!(number("number of failed transactions: "), 0, "{report}");
    // Ten logins at once share the role credentials the proxy already holds.
    let assume_after = stack.moto.count("AssumeRole").unwrap();
    assert!(
        assume_after - assume_before <= 1,
        "AssumeRole {assume_before} -> {assume_after} for 10 logins"
    );
}

#[test]
fn a_wrong_external_id_is_reported_at_start_and_refuses_clients() {
    let stack = Stack::with_external_id("ext-wrong");
    let role = stack.cross.role_arn.clone();
    // The proxy still serves, and its start-up check says which role it could not assume.
    let stderr = stack.proxy.wait_stderr(&role);
    assert!(stderr.contains(&role), "{stderr}");

    let before = stack.pg.connections_received();
    let started = Instant::now();
    let login = psycopg_login(&stack.dsn("alice"));
    let elapsed = started.elapsed();
    match login {
        Login::Refused { sqlstate, text } => {
            assert_eq!(sqlstate, "28000", "{text}");
            assert!(text.contains(&role), "{text}");
            assert!(!text.contains("ext-wrong"), "{text}");
        }
        Login::User(user) => panic!("logged in as {user} with a wrong external id"),
    }
    assert!(elapsed < PROMPT, "the refusal took {elapsed:?}");
    assert_eq!(stack.pg.connections_received(), before);
}

#[test]
fn a_client_without_an_identity_is_refused_before_the_database() {
    let stack = Stack::start();
    stack.issue_client("bob");
    let before = stack.pg.connections_received();
    match psycopg_login(&stack.dsn("bob")) {
        Login::Refused { sqlstate, text } => assert_eq!(sqlstate, "28000", "{text}"),
        Login::User(user) => panic!("bob logged in as {user}"),
    }
    assert_eq!(stack.pg.connections_received(), before);
}
