//! Cluster mode in-process in front of the rig's real Redis Cluster (three masters, TLS everywhere,
//! `redis-server --cluster-enabled yes`), with real cluster clients: `redis-cli -c`, redis-rs's
//! cluster client and redis-py's `RedisCluster`. The proxy logs in to every node with the rig's
//! password for the user the client names (IAM tokens to every node, through `iamwire run`, are the
//! workspace's `tests/redis_cluster.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use iamwire_core::tls::{ClientAuth, server_config};
use iamwire_core::{AllowList, Database, Glob, IdentityRules, Protocol, StaticPasswordInjector};
use iamwire_redis::{ClusterConfig, NodePorts, Redis, RedisCluster, RedisProxy};
use iamwire_testkit::redis::RedisCluster as ClusterServers;
use iamwire_testkit::{LOCAL_NAMES, PemFiles, TestCa, python};
use tokio::sync::oneshot;

struct Rig {
    servers: Arc<ClusterServers>,
    proxy: RedisCluster,
    addr: SocketAddr,
    client: PemFiles,
    dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

async fn rig() -> Rig {
    let ca = TestCa::new().unwrap();
    let servers = tokio::task::block_in_place(|| ClusterServers::start(&ca, 3)).unwrap();
    let db = Database::new(
        "cluster",
        Protocol::Redis,
        format!("localhost:{}", servers.ports()[0]),
    );
    let allow = AllowList::new(vec![IdentityRules {
        name: "alice".into(),
        db_labels: [("*".to_owned(), Glob::new("*"))].into(),
        db_users: vec![Glob::new("app")],
        db_names: vec![],
    }]);
    let cert = ca.server(LOCAL_NAMES).unwrap();
    let tls = server_config(
        cert.cert_pem.as_bytes(),
        cert.key_pem.as_bytes(),
        Some(ca.cert_pem().as_bytes()),
        ClientAuth::Required,
    )
    .unwrap();
    let injector = StaticPasswordInjector::new("app-pass").as_user("app");
    let redis = Redis::new().cluster(ClusterConfig::new(NodePorts::Any { max: 16 }));
    let proxy = RedisProxy::builder(redis, db, tls, Arc::new(allow), Arc::new(injector))
        .upstream_tls(ca.cert_pem().as_bytes().to_vec())
        .shutdown_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let proxy = RedisCluster::new(proxy).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = proxy.clone();
    tokio::spawn(async move {
        serving
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    let dir = tempfile::tempdir().unwrap();
    let client = ca
        .write(dir.path(), "alice", &ca.client("alice", &[]).unwrap())
        .unwrap();
    Rig {
        servers: Arc::new(servers),
        proxy,
        addr,
        client,
        dir,
        _stop: stop,
    }
}

impl Rig {
    /// `redis-cli` through the proxy (mTLS as alice, user `app`), `-c` when `follow`; commands on stdin
    /// one a line.
    async fn cli(&self, port: u16, follow: bool, stdin: String) -> String {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["--tls", "-h", "127.0.0.1", "--no-auth-warning"])
            .arg("--cacert")
            .arg(&self.client.ca)
            .arg("--cert")
            .arg(&self.client.cert)
            .arg("--key")
            .arg(&self.client.key)
            .args([
                "-p",
                &port.to_string(),
                "--user",
                "app",
                "--pass",
                "anything",
            ]);
        if follow {
            cmd.arg("-c");
        }
        run_with_stdin(cmd, stdin).await
    }
}

async fn run_with_stdin(mut cmd: Command, stdin: String) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = cmd
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
        let out = child.wait_with_output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
    .await
    .unwrap()
}

/// Every number in a reply that stands alone (not part of a node id): ports, slots, counts.
fn numbers(text: &str) -> BTreeSet<u16> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter_map(|word| word.parse().ok())
        .collect()
}

const KEYS: usize = 90;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_follows_rewritten_redirections_to_every_node() {
    let rig = rig().await;
    let port = rig.addr.port();
    // Without -c: the redirection names the proxy's address for the node, never the node's.
    let key_elsewhere = (0..KEYS)
        .map(|i| format!("key:{i}"))
        .find(|k| {
            let slot: u16 = rig
                .servers
                .cli(rig.servers.ports()[0], &["CLUSTER", "KEYSLOT", k])
                .unwrap()
                .parse()
                .unwrap();
            // The first node holds the first third of the slots.
            slot > 5461
        })
        .unwrap();
    let moved = rig.cli(port, false, format!("GET {key_elsewhere}\n")).await;
    assert!(moved.contains("MOVED"), "{moved}");
    let proxy_ports: BTreeSet<u16> = rig.proxy.nodes().iter().map(|n| n.2).collect();
    let node_ports: BTreeSet<u16> = rig.servers.ports().into_iter().collect();
    assert_eq!(proxy_ports.len(), 3, "{:?}", rig.proxy.nodes());
    let named = numbers(&moved);
    assert!(named.is_disjoint(&node_ports), "{moved}");
    assert!(named.intersection(&proxy_ports).count() == 1, "{moved}");

    // With -c: keys in every slot range written and read back through the proxy.
    let sets: String = (0..KEYS).map(|i| format!("SET key:{i} v{i}\n")).collect();
    let out = rig.cli(port, true, sets).await;
    assert_eq!(out.matches("OK").count(), KEYS, "{out}");
    let gets: String = (0..KEYS).map(|i| format!("GET key:{i}\n")).collect();
    let out = rig.cli(port, true, gets).await;
    for i in 0..KEYS {
        assert!(out.lines().any(|l| l == format!("v{i}")), "v{i} in {out}");
    }
    for node in rig.servers.ports() {
        let keys: usize = rig.servers.cli(node, &["DBSIZE"]).unwrap().parse().unwrap();
        assert!(keys > 0, "node {node} got none of the keys");
    }

    // Topology replies name the proxy only.
    for query in ["CLUSTER SLOTS", "CLUSTER SHARDS", "CLUSTER NODES"] {
        let out = rig.cli(port, false, format!("{query}\n")).await;
        let named = numbers(&out);
        assert!(proxy_ports.is_subset(&named), "{query}: {out}");
        assert!(named.is_disjoint(&node_ports), "{query}: {out}");
        assert!(!out.contains("ERR"), "{query}: {out}");
    }
}

/// redis-py's `RedisCluster` through the proxy: a SET/GET loop until the file `until` exists (and at
/// least 300 rounds), printing how many round trips went well and the errors.
fn redis_py_loop(rig: &Rig, until: &std::path::Path) -> Command {
    let script = r#"
import sys, time, redis
from redis.cluster import RedisCluster, ClusterNode
import os
port, ca, cert, key, until = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port)], ssl=True, ssl_ca_certs=ca,
                  ssl_certfile=cert, ssl_keyfile=key, username="app", password="anything",
                  socket_timeout=30)
ok, errors, i = 0, [], 0
while not os.path.exists(until) or i < 300:
    k = f"py:{i % 300}"
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
    let mut cmd = Command::new(python());
    cmd.args(["-c", script])
        .arg(rig.addr.port().to_string())
        .arg(&rig.client.ca)
        .arg(&rig.client.cert)
        .arg(&rig.client.key)
        .arg(until);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_cluster_keeps_working_across_a_resharding() {
    let rig = rig().await;
    let ports = rig.servers.ports();
    let until = rig.dir.path().join("resharded");
    let client = tokio::spawn(run_with_stdin(redis_py_loop(&rig, &until), String::new()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!client.is_finished(), "the client ended early");
    // An operator moves a thousand slots (and their keys) from the first master to the second while
    // the client runs: MOVED and ASK redirections to the proxy's addresses throughout.
    let servers = Arc::clone(&rig.servers);
    tokio::task::spawn_blocking(move || servers.reshard(ports[0], ports[1], 1000))
        .await
        .unwrap()
        .unwrap();
    std::fs::write(&until, b"").unwrap();
    let out = client.await.unwrap();
    assert!(out.contains("errors 0"), "{out}");
    let ok: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("ok "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(ok >= 300, "{out}");
    // And after it, keys in the moved slots are read through the new owner's proxy address.
    let out = run_with_stdin(redis_py_loop(&rig, &until), String::new()).await;
    assert!(out.contains("errors 0"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_rs_cluster_client_reads_and_writes_every_slot_range() {
    let rig = rig().await;
    let read = |path: &std::path::Path| std::fs::read(path).unwrap();
    let client = redis::cluster::ClusterClient::builder(vec![format!(
        "rediss://127.0.0.1:{}",
        rig.addr.port()
    )])
    .username("app")
    .password("anything")
    .certs(redis::TlsCertificates {
        client_tls: Some(redis::ClientTlsConfig {
            client_cert: read(&rig.client.cert),
            client_key: read(&rig.client.key),
        }),
        root_cert: Some(read(&rig.client.ca)),
    })
    .build()
    .unwrap();
    let mut con = client.get_async_connection().await.unwrap();
    for i in 0..KEYS {
        let () = redis::cmd("SET")
            .arg(format!("rs:{i}"))
            .arg(i)
            .query_async(&mut con)
            .await
            .unwrap();
    }
    for i in 0..KEYS {
        let got: usize = redis::cmd("GET")
            .arg(format!("rs:{i}"))
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(got, i);
    }
    for node in rig.servers.ports() {
        let keys: usize = rig.servers.cli(node, &["DBSIZE"]).unwrap().parse().unwrap();
        assert!(keys > 0, "node {node} got none of the keys");
    }
    // A slot moves while the connection is open: its next command is redirected (MOVED through the
    // proxy's address for the new owner) and succeeds.
    let ports = rig.servers.ports();
    let servers = Arc::clone(&rig.servers);
    tokio::task::spawn_blocking(move || servers.reshard(ports[0], ports[2], 2000))
        .await
        .unwrap()
        .unwrap();
    for i in 0..KEYS {
        let got: usize = redis::cmd("GET")
            .arg(format!("rs:{i}"))
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(got, i);
    }
}
