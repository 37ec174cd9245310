//! No open relay through a Redis Cluster served by `iamwire run` (issue #17, security checks): a real
//! Redis Cluster of three TLS masters (`redis-server --cluster-enabled yes`, from the test rig), the
//! proxy logging in to its nodes as `app` with the listener's static password, and "foreign hosts":
//! listeners on loopback that stand in for hosts that are not nodes of the registered cluster and
//! record every connection and every byte they get.
//!
//! - A client cannot make the proxy dial an address: redirections it forges (a script's
//!   `redis.error_reply('MOVED ...')` / `ASK`) are refused with `-ERR`, a topology-shaped value a
//!   script returns is data (passed as it is, never read as nodes), and the proxy's own topology
//!   replies name only its own addresses; the foreign host sees no connection.
//! - Commands that make the *server* dial an address the client names (`CLUSTER MEET`, `MIGRATE`) are
//!   the database's business (its ACL; ElastiCache and MemoryDB disable them): the foreign host gets
//!   the server's TLS handshake, and no credential of the proxy's.
//! - A node that announces an address on another host (here `cluster-announce-hostname 127.0.0.2`,
//!   `cluster-announce-tls-port`: a real node reporting a foreign address in `CLUSTER SHARDS`) is not
//!   served at all when that host is not on `cluster.node_hosts` (by default the configuration
//!   endpoint's host), even if it holds a certificate of the database's CA: no connection is made.
//!   Where the operator's list does take it in, it gets a TLS handshake that fails closed (its
//!   certificate is not the database CA's for that name): it never sees the proxy's `AUTH`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e_run_support::{ALLOWED_CLIENT, EXTERNAL_ID, Proxy, REGION, iamwire_ok, write_aws_env};
use iamwire_testkit::TestCa;
use iamwire_testkit::moto::Moto;
use iamwire_testkit::redis::{CacheTokenPolicy, IamStandIn, RedisCluster, create_cache_user};
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The password the proxy logs in to the nodes with (the rig's `app` ACL user); a foreign host must
/// never see it.
const PASSWORD: &str = "app-pass";
/// The longest any answer may take on a loaded machine.
const BOUND: Duration = Duration::from_secs(30);

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// A host that is not a node of the registered cluster: every connection it accepted, with the bytes
/// it got (plaintext: a TLS ClientHello stays a ClientHello).
struct Foreign {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Foreign {
    async fn on(ip: &str) -> Self {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&got);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let record = Arc::clone(&record);
                tokio::spawn(async move {
                    let index = {
                        let mut all = record.lock().unwrap();
                        all.push(Vec::new());
                        all.len() - 1
                    };
                    let mut buf = vec![0u8; 4096];
                    let deadline = Instant::now() + BOUND;
                    while let Ok(Ok(n)) =
                        tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await
                    {
                        if n == 0 {
                            break;
                        }
                        record.lock().unwrap()[index].extend_from_slice(&buf[..n]);
                    }
                });
            }
        });
        Self { addr, got }
    }

    fn connections(&self) -> usize {
        self.got.lock().unwrap().len()
    }

    /// Nothing it received holds the password or an `AUTH`.
    fn assert_no_credential(&self, what: &str) {
        for bytes in self.got.lock().unwrap().iter() {
            let text = String::from_utf8_lossy(bytes).to_ascii_uppercase();
            assert!(
                !text.contains(&PASSWORD.to_ascii_uppercase()) && !text.contains("AUTH"),
                "{what}: the foreign host got {text:?}"
            );
        }
    }
}

/// The replication group an IAM stack's tokens are for.
const CACHE: &str = "relay-cache";

/// Dropped in field order: the proxy first.
struct Stack {
    proxy: Proxy,
    _standins: Vec<IamStandIn>,
    cluster: RedisCluster,
    _moto: Option<Moto>,
    tls: Arc<rustls::ClientConfig>,
    dir: tempfile::TempDir,
}

impl Stack {
    /// A self-hosted cluster: the proxy logs in with the listener's password.
    fn start(ca: &TestCa) -> Self {
        Self::with(ca, false)
    }

    /// An ElastiCache-like cluster (`aws.elasticache`): each node behind the IAM stand-in of
    /// `tests/redis_cluster.rs` (botocore checks every token against the emulator), announcing the
    /// stand-in's port; the proxy logs in with IAM tokens through a cross-account role.
    fn start_iam(ca: &TestCa) -> Self {
        Self::with(ca, true)
    }

    /// Stop the proxy and start it again with `node_hosts` (a YAML flow sequence) in its listener's
    /// `cluster` section.
    fn restart_with_node_hosts(&mut self, node_hosts: &str) {
        let path = self.dir.path().join("iamwire.yaml");
        let config = std::fs::read_to_string(&path).unwrap().replacen(
            "        announce_host: 127.0.0.1\n",
            &format!("        announce_host: 127.0.0.1\n        node_hosts: {node_hosts}\n"),
            1,
        );
        std::fs::write(&path, config).unwrap();
        let home = self.dir.path().join("home");
        self.proxy = Proxy::spawn(&path, &home, &[], &[("RUST_LOG".into(), "debug".into())]);
    }

    fn with(ca: &TestCa, iam: bool) -> Self {
        let mut cluster = RedisCluster::start(ca, 3).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("iamwire-e2e-rrelay-")
            .tempdir()
            .unwrap();
        let d = dir.path().to_str().unwrap();
        iamwire_ok(&["certs", "init", "--dir", d]);
        iamwire_ok(&["certs", "client", "--dir", d, "--name", ALLOWED_CLIENT]);
        std::fs::copy(&cluster.tls().ca, dir.path().join("db-ca.crt")).unwrap();
        std::fs::write(dir.path().join("redis.password"), format!("{PASSWORD}\n")).unwrap();
        let (mut standins, mut moto, mut db_aws, mut login) = (
            Vec::new(),
            None,
            String::new(),
            "      password_file: redis.password\n".to_owned(),
        );
        let mut db_port = cluster.ports()[0];
        if iam {
            let aws = Moto::start().unwrap();
            create_cache_user(&aws, "elasticache", REGION, "app", true).unwrap();
            let cross = aws
                .cross_account("iamwire-e2e-rrelay", EXTERNAL_ID)
                .unwrap();
            let policy = CacheTokenPolicy::elasticache(CACHE, REGION, aws.endpoint());
            for port in cluster.ports() {
                standins.push(IamStandIn::in_front_of(port, cluster.tls(), &policy).unwrap());
            }
            let announced: Vec<u16> = standins.iter().map(IamStandIn::port).collect();
            cluster.announce(&announced, None).unwrap();
            write_aws_env(dir.path(), &cross, &aws.endpoint());
            db_aws = format!(
                "    aws:\n      region: {REGION}\n      assume_role_arn: \"{}\"\n      \
                 external_id: \"{EXTERNAL_ID}\"\n      elasticache:\n        \
                 replication_group_id: {CACHE}\n",
                cross.role_arn
            );
            login = String::new();
            db_port = announced[0];
            moto = Some(aws);
        }
        let aws_section = if iam {
            format!("aws:\n  region: {REGION}\n  env_file: aws.env\n")
        } else {
            format!("aws:\n  region: {REGION}\n")
        };
        let config = format!(
            r#"proxy:
  tls:
    cert_file: server.crt
    key_file: server.key
    client_ca_file: ca.crt
  listeners:
    - database: relay-cluster
      listen: 127.0.0.1:0
{login}      cluster:
        node_ports: any
        announce_host: 127.0.0.1
  identities:
    - name: {ALLOWED_CLIENT}
      db_labels: {{"*": "*"}}
      db_users: ["app"]
      db_names: ["*"]
{aws_section}db_service:
  enabled: "yes"
  databases:
  - name: relay-cluster
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
        let proxy = Proxy::spawn(&path, &home, &[], &[("RUST_LOG".into(), "debug".into())]);
        let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
        let tls = iamwire_core::tls::upstream_config(
            iamwire_core::TlsMode::VerifyFull,
            Some(&read("ca.crt")),
            Some((&read("alice.crt"), &read("alice.key"))),
        )
        .unwrap();
        Self {
            proxy,
            _standins: standins,
            cluster,
            _moto: moto,
            tls,
            dir,
        }
    }

    /// A session as `app` through the proxy's address `port` (the main one, or a node's).
    async fn session(&self, port: u16) -> Tls {
        let (s, answer) = self.login(port).await;
        assert_eq!(answer, "+OK");
        s
    }

    /// `AUTH app ...` through the proxy's address `port`: the connection and the answer.
    async fn login(&self, port: u16) -> (Tls, String) {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        let mut s = tokio::time::timeout(BOUND, connector.connect(name, tcp))
            .await
            .unwrap()
            .unwrap();
        let answer = ask(&mut s, &["AUTH", "app", "not-the-password"]).await;
        (s, answer)
    }
}

/// A command as a RESP array of bulk strings.
fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

/// One whole reply, as its RESP text.
async fn reply<S: AsyncRead + Unpin>(s: &mut S) -> String {
    let mut out = Vec::new();
    read_value(s, &mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn line<S: AsyncRead + Unpin>(s: &mut S, out: &mut Vec<u8>) -> String {
    let start = out.len();
    while !out[start..].ends_with(b"\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(BOUND, s.read(&mut byte))
            .await
            .expect("no reply")
            .unwrap();
        assert_eq!(n, 1, "closed mid-reply: {:?}", String::from_utf8_lossy(out));
        out.push(byte[0]);
    }
    String::from_utf8_lossy(&out[start..out.len() - 2]).into_owned()
}

async fn read_value<S: AsyncRead + Unpin>(s: &mut S, out: &mut Vec<u8>) {
    let head = line(s, out).await;
    let (kind, rest) = head.split_at(1);
    match kind {
        "*" | "%" | ">" => {
            let n: i64 = rest.parse().unwrap();
            let n = if kind == "%" { n * 2 } else { n };
            for _ in 0..n.max(0) {
                Box::pin(read_value(s, out)).await;
            }
        }
        "$" | "=" => {
            let n: i64 = rest.parse().unwrap();
            if n >= 0 {
                let mut body = vec![0u8; usize::try_from(n).unwrap() + 2];
                tokio::time::timeout(BOUND, s.read_exact(&mut body))
                    .await
                    .unwrap()
                    .unwrap();
                out.extend_from_slice(&body);
            }
        }
        _ => {}
    }
}

/// Send `args`, read one reply; its text (a simple or error reply: its one line).
async fn ask<S: AsyncRead + tokio::io::AsyncWrite + Unpin>(s: &mut S, args: &[&str]) -> String {
    s.write_all(&command(args)).await.unwrap();
    reply(s).await.trim_end().to_owned()
}

/// The proxy ports `CLUSTER SLOTS` names, through the proxy.
fn ports_in(slots: &str) -> Vec<u16> {
    let lines: Vec<&str> = slots.split("\r\n").collect();
    let mut ports = Vec::new();
    for pair in lines.windows(3) {
        if pair[0] == "$9"
            && pair[1] == "127.0.0.1"
            && let Some(port) = pair[2].strip_prefix(':').and_then(|p| p.parse().ok())
        {
            ports.push(port);
        }
    }
    ports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cannot_make_the_proxy_dial_a_host_that_is_not_a_node() {
    let ca = TestCa::new().unwrap();
    let stack = Stack::start(&ca);
    let foreign = Foreign::on("127.0.0.1").await;
    let port = foreign.addr.port();
    let mut s = stack.session(stack.proxy.port()).await;

    // Forged redirections: a script's error reply shaped like MOVED / ASK to the foreign host. The proxy
    // asks the cluster (its own CLUSTER SHARDS), finds no such node, and refuses the redirection.
    for kind in ["MOVED", "ASK"] {
        let script = format!("return redis.error_reply('{kind} 866 127.0.0.1:{port}')");
        let answer = ask(&mut s, &["EVAL", &script, "0"]).await;
        assert!(answer.starts_with("-ERR"), "{kind}: {answer}");
        eprintln!("forged {kind} to a foreign host: {answer}");
    }
    // A topology-shaped value from a script is data, passed as it is: no node comes of it.
    let script = format!("return {{{{0, 16383, {{'127.0.0.1', {port}, 'f00d'}}}}}}");
    let answer = ask(&mut s, &["EVAL", &script, "0"]).await;
    assert!(answer.contains(&port.to_string()), "{answer}");
    // The proxy's own topology replies name only the proxy's addresses for the three real nodes.
    let slots = ask(&mut s, &["CLUSTER", "SLOTS"]).await;
    let named = ports_in(&slots);
    assert_eq!(named.len(), 3, "{slots}");
    assert!(!named.contains(&port), "{slots}");
    for node_port in named {
        let mut n = stack.session(node_port).await;
        assert_eq!(ask(&mut n, &["PING"]).await, "+PONG");
    }
    // Through a node address as well.
    let mut n = stack.session(ports_in(&slots)[1]).await;
    let script = format!("return redis.error_reply('MOVED 1 127.0.0.1:{port}')");
    let answer = ask(&mut n, &["EVAL", &script, "0"]).await;
    assert!(answer.starts_with("-ERR"), "{answer}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        foreign.connections(),
        0,
        "the proxy dialed the foreign host"
    );

    // Commands that make the server dial: its TLS handshake reaches the foreign host, no credential.
    let meet = Foreign::on("127.0.0.1").await;
    let migrate = Foreign::on("127.0.0.1").await;
    let p = meet.addr.port().to_string();
    let answer = ask(&mut s, &["CLUSTER", "MEET", "127.0.0.1", &p, &p]).await;
    eprintln!("CLUSTER MEET to a foreign host: {answer}");
    let answer = ask(&mut s, &["SET", "relay:key", "v"]).await;
    let key_port = if answer.starts_with("-MOVED") {
        let to: u16 = answer.rsplit(':').next().unwrap().parse().unwrap();
        to
    } else {
        stack.proxy.port()
    };
    let mut k = stack.session(key_port).await;
    assert_eq!(ask(&mut k, &["SET", "relay:key", "v"]).await, "+OK");
    let p = migrate.addr.port().to_string();
    let answer = ask(
        &mut k,
        &["MIGRATE", "127.0.0.1", &p, "relay:key", "0", "2000"],
    )
    .await;
    eprintln!("MIGRATE to a foreign host: {answer}");
    assert!(answer.starts_with('-'), "{answer}");
    let start = Instant::now();
    while (meet.connections() == 0 || migrate.connections() == 0) && start.elapsed() < BOUND {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "the server dialed: CLUSTER MEET {} time(s), MIGRATE {} time(s)",
        meet.connections(),
        migrate.connections()
    );
    meet.assert_no_credential("CLUSTER MEET");
    migrate.assert_no_credential("MIGRATE");
    foreign.assert_no_credential("forged redirections");
    // Still no node but the three: the topology the proxy serves is the cluster's.
    let slots = ask(&mut s, &["CLUSTER", "SLOTS"]).await;
    assert_eq!(ports_in(&slots).len(), 3, "{slots}");
    let log = stack.proxy.stderr();
    assert!(!log.contains(PASSWORD), "the password in the proxy's log");
    drop(stack.cluster);
}

/// A self-hosted cluster whose node announces a host outside `cluster.node_hosts` (by default the
/// configuration endpoint's host, `localhost`): `127.0.0.2`, holding a certificate of the database's
/// CA for its address (one the proxy would accept). The node is not served: no connection reaches
/// it, so neither does the password; the other nodes serve on, and a redirection to it is refused.
/// Then, with an operator's list that does take that host in (`127.0.0.0/8`), a node there with
/// another CA's certificate gets only a TLS handshake that fails closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_announcing_a_foreign_host_never_gets_the_login() {
    let ca = TestCa::new().unwrap();
    let mut stack = Stack::start(&ca);
    let foreign = TlsForeign::on("127.0.0.2", &ca).await;
    announce_foreign(&stack, &foreign).await;
    foreign_node_left_out(&stack, &foreign).await;
    let log = stack.proxy.stderr();
    assert!(log.contains("not in cluster.node_hosts"), "{log}");
    assert!(!log.contains(PASSWORD), "the password in the proxy's log");

    // The operator's list takes the host in; the node there now holds another CA's certificate.
    let other = TestCa::new().unwrap();
    let impostor = TlsForeign::on("127.0.0.2", &other).await;
    announce_foreign(&stack, &impostor).await;
    stack.restart_with_node_hosts("[127.0.0.0/8]");
    let mut s = stack.session(stack.proxy.port()).await;
    let slots = ask(&mut s, &["CLUSTER", "SLOTS"]).await;
    let mut refused = 0;
    for node_port in ports_in(&slots) {
        let (mut n, answer) = stack.login(node_port).await;
        if answer == "+OK" {
            assert_eq!(ask(&mut n, &["PING"]).await, "+PONG");
        } else {
            assert!(answer.starts_with("-ERR"), "{answer}");
            refused += 1;
        }
    }
    assert_eq!(refused, 1, "{slots}");
    assert!(
        impostor.handshakes() > 0,
        "the proxy never tried the listed node"
    );
    eprintln!(
        "a node announced at 127.0.0.2: not on node_hosts, {} connection(s); on them, {refused} node \
         address refused after {} failed TLS handshake(s), no AUTH",
        foreign.handshakes(),
        impostor.handshakes()
    );
    impostor.assert_no_auth();
    foreign.assert_no_auth();
    let log = stack.proxy.stderr();
    assert!(!log.contains(PASSWORD), "the password in the proxy's log");
}

/// The cluster's third node announces `foreign`, which the proxy must leave out: two node addresses
/// served (each answers `PING`), a redirection to the third node's slots refused, and no connection
/// (so no credential) reaching `foreign`.
async fn foreign_node_left_out(stack: &Stack, foreign: &TlsForeign) {
    let mut s = stack.session(stack.proxy.port()).await;
    let slots = ask(&mut s, &["CLUSTER", "SLOTS"]).await;
    let served = ports_in(&slots);
    assert_eq!(served.len(), 2, "the foreign node is left out: {slots}");
    for node_port in served {
        let mut n = stack.session(node_port).await;
        assert_eq!(ask(&mut n, &["PING"]).await, "+PONG");
    }
    let key = key_owned_by(stack, stack.cluster.ports()[2]);
    let answer = ask(&mut s, &["GET", &key]).await;
    assert!(answer.starts_with("-ERR"), "{answer}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(foreign.handshakes(), 0, "the proxy dialed the foreign node");
    foreign.assert_no_auth();
}

/// A key whose slot the node at `owned` serves.
fn key_owned_by(stack: &Stack, owned: u16) -> String {
    let mut k = 0u32;
    loop {
        let key = format!("relay:{k}");
        let slot: u16 = stack
            .cluster
            .cli(owned, &["CLUSTER", "KEYSLOT", &key])
            .unwrap()
            .parse()
            .unwrap();
        if stack.cluster.slot_owner(slot).unwrap() == owned {
            return key;
        }
        k += 1;
    }
}

/// An ElastiCache-like cluster (IAM tokens) whose node announces a host outside the configuration
/// endpoint's (`127.0.0.2`, for `localhost`), and that host holds a certificate the proxy would accept
/// (the database's CA, for its address: as every `*.amazonaws.com` host holds a publicly trusted one).
/// The proxy must not serve that node at all: no connection, so no token, reaches it; the other nodes
/// serve on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_cache_node_announced_outside_its_domain_is_not_served() {
    let ca = TestCa::new().unwrap();
    let stack = Stack::start_iam(&ca);
    let foreign = TlsForeign::on("127.0.0.2", &ca).await;
    announce_foreign(&stack, &foreign).await;
    foreign_node_left_out(&stack, &foreign).await;
    let log = stack.proxy.stderr();
    assert!(
        log.contains("outside the configuration endpoint's domain"),
        "{log}"
    );
}

/// Make the cluster's third node announce `foreign` (`cluster-announce-hostname`,
/// `cluster-announce-tls-port`), until the configuration endpoint reports it.
async fn announce_foreign(stack: &Stack, foreign: &TlsForeign) {
    let ports = stack.cluster.ports();
    let node = ports[2];
    let host = foreign.addr.ip().to_string();
    let port = foreign.addr.port().to_string();
    for (name, value) in [
        ("cluster-announce-hostname", host.as_str()),
        ("cluster-announce-tls-port", port.as_str()),
    ] {
        stack
            .cluster
            .cli(node, &["CONFIG", "SET", name, value])
            .unwrap();
    }
    let start = Instant::now();
    loop {
        let shards = stack.cluster.cli(ports[0], &["CLUSTER", "SHARDS"]).unwrap();
        if shards.contains(&host) && shards.contains(&port) {
            break;
        }
        assert!(start.elapsed() < BOUND, "not announced: {shards}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A foreign host that speaks TLS with a certificate from `ca` for its address, and records every
/// command line it decrypts.
struct TlsForeign {
    addr: SocketAddr,
    handshakes: Arc<Mutex<usize>>,
    plaintext: Arc<Mutex<Vec<u8>>>,
}

impl TlsForeign {
    async fn on(ip: &str, ca: &TestCa) -> Self {
        let cert = ca.server(&[ip]).unwrap();
        let certs = rustls_pemfile_certs(&cert.cert_pem);
        let key =
            rustls::pki_types::PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handshakes = Arc::new(Mutex::new(0));
        let plaintext = Arc::new(Mutex::new(Vec::new()));
        let (h, p) = (Arc::clone(&handshakes), Arc::clone(&plaintext));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                *h.lock().unwrap() += 1;
                let (acceptor, p) = (acceptor.clone(), Arc::clone(&p));
                tokio::spawn(async move {
                    let Ok(Ok(mut tls)) =
                        tokio::time::timeout(BOUND, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let mut buf = vec![0u8; 4096];
                    while let Ok(Ok(n)) = tokio::time::timeout(BOUND, tls.read(&mut buf)).await {
                        if n == 0 {
                            break;
                        }
                        p.lock().unwrap().extend_from_slice(&buf[..n]);
                        let _ = tls.write_all(b"+OK\r\n").await;
                    }
                });
            }
        });
        Self {
            addr,
            handshakes,
            plaintext,
        }
    }

    fn handshakes(&self) -> usize {
        *self.handshakes.lock().unwrap()
    }

    fn assert_no_auth(&self) {
        let got = self.plaintext.lock().unwrap();
        assert!(
            got.is_empty(),
            "the foreign host got {:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

fn rustls_pemfile_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
}
