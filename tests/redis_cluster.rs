//! `protocol: redis` with a `cluster` section through `iamwire run`, against a real Redis Cluster of three
//! TLS masters (`redis-server --cluster-enabled yes`, from the test rig) and real cluster clients over
//! mutual TLS: `redis-cli -c` (RESP2 and RESP3), redis-rs's cluster client and redis-py's `RedisCluster`,
//! the latter across a resharding (slots and their keys moving while it runs).
//!
//! ElastiCache with cluster mode enabled cannot run here, so each node is fronted by its own IAM
//! stand-in (`iamwire_testkit::redis::IamStandIn`, as in `tests/redis_iam.rs`): it accepts only an
//! `AUTH` whose token botocore verifies against the emulator's record of the assumed-role credentials
//! (signature, expiry, user, the replication group as the token's host) and closes a connection whose
//! last accepted `AUTH` is too old, then logs in to its node itself. The nodes announce the stand-ins'
//! ports (`cluster-announce-tls-port`), as ElastiCache's nodes announce their TLS endpoints: every
//! address in `MOVED`, `ASK` and `CLUSTER SLOTS` / `SHARDS` / `NODES` is a stand-in's, so each of the
//! proxy's node connections logs in with an IAM token through a cross-account role (external ID) in
//! the AWS emulator. The proxy's own addresses replace them all for clients.
//!
//! A self-hosted cluster with a static password (`password_file`) is benchmarked at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;
mod redis_support;

use std::process::{Command, Output};
use std::time::Duration;

use e2e_run_support::{ALLOWED_CLIENT, EXTERNAL_ID, Proxy, REGION, iamwire_ok};
use iamwire_testkit::TestCa;
use iamwire_testkit::moto::{CrossAccount, Moto};
use iamwire_testkit::redis::{
    AuthRecord, CacheTokenPolicy, IamStandIn, RedisCluster, create_cache_user,
};
use redis_support::{CACHE, text};

/// How the proxy logs in to the nodes.
enum Login {
    /// ElastiCache IAM through the stand-ins: the listener's `reauth_interval`, and the stand-ins'
    /// longest time since a connection's last `AUTH` (seconds).
    Iam {
        reauth_interval: Option<&'static str>,
        max_auth_age: Option<f64>,
        /// The nodes name themselves by this host rather than by 127.0.0.1.
        hostname: Option<&'static str>,
    },
    /// A self-hosted cluster: the nodes announce their own ports and the proxy logs in with `app`'s
    /// password.
    Password,
}

/// The AWS side of an IAM stack.
struct Aws {
    cross: CrossAccount,
    moto: Moto,
}

/// Everything one test needs; dropped in field order, so the proxy stops first.
struct ClusterStack {
    proxy: Proxy,
    standins: Vec<IamStandIn>,
    servers: RedisCluster,
    aws: Option<Aws>,
    dir: tempfile::TempDir,
}

impl ClusterStack {
    fn start(login: Login) -> Self {
        let ca = TestCa::new().unwrap();
        let iam = matches!(login, Login::Iam { .. });
        // The cluster and the emulator start side by side: each takes seconds.
        let aws = iam.then(|| std::thread::spawn(start_aws));
        let mut servers = RedisCluster::start(&ca, 3).unwrap();
        let aws = aws.map(|t| t.join().unwrap());
        let mut standins = Vec::new();
        if let (
            Login::Iam {
                max_auth_age,
                hostname: announce_hostname,
                ..
            },
            Some(aws),
        ) = (&login, &aws)
        {
            let mut policy = CacheTokenPolicy::elasticache(CACHE, REGION, aws.moto.endpoint());
            policy.max_auth_age = *max_auth_age;
            for port in servers.ports() {
                standins.push(IamStandIn::in_front_of(port, servers.tls(), &policy).unwrap());
            }
            let announced: Vec<u16> = standins.iter().map(IamStandIn::port).collect();
            servers.announce(&announced, *announce_hostname).unwrap();
        }
        let dir = tempfile::Builder::new()
            .prefix("iamwire-e2e-rcluster-")
            .tempdir()
            .unwrap();
        let d = dir.path().to_str().unwrap();
        iamwire_ok(&["certs", "init", "--dir", d]);
        iamwire_ok(&["certs", "client", "--dir", d, "--name", ALLOWED_CLIENT]);
        std::fs::copy(&servers.tls().ca, dir.path().join("db-ca.crt")).unwrap();
        let (listener_extra, aws_extra, db_aws, db_port) = match (&login, &aws) {
            (
                Login::Iam {
                    reauth_interval, ..
                },
                Some(aws),
            ) => {
                std::fs::write(
                    dir.path().join("aws.env"),
                    format!(
                        "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nAWS_ENDPOINT_URL={}\n",
                        aws.cross.proxy.access_key_id,
                        aws.cross.proxy.secret_access_key,
                        aws.moto.endpoint()
                    ),
                )
                .unwrap();
                (
                    reauth_interval
                        .map(|i| format!("      reauth_interval: {i}\n"))
                        .unwrap_or_default(),
                    "  env_file: aws.env\n".to_owned(),
                    format!(
                        "    aws:\n      region: {REGION}\n      assume_role_arn: \"{}\"\n      \
                         external_id: \"{EXTERNAL_ID}\"\n      elasticache:\n        \
                         replication_group_id: {CACHE}\n",
                        aws.cross.role_arn
                    ),
                    standins[0].port(),
                )
            }
            _ => {
                std::fs::write(dir.path().join("redis.password"), "app-pass\n").unwrap();
                (
                    "      password_file: redis.password\n".to_owned(),
                    String::new(),
                    String::new(),
                    servers.ports()[0],
                )
            }
        };
        let config = format!(
            r#"proxy:
  tls:
    cert_file: server.crt
    key_file: server.key
    client_ca_file: ca.crt
  listeners:
    - database: e2e-cluster
      listen: 127.0.0.1:0
{listener_extra}      cluster:
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
{aws_extra}db_service:
  enabled: "yes"
  databases:
  - name: e2e-cluster
    protocol: redis
    uri: "localhost:{db_port}"
    tls:
      mode: verify-full
      ca_cert_file: db-ca.crt
{db_aws}"#
        );
        let path = dir.path().join("iamwire.yaml");
        std::fs::write(&path, config).unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        // Every log level, the dependencies' too: every place a token could leak into.
        let proxy = Proxy::spawn(&path, &home, &[], &[("RUST_LOG".into(), "trace".into())]);
        Self {
            proxy,
            standins,
            servers,
            aws,
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
        let mut cmd = self.python(script);
        cmd.arg(keys.to_string()).arg(until);
        cmd
    }

    /// The venv's python running `script`, with `PORT`, `CA`, `CERT`, `KEY` in its environment.
    fn python(&self, script: &str) -> Command {
        let mut cmd = Command::new(iamwire_testkit::python());
        cmd.args(["-c", script])
            .env("PORT", self.proxy.port().to_string())
            .env("CA", self.file("ca.crt"))
            .env("CERT", self.file(&format!("{ALLOWED_CLIENT}.crt")))
            .env("KEY", self.file(&format!("{ALLOWED_CLIENT}.key")));
        cmd
    }

    /// redis-rs's async cluster client through the proxy as `app`, over mutual TLS.
    async fn redis_rs(&self) -> redis::cluster_async::ClusterConnection {
        self.redis_rs_with(redis::ProtocolVersion::RESP2).await
    }

    /// The same in RESP3.
    async fn redis_rs_resp3(&self) -> redis::cluster_async::ClusterConnection {
        self.redis_rs_with(redis::ProtocolVersion::RESP3).await
    }

    async fn redis_rs_with(
        &self,
        protocol: redis::ProtocolVersion,
    ) -> redis::cluster_async::ClusterConnection {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let read = |name: &str| std::fs::read(self.file(name)).unwrap();
        let client = redis::cluster::ClusterClient::builder(vec![format!(
            "rediss://127.0.0.1:{}",
            self.proxy.port()
        )])
        .use_protocol(protocol)
        // The first login of a run assumes the role and asks DescribeUsers: slow on a loaded machine.
        .connection_timeout(Duration::from_secs(30))
        .response_timeout(Duration::from_secs(30))
        .username("app")
        .password("not-a-db-password")
        .certs(redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: read(&format!("{ALLOWED_CLIENT}.crt")),
                client_key: read(&format!("{ALLOWED_CLIENT}.key")),
            }),
            root_cert: Some(read("ca.crt")),
        })
        .build()
        .unwrap();
        client.get_async_connection().await.unwrap()
    }

    /// Put a slot of the cluster in migration from its owner to another master (`SETSLOT IMPORTING` /
    /// `MIGRATING`, no key moved yet), then, through the proxy with one connection per node as a
    /// cluster client has: follow `SET` to the `ASK` redirection, send `ASKING` to the proxy's address
    /// for the importing node, wait 2.5 re-AUTH intervals, and send the `SET` there: it must be served
    /// there (`+OK`), not redirected.
    fn asking_across_a_reauth(&self) -> Output {
        const KEY: &str = "asking:key";
        let ports = self.servers.ports();
        let slot: u16 = self
            .servers
            .cli(ports[0], &["CLUSTER", "KEYSLOT", KEY])
            .unwrap()
            .parse()
            .unwrap();
        let from = self.servers.slot_owner(slot).unwrap();
        let to = *ports.iter().find(|p| **p != from).unwrap();
        let (from_id, to_id) = (
            self.servers.node_id(from).unwrap(),
            self.servers.node_id(to).unwrap(),
        );
        let slot = slot.to_string();
        self.servers
            .cli(to, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id])
            .unwrap();
        self.servers
            .cli(from, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id])
            .unwrap();
        let script = r#"
import os, time, redis
from redis.connection import SSLConnection
from redis.exceptions import AskError, MovedError
def conn(port):
    c = SSLConnection(host="127.0.0.1", port=port, ssl_ca_certs=os.environ["CA"],
                      ssl_certfile=os.environ["CERT"], ssl_keyfile=os.environ["KEY"],
                      username="app", password="not-a-db-password", socket_timeout=30)
    c.connect()
    return c
key, port = os.environ["KEY_NAME"], int(os.environ["PORT"])
for _ in range(3):
    c = conn(port)
    c.send_command("SET", key, "v")
    try:
        raise SystemExit(f"SET was not redirected: {c.read_response()}")
    except MovedError as e:
        port = e.port
    except AskError as e:
        port = e.port
        break
target = conn(port)
target.send_command("ASKING")
assert target.read_response() in (b"OK", "OK", True)
time.sleep(2.5)
target.send_command("SET", key, "v")
try:
    print("after ASKING:", target.read_response())
except (AskError, MovedError) as e:
    raise SystemExit(f"the ASKING was lost: {type(e).__name__} {e}")
"#;
        let mut cmd = self.python(script);
        cmd.env("KEY_NAME", KEY);
        cmd.output().unwrap()
    }

    /// Every stand-in's decisions so far, by node.
    fn decisions(&self) -> Vec<Vec<String>> {
        self.standins.iter().map(IamStandIn::decisions).collect()
    }

    /// Every stand-in's record of `AUTH`s, by node.
    fn auths(&self) -> Vec<Vec<AuthRecord>> {
        self.standins.iter().map(|s| s.auths().unwrap()).collect()
    }

    /// Assert that every node's stand-in accepted IAM logins for `app` and refused nothing, and that
    /// no token any stand-in received, nor its signature or session token, nor the proxy's AWS secret
    /// or external ID, is in the proxy's logs or in `shown` (what the clients printed).
    fn assert_iam_everywhere_and_no_secret(&self, shown: &str) {
        for (node, decisions) in self.decisions().iter().enumerate() {
            assert!(
                decisions.iter().any(|d| d == "accept login user='app'"),
                "node {node}: {decisions:?}"
            );
            assert!(
                !decisions
                    .iter()
                    .any(|d| d.starts_with("reject") || d.starts_with("expired")),
                "node {node}: {decisions:?}"
            );
        }
        let logs = self.proxy.stderr();
        assert!(logs.contains("DEBUG"), "debug logs expected");
        let aws = self.aws.as_ref().expect("an IAM stack");
        let mut secrets = vec![
            aws.cross.proxy.secret_access_key.clone(),
            EXTERNAL_ID.to_owned(),
            "X-Amz-".to_owned(),
            "Action=connect".to_owned(),
        ];
        for token in self.standins.iter().flat_map(IamStandIn::tokens) {
            for (name, value) in token_secrets(&token) {
                assert!(value.len() >= 20, "{name} too short to search for");
                secrets.push(value);
            }
            secrets.push(token);
        }
        assert!(secrets.len() > 4, "the stand-ins received no token");
        for secret in &secrets {
            assert!(
                !logs.contains(secret.as_str()),
                "a secret in the proxy's logs"
            );
            assert!(
                !shown.contains(secret.as_str()),
                "a secret shown to a client"
            );
        }
    }

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

/// Keys `rs:0` .. `rs:{n-1}` hold their numbers.
async fn assert_keys(con: &mut redis::cluster_async::ClusterConnection, n: usize) {
    for i in 0..n {
        let got: usize = redis::cmd("GET")
            .arg(format!("rs:{i}"))
            .query_async(con)
            .await
            .unwrap();
        assert_eq!(got, i);
    }
}

/// The emulator, ElastiCache users `app` and `admin` authenticating with IAM in the database account, and
/// the cross-account role the proxy assumes (with the external ID).
fn start_aws() -> Aws {
    let moto = Moto::start().unwrap();
    for user in ["app", "admin"] {
        create_cache_user(&moto, "elasticache", REGION, user, true).unwrap();
    }
    let cross = moto
        .cross_account("iamwire-e2e-rcluster", EXTERNAL_ID)
        .unwrap();
    Aws { cross, moto }
}

/// A token's signature and session token (percent-decoded), the parts that are secrets on their own.
fn token_secrets(token: &str) -> Vec<(&'static str, String)> {
    let query = token.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(k, v)| match k {
            "X-Amz-Signature" => Some(("signature", v.to_owned())),
            "X-Amz-Security-Token" => Some(("session token", percent_decode(v))),
            _ => None,
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_clients_through_iamwire_run_to_an_iam_cluster_across_a_resharding() {
    let stack = ClusterStack::start(Login::Iam {
        reauth_interval: None,
        max_auth_age: None,
        hostname: None,
    });
    let mut shown = String::new();
    // redis-cli -c, RESP2 and RESP3: keys on every master, through the proxy's node addresses only.
    for (proto, extra) in [("2", &[][..]), ("3", &["-3"][..])] {
        let sets: String = (0..60)
            .map(|i| format!("SET cli{proto}:{i} {i}\n"))
            .collect();
        let out = stack.cli(extra, &sets);
        assert_eq!(
            out.matches("OK").count(),
            60,
            "RESP{proto}: {out}\n{}",
            stack.proxy.stderr()
        );
        shown.push_str(&out);
        let gets: String = (0..60).map(|i| format!("GET cli{proto}:{i}\n")).collect();
        let out = stack.cli(extra, &gets);
        for i in 0..60 {
            assert!(
                out.lines().any(|l| l.trim_matches('"') == i.to_string()),
                "RESP{proto} {i}: {out}"
            );
        }
        shown.push_str(&out);
        // Topology names only the proxy: neither the nodes nor the stand-ins the cluster announces.
        for ask in ["CLUSTER SLOTS\n", "CLUSTER SHARDS\n", "CLUSTER NODES\n"] {
            let topology = stack.cli(extra, ask);
            assert!(topology.contains("127.0.0.1"), "{ask}: {topology}");
            for port in stack
                .servers
                .ports()
                .into_iter()
                .chain(stack.standins.iter().map(IamStandIn::port))
            {
                assert!(!topology.contains(&port.to_string()), "{topology}");
            }
            shown.push_str(&topology);
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

    // redis-rs's cluster client writes and reads keys in every slot range.
    let mut con = stack.redis_rs().await;
    for i in 0..100 {
        let () = redis::cmd("SET")
            .arg(format!("rs:{i}"))
            .arg(i)
            .query_async(&mut con)
            .await
            .unwrap();
    }
    assert_keys(&mut con, 100).await;

    // redis-py's RedisCluster keeps working while 1500 slots and their keys move to another master.
    let until = stack.file("resharded");
    let client = std::thread::spawn({
        let mut cmd = stack.python_loop(200, &until);
        move || text(&cmd.output().unwrap())
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ports = stack.servers.ports();
    stack.servers.reshard(ports[1], ports[2], 1500).unwrap();
    std::fs::write(&until, b"").unwrap();
    let out = tokio::task::spawn_blocking(move || client.join().unwrap())
        .await
        .unwrap();
    assert!(out.contains("errors 0"), "{out}\n{}", stack.proxy.stderr());
    shown.push_str(&out);
    // redis-rs's open connection follows the moved slots (MOVED through the proxy's addresses).
    assert_keys(&mut con, 100).await;
    drop(con);

    // The proxy served a listener per node; every node's stand-in saw IAM logins and refused none.
    assert!(stack.proxy.stderr().contains("serving a cluster node"));
    stack.assert_iam_everywhere_and_no_secret(&shown);
}

#[test]
fn redis_benchmark_cluster_mode_through_iamwire_run() {
    let stack = ClusterStack::start(Login::Password);
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

/// redis-py's `RedisCluster` for `SECONDS` seconds, no retries to hide an error behind: SET/GET over keys
/// in every slot range with a pipeline now and then (RESP2), and a sharded subscriber (`SSUBSCRIBE`,
/// RESP3: a RESP2 subscriber is not re-authenticated while subscribed) getting every message a
/// publisher sends (`SPUBLISH`), in order.
const PY_LONG_CLUSTER_SESSION: &str = r#"
import json, os, threading, time, traceback, redis
from redis.cluster import RedisCluster, ClusterNode
def cluster(proto):
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", int(os.environ["PORT"]))], ssl=True,
                        ssl_ca_certs=os.environ["CA"], ssl_certfile=os.environ["CERT"],
                        ssl_keyfile=os.environ["KEY"], username="app", password="not-a-db-password",
                        socket_timeout=30, cluster_error_retry_attempts=0, protocol=proto)
stop = time.time() + float(os.environ["SECONDS"])
errors, counts = [], {}
def getset():
    rc, ok, i = cluster(2), 0, 0
    while time.time() < stop:
        k = f"long:{i % 90}"
        rc.set(k, str(i))
        assert rc.get(k) == str(i).encode(), k
        if i % 50 == 0:
            p = rc.pipeline()
            for j in range(30):
                p.incr(f"long:n{j}")
            p.execute()
        ok += 1
        i += 1
        time.sleep(0.01)
    counts["ok"] = ok
def subscriber(ready):
    ps = cluster(3).pubsub()
    ps.ssubscribe("long:news")
    m = ps.get_sharded_message(timeout=10)
    assert m and m["type"] == "ssubscribe", m
    ready.set()
    got = 0
    while time.time() < stop + 2:
        m = ps.get_sharded_message(timeout=0.5)
        if m and m["type"] == "smessage":
            assert int(m["data"]) == got, (m, got)
            got += 1
    counts["received"] = got
def publisher(ready):
    assert ready.wait(10), "no subscriber"
    rc, n = cluster(2), 0
    while time.time() < stop:
        rc.spublish("long:news", n)
        n += 1
        time.sleep(0.2)
    counts["published"] = n
def guard(f, *a):
    try:
        f(*a)
    except Exception:
        errors.append(traceback.format_exc())
ready = threading.Event()
threads = [threading.Thread(target=guard, args=a) for a in
           [(getset,), (subscriber, ready), (publisher, ready)]]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"errors": errors, "counts": counts}))
"#;

/// Long cluster sessions under IAM: the proxy re-authenticates every second, and each node's stand-in
/// closes a connection whose last accepted `AUTH` is older than 4 seconds (ElastiCache: 12 hours).
/// redis-py's `RedisCluster` (commands, and a sharded subscriber) and redis-rs's cluster client (RESP3)
/// run on every node for 12 seconds with zero errors, and every node's stand-in saw, on each of the proxy's connections to it, a
/// token that botocore verified at least every 4 seconds, from the first AUTH to the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_sessions_are_reauthenticated_on_every_node_without_an_error() {
    const SECONDS: u64 = 12;
    const MAX_AUTH_AGE: f64 = 4.0;
    let stack = ClusterStack::start(Login::Iam {
        reauth_interval: Some("1s"),
        max_auth_age: Some(MAX_AUTH_AGE),
        // As ElastiCache's TLS clusters, whose certificates name hosts: the proxy dials and verifies
        // `localhost`.
        hostname: Some("localhost"),
    });
    let python = std::thread::spawn({
        let mut cmd = stack.python(PY_LONG_CLUSTER_SESSION);
        cmd.env("SECONDS", SECONDS.to_string());
        move || cmd.output().unwrap()
    });
    // redis-rs beside it, RESP3, on its own keys.
    let mut con = stack.redis_rs_resp3().await;
    let stop = tokio::time::Instant::now() + Duration::from_secs(SECONDS);
    let mut rs_ok = 0u64;
    while tokio::time::Instant::now() < stop {
        let key = format!("rs3:{}", rs_ok % 90);
        let () = redis::cmd("SET")
            .arg(&key)
            .arg(rs_ok)
            .query_async(&mut con)
            .await
            .unwrap();
        let got: u64 = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(got, rs_ok);
        rs_ok += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(con);
    let out = tokio::task::spawn_blocking(move || python.join().unwrap())
        .await
        .unwrap();
    let mut shown = text(&out);
    assert!(out.status.success(), "{shown}\n{}", stack.proxy.stderr());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the report: {e}: {shown}"));
    assert_eq!(
        report["errors"],
        serde_json::json!([]),
        "{shown}\n{}",
        stack.proxy.stderr()
    );
    let counts = &report["counts"];
    assert!(counts["ok"].as_u64().unwrap() > 50, "{counts}");
    assert!(counts["published"].as_u64().unwrap() > 20, "{counts}");
    assert_eq!(counts["received"], counts["published"], "{counts}");
    assert!(rs_ok > 50, "{rs_ok}");
    eprintln!("redis-py: {counts}, redis-rs: {rs_ok} rounds");

    // A slot being migrated: ASKING, then the command it is for seconds later, while re-AUTHs fall
    // due. ASKING lasts one command, and AUTH is one: the command still lands on the importing node.
    let out = stack.asking_across_a_reauth();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out),
        stack.proxy.stderr()
    );
    shown.push_str(&text(&out));

    // From each node's stand-in: every AUTH accepted, none refused, no connection expired, and each
    // connection that lived through the run re-authenticated all along with a verified token.
    for (node, auths) in stack.auths().iter().enumerate() {
        assert!(
            auths.iter().all(|a| a.accepted && a.user == "app"),
            "node {node}: {auths:?}"
        );
        let mut conns: std::collections::BTreeMap<u64, Vec<&AuthRecord>> = Default::default();
        for auth in auths {
            assert!(auth.signed.is_some(), "{auth:?}");
            conns.entry(auth.conn).or_default().push(auth);
        }
        let mut long_lived = 0;
        for (conn, seen) in &conns {
            assert_eq!(seen[0].what, "login", "node {node} conn {conn}: {seen:?}");
            for pair in seen.windows(2) {
                let gap = pair[1].at - pair[0].at;
                assert!(
                    gap < MAX_AUTH_AGE,
                    "node {node} conn {conn}: {gap:.1} s between two AUTHs: {seen:?}"
                );
                assert_eq!(pair[1].what, "reauth");
            }
            let span = seen.last().unwrap().at - seen[0].at;
            if span >= SECONDS as f64 / 2.0 {
                long_lived += 1;
                assert!(
                    seen.len() >= 5,
                    "node {node} conn {conn}: {} AUTHs in {span:.1} s",
                    seen.len()
                );
            }
        }
        // A connection per client per node; the topology queries and the ASKING check add a few.
        assert!(
            long_lived >= 2,
            "node {node}: {long_lived} long-lived connections: {conns:?}"
        );
        assert!(conns.len() <= 20, "node {node}: reconnections? {conns:?}");
        eprintln!(
            "node {node}: {} connections, {} re-AUTHs",
            conns.len(),
            auths.iter().filter(|a| a.what == "reauth").count()
        );
    }
    let logs = stack.proxy.stderr();
    assert!(logs.contains("re-authenticated the database connection"));
    // The proxy dialed the nodes by the name they announce.
    for standin in &stack.standins {
        let node = format!("node=localhost:{}", standin.port());
        assert!(
            logs.lines()
                .any(|l| l.contains("serving a cluster node") && l.contains(&node)),
            "{node}: {logs}"
        );
    }
    stack.assert_iam_everywhere_and_no_secret(&shown);
}
