//! The PostgreSQL store against the rig's real PostgreSQL (TLS, SCRAM), shared by three replicas: a
//! change through one reaches the others within a second (LISTEN/NOTIFY); losing the server keeps
//! the last set, reported unavailable; writes are refused meanwhile; all catch up when it returns.

use std::time::{Duration, Instant};

use iamwire_testkit::TestCa;
use iamwire_testkit::postgres::{PgOptions, Postgres};

use crate::catalog::pg_store::PgStore;
use crate::catalog::settings::store_tls;
use crate::catalog::store::{ResourceStore, StoreError, StoreHealth};

/// Generous bound for things the machine may be slow at (reconnecting after a restart).
const SLOW: Duration = Duration::from_secs(60);
/// The bound for a change to reach another replica.
const WITHIN_A_SECOND: Duration = Duration::from_secs(1);

fn replica(pg: &Postgres) -> PgStore {
    let dsn = format!(
        "host=localhost port={} user=scram_user password=scram-pass dbname=iamwire sslmode=require",
        pg.port()
    );
    PgStore::start(&dsn, store_tls(Some(&pg.tls().ca)).unwrap()).unwrap()
}

async fn has(store: &PgStore, name: &str, within: Duration) -> bool {
    let name = name.to_owned();
    store
        .wait_for(within, move |s| s.resources.contains_key(&name))
        .await
}

async fn lacks(store: &PgStore, name: &str, within: Duration) -> bool {
    let name = name.to_owned();
    store
        .wait_for(within, move |s| !s.resources.contains_key(&name))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_changes_and_ride_out_an_outage() {
    let ca = TestCa::new().unwrap();
    let pg = Postgres::start(&ca, PgOptions::default()).unwrap();
    pg.sql("CREATE DATABASE iamwire OWNER scram_user").unwrap();
    let replicas = [replica(&pg), replica(&pg), replica(&pg)];
    for r in &replicas {
        assert!(
            r.wait_for(SLOW, |s| s.loaded && s.health.is_ok()).await,
            "{:?}",
            r.watch().borrow().health
        );
        assert!(r.describe().starts_with("postgres localhost:"));
        assert!(!r.describe().contains("scram-pass"));
    }
    let [one, two, three] = &replicas;

    // Created through replica 1: replicas 2 and 3 have it within a second.
    let started = Instant::now();
    one.create("orders", "kind: db # orders").await.unwrap();
    assert!(has(two, "orders", WITHIN_A_SECOND).await);
    assert!(has(three, "orders", WITHIN_A_SECOND).await);
    eprintln!("create reached replicas 2 and 3 in {:?}", started.elapsed());
    assert!(matches!(
        three.create("orders", "again").await,
        Err(StoreError::Exists { .. })
    ));

    // Removed through replica 2: gone from 1 and 3 within a second.
    one.create("ledger", "kind: db # ledger").await.unwrap();
    assert!(has(three, "ledger", WITHIN_A_SECOND).await);
    let started = Instant::now();
    assert!(two.delete("ledger").await.unwrap());
    assert!(lacks(one, "ledger", WITHIN_A_SECOND).await);
    assert!(lacks(three, "ledger", WITHIN_A_SECOND).await);
    eprintln!("delete reached replicas 1 and 3 in {:?}", started.elapsed());
    assert!(!two.delete("ledger").await.unwrap());

    // The store's server dies: every replica keeps what it had, marked unavailable.
    // The rig's PostgreSQL runs with synchronous_commit off (speed): make what was committed durable
    // before the kill, as a real server's commits are.
    pg.sql("CHECKPOINT").unwrap();
    pg.kill().unwrap();
    for r in &replicas {
        assert!(
            r.wait_for(SLOW, |s| !s.health.is_ok()).await,
            "a replica did not notice the outage"
        );
        let state = r.watch().borrow().clone();
        assert!(state.loaded);
        assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["orders"]);
        assert!(matches!(state.health, StoreHealth::Unavailable { .. }));
    }
    assert!(matches!(
        one.create("during", "kind: db").await,
        Err(StoreError::Unavailable { .. })
    ));

    // It comes back, with a change made while the replicas were away: all catch up.
    pg.restart().unwrap();
    let dsn = format!(
        "host=127.0.0.1 port={} user=scram_user password=scram-pass dbname=iamwire sslmode=disable",
        pg.port()
    );
    let (client, connection) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "INSERT INTO iamwire_databases (name, document) VALUES ('billing', 'kind: db # billing'); \
             NOTIFY iamwire_databases;",
        )
        .await
        .unwrap();
    for r in &replicas {
        assert!(
            r.wait_for(SLOW, |s| s.health.is_ok()
                && s.resources.contains_key("billing"))
                .await,
            "{:?}",
            r.watch().borrow().health
        );
    }
    two.create("after", "kind: db # after").await.unwrap();
    assert!(has(one, "after", WITHIN_A_SECOND).await);
    assert!(has(three, "after", WITHIN_A_SECOND).await);
}

#[tokio::test]
async fn a_store_that_cannot_be_reached_is_unavailable_and_never_shows_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dsn = format!(
        "host=127.0.0.1 port={port} user=u password=hunter2-secret dbname=x sslmode=disable"
    );
    let store = PgStore::start(&dsn, store_tls(None).unwrap()).unwrap();
    assert!(
        store
            .wait_for(SLOW, |s| matches!(&s.health, StoreHealth::Unavailable { error, .. } if error != "not connected yet"))
            .await
    );
    let state = store.watch().borrow().clone();
    assert!(!state.loaded);
    let shown = format!("{state:?} {}", store.describe());
    assert!(!shown.contains("hunter2"), "{shown}");
    let err = store.create("x", "kind: db").await.unwrap_err();
    assert!(!err.to_string().contains("hunter2"));
    assert!(PgStore::start("host='unterminated", store_tls(None).unwrap()).is_err());
}
