//! The MySQL rows: sysbench `oltp_point_select` (libmariadb, TLS) against the rig's MariaDB and through
//! each proxy:
//!
//! - `direct`: MariaDB itself over TLS, `native_user` with its password;
//! - `bare relay`: the harness's tokio relay, TLS passed through end to end;
//! - `iamwire run`: client certificate (mTLS) towards sysbench, TLS towards MariaDB, logging in as
//!   `iam_user` with an RDS IAM token from a role assumed with an external ID (the rig's PAM stand-in
//!   checks it with botocore against the AWS emulator, once per connection: sysbench connects once).
//!
//! sysbench 1.0 reads its TLS files by fixed names (`client-cert.pem`, `client-key.pem`, `cacert.pem`)
//! from its working directory: each hop has its own.

use std::path::Path;
use std::process::Command;

use iamwire_testkit::TestCa;
use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};
use iamwire_testkit::moto::Moto;

use crate::procfs;
use crate::report::{Sample, Scenario};
use crate::support::{self, Proxy, Served};
use crate::targets::spawn_relay;

const COMMON: [&str; 5] = [
    "oltp_point_select",
    "--db-driver=mysql",
    "--mysql-db=app",
    "--tables=1",
    "--table-size=10000",
];

/// What the MySQL rows run.
pub(crate) struct MysqlArgs {
    pub(crate) rounds: u32,
    pub(crate) seconds: u32,
    /// sysbench thread counts.
    pub(crate) threads: Vec<u32>,
    /// Targets to run by key (`direct`, `relay`, `iamwire`: this build and `--iamwire-before`); empty: all.
    pub(crate) hops: Vec<String>,
}

struct Hop {
    name: &'static str,
    port: u16,
    user: &'static str,
    password: &'static str,
    /// The working directory with sysbench's TLS files.
    dir: tempfile::TempDir,
    pid: Option<u32>,
    _keep: Box<dyn std::any::Any>,
}

fn tls_dir(cert: &Path, key: &Path, ca: &Path) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("iamwire-sysbench-")
        .tempdir()
        .expect("temp dir");
    std::fs::copy(cert, dir.path().join("client-cert.pem")).expect("client cert");
    std::fs::copy(key, dir.path().join("client-key.pem")).expect("client key");
    std::fs::copy(ca, dir.path().join("cacert.pem")).expect("CA");
    dir
}

/// The mariadbd below the rig's directory `dir` (the process whose command line names it).
fn server_pid(dir: &Path) -> u32 {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.contains("mariadbd") && cmd.contains(&needle)
        })
        .expect("the mariadbd process")
}

/// Run every MySQL point; the scenarios with their samples.
pub(crate) fn run(ca: &TestCa, a: &MysqlArgs) -> Vec<Scenario> {
    let moto = Moto::start().expect("the AWS emulator");
    let tokens = iamwire_testkit::TokenPolicy {
        moto_url: Some(moto.endpoint()),
        region: Some(support::REGION.into()),
        ..iamwire_testkit::TokenPolicy::default()
    };
    let db = MariaDb::start(ca, MariaDbOptions { tokens }).expect("mariadb");
    let db_pid = server_pid(db.dir());
    let socket = db.dir().join("mysqld.sock");
    let prepare = Command::new("sysbench")
        .args(COMMON)
        .arg(format!("--mysql-socket={}", socket.display()))
        .args(["--mysql-user=root", "prepare"])
        .output()
        .expect("sysbench prepare");
    assert!(prepare.status.success(), "{prepare:?}");

    let rig_dir = tempfile::tempdir().expect("temp dir");
    let client = ca
        .write(
            rig_dir.path(),
            "client",
            &ca.client("bench", &[]).expect("cert"),
        )
        .expect("write cert");
    let (native_user, native_pass) = mariadb::NATIVE_USER;
    let mut hops = vec![Hop {
        name: "direct",
        port: db.port(),
        user: native_user,
        password: native_pass,
        dir: tls_dir(&client.cert, &client.key, &db.tls().ca),
        pid: None,
        _keep: Box::new(()),
    }];
    let (port, relay) = spawn_relay(db.addr());
    hops.push(Hop {
        name: "bare relay",
        port,
        user: native_user,
        password: native_pass,
        dir: tls_dir(&client.cert, &client.key, &db.tls().ca),
        pid: Some(relay.0.id()),
        _keep: Box::new(relay),
    });
    for old in crate::before::builds() {
        let role = if old {
            "iamwire-bench-mysql-before"
        } else {
            "iamwire-bench-mysql"
        };
        let cross = moto
            .cross_account(role, support::EXTERNAL_ID)
            .expect("cross-account role");
        let served = Served {
            protocol: "mariadb",
            port: db.port(),
            ca: &db.tls().ca,
            user: mariadb::IAM_USER,
            db_names: "app",
        };
        let (dir, config) =
            support::operator_dir(&served, &cross, &moto.endpoint(), support::EXTERNAL_ID, "");
        let exe = if old { crate::before::exe() } else { None };
        let proxy = Proxy::run_exe(exe, &dir, &config, &[], &[]);
        let f = |n: &str| dir.path().join(n);
        hops.push(Hop {
            name: if old {
                crate::before::NAME
            } else {
                "iamwire run"
            },
            port: proxy.port(),
            user: mariadb::IAM_USER,
            password: "",
            dir: tls_dir(&f("alice.crt"), &f("alice.key"), &f("ca.crt")),
            pid: Some(proxy.pid()),
            _keep: Box::new((proxy, dir, cross)),
        });
    }
    if !a.hops.is_empty() {
        hops.retain(|h| {
            let key = match h.name {
                "direct" => "direct",
                "bare relay" => "relay",
                _ => "iamwire",
            };
            a.hops.iter().any(|k| k == key)
        });
    }

    let mut scenarios: Vec<Scenario> = a
        .threads
        .iter()
        .map(|&t| {
            let mut s = Scenario::new(format!("sysbench oltp_point_select, {t} threads"), t, false);
            s.baselines = vec!["direct", "bare relay"];
            s
        })
        .collect();
    for round in 0..a.rounds {
        for scenario in &mut scenarios {
            let n = hops.len();
            for k in 0..n {
                let hop = &hops[(k + round as usize) % n];
                let sample = measure(hop, scenario.clients, a.seconds, db_pid);
                eprintln!(
                    "overhead: round {round} {} {}: {sample}",
                    scenario.name, hop.name
                );
                scenario.add(round, hop.name, sample);
            }
        }
    }
    drop(hops);
    drop(db);
    drop(moto);
    scenarios
}

/// The number after `label` on the first line that starts with it (`transactions:  123 (12.3 per sec.)`).
fn stat(report: &str, label: &str) -> Option<f64> {
    let line = report.lines().find(|l| l.trim_start().starts_with(label))?;
    line.split_whitespace()
        .nth(label.split_whitespace().count())?
        .trim_start_matches('(')
        .parse()
        .ok()
}

/// One sysbench point against `hop`.
fn measure(hop: &Hop, threads: u32, seconds: u32, db: u32) -> Sample {
    let proxy_before = hop.pid.map(|p| procfs::cpu(p, false));
    let db_before = procfs::cpu(db, false);
    let out = Command::new("sysbench")
        .current_dir(hop.dir.path())
        .args(COMMON)
        .args(["--mysql-host=127.0.0.1", "--mysql-ssl=on"])
        .arg(format!("--threads={threads}"))
        .arg(format!("--mysql-port={}", hop.port))
        .arg(format!("--mysql-user={}", hop.user))
        .arg(format!("--mysql-password={}", hop.password))
        .arg(format!("--time={seconds}"))
        .args(["--mysql-ignore-errors=none", "run"])
        .output()
        .expect("run sysbench");
    let proxy_cpu = hop
        .pid
        .zip(proxy_before)
        .map(|(p, b)| procfs::cpu(p, false).saturating_sub(b));
    let db_cpu = procfs::cpu(db, false).saturating_sub(db_before);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && stat(&report, "ignored errors:") == Some(0.0)
            && stat(&report, "reconnects:") == Some(0.0),
        "sysbench through {}: {report}\n{}",
        hop.name,
        String::from_utf8_lossy(&out.stderr)
    );
    let txns = stat(&report, "transactions:").unwrap_or(0.0);
    let tps = report
        .lines()
        .find(|l| l.trim_start().starts_with("transactions:"))
        .and_then(|l| l.split('(').nth(1)?.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN);
    Sample::per_op(
        tps,
        stat(&report, "avg:").unwrap_or(f64::NAN),
        txns as u64,
        proxy_cpu,
        db_cpu,
    )
}
