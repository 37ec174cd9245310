//! The fault suite for MySQL, through `iamwire run`: a fault-injecting TCP relay between the proxy and
//! the rig's RDS-like MariaDB (which checks the proxy's IAM tokens with botocore against moto), with
//! mysql_async as the client. The database is killed mid-session, down, silent, slow, and back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;
#[path = "../crates/iamwire-mysql/tests/e2e_support/mod.rs"]
mod my_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e_run_support::{EXTERNAL_ID, Proxy, REGION, Served, operator_dir};
use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};
use iamwire_testkit::moto::Moto;
use iamwire_testkit::{Fault, FaultRelay, PemFiles, TestCa, TokenPolicy};
use my_support::{Login, async_code, async_conn};
use mysql_async::prelude::Queryable;

/// A refusal must come back well within this, even on a loaded 2-core machine.
const PROMPT: Duration = Duration::from_secs(30);

/// `SELECT 1` on `conn`, which must answer (or fail) within [`PROMPT`].
async fn query(conn: &mut mysql_async::Conn) -> Result<Option<u32>, mysql_async::Error> {
    tokio::time::timeout(PROMPT, conn.query_first::<u32, _>("SELECT 1"))
        .await
        .expect("a query on a session whose database went away hung")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_killed_or_cut_off_mid_session_errs_its_clients_and_serves_again_once_back() {
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    // The relay first: RDS checks the host:port a token names, and the proxy signs for what it dials.
    let relay = FaultRelay::start(([127, 0, 0, 1], 9).into(), Fault::Forward).unwrap();
    let tokens = TokenPolicy {
        hosts: vec![format!("localhost:{}", relay.port())],
        moto_url: Some(moto.endpoint()),
        region: Some(REGION.into()),
        ..TokenPolicy::default()
    };
    let db = MariaDb::start(&ca, MariaDbOptions { tokens }).unwrap();
    relay.retarget(db.addr());
    let cross = moto
        .cross_account("iamwire-faults-mysql", EXTERNAL_ID)
        .unwrap();
    let served = Served {
        protocol: "mariadb",
        port: relay.port(),
        ca: &db.tls().ca,
        user: mariadb::IAM_USER,
        db_names: "app",
    };
    let extra = "  connect_timeout: 3s\n  login_timeout: 5s";
    let (dir, config) = operator_dir(&served, &cross, &moto.endpoint(), EXTERNAL_ID, extra);
    let mut proxy = Proxy::run(&dir, &config, &[], &[]);
    let files = PemFiles {
        cert: dir.path().join("alice.crt"),
        key: dir.path().join("alice.key"),
        ca: dir.path().join("ca.crt"),
    };
    let login = Login::mtls(
        SocketAddr::from(([127, 0, 0, 1], proxy.port())),
        mariadb::IAM_USER,
        &files,
    );
    // Killed mid-session: each client gets an error, not a hang.
    let mut a = async_conn(&login).await.unwrap();
    let mut b = async_conn(&login).await.unwrap();
    assert_eq!(query(&mut a).await.unwrap(), Some(1));
    assert_eq!(query(&mut b).await.unwrap(), Some(1));
    relay.reset_all();
    for conn in [&mut a, &mut b] {
        let error = query(conn).await.expect_err("the database is gone");
        eprintln!("killed mid-session: {error:?}");
    }
    drop((a, b));

    // Down (reset or closed mid-handshake) or unreachable (silent): a prompt error packet.
    for fault in [Fault::Reset, Fault::Close, Fault::Blackhole] {
        relay.set(fault);
        let started = Instant::now();
        let error = async_conn(&login).await.expect_err("no database, no login");
        let took = started.elapsed();
        assert!(took < PROMPT, "{fault:?}: {took:?}");
        let code = async_code(&error);
        eprintln!("database {fault:?}: {error:?} after {took:?}");
        // CR_SERVER_LOST (2013) for a handshake cut short, CR_CONN_HOST_ERROR (2003) for no answer.
        assert!(
            matches!(code, Some(2003 | 2013)),
            "{fault:?}: not a connection error packet: {error:?}"
        );
    }

    // Back: new sessions succeed in the same process; over a slow path (200 ms per chunk) too.
    relay.set(Fault::Forward);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut c = loop {
        match async_conn(&login).await {
            Ok(conn) => break conn,
            Err(e) => assert!(Instant::now() < deadline, "still refused: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(query(&mut c).await.unwrap(), Some(1));
    relay.set(Fault::Delay(Duration::from_millis(200)));
    let mut slow = async_conn(&login).await.unwrap();
    assert_eq!(query(&mut slow).await.unwrap(), Some(1));
    relay.set(Fault::Forward);

    // The database ends its side (FIN) mid-session: those sessions err, the proxy carries on.
    relay.half_close_all();
    query(&mut c)
        .await
        .expect_err("the database ended the session");
    let mut d = async_conn(&login).await.unwrap();
    assert_eq!(query(&mut d).await.unwrap(), Some(1));
    assert!(proxy.is_running(), "{}", proxy.stderr());
}
