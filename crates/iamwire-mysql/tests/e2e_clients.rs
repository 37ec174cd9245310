//! Real clients through the proxy to a real MariaDB: the `mariadb` CLI, mysql_async, PyMySQL and
//! mysql-connector-python, identified by client certificates or by proxy passwords, logging in
//! upstream as the rig's `mysql_native_password` user. Refusals never reach the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_support;

use std::sync::Arc;

use e2e_support::*;
use iamwire_core::tls::ClientAuth;
use iamwire_core::{AllowList, StaticPasswordInjector};
use iamwire_proxy::ProxyPasswordAuthenticator;
use iamwire_proxy::scram::{DEFAULT_ITERATIONS, MockKey, ScramSecret};
use iamwire_testkit::TestCa;
use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};

fn native_injector() -> Arc<StaticPasswordInjector> {
    Arc::new(StaticPasswordInjector::new(mariadb::NATIVE_USER.1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_logs_in_with_a_certificate_and_refusals_never_reach_the_database() {
    let ca = TestCa::new().unwrap();
    let db = MariaDb::start(&ca, MariaDbOptions::default()).unwrap();
    let user = mariadb::NATIVE_USER.0;
    let (_proxy, addr) = native_behind_proxy(&ca, &db).await;
    let dir = tempfile::tempdir().unwrap();
    let alice = client_files(&ca, dir.path(), "alice");
    let mut login = Login::mtls(addr, user, &alice);
    let want = format!("{user}@%\tapp");
    // Without a password, and with one (which the certificate makes moot): a caching_sha2_password
    // scramble gets "fast auth success" before the OK, as MySQL 8 answers it.
    for password in ["", "not-checked"] {
        login.password = password.into();
        for (client, answer) in each_client(&login, "SELECT CURRENT_USER(), DATABASE()").await {
            assert_eq!(answer.rows(), want, "{client} with password {password:?}");
        }
    }
    // A client plugin the proxy does not speak (libmariadb falls back to a placeholder when it
    // cannot load the greeting's plugin, as happens when threads race to load it): switched to
    // mysql_native_password, then in.
    for plugin in ["no_such_plugin", "client_ed25519"] {
        let answer = tokio::task::spawn_blocking({
            let login = login.clone();
            let extra = format!("--default-auth={plugin}");
            move || mariadb_cli(&login, "SELECT CURRENT_USER(), DATABASE()", &[&extra])
        });
        assert_eq!(answer.await.unwrap().rows(), want, "{plugin}");
    }
    let mut conn = async_conn(&login).await.unwrap();
    assert_eq!(
        whoami(&mut conn).await,
        (format!("{user}@%"), Some("app".to_owned()))
    );
    drop(conn);

    // Refusals: nothing reaches the database.
    let before = connections(&db);
    let bob = client_files(&ca, dir.path(), "bob");
    for (login, code) in [
        (Login::mtls(addr, user, &bob), 1045),
        (Login::mtls(addr, "root", &alice), 1045),
        (
            Login::mtls(addr, user, &alice).database(Some("mysql")),
            1044,
        ),
    ] {
        let error = async_conn(&login).await.err().unwrap();
        assert_eq!(async_code(&error), Some(code), "{login:?}: {error}");
        let answer = tokio::task::spawn_blocking(move || mariadb_cli(&login, "SELECT 1", &[]));
        assert_eq!(answer.await.unwrap().code(), code, "mariadb");
    }
    // Without TLS: refused, saying TLS is required.
    let plain = tokio::task::spawn_blocking({
        let mut login = login.clone();
        login.cert = None;
        move || {
            mariadb_cli(
                &login,
                "SELECT 1",
                &["--skip-ssl-verify-server-cert", "--skip-ssl"],
            )
        }
    });
    let plain = plain.await.unwrap();
    assert_eq!(plain.code(), 3159, "{plain:?}");
    assert_no_connection_since(&db, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_passwords_over_tls_whatever_the_clients_plugin() {
    let ca = TestCa::new().unwrap();
    let db = MariaDb::start(&ca, MariaDbOptions::default()).unwrap();
    let user = mariadb::NATIVE_USER.0;
    let secret = ScramSecret::from_password(b"proxy-pw", b"0123456789abcdef", DEFAULT_ITERATIONS);
    let authn =
        ProxyPasswordAuthenticator::new(MockKey::from_random_bytes([7; 32])).user(user, secret);
    let allow = Arc::new(AllowList::new(vec![rule(user, &[user], &["app"])]));
    let (_proxy, addr) = start_proxy(
        &ca,
        ClientAuth::Optional,
        allow,
        database(db.port()),
        native_injector(),
        |b| b.client_authenticator(Arc::new(authn)),
    )
    .await;
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca.cert_pem()).unwrap();
    let login = Login::password(addr, user, "proxy-pw", ca_file.path());
    let want = format!("{user}@%");

    // caching_sha2_password full authentication (mysql_async, the mariadb CLI, both Python drivers),
    // and mysql_clear_password asked for by the client.
    let mut conn = async_conn(&login).await.unwrap();
    assert_eq!(whoami(&mut conn).await.0, want);
    drop(conn);
    for extra in [&[][..], &["--default-auth=mysql_clear_password"][..]] {
        let answer = tokio::task::spawn_blocking({
            let login = login.clone();
            let extra: Vec<&'static str> = extra.to_vec();
            move || mariadb_cli(&login, "SELECT CURRENT_USER()", &extra)
        });
        assert_eq!(answer.await.unwrap().rows(), want, "{extra:?}");
    }
    for driver in ["pymysql", "connector"] {
        let answer = tokio::task::spawn_blocking({
            let login = login.clone();
            move || python_client(driver, &login, "SELECT CURRENT_USER()")
        });
        assert_eq!(answer.await.unwrap().rows(), want, "{driver}");
    }
    // mysql_native_password from the client: switched to caching_sha2_password, then full auth;
    // a plugin the proxy does not speak: switched to mysql_native_password first.
    for plugin in ["mysql_native_password", "no_such_plugin"] {
        let answer = tokio::task::spawn_blocking({
            let login = login.clone();
            let extra = format!("--default-auth={plugin}");
            move || mariadb_cli(&login, "SELECT CURRENT_USER()", &[&extra])
        });
        assert_eq!(answer.await.unwrap().rows(), want, "{plugin}");
    }

    // Wrong and unknown: 1045 alike, and nothing reaches the database.
    let before = connections(&db);
    for (who, pw) in [(user, "wrong"), ("nobody", "proxy-pw")] {
        let mut bad = login.clone();
        bad.user = who.into();
        bad.password = pw.into();
        let error = async_conn(&bad).await.err().unwrap();
        assert_eq!(async_code(&error), Some(1045), "{error}");
        let answer =
            tokio::task::spawn_blocking(move || python_client("pymysql", &bad, "SELECT 1"));
        assert_eq!(answer.await.unwrap().code(), 1045);
    }
    assert_no_connection_since(&db, before);
}
