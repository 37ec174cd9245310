//! MySQL through `iamwire run` with RDS IAM: the AWS emulator holds a role in the database's account
//! whose trust policy requires an external ID; the rig's MariaDB checks the `iam_user` login as RDS
//! does — the server asks for `mysql_clear_password` (PAM with the clear-text plugin, TLS required)
//! and botocore verifies the token against the emulator's keys. The real clients connect with a
//! client certificate from `iamwire certs` and no password at all: the `mariadb` CLI, mysql_async,
//! PyMySQL and mysql-connector-python.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aws_roles;
mod e2e_run_support;
mod log_capture;
#[path = "../crates/iamwire-mysql/tests/e2e_support/mod.rs"]
mod my_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e_run_support::{EXTERNAL_ID, Proxy, REGION, Served, iamwire_ok, operator_dir};
use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};
use iamwire_testkit::moto::Moto;
use iamwire_testkit::{PemFiles, TestCa, TokenPolicy};
use log_capture::{Capture, assert_no_aws_secret};
use my_support::{
    Login, assert_no_connection_since, async_code, async_conn, connections, each_client,
    mariadb_cli, whoami,
};

/// `iamwire run` in front of the RDS-like MariaDB, the config giving `external_id` for the role.
struct Stack {
    proxy: Proxy,
    db: MariaDb,
    role_arn: String,
    _moto: Moto,
    dir: tempfile::TempDir,
}

/// A MariaDB that takes IAM tokens for `iam_user` as RDS does, checked against `moto`'s keys.
fn rds_mariadb(ca: &TestCa, moto: &Moto) -> MariaDb {
    let tokens = TokenPolicy {
        moto_url: Some(moto.endpoint()),
        region: Some(REGION.into()),
        ..TokenPolicy::default()
    };
    MariaDb::start(ca, MariaDbOptions { tokens }).unwrap()
}

impl Stack {
    fn start(external_id: &str) -> Self {
        let ca = TestCa::new().unwrap();
        let moto = Moto::start().unwrap();
        let db = rds_mariadb(&ca, &moto);
        let cross = moto
            .cross_account("iamwire-e2e-mysql", EXTERNAL_ID)
            .unwrap();
        let served = Served {
            protocol: "mariadb",
            port: db.port(),
            ca: &db.tls().ca,
            user: mariadb::IAM_USER,
            db_names: "app",
        };
        let (dir, config) = operator_dir(&served, &cross, &moto.endpoint(), external_id, "");
        let d = dir.path().to_str().unwrap();
        iamwire_ok(&["certs", "client", "--dir", d, "--name", "bob"]);
        let proxy = Proxy::run(&dir, &config, &[], &[]);
        Self {
            proxy,
            db,
            role_arn: cross.role_arn,
            _moto: moto,
            dir,
        }
    }

    fn login(&self, client: &str) -> Login {
        let file = |name: String| self.dir.path().join(name);
        let files = PemFiles {
            cert: file(format!("{client}.crt")),
            key: file(format!("{client}.key")),
            ca: file("ca.crt".into()),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], self.proxy.port()));
        Login::mtls(addr, mariadb::IAM_USER, &files)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_log_in_as_the_iam_user_through_iamwire_run() {
    let stack = Stack::start(EXTERNAL_ID);
    let login = stack.login("alice");
    let want = format!("{}@%\tapp", mariadb::IAM_USER);

    for (client, answer) in each_client(&login, "SELECT CURRENT_USER(), DATABASE()").await {
        assert_eq!(answer.rows(), want, "{client}: {}", stack.proxy.stderr());
    }
    let mut conn = async_conn(&login).await.unwrap();
    assert_eq!(
        whoami(&mut conn).await,
        (format!("{}@%", mariadb::IAM_USER), Some("app".to_owned()))
    );
    // COM_CHANGE_USER: authorized again, a token again, and the database's switch to the
    // clear-text plugin followed again.
    let again = mysql_async::ChangeUserOpts::default()
        .with_user(Some(mariadb::IAM_USER.to_owned()))
        .with_db_name(Some("app".to_owned()));
    conn.change_user(again).await.unwrap();
    assert_eq!(
        whoami(&mut conn).await.0,
        format!("{}@%", mariadb::IAM_USER)
    );
    drop(conn);
    // Every login was a token botocore accepted, and none was refused.
    let decisions = stack.db.pam().decisions();
    assert!(
        decisions.iter().filter(|d| d.starts_with("accept")).count() >= 5,
        "{decisions:?}"
    );
    assert!(
        !decisions.iter().any(|d| d.starts_with("reject")),
        "{decisions:?}"
    );

    // Another identity: refused by the proxy, before any AWS call or database connection.
    let before = connections(&stack.db);
    let error = async_conn(&stack.login("bob")).await.err().unwrap();
    assert_eq!(async_code(&error), Some(1045), "{error}");
    assert_no_connection_since(&stack.db, before);
    let stderr = stack.proxy.stderr();
    assert!(
        !stderr.contains(EXTERNAL_ID),
        "the external ID leaked into the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_external_id_is_1045_naming_the_role_before_any_database_connection() {
    let stack = Stack::start("ext-wrong");
    let before = connections(&stack.db);
    let started = Instant::now();
    let login = stack.login("alice");
    let error = async_conn(&login).await.err().unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(async_code(&error), Some(1045), "{error}");
    let text = error.to_string();
    assert!(text.contains(&stack.role_arn), "{text}");
    assert!(text.contains("trust policy"), "{text}");
    assert!(!text.contains("ext-wrong"), "{text}");
    let cli = tokio::task::spawn_blocking(move || mariadb_cli(&login, "SELECT 1", &[]));
    let cli = cli.await.unwrap();
    assert_eq!(cli.code(), 1045);
    assert_no_connection_since(&stack.db, before);
    assert!(!stack.proxy.stderr().contains("ext-wrong"));
}

/// Every log line of an IAM login, a COM_CHANGE_USER and a KILL, at TRACE: no credential, token,
/// signature or external ID in any of them.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_trace_logs() {
    use std::sync::Arc;

    use iamwire_aws::inject::RdsIamInjector;
    use iamwire_aws::role::{RoleChain, RoleProvider};
    use iamwire_core::ExternalId;
    use mysql_async::prelude::Queryable;

    let (capture, _guard) = Capture::trace();

    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let db = rds_mariadb(&ca, &moto);
    let cross = moto
        .cross_account("mysql-connect", "ext-secret-id")
        .unwrap();
    let roles = aws_roles::roles(&moto, &cross, REGION).await;
    let mut database = my_support::database(db.port());
    database.aws.assume_role_arn = Some(cross.role_arn.clone());
    database.aws.external_id = Some(ExternalId::new("ext-secret-id"));
    let chain =
        RoleChain::for_database(&database.aws, None, iamwire_aws::role::DEFAULT_SESSION_NAME)
            .unwrap();
    let (_proxy, addr) = my_support::start_proxy(
        &ca,
        iamwire_core::tls::ClientAuth::Required,
        my_support::allow_alice(&[mariadb::IAM_USER]),
        database,
        Arc::new(RdsIamInjector::new(roles.clone())),
        |b| b,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let alice = my_support::client_files(&ca, dir.path(), "alice");
    let login = Login::mtls(addr, mariadb::IAM_USER, &alice);
    let mut conn = async_conn(&login).await.unwrap();
    conn.query_drop("SELECT 1").await.unwrap();
    let again = mysql_async::ChangeUserOpts::default()
        .with_user(Some(mariadb::IAM_USER.to_owned()))
        .with_db_name(Some("app".to_owned()));
    conn.change_user(again).await.unwrap();
    let id = conn.id();
    let mut other = async_conn(&login).await.unwrap();
    other.query_drop(format!("KILL QUERY {id}")).await.unwrap();
    drop((conn, other));
    let creds = roles.credentials(&chain).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = capture.text();
    assert!(
        logs.contains("COM_CHANGE_USER"),
        "the session was not logged"
    );
    assert_no_aws_secret(
        &logs,
        &creds,
        &[cross.proxy.secret_access_key.as_str(), "ext-secret-id"],
    );
}
