//! The Redis rows: `redis-benchmark` SET and GET, pipelined (`-P 16`) and not, against a Redis 7 with a
//! TLS port and a plaintext port, and through each proxy:
//!
//! - `direct`: Redis itself over TLS (server certificate checked), `AUTH bench ...`;
//! - `direct, plaintext`: Redis's plaintext port;
//! - `bare relay`: the harness's tokio relay to the TLS port, TLS passed through end to end;
//! - `bare relay, plaintext`: the same relay to the plaintext port (what nutcracker is compared with);
//! - `nutcracker`: twemproxy 0.5 (Debian's `nutcracker`), plaintext on both hops (it has no TLS), one
//!   server connection shared by every client (its design), `redis_auth` towards Redis;
//! - `iamwire run`: client certificate (mTLS) towards clients, TLS with verify-full towards Redis, logging
//!   in as the client's user with the listener's `password_file` (a self-hosted Redis: no AWS token).
//!
//! CPU per operation is each process's CPU time over the requests redis-benchmark made.

use std::path::Path;
use std::process::{Command, Stdio};

use iamwire_testkit::{LOCAL_NAMES, PemFiles, TestCa};

use crate::idle::Idle;
use crate::idle_redis::{self, Reach};
use crate::procfs;
use crate::report::{Sample, Scenario};
use crate::support::{self, ALLOWED_CLIENT, Proxy};
use crate::targets::{KillOnDrop, free_port, spawn_relay, wait_listening};

/// The ACL user (and the default user, for nutcracker's one-argument AUTH) and its password.
const USER: &str = "bench";
const PASSWORD: &str = "bench-pass";

/// What the Redis rows run.
pub(crate) struct RedisArgs {
    pub(crate) rounds: u32,
    /// Requests per point without pipelining (10× that with `-P 16`).
    pub(crate) requests: u32,
    /// redis-benchmark's clients.
    pub(crate) clients: u32,
    /// Idle connections held through each proxy (0: none).
    pub(crate) idle: usize,
    /// Targets to run by key (`direct`, `direct-plain`, `relay`, `relay-plain`, `nutcracker`,
    /// `iamwire`); empty: all.
    pub(crate) hops: Vec<String>,
    /// Loads to run (`set`, `get`, `set-P16`, `get-P16`); empty: all.
    pub(crate) loads: Vec<String>,
}

/// The `--redis-hops` key of a target.
fn hop_key(name: &str) -> &'static str {
    match name {
        "direct" => "direct",
        "direct, plaintext" => "direct-plain",
        "bare relay" => "relay",
        "bare relay, plaintext" => "relay-plain",
        "nutcracker" => "nutcracker",
        _ => "iamwire",
    }
}

/// A Redis server with both ports, killed on drop.
struct Server {
    child: KillOnDrop,
    plain: u16,
    tls_port: u16,
    tls: PemFiles,
    _dir: tempfile::TempDir,
}

fn start_server(ca: &TestCa) -> Server {
    let dir = tempfile::Builder::new()
        .prefix("iamwire-bench-redis-")
        .tempdir()
        .expect("temp dir");
    let root = dir.path();
    let tls = ca
        .write(root, "server", &ca.server(LOCAL_NAMES).expect("cert"))
        .expect("write cert");
    let (plain, tls_port) = (free_port(), free_port());
    let conf = root.join("redis.conf");
    std::fs::write(
        &conf,
        format!(
            "port {plain}\ntls-port {tls_port}\nbind 127.0.0.1\ndir {d}\nlogfile {d}/redis.log\n\
             save \"\"\nappendonly no\ndaemonize no\nmaxclients 100000\ntls-cert-file {}\ntls-key-file {}\n\
             tls-ca-cert-file {}\ntls-auth-clients no\n\
             user default on >{PASSWORD} ~* &* +@all\nuser {USER} on >{PASSWORD} ~* &* +@all\n",
            tls.cert.display(),
            tls.key.display(),
            tls.ca.display(),
            d = root.display(),
        ),
    )
    .expect("redis.conf");
    let child = Command::new("redis-server")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server");
    let child = KillOnDrop(child);
    wait_listening(plain);
    wait_listening(tls_port);
    Server {
        child,
        plain,
        tls_port,
        tls,
        _dir: dir,
    }
}

/// One thing redis-benchmark can be pointed at: its connection arguments.
struct Hop {
    name: &'static str,
    args: Vec<String>,
    reach: Reach,
    pid: Option<u32>,
    _keep: Box<dyn std::any::Any>,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn tls_args(port: u16, ca: &Path) -> Vec<String> {
    let mut a = strings(&["--tls", "-h", "localhost", "--cacert"]);
    a.push(ca.display().to_string());
    a.extend(strings(&[
        "-p",
        &port.to_string(),
        "--user",
        USER,
        "-a",
        PASSWORD,
    ]));
    a
}

fn tls_reach(port: u16, ca: &Path) -> Reach {
    Reach {
        port,
        tls: Some((ca.to_owned(), None)),
        auth: idle_redis::auth(&[USER, PASSWORD]),
    }
}

fn plain_reach(port: u16) -> Reach {
    Reach {
        port,
        tls: None,
        auth: idle_redis::auth(&[USER, PASSWORD]),
    }
}

fn plain_args(port: u16) -> Vec<String> {
    strings(&[
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--user",
        USER,
        "-a",
        PASSWORD,
    ])
}

fn nutcracker(server: &Server) -> Option<Hop> {
    if !Path::new("/usr/sbin/nutcracker").exists() {
        eprintln!("overhead: no nutcracker, skipping it");
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("iamwire-nutcracker-")
        .tempdir()
        .expect("temp dir");
    let port = free_port();
    let conf = dir.path().join("nutcracker.yml");
    std::fs::write(
        &conf,
        format!(
            "bench:\n  listen: 127.0.0.1:{port}\n  redis: true\n  redis_auth: {PASSWORD}\n  \
             hash: fnv1a_64\n  distribution: ketama\n  auto_eject_hosts: false\n  preconnect: true\n  \
             timeout: 30000\n  servers:\n    - 127.0.0.1:{}:1\n",
            server.plain
        ),
    )
    .expect("nutcracker.yml");
    let child = Command::new("/usr/sbin/nutcracker")
        .arg("-c")
        .arg(&conf)
        .arg("-o")
        .arg(dir.path().join("nutcracker.log"))
        .args(["-s", &free_port().to_string(), "-a", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nutcracker");
    let child = KillOnDrop(child);
    wait_listening(port);
    Some(Hop {
        name: "nutcracker",
        // twemproxy 0.5 knows only the one-argument AUTH (the default user).
        args: strings(&["-h", "127.0.0.1", "-p", &port.to_string(), "-a", PASSWORD]),
        reach: Reach {
            port,
            tls: None,
            auth: idle_redis::auth(&[PASSWORD]),
        },
        pid: Some(child.0.id()),
        _keep: Box::new((child, dir)),
    })
}

/// `old`: the `--iamwire-before` binary instead of this build's.
fn iamwire(server: &Server, old: bool) -> Hop {
    let dir = tempfile::Builder::new()
        .prefix("iamwire-bench-redis-op-")
        .tempdir()
        .expect("temp dir");
    let d = dir.path().to_str().expect("UTF-8 temp dir");
    support::iamwire_ok(&["certs", "init", "--dir", d]);
    support::iamwire_ok(&["certs", "client", "--dir", d, "--name", ALLOWED_CLIENT]);
    std::fs::copy(&server.tls.ca, dir.path().join("db-ca.crt")).expect("copy db CA");
    std::fs::write(dir.path().join("redis.password"), format!("{PASSWORD}\n")).expect("password");
    let config = dir.path().join("iamwire.yaml");
    std::fs::write(
        &config,
        format!(
            r#"proxy:
  max_connections: 20000
  tls:
    cert_file: server.crt
    key_file: server.key
    client_ca_file: ca.crt
  listeners:
    - database: bench-redis
      listen: 127.0.0.1:0
      password_file: redis.password
  identities:
    - name: {ALLOWED_CLIENT}
      db_labels: {{"*": "*"}}
      db_users: ["{USER}"]
      db_names: ["*"]
aws:
  region: {region}
db_service:
  enabled: "yes"
  databases:
  - name: bench-redis
    protocol: redis
    uri: "localhost:{port}"
    tls:
      mode: verify-full
      ca_cert_file: db-ca.crt
"#,
            region = support::REGION,
            port = server.tls_port,
        ),
    )
    .expect("iamwire.yaml");
    let exe = if old { crate::before::exe() } else { None };
    let proxy = Proxy::run_exe(exe, &dir, &config, &[], &[]);
    let file = |n: &str| dir.path().join(n).display().to_string();
    let mut args = strings(&["--tls", "-h", "localhost", "--cacert"]);
    args.extend([file("ca.crt"), "--cert".into(), file("alice.crt")]);
    args.extend(["--key".into(), file("alice.key")]);
    // The client's password is not what logs in (its certificate is the credential).
    args.extend(strings(&[
        "-p",
        &proxy.port().to_string(),
        "--user",
        USER,
        "-a",
        "unused",
    ]));
    let reach = Reach {
        port: proxy.port(),
        tls: Some((
            dir.path().join("ca.crt"),
            Some((dir.path().join("alice.crt"), dir.path().join("alice.key"))),
        )),
        auth: idle_redis::auth(&[USER, "unused"]),
    };
    Hop {
        name: if old {
            crate::before::NAME
        } else {
            "iamwire run"
        },
        args,
        reach,
        pid: Some(proxy.pid()),
        _keep: Box::new((proxy, dir)),
    }
}

/// Run every Redis point; the scenarios with their samples, and the idle connections' memory.
pub(crate) fn run(ca: &TestCa, a: &RedisArgs) -> (Vec<Scenario>, Vec<(&'static str, Idle)>) {
    let server = start_server(ca);
    let server_pid = server.child.0.id();
    let mut hops = Vec::new();
    hops.push(Hop {
        name: "direct",
        args: tls_args(server.tls_port, &server.tls.ca),
        reach: tls_reach(server.tls_port, &server.tls.ca),
        pid: None,
        _keep: Box::new(()),
    });
    hops.push(Hop {
        name: "direct, plaintext",
        args: plain_args(server.plain),
        reach: plain_reach(server.plain),
        pid: None,
        _keep: Box::new(()),
    });
    let (port, relay) = spawn_relay(([127, 0, 0, 1], server.tls_port).into());
    hops.push(Hop {
        name: "bare relay",
        args: tls_args(port, &server.tls.ca),
        reach: tls_reach(port, &server.tls.ca),
        pid: Some(relay.0.id()),
        _keep: Box::new(relay),
    });
    let (port, relay) = spawn_relay(([127, 0, 0, 1], server.plain).into());
    hops.push(Hop {
        name: "bare relay, plaintext",
        args: plain_args(port),
        reach: plain_reach(port),
        pid: Some(relay.0.id()),
        _keep: Box::new(relay),
    });
    hops.extend(nutcracker(&server));
    hops.extend(
        crate::before::builds()
            .into_iter()
            .map(|old| iamwire(&server, old)),
    );

    hops.retain(|h| a.hops.is_empty() || a.hops.iter().any(|k| k == hop_key(h.name)));
    let mut loads: Vec<(&str, u32)> = vec![("set", 1), ("get", 1), ("set", 16), ("get", 16)];
    loads.retain(|(test, p)| {
        let key = if *p > 1 {
            format!("{test}-P{p}")
        } else {
            (*test).to_owned()
        };
        a.loads.is_empty() || a.loads.contains(&key)
    });
    let mut scenarios: Vec<Scenario> = loads
        .iter()
        .map(|(test, p)| {
            let pipe = if *p > 1 {
                format!(" -P {p}")
            } else {
                String::new()
            };
            let mut s = Scenario::new(
                format!("redis-benchmark -t {test}{pipe}, {} clients", a.clients),
                a.clients,
                false,
            );
            s.unit = "op";
            s.baselines = vec!["direct", "bare relay", "nutcracker"];
            s
        })
        .collect();
    for round in 0..a.rounds {
        for (scenario, (test, p)) in scenarios.iter_mut().zip(&loads) {
            let n = hops.len();
            for k in 0..n {
                let hop = &hops[(k + round as usize) % n];
                let requests = a.requests * if *p > 1 { 10 } else { 1 };
                let sample = measure(hop, test, *p, a.clients, requests, server_pid);
                eprintln!(
                    "overhead: round {round} {} {}: {sample}",
                    scenario.name, hop.name
                );
                scenario.add(round, hop.name, sample);
            }
        }
    }
    let idle = if a.idle > 0 {
        hops.iter()
            .filter_map(|h| {
                let pid = h.pid?;
                Some((h.name, idle_redis::measure(h.name, pid, &h.reach, a.idle)))
            })
            .collect()
    } else {
        Vec::new()
    };
    drop(hops);
    (scenarios, idle)
}

/// One redis-benchmark point against `hop`.
fn measure(
    hop: &Hop,
    test: &str,
    pipeline: u32,
    clients: u32,
    requests: u32,
    server: u32,
) -> Sample {
    let proxy_before = hop.pid.map(|p| procfs::cpu(p, false));
    let server_before = procfs::cpu(server, false);
    let out = Command::new("redis-benchmark")
        .args(&hop.args)
        .args(["-c", &clients.to_string(), "-n", &requests.to_string()])
        .args(["-P", &pipeline.to_string(), "-t", test, "-e", "--csv"])
        .output()
        .expect("run redis-benchmark");
    let proxy_cpu = hop
        .pid
        .zip(proxy_before)
        .map(|(p, b)| procfs::cpu(p, false).saturating_sub(b));
    let server_cpu = procfs::cpu(server, false).saturating_sub(server_before);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // "test","rps","avg_latency_ms",...
    let row: Vec<String> = stdout
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with(&format!("\"{test}\"")))
        .unwrap_or_else(|| panic!("redis-benchmark through {}: {stdout}\n{stderr}", hop.name))
        .split(',')
        .map(|f| f.trim_matches('"').to_owned())
        .collect();
    assert!(
        out.status.success() && !stdout.contains("ERR") && !stderr.contains("ERR"),
        "redis-benchmark through {}: {stdout}\n{stderr}",
        hop.name
    );
    let num = |i: usize| row.get(i).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    Sample::per_op(num(1), num(2), u64::from(requests), proxy_cpu, server_cpu)
}
