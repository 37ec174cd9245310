//! Upstream login methods against the real Postgres, through the proxy with static passwords:
//! SCRAM-SHA-256-PLUS, SCRAM-SHA-256, MD5, cleartext, and a rejected password passed through.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_support;

use std::sync::Arc;

use e2e_support::*;
use iamwire_core::StaticPasswordInjector;
use iamwire_core::tls::ClientAuth;
use iamwire_postgres::auth::{ChannelBindingPolicy, DEFAULT_ITERATIONS, MockKey, ScramSecret};
use iamwire_proxy::ProxyPasswordAuthenticator;
use iamwire_testkit::TestCa;
use iamwire_testkit::postgres::{PgOptions, Postgres};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_method_logs_in_and_a_wrong_password_is_passed_through() {
    let ca = TestCa::new().unwrap();
    let pg = Postgres::start(&ca, PgOptions::default()).unwrap();
    let cases = [
        ("scram_user", "scram-pass", ChannelBindingPolicy::Require),
        ("scram_user", "scram-pass", ChannelBindingPolicy::Disable),
        ("md5_user", "md5-pass", ChannelBindingPolicy::Prefer),
        ("clear_user", "clear-pass", ChannelBindingPolicy::Prefer),
    ];
    for (user, password, binding) in cases {
        let injector = Arc::new(StaticPasswordInjector::new(password));
        let protocol = iamwire_postgres::Postgres::new().channel_binding(binding);
        let (_proxy, addr) =
            start_proxy_as(&ca, protocol, database(pg.port()), injector, &[user]).await;
        let client = connect(addr, user, "app", client_tls(&ca, "alice"))
            .await
            .unwrap_or_else(|e| panic!("{user} {binding:?}: {e}"));
        let row = client
            .query_one("SELECT current_user::text", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), user, "{binding:?}");
    }
    // The database's own refusal reaches the client unchanged.
    let injector = Arc::new(StaticPasswordInjector::new("wrong"));
    let (_proxy, addr) =
        start_proxy(&ca, database(pg.port()), injector, &["scram_user"], |b| b).await;
    let Err(error) = connect(addr, "scram_user", "app", client_tls(&ca, "alice")).await else {
        panic!("a wrong password must fail")
    };
    assert_eq!(code(&error).as_deref(), Some("28P01"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_side_scram_password_identifies_a_client_without_a_certificate() {
    let ca = TestCa::new().unwrap();
    let pg = Postgres::start(&ca, PgOptions::default()).unwrap();
    let secret = ScramSecret::from_password(b"proxy-pass", b"0123456789abcdef", DEFAULT_ITERATIONS);
    let authenticator = Arc::new(
        ProxyPasswordAuthenticator::new(MockKey::from_random_bytes([7; 32]))
            .user("scram_user", secret),
    );
    let injector = Arc::new(StaticPasswordInjector::new("scram-pass"));
    let (_proxy, addr) = start_proxy_with(
        &ca,
        ClientAuth::Optional,
        allow("scram_user", &["scram_user"]),
        database(pg.port()),
        injector,
        |b| b.client_authenticator(authenticator),
    )
    .await;
    let dsn = |password: &str| {
        format!(
            "host=localhost port={} user=scram_user dbname=app password={password} \
             sslmode=require connect_timeout=20",
            addr.port()
        )
    };
    let client = connect_dsn(&dsn("proxy-pass"), client_tls_without_cert(&ca))
        .await
        .unwrap();
    let row = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "scram_user");

    // A wrong proxy password never reaches the database.
    let before = pg.connections_received();
    let Err(error) = connect_dsn(&dsn("scram-pass"), client_tls_without_cert(&ca)).await else {
        panic!("a wrong proxy password must fail")
    };
    assert_eq!(code(&error).as_deref(), Some("28P01"), "{error}");
    assert_eq!(pg.connections_received(), before);
}
