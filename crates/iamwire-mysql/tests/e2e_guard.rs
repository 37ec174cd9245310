//! What the relay guards, with real clients against a real MariaDB: COM_CHANGE_USER goes through the
//! Authorizer and logs in with freshly injected credentials; COM_INIT_DB and a leading `USE` are
//! checked against the identity's database names; `KILL [QUERY] <id>` maps the proxy's connection id
//! to the database's thread for sessions of the same identity, and refuses anyone else's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_support;

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e_support::*;
use iamwire_core::tls::ClientAuth;
use iamwire_core::{AllowList, AuthInjector, LoginFuture, SessionRequest, StaticPasswordInjector};
use iamwire_testkit::TestCa;
use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};
use mysql_async::prelude::Queryable;

const OTHER_USER: &str = "other_user";

/// The static password injector, counting the logins it resolves.
#[derive(Debug)]
struct Counting {
    logins: AtomicUsize,
    inner: StaticPasswordInjector,
}

impl AuthInjector for Counting {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        self.logins.fetch_add(1, Ordering::SeqCst);
        self.inner.login(want)
    }
}

struct Rig {
    db: MariaDb,
    injector: Arc<Counting>,
    alice: Login,
    bob: Login,
    _dir: tempfile::TempDir,
    _ca: TestCa,
}

async fn rig() -> Rig {
    let ca = TestCa::new().unwrap();
    let db = MariaDb::start(&ca, MariaDbOptions::default()).unwrap();
    let (native, password) = mariadb::NATIVE_USER;
    db.sql(&format!(
        "CREATE USER '{OTHER_USER}'@'%' IDENTIFIED BY '{password}';
         GRANT ALL ON app.* TO '{OTHER_USER}'@'%';
         CREATE USER 'unauthorized'@'%' IDENTIFIED BY '{password}';"
    ))
    .unwrap();
    let allow = Arc::new(AllowList::new(vec![
        rule("alice", &[native, OTHER_USER], &["app"]),
        rule("bob", &[native], &["app"]),
    ]));
    let injector = Arc::new(Counting {
        logins: AtomicUsize::new(0),
        inner: StaticPasswordInjector::new(password),
    });
    let (_proxy, addr) = start_proxy(
        &ca,
        ClientAuth::Required,
        allow,
        database(db.port()),
        injector.clone(),
        |b| b,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let alice = Login::mtls(addr, native, &client_files(&ca, dir.path(), "alice"));
    let bob = Login::mtls(addr, native, &client_files(&ca, dir.path(), "bob"));
    Rig {
        db,
        injector,
        alice,
        bob,
        _dir: dir,
        _ca: ca,
    }
}

fn server_code<T: Debug>(result: Result<T, mysql_async::Error>) -> u16 {
    let error = result.expect_err("the proxy must refuse");
    async_code(&error).unwrap_or_else(|| panic!("not a server error: {error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_user_is_authorized_and_logs_in_with_fresh_credentials() {
    let rig = rig().await;
    let mut conn = async_conn(&rig.alice).await.unwrap();
    assert_eq!(rig.injector.logins.load(Ordering::SeqCst), 1);
    let to = |user: &str| {
        mysql_async::ChangeUserOpts::default()
            .with_user(Some(user.to_owned()))
            .with_pass(Some("ignored by the proxy".to_owned()))
            .with_db_name(Some("app".to_owned()))
    };
    conn.change_user(to(OTHER_USER)).await.unwrap();
    assert_eq!(
        rig.injector.logins.load(Ordering::SeqCst),
        2,
        "fresh credentials"
    );
    assert_eq!(
        whoami(&mut conn).await,
        (format!("{OTHER_USER}@%"), Some("app".to_owned()))
    );
    // libmariadb's own mysql_change_user() and mysql-connector-python's cmd_change_user, each with a
    // password the certificate makes moot.
    let mut login = rig.alice.clone();
    login.password = "not-checked".into();
    let answers = tokio::task::spawn_blocking(move || {
        [
            libmariadb_change_user(&login, OTHER_USER, "SELECT CURRENT_USER()"),
            python_client_as(
                "connector",
                &login,
                Some(OTHER_USER),
                "SELECT CURRENT_USER()",
            ),
        ]
    });
    for answer in answers.await.unwrap() {
        assert_eq!(answer.rows(), format!("{OTHER_USER}@%"));
    }
    assert_eq!(rig.injector.logins.load(Ordering::SeqCst), 6);
    // A user the identity may not be: refused before any credential is asked for.
    let mut conn = async_conn(&rig.alice).await.unwrap();
    assert_eq!(
        server_code(conn.change_user(to("unauthorized")).await),
        1045
    );
    assert_eq!(rig.injector.logins.load(Ordering::SeqCst), 7);
    // The database outside the identity's names: refused too.
    let mut conn = async_conn(&rig.alice).await.unwrap();
    let other_db = to(OTHER_USER).with_db_name(Some("mysql".to_owned()));
    assert_eq!(server_code(conn.change_user(other_db).await), 1044);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_db_and_use_are_checked_against_the_identitys_database_names() {
    let rig = rig().await;
    // COM_INIT_DB, sent by the mariadb CLI's `use` command.
    let login = rig.alice.clone();
    let answer =
        tokio::task::spawn_blocking(move || mariadb_cli(&login, "use mysql; SELECT 1", &[]));
    assert_eq!(answer.await.unwrap().code(), 1044);
    let login = rig.alice.clone();
    let answer =
        tokio::task::spawn_blocking(move || mariadb_cli(&login, "use app; SELECT DATABASE()", &[]));
    assert_eq!(answer.await.unwrap().rows(), "app");
    // A USE statement, after a comment: refused, and the session goes on where it was.
    let mut conn = async_conn(&rig.alice).await.unwrap();
    let refused = conn.query_drop("/* switch */ USE `mysql`").await;
    assert_eq!(server_code(refused), 1044);
    assert_eq!(whoami(&mut conn).await.1.as_deref(), Some("app"));
    conn.query_drop("USE app").await.unwrap();
    // A long query whose start says nothing passes through whole.
    let long = format!("SELECT '{}' AS x", "y".repeat(100_000));
    let got: Option<String> = conn.query_first(long).await.unwrap();
    assert_eq!(got.map(|s| s.len()), Some(100_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_query_maps_to_the_database_thread_for_the_same_identity_only() {
    let rig = rig().await;
    let mut sleeper = async_conn(&rig.alice).await.unwrap();
    let id = sleeper.id();
    let started = Instant::now();
    let sleeping = tokio::spawn(async move {
        let result: Result<Option<i64>, _> = sleeper.query_first("SELECT SLEEP(30)").await;
        (result, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Another identity's KILL: as unknown as an id that never was.
    let mut bob = async_conn(&rig.bob).await.unwrap();
    assert_eq!(
        server_code(bob.query_drop(format!("KILL QUERY {id}")).await),
        1094
    );
    assert_eq!(server_code(bob.query_drop("KILL QUERY 999999").await), 1094);
    assert_eq!(
        server_code(bob.query_drop("KILL USER native_user").await),
        1235
    );
    assert!(!sleeping.is_finished());

    // The same identity's: the database's thread stops its query.
    let mut alice = async_conn(&rig.alice).await.unwrap();
    alice.query_drop(format!("KILL QUERY {id}")).await.unwrap();
    let (result, took) = sleeping.await.unwrap();
    assert!(took < Duration::from_secs(20), "the query ran on: {took:?}");
    match result {
        // MySQL's SLEEP returns 1 when killed; MariaDB reports the interruption.
        Ok(value) => assert_eq!(value, Some(1)),
        Err(error) => assert_eq!(async_code(&error), Some(1317), "{error}"),
    }
    drop(rig.db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_in_the_mariadb_cli_kills_the_query_through_the_proxy() {
    let rig = rig().await;
    let login = rig.alice.clone();
    let started = Instant::now();
    let child = mariadb_command(&login, &[])
        .args(["-e", "SELECT SLEEP(30)"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the database runs the query, then press Ctrl-C.
    let running = || {
        rig.db
            .sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(30)'")
            .unwrap()
            .trim()
            == "1"
    };
    while !running() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the query never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "Ctrl-C did not stop it"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1317") || String::from_utf8_lossy(&out.stdout).trim() == "1",
        "{stderr}"
    );
    assert!(!running());
}
