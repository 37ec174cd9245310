//! Load through the proxy: sysbench's `oltp_point_select` (libmariadb, TLS with a client certificate)
//! for 10 seconds against the rig's MariaDB, with zero errors and zero reconnects. Throughput is
//! printed, not asserted (speed targets belong in benches; this machine is shared).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_support;

use std::process::Command;

use e2e_support::*;
use iamwire_testkit::TestCa;
use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};

/// The value after `label` in sysbench's report (`errors:  0 (0.00 per sec.)` → `0`).
fn stat(report: &str, label: &str) -> Option<f64> {
    let line = report.lines().find(|l| l.trim_start().starts_with(label))?;
    line.split_whitespace()
        .nth(label.split_whitespace().count())?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sysbench_point_selects_for_ten_seconds_without_an_error() {
    let ca = TestCa::new().unwrap();
    let db = MariaDb::start(&ca, MariaDbOptions::default()).unwrap();
    let user = mariadb::NATIVE_USER.0;
    let (_proxy, addr) = native_behind_proxy(&ca, &db).await;
    let common = [
        "oltp_point_select",
        "--db-driver=mysql",
        "--mysql-db=app",
        "--tables=1",
        "--table-size=10000",
    ];
    let socket = db.dir().join("mysqld.sock");
    let prepare = Command::new("sysbench")
        .args(common)
        .arg(format!("--mysql-socket={}", socket.display()))
        .args(["--mysql-user=root", "prepare"])
        .output()
        .unwrap();
    assert!(prepare.status.success(), "{prepare:?}");

    // sysbench 1.0 reads its TLS files by fixed names from the working directory.
    let dir = tempfile::tempdir().unwrap();
    let alice = client_files(&ca, dir.path(), "alice");
    std::fs::copy(&alice.cert, dir.path().join("client-cert.pem")).unwrap();
    std::fs::copy(&alice.key, dir.path().join("client-key.pem")).unwrap();
    std::fs::copy(&alice.ca, dir.path().join("cacert.pem")).unwrap();
    let seconds = std::env::var("IAMWIRE_LOAD_SECONDS").unwrap_or_else(|_| "10".into());
    let sysbench = move |port: u16| {
        let dir = dir.path().to_owned();
        let seconds = seconds.clone();
        tokio::task::spawn_blocking(move || {
            Command::new("sysbench")
                .current_dir(dir)
                .args(common)
                .args(["--mysql-host=127.0.0.1", "--mysql-ssl=on", "--threads=4"])
                .arg(format!("--mysql-port={port}"))
                .arg(format!("--mysql-user={user}"))
                .arg(format!("--mysql-password={}", mariadb::NATIVE_USER.1))
                .arg(format!("--time={seconds}"))
                .args(["--mysql-ignore-errors=none", "run"])
                .output()
                .unwrap()
        })
    };
    if std::env::var_os("IAMWIRE_LOAD_BASELINE").is_some() {
        // For comparison only: the same load straight to the database, over TLS too.
        let direct = sysbench(db.port()).await.unwrap();
        println!("direct:\n{}", String::from_utf8_lossy(&direct.stdout));
    }
    let run = sysbench(addr.port()).await.unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    println!("through the proxy:\n{report}");
    let queries = stat(&report, "queries:").unwrap_or_default();
    assert!(queries > 0.0, "{report}");
    assert_eq!(stat(&report, "ignored errors:"), Some(0.0), "{report}");
    assert_eq!(stat(&report, "reconnects:"), Some(0.0), "{report}");
    let select: u64 = db
        .sql("SELECT COUNT(*) FROM app.sbtest1")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(select, 10_000);
}
