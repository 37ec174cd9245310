//! A throwaway Redis Cluster on loopback: `n` masters (`redis-server --cluster-enabled yes`), TLS only
//! (client port, cluster bus and `MIGRATE` all over TLS), the same ACL users as [`Redis`](super::Redis),
//! slots spread by `redis-cli --cluster create`, and resharding by `redis-cli --cluster reshard`.
//!
//! [`RedisCluster::announce`] makes the nodes announce other ports (those of the
//! [`IamStandIn`](super::IamStandIn)s in front of them, as ElastiCache's nodes announce their own TLS
//! endpoints): every `MOVED`, `ASK` and topology reply then names those; resharding then dials the nodes
//! at their own ports (`python/redis_cluster_reshard.py`), since `redis-cli --cluster` would dial the
//! announced ones.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::certs::{LOCAL_NAMES, PemFiles, TestCa};
use crate::error::{Result, RigError};
use crate::process::{ChildGuard, accepts, free_port, run, wait_until, write_file};

const RESHARD: &str = include_str!("../../python/redis_cluster_reshard.py");

/// How long the cluster gets to agree on its slots after a change.
const SETTLE: Duration = Duration::from_secs(60);

/// One node.
#[derive(Debug)]
struct Node {
    port: u16,
    _guard: ChildGuard,
}

/// A running throwaway Redis Cluster, killed and deleted on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Node>,
    /// The ports the nodes announce, in node order (none: their own).
    announced: Vec<u16>,
    tls: PemFiles,
    dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Start `masters` masters (no replicas) with certificates from `ca`, and spread the 16384 slots
    /// over them. Returns once every node reports `cluster_state:ok`.
    pub fn start(ca: &TestCa, masters: usize) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("iamwire-rcluster-")
            .tempdir()
            .map_err(RigError::io("redis cluster dir"))?;
        let tls = ca.write(dir.path(), "server", &ca.server(LOCAL_NAMES)?)?;
        // The nodes dial each other (cluster bus, MIGRATE) as TLS clients: a client certificate.
        let peer = ca.write(dir.path(), "peer", &ca.client("redis-node", &[])?)?;
        let mut nodes = Vec::with_capacity(masters);
        for i in 0..masters {
            nodes.push(start_node(dir.path(), &tls, &peer, i)?);
        }
        let cluster = Self {
            nodes,
            announced: Vec::new(),
            tls,
            dir,
        };
        let mut create = cluster.cli_command(cluster.nodes[0].port);
        create.args(["--cluster", "create"]);
        for node in &cluster.nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        run(create.args(["--cluster-yes"]))?;
        cluster.settle()?;
        Ok(cluster)
    }

    /// The nodes' TLS ports on 127.0.0.1, in the order they were started.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// The first node's address (what a configuration endpoint would be).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.nodes[0].port))
    }

    /// The servers' TLS files.
    pub fn tls(&self) -> &PemFiles {
        &self.tls
    }

    /// Where the cluster lives.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Run `redis-cli` as `admin` against the node at `port` (TLS, verifying the rig's CA).
    pub fn cli(&self, port: u16, args: &[&str]) -> Result<String> {
        let out = run(self.cli_command(port).args(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The node id of the node at `port`.
    pub fn node_id(&self, port: u16) -> Result<String> {
        self.cli(port, &["CLUSTER", "MYID"])
    }

    /// The own port of the node that owns `slot` (from each node's own line in `CLUSTER NODES`).
    pub fn slot_owner(&self, slot: u16) -> Result<u16> {
        for node in &self.nodes {
            let nodes = self.cli(node.port, &["CLUSTER", "NODES"])?;
            let Some(mine) = nodes.lines().find(|l| l.contains("myself")) else {
                continue;
            };
            let owns = mine.split_whitespace().skip(8).any(|range| {
                let (first, last) = range.split_once('-').unwrap_or((range, range));
                match (first.parse::<u16>(), last.parse::<u16>()) {
                    (Ok(first), Ok(last)) => (first..=last).contains(&slot),
                    _ => false, // a slot being migrated or imported: `[n->-id]`
                }
            });
            if owns {
                return Ok(node.port);
            }
        }
        Err(RigError::Protocol {
            what: "redis cluster".into(),
            detail: format!("no node owns slot {slot}"),
        })
    }

    /// Make node `i` announce the TLS port `ports[i]` (`cluster-announce-tls-port`) in every `MOVED`,
    /// `ASK`, `CLUSTER SLOTS` / `SHARDS` / `NODES` reply, then wait until every node names only those
    /// ports. With `hostname` (a name in the nodes' certificate, such as `localhost`), the nodes are
    /// named by it rather than by 127.0.0.1 (`cluster-announce-hostname`,
    /// `cluster-preferred-endpoint-type hostname`), as TLS clusters whose certificates name hosts do.
    /// [`ports`](Self::ports) stay the nodes' own.
    pub fn announce(&mut self, ports: &[u16], hostname: Option<&str>) -> Result<()> {
        if ports.len() != self.nodes.len() {
            return Err(RigError::Protocol {
                what: "redis cluster announce".into(),
                detail: format!("{} ports for {} nodes", ports.len(), self.nodes.len()),
            });
        }
        for (node, port) in self.nodes.iter().zip(ports) {
            let port = port.to_string();
            self.cli(
                node.port,
                &["CONFIG", "SET", "cluster-announce-tls-port", &port],
            )?;
            if let Some(hostname) = hostname {
                self.cli(
                    node.port,
                    &["CONFIG", "SET", "cluster-announce-hostname", hostname],
                )?;
                self.cli(
                    node.port,
                    &[
                        "CONFIG",
                        "SET",
                        "cluster-preferred-endpoint-type",
                        "hostname",
                    ],
                )?;
            }
        }
        self.announced = ports.to_vec();
        self.settle()
    }

    /// Move `slots` slots from the node at `from` to the node at `to` with their keys, as an operator
    /// would (`redis-cli --cluster reshard`: `SETSLOT IMPORTING` / `MIGRATING`, `MIGRATE` key by key,
    /// `SETSLOT NODE`), then wait for every node to agree. `from` and `to` are the nodes' own ports.
    pub fn reshard(&self, from: u16, to: u16, slots: u16) -> Result<()> {
        if !self.announced.is_empty() {
            self.reshard_direct(from, to, slots)?;
            return self.settle();
        }
        let (from_id, to_id) = (self.node_id(from)?, self.node_id(to)?);
        let mut cmd = self.cli_command(from);
        cmd.args(["--cluster", "reshard", &format!("127.0.0.1:{from}")])
            .args(["--cluster-from", &from_id, "--cluster-to", &to_id])
            .args(["--cluster-slots", &slots.to_string(), "--cluster-yes"]);
        run(&mut cmd)?;
        self.settle()
    }

    /// The same moves as `redis-cli --cluster reshard`, dialing the nodes at their own ports.
    fn reshard_direct(&self, from: u16, to: u16, slots: u16) -> Result<()> {
        let script = self.dir.path().join("redis_cluster_reshard.py");
        write_file(&script, RESHARD, 0o644)?;
        let config = serde_json::json!({
            "ca": self.tls.ca, "user": "admin", "password": "admin-pass", "from": from, "to": to,
            "all": self.ports(), "slots": slots,
        });
        let config_path = self.dir.path().join("reshard.json");
        write_file(&config_path, config.to_string(), 0o600)?;
        run(Command::new(crate::python()).arg(&script).arg(&config_path))?;
        Ok(())
    }

    /// Wait until every node says `cluster_state:ok` and agrees on the slot map (which names only the
    /// announced ports, if any).
    fn settle(&self) -> Result<()> {
        let start = Instant::now();
        loop {
            let mut views = Vec::new();
            let mut ok = true;
            for node in &self.nodes {
                let info = self
                    .cli(node.port, &["CLUSTER", "INFO"])
                    .unwrap_or_default();
                ok &= info.contains("cluster_state:ok");
                views.push(
                    self.cli(node.port, &["CLUSTER", "SLOTS"])
                        .unwrap_or_default(),
                );
            }
            let announced = views.iter().all(|view| {
                let named: Vec<&str> = view.lines().map(str::trim).collect();
                self.announced
                    .iter()
                    .all(|p| named.contains(&p.to_string().as_str()))
                    && (self.announced.is_empty()
                        || !self
                            .nodes
                            .iter()
                            .any(|n| named.contains(&n.port.to_string().as_str())))
            });
            if ok && announced && views.windows(2).all(|w| w[0] == w[1]) {
                return Ok(());
            }
            if start.elapsed() > SETTLE {
                return Err(RigError::Timeout {
                    what: "redis cluster".into(),
                    seconds: SETTLE.as_secs(),
                    detail: views.join(" | "),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn cli_command(&self, port: u16) -> Command {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["--tls", "-h", "127.0.0.1", "--no-auth-warning"])
            .arg("--cacert")
            .arg(&self.tls.ca)
            .args(["-p", &port.to_string(), "--user", "admin"])
            .env("REDISCLI_AUTH", "admin-pass");
        cmd
    }
}

fn start_node(root: &Path, tls: &PemFiles, peer: &PemFiles, i: usize) -> Result<Node> {
    let dir = root.join(format!("node-{i}"));
    std::fs::create_dir_all(&dir).map_err(RigError::io("redis cluster node dir"))?;
    let mut last_err = None;
    for _ in 0..3 {
        let (port, bus) = (free_port()?, free_port()?);
        let log = dir.join("redis.log");
        let conf = dir.join("redis.conf");
        let text = format!(
            "port 0\ntls-port {port}\ncluster-port {bus}\nbind 127.0.0.1\ndir {}\nlogfile {}\n\
             save \"\"\nappendonly no\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n\
             tls-client-cert-file {}\ntls-client-key-file {}\ntls-auth-clients optional\ntls-cluster yes\ntls-replication yes\ncluster-enabled yes\n\
             cluster-config-file nodes.conf\ncluster-node-timeout 5000\ndaemonize no\n\
             user default off\nuser admin on >admin-pass ~* &* +@all\n\
             user app on >app-pass ~* &* +@all\n",
            dir.display(),
            log.display(),
            tls.cert.display(),
            tls.key.display(),
            tls.ca.display(),
            peer.cert.display(),
            peer.key.display()
        );
        write_file(&conf, text, 0o600)?;
        let _ = std::fs::remove_file(dir.join("nodes.conf"));
        let child = Command::new("redis-server")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(RigError::io("starting redis-server"))?;
        let mut guard = ChildGuard::new(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        match wait_until("redis-server (cluster)", &mut guard, &log, || accepts(addr)) {
            Ok(()) => {
                return Ok(Node {
                    port,
                    _guard: guard,
                });
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| RigError::Timeout {
        what: "redis cluster node".into(),
        seconds: 0,
        detail: String::new(),
    }))
}
