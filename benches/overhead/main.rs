//! The overhead harness: what a proxy costs, measured side by side with real clients.
//!
//! One command (`cargo bench --bench overhead`; `-- --help` for the knobs) starts a throwaway TLS
//! Postgres (the rig's), the AWS emulator, and four targets: the database itself (`direct`), a bare
//! tokio relay that passes TLS through, pgbouncer in session mode with TLS on both sides, and
//! `iamwire run` (client certificates, TLS upstream, an RDS IAM token per login from an assumed
//! cross-account role). It runs the same `pgbench` load against each target in interleaved rounds
//! (`-S` at each client count, and `-S -C`, a new connection per transaction), reads each process's
//! CPU time from `/proc` (steadier than throughput on a shared machine), holds idle connections to
//! measure memory per connection, and prints medians and paired ratios (each round's result divided by
//! the same round's `direct`) as a Markdown table.
//!
//! Numbers come from here and from the criterion benches, never from timed tests.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a measuring tool: a broken setup should stop it loudly

mod before;
mod idle;
mod idle_redis;
mod mysql;
mod procfs;
mod redis;
mod report;
mod resp_login;
mod targets;

#[allow(unreachable_pub, clippy::expect_used, clippy::unwrap_used)]
#[path = "../../tests/e2e_run_support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Duration;

use iamwire_testkit::TestCa;
use iamwire_testkit::postgres::{PgOptions, Postgres};

use report::{Sample, Scenario};
use targets::Target;

const HELP: &str = "\
cargo bench --bench overhead -- [options]
  --seconds N     length of each pgbench point (default 10)
  --rounds N      interleaved rounds (default 3)
  --clients LIST  client counts for pgbench -S (default 1,10,50)
  --connect N     clients for pgbench -S -C, 0 to skip (default 10)
  --idle N        idle connections held per target for memory (default 200, 0 to skip)
  --scale N       pgbench scale (default 10)
  --only LIST     targets to run (direct,relay,pgbouncer,iamwire; default all; also
                  iamwire-1worker: iamwire run with TOKIO_WORKER_THREADS=1)
  --suite LIST    postgres,redis,mysql (default all three)
  --redis-requests N  requests per redis-benchmark point, 10x with -P 16 (default 100000)
  --redis-clients N   redis-benchmark clients (default 50)
  --redis-hops LIST   Redis targets to run (direct,direct-plain,relay,relay-plain,nutcracker,iamwire;
                      default all)
  --redis-loads LIST  redis-benchmark loads (set,get,set-P16,get-P16; default all four)
  --mysql-threads LIST  sysbench threads (default 1,10)
  --mysql-hops LIST     MySQL targets to run (direct,relay,iamwire; default all)
  --smoke         1 second, 1 round, 2 clients, scale 1, 20 idle: does it all work
  --iamwire-arg A extra argument for `iamwire run` (repeatable)
  --iamwire-before PATH  also run this iamwire binary (a build of the base commit) as the target
                  `iamwire (before)` in the same rounds, for paired before/after ratios";

struct Args {
    seconds: u32,
    rounds: u32,
    clients: Vec<u32>,
    connect: u32,
    idle: usize,
    scale: u32,
    only: Vec<String>,
    iamwire_args: Vec<String>,
    suites: Vec<String>,
    redis_requests: u32,
    redis_clients: u32,
    redis_idle: usize,
    redis_hops: Vec<String>,
    redis_loads: Vec<String>,
    mysql_threads: Vec<u32>,
    mysql_hops: Vec<String>,
}

fn list(v: Option<String>) -> Vec<String> {
    v.expect(HELP).split(',').map(String::from).collect()
}

fn parse_args() -> Args {
    let mut a = Args {
        seconds: 10,
        rounds: 3,
        clients: vec![1, 10, 50],
        connect: 10,
        idle: 200,
        scale: 10,
        only: ["direct", "relay", "pgbouncer", "iamwire"]
            .map(String::from)
            .to_vec(),
        iamwire_args: Vec::new(),
        suites: ["postgres", "redis", "mysql"].map(String::from).to_vec(),
        redis_requests: 100_000,
        redis_clients: 50,
        redis_idle: 1000,
        redis_hops: Vec::new(),
        redis_loads: Vec::new(),
        mysql_threads: vec![1, 10],
        mysql_hops: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>| -> u32 { v.and_then(|s| s.parse().ok()).expect(HELP) };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--relay" => {
                targets::run_relay(&it.next().expect("--relay ADDR"));
                std::process::exit(0);
            }
            "--bench" => {} // cargo bench passes it
            "--seconds" => a.seconds = num(it.next()),
            "--rounds" => a.rounds = num(it.next()),
            "--connect" => a.connect = num(it.next()),
            "--idle" => a.idle = num(it.next()) as usize,
            "--scale" => a.scale = num(it.next()),
            "--clients" => {
                a.clients = it
                    .next()
                    .expect(HELP)
                    .split(',')
                    .map(|s| s.parse().expect(HELP))
                    .collect();
            }
            "--only" => {
                a.only = it
                    .next()
                    .expect(HELP)
                    .split(',')
                    .map(String::from)
                    .collect()
            }
            "--iamwire-arg" => a.iamwire_args.push(it.next().expect(HELP)),
            "--iamwire-before" => before::set(it.next().expect(HELP).into()),
            "--suite" => a.suites = list(it.next()),
            "--redis-requests" => a.redis_requests = num(it.next()),
            "--redis-clients" => a.redis_clients = num(it.next()),
            "--redis-idle" => a.redis_idle = num(it.next()) as usize,
            "--redis-hops" => a.redis_hops = list(it.next()),
            "--redis-loads" => a.redis_loads = list(it.next()),
            "--mysql-hops" => a.mysql_hops = list(it.next()),
            "--mysql-threads" => {
                a.mysql_threads = list(it.next())
                    .iter()
                    .map(|s| s.parse().expect(HELP))
                    .collect()
            }
            "--smoke" => {
                (a.seconds, a.rounds, a.clients, a.connect, a.idle, a.scale) =
                    (1, 1, vec![2], 2, 20, 1);
                (
                    a.redis_requests,
                    a.redis_clients,
                    a.redis_idle,
                    a.mysql_threads,
                ) = (2000, 4, 20, vec![2]);
            }
            _ => {
                eprintln!("{HELP}");
                std::process::exit(if arg == "--help" { 0 } else { 2 });
            }
        }
    }
    a
}

fn main() {
    let args = parse_args();
    let ca = TestCa::new().expect("rig CA");
    let (load_before, _) = procfs::load();
    let has = |suite: &str| args.suites.iter().any(|s| s == suite);
    raise_fd_limit();
    let mut redis_idle = Vec::new();
    let (mut scenarios, idle) = if has("postgres") {
        postgres(&args, &ca)
    } else {
        (Vec::new(), Vec::new())
    };
    if has("redis") {
        let r = redis::RedisArgs {
            rounds: args.rounds,
            requests: args.redis_requests,
            clients: args.redis_clients,
            idle: args.redis_idle,
            hops: args.redis_hops.clone(),
            loads: args.redis_loads.clone(),
        };
        let (s, i) = redis::run(&ca, &r);
        scenarios.extend(s);
        redis_idle = i;
    }
    if has("mysql") {
        let m = mysql::MysqlArgs {
            rounds: args.rounds,
            seconds: args.seconds,
            threads: args.mysql_threads.clone(),
            hops: args.mysql_hops.clone(),
        };
        scenarios.extend(mysql::run(&ca, &m));
    }
    let (load_after, load_line) = procfs::load();
    let cmdline: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let header = report::Header {
        machine: procfs::cpu_model(),
        command: format!("cargo bench --bench overhead -- {}", cmdline.join(" ")),
        load: format!("load before {load_before:.2}, after {load_after:.2} ({load_line})"),
        seconds: args.seconds,
        rounds: args.rounds,
        scale: args.scale,
    };
    report::print_header(&header);
    report::print_scenarios(&scenarios);
    report::print_idle(
        &format!(
            "Memory: {} idle Postgres connections held through each proxy",
            args.idle
        ),
        &idle,
    );
    report::print_idle(
        &format!(
            "Memory: {} idle Redis connections held through each proxy",
            args.redis_idle
        ),
        &redis_idle,
    );
}

/// Room for many idle connections in every process the harness starts (they inherit the limit): the
/// hard open-files limit up to the kernel's ceiling where the harness may (root), the soft one to it.
fn raise_fd_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    let ceiling: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20);
    let want = ceiling.min(1 << 18);
    let wide = Rlimit {
        current: Some(want),
        maximum: Some(want),
    };
    if setrlimit(Resource::Nofile, wide).is_err() {
        let soft = Rlimit {
            current: now.maximum,
            maximum: now.maximum,
        };
        let _ = setrlimit(Resource::Nofile, soft);
    }
    let after = getrlimit(Resource::Nofile);
    eprintln!(
        "overhead: open files limit {:?} (was {:?})",
        after.current, now.current
    );
}

/// The Postgres rows: pgbench against each target, then idle connections through each proxy.
fn postgres(args: &Args, ca: &TestCa) -> (Vec<Scenario>, Vec<(&'static str, idle::Idle)>) {
    let max_clients = args
        .clients
        .iter()
        .copied()
        .chain([args.connect])
        .max()
        .unwrap_or(1);
    // Room for the pools plus the idle connections held through pgbouncer (which keeps its server
    // connections afterwards) and then through the next target.
    let max_connections = (2 * args.idle as u32 + max_clients + 60).max(200);
    let pg = Postgres::start(
        ca,
        PgOptions {
            trust_users: vec![targets::USER.into()],
            max_connections: Some(max_connections),
            ..PgOptions::default()
        },
    )
    .expect("postgres");
    pg.sql(&format!("ALTER DATABASE app OWNER TO {}", targets::USER))
        .expect("give the bench user its database");
    let data = pg.dir().join("data");
    let postmaster = procfs::postmaster_pid(&data).expect("postmaster.pid");

    let mut all: Vec<Target> = Vec::new();
    for name in &args.only {
        let t = match name.as_str() {
            "direct" => Some(Target::direct(&pg)),
            "relay" => Some(Target::relay(&pg)),
            "pgbouncer" => Target::pgbouncer(&pg, (max_clients as usize).max(args.idle) + 10),
            "iamwire" => {
                for old in before::builds() {
                    all.push(Target::iamwire(&pg, &args.iamwire_args, None, old));
                }
                None
            }
            "iamwire-1worker" => Some(Target::iamwire(&pg, &args.iamwire_args, Some(1), false)),
            other => panic!("unknown target {other}\n{HELP}"),
        };
        all.extend(t);
    }
    let first = all.first().expect("at least one target");
    eprintln!("overhead: pgbench -i -s {}", args.scale);
    pgbench(first, &["-i", "-q", "-s", &args.scale.to_string()]).expect("pgbench -i");

    let mut scenarios: Vec<Scenario> = args
        .clients
        .iter()
        .map(|&c| Scenario::new(format!("pgbench -S, {c} clients"), c, false))
        .collect();
    if args.connect > 0 {
        scenarios.push(Scenario::new(
            format!("pgbench -S -C, {} clients (connection setup)", args.connect),
            args.connect,
            true,
        ));
    }
    for round in 0..args.rounds {
        for scenario in &mut scenarios {
            // Interleaved and rotated: no target always runs first (or last) in a round.
            let n = all.len();
            for k in 0..n {
                let t = &all[(k + round as usize) % n];
                let sample = measure(t, scenario, args.seconds, postmaster);
                eprintln!(
                    "overhead: round {round} {} {}: {sample}",
                    scenario.name, t.name
                );
                scenario.add(round, t.name, sample);
            }
        }
    }
    let idle = if args.idle > 0 {
        all.iter()
            .filter_map(|t| Some((t.name, idle::measure(t, args.idle)?)))
            .collect()
    } else {
        Vec::new()
    };
    (scenarios, idle)
}

/// Run `pgbench` against `t` with `args`; its stdout.
fn pgbench(t: &Target, args: &[&str]) -> Result<String, String> {
    let out = Command::new("pgbench")
        .args(args)
        .envs(t.env.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|e| format!("run pgbench: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "pgbench {args:?} against {}: {}\n{stdout}\n{}",
            t.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// One pgbench point against `t`, with the CPU the proxy and the database spent on it.
fn measure(t: &Target, s: &Scenario, seconds: u32, postmaster: u32) -> Sample {
    let clients = s.clients.to_string();
    let jobs = s.clients.min(2).to_string();
    let secs = seconds.to_string();
    let mut args = vec!["-n", "-S", "-T", &secs, "-c", &clients, "-j", &jobs];
    if s.connect {
        args.push("-C");
    }
    let proxy_before = t.pid.map(|p| procfs::cpu(p, false));
    let pg_before = procfs::tree_cpu(postmaster);
    let out = pgbench(t, &args).unwrap_or_else(|e| panic!("{e}"));
    let proxy_cpu = t
        .pid
        .zip(proxy_before)
        .map(|(p, b)| procfs::cpu(p, false).saturating_sub(b));
    let pg_cpu = procfs::tree_cpu(postmaster).saturating_sub(pg_before);
    let txns = field(&out, "number of transactions actually processed:")
        .map_or(0, |v| v as u64)
        .max(1);
    let per = |d: Duration| d.as_secs_f64() * 1e6 / txns as f64;
    Sample {
        tps: field(&out, "tps = ").unwrap_or(0.0),
        latency_ms: field(&out, "latency average = ").unwrap_or(f64::NAN),
        proxy_us: proxy_cpu.map(per),
        db_us: per(pg_cpu),
    }
}

/// The number after `label` on the first line that has it.
fn field(out: &str, label: &str) -> Option<f64> {
    let line = out.lines().find(|l| l.contains(label))?;
    let rest = &line[line.find(label)? + label.len()..];
    rest.split(|c: char| c.is_whitespace() || c == '/')
        .find(|s| !s.is_empty())?
        .parse()
        .ok()
}
