//! `protocol: redis` with a `cluster` section through `iamwire run`: a real Redis Cluster of three TLS
//! masters (`redis-server --cluster-enabled yes`, from the test rig), the proxy logging in to every node
//! with a static password (`password_file`), and real cluster clients over mutual TLS: `redis-cli -c`
//! and redis-py's `RedisCluster`, the latter across a resharding.
//!
//! Not here: IAM tokens to a cluster. The IAM token path is the same injector as standalone mode
//! (`tests/redis_iam.rs`, with botocore checking every token); a stand-in in front of each cluster node
//! is not built yet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;
mod redis_support;

use std::process::{Command, Output};

use e2e_run_support::{ALLOWED_CLIENT, Proxy, REGION, iamwire_ok};
use iamwire_testkit::TestCa;
use iamwire_testkit::redis::RedisCluster;
use redis_support::text;

struct ClusterStack {
    proxy: Proxy,
    servers: RedisCluster,
    dir: tempfile::TempDir,
}

impl ClusterStack {
    fn start() -> Self {
        let ca = TestCa::new().unwrap();
        let servers = RedisCluster::start(&ca, 3).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("iamwire-e2e-rcluster-")
            .tempdir()
            .unwrap();
        let d = dir.path().to_str().unwrap();
        iamwire_ok(&["certs", "init", "--dir", d]);
        iamwire_ok(&["certs", "client", "--dir", d, "--name", ALLOWED_CLIENT]);
        std::fs::copy(&servers.tls().ca, dir.path().join("db-ca.crt")).unwrap();
        std::fs::write(dir.path().join("redis.password"), "app-pass\n").unwrap();
        let config = format!(
            r#"proxy:
  tls:
    cert_file: server.crt
    key_file: server.key
    client_ca_file: ca.crt
  listeners:
    - database: e2e-cluster
      listen: 127.0.0.1:0
      password_file: redis.password
      cluster:
        # Not `localhost`: redis-py turns that into 127.0.0.1 for the nodes it learns from CLUSTER
        # SLOTS but not for an ASK target, which it then cannot find (and fails the command).
        node_ports: any
        announce_host: 127.0.0.1
  identities:
    - name: {ALLOWED_CLIENT}
      db_labels: {{"*": "*"}}
      db_users: ["app"]
      db_names: ["*"]
aws:
  region: {REGION}
db_service:
  enabled: "yes"
  databases:
  - name: e2e-cluster
    protocol: redis
    uri: "localhost:{}"
    tls:
      mode: verify-full
      ca_cert_file: db-ca.crt
"#,
            servers.ports()[0]
        );
        let path = dir.path().join("iamwire.yaml");
        std::fs::write(&path, config).unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let proxy = Proxy::spawn(&path, &home, &[], &[("RUST_LOG".into(), "info".into())]);
        Self {
            proxy,
            servers,
            dir,
        }
    }

    fn file(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// `redis-cli -c` through the proxy as `app`, with `stdin` as its commands.
    fn cli(&self, extra: &[&str], stdin: &str) -> String {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = Command::new("redis-cli")
            .args(["--tls", "-h", "localhost", "--no-auth-warning", "-c"])
            .arg("--cacert")
            .arg(self.file("ca.crt"))
            .arg("--cert")
            .arg(self.file(&format!("{ALLOWED_CLIENT}.crt")))
            .arg("--key")
            .arg(self.file(&format!("{ALLOWED_CLIENT}.key")))
            .args(["-p", &self.proxy.port().to_string(), "--user", "app"])
            .env("REDISCLI_AUTH", "not-a-database-password")
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        text(&child.wait_with_output().unwrap())
    }

    /// redis-py's `RedisCluster` SET/GET loop over `keys` keys until the file `until` exists.
    fn python_loop(&self, keys: usize, until: &std::path::Path) -> Command {
        let script = r#"
import os, sys, redis
from redis.cluster import RedisCluster, ClusterNode
rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", int(os.environ["PORT"]))], ssl=True,
                  ssl_ca_certs=os.environ["CA"], ssl_certfile=os.environ["CERT"],
                  ssl_keyfile=os.environ["KEY"], username="app", password="not-a-db-password",
                  socket_timeout=30)
keys, until = int(sys.argv[1]), sys.argv[2]
ok, errors, i = 0, [], 0
while not os.path.exists(until) or i < keys:
    k = f"e2e:{i % keys}"
    try:
        rc.set(k, str(i))
        if rc.get(k) != str(i).encode():
            errors.append(f"{k}: wrong value")
        ok += 1
    except Exception as e:
        errors.append(f"{k}: {type(e).__name__}: {e}")
    i += 1
print(f"ok {ok}")
print(f"errors {len(errors)}")
for e in errors[:10]:
    print(e)
"#;
        let mut cmd = Command::new(iamwire_testkit::python());
        cmd.args(["-c", script])
            .arg(keys.to_string())
            .arg(until)
            .env("PORT", self.proxy.port().to_string())
            .env("CA", self.file("ca.crt"))
            .env("CERT", self.file(&format!("{ALLOWED_CLIENT}.crt")))
            .env("KEY", self.file(&format!("{ALLOWED_CLIENT}.key")));
        cmd
    }
}

impl ClusterStack {
    /// `redis-benchmark --cluster` through the proxy as `app`: 50 clients, SET and GET, server errors
    /// shown (`-e`), CSV; `extra` adds pipelining.
    fn benchmark(&self, requests: u32, extra: &[&str]) -> Output {
        Command::new("redis-benchmark")
            .args(["--tls", "--cluster", "-h", "127.0.0.1"])
            .arg("--cacert")
            .arg(self.file("ca.crt"))
            .arg("--cert")
            .arg(self.file(&format!("{ALLOWED_CLIENT}.crt")))
            .arg("--key")
            .arg(self.file(&format!("{ALLOWED_CLIENT}.key")))
            .args(["-p", &self.proxy.port().to_string()])
            .args(["--user", "app", "-a", "not-a-db-password", "-c", "50"])
            .args(["-n", &requests.to_string(), "-t", "set,get", "-e", "--csv"])
            .args(extra)
            .output()
            .unwrap()
    }
}

#[test]
fn cluster_clients_through_iamwire_run_across_a_resharding() {
    let stack = ClusterStack::start();
    // redis-cli -c, RESP2 and RESP3: keys on every master, through the proxy's node addresses only.
    for (proto, extra) in [("2", &[][..]), ("3", &["-3"][..])] {
        let sets: String = (0..60)
            .map(|i| format!("SET cli{proto}:{i} {i}\n"))
            .collect();
        let out = stack.cli(extra, &sets);
        assert_eq!(out.matches("OK").count(), 60, "RESP{proto}: {out}");
        let gets: String = (0..60).map(|i| format!("GET cli{proto}:{i}\n")).collect();
        let out = stack.cli(extra, &gets);
        for i in 0..60 {
            assert!(
                out.lines().any(|l| l.trim_matches('"') == i.to_string()),
                "RESP{proto} {i}: {out}"
            );
        }
        let slots = stack.cli(extra, "CLUSTER SLOTS\n");
        for port in stack.servers.ports() {
            assert!(!slots.contains(&port.to_string()), "{slots}");
        }
    }
    for port in stack.servers.ports() {
        let keys: usize = stack
            .servers
            .cli(port, &["DBSIZE"])
            .unwrap()
            .parse()
            .unwrap();
        assert!(keys > 0, "node {port} got none of the keys");
    }
    // redis-py's RedisCluster keeps working while 1500 slots move to another master.
    let until = stack.file("resharded");
    let client = std::thread::spawn({
        let mut cmd = stack.python_loop(200, &until);
        move || text(&cmd.output().unwrap())
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    let ports = stack.servers.ports();
    stack.servers.reshard(ports[1], ports[2], 1500).unwrap();
    std::fs::write(&until, b"").unwrap();
    let out = client.join().unwrap();
    assert!(out.contains("errors 0"), "{out}\n{}", stack.proxy.stderr());
    // The proxy served a listener per node and said so.
    assert!(stack.proxy.stderr().contains("serving a cluster node"));
}

#[test]
fn redis_benchmark_cluster_mode_through_iamwire_run() {
    let stack = ClusterStack::start();
    for extra in [&[][..], &["-P", "16"][..]] {
        let out = stack.benchmark(20_000, extra);
        let shown = text(&out);
        assert!(out.status.success(), "{extra:?}: {shown}");
        assert!(
            !shown.contains("ERR") && !shown.contains("Error"),
            "{extra:?}: {shown}"
        );
        // One CSV row per test, with its requests per second.
        for test in ["\"SET\"", "\"GET\""] {
            let row = shown.lines().find(|l| l.starts_with(test));
            assert!(row.is_some(), "{extra:?}: {shown}");
            eprintln!(
                "redis-benchmark --cluster {extra:?}: {}",
                row.unwrap_or_default()
            );
        }
    }
}
