//! What the harness measures, side by side: Postgres itself, a bare TCP relay that passes TLS through,
//! pgbouncer in session mode with TLS on both sides, and `iamwire run` (mTLS client, TLS upstream,
//! token minted per login through an assumed cross-account role).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iamwire_testkit::moto::Moto;
use iamwire_testkit::postgres::Postgres;

use crate::support::{self, Proxy, Served};

/// The Postgres user every target logs in as (`hostssl ... trust`: the database's own login costs
/// nothing, so connection setup measures the proxies).
pub(crate) const USER: &str = "bench";

/// One thing pgbench can be pointed at.
pub(crate) struct Target {
    /// Its name in the table.
    pub(crate) name: &'static str,
    /// libpq settings (host, port, TLS) for it.
    pub(crate) env: Vec<(&'static str, String)>,
    /// The process whose CPU and memory are the proxy's (none for the database itself).
    pub(crate) pid: Option<u32>,
    /// Keeps the process and its files alive (dropped with the target).
    _keep: Box<dyn std::any::Any>,
}

/// A child process killed (and reaped) on drop.
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn libpq(port: u16, ca: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("PGHOST", "localhost".into()),
        ("PGPORT", port.to_string()),
        ("PGUSER", USER.into()),
        ("PGDATABASE", "app".into()),
        ("PGSSLMODE", "verify-full".into()),
        ("PGSSLROOTCERT", ca.display().to_string()),
        ("PGGSSENCMODE", "disable".into()),
        ("PGCONNECT_TIMEOUT", "30".into()),
    ]
}

impl Target {
    /// Postgres itself, over TLS.
    pub(crate) fn direct(pg: &Postgres) -> Self {
        Self {
            name: "direct",
            env: libpq(pg.port(), &pg.tls().ca),
            pid: None,
            _keep: Box::new(()),
        }
    }

    /// A bare tokio relay in its own process (this binary with `--relay`), TLS passed through.
    pub(crate) fn relay(pg: &Postgres) -> Self {
        let (port, child) = spawn_relay(pg.addr());
        Self {
            name: "bare relay",
            env: libpq(port, &pg.tls().ca),
            pid: Some(child.0.id()),
            _keep: Box::new(child),
        }
    }

    /// pgbouncer 1.18 in session mode, TLS towards the client (the database's certificate) and towards
    /// the database (verify-full), run as the `postgres` user (pgbouncer refuses root).
    pub(crate) fn pgbouncer(pg: &Postgres, pool: usize) -> Option<Self> {
        let exe = Path::new("/usr/sbin/pgbouncer");
        if !exe.exists() {
            eprintln!("overhead: no pgbouncer, skipping it");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("iamwire-bouncer-")
            .tempdir()
            .expect("temp dir");
        chmod(dir.path(), 0o755);
        let port = free_port();
        let tls = pg.tls();
        let conf = format!(
            "[databases]\napp = host=localhost port={pgport} dbname=app\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {users}\npool_mode = session\nmax_client_conn = 4000\n\
             default_pool_size = {pool}\nmax_db_connections = {pool}\n\
             log_connections = 0\nlog_disconnections = 0\nlog_stats = 0\n\
             client_tls_sslmode = require\nclient_tls_cert_file = {cert}\nclient_tls_key_file = {key}\n\
             server_tls_sslmode = verify-full\nserver_tls_ca_file = {ca}\n",
            pgport = pg.port(),
            users = dir.path().join("users.txt").display(),
            cert = tls.cert.display(),
            key = tls.key.display(),
            ca = tls.ca.display(),
        );
        let conf_path = dir.path().join("pgbouncer.ini");
        write_public(&conf_path, &conf);
        write_public(&dir.path().join("users.txt"), &format!("\"{USER}\" \"\"\n"));
        let child = Command::new("setpriv")
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(exe)
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pgbouncer");
        let child = KillOnDrop(child);
        wait_listening(port);
        Some(Self {
            name: "pgbouncer",
            env: libpq(port, &tls.ca),
            pid: Some(child.0.id()),
            _keep: Box::new((child, dir)),
        })
    }

    /// `iamwire run` with the e2e deployment: an operator directory from `iamwire certs`, a role in
    /// the AWS emulator assumed with an external ID, the client identity `alice` by certificate.
    ///
    /// `workers`: the runtime's worker threads (`TOKIO_WORKER_THREADS`; `None`: one per core); `old`:
    /// the `--iamwire-before` binary instead of this build's.
    pub(crate) fn iamwire(
        pg: &Postgres,
        args: &[String],
        workers: Option<usize>,
        old: bool,
    ) -> Self {
        let moto = Moto::start().expect("the AWS emulator");
        let cross = moto
            .cross_account("iamwire-bench-db", support::EXTERNAL_ID)
            .expect("cross-account role");
        let served = Served {
            protocol: "postgres",
            port: pg.port(),
            ca: &pg.tls().ca,
            user: USER,
            db_names: "\"*\"",
        };
        let (dir, config) =
            support::operator_dir(&served, &cross, &moto.endpoint(), support::EXTERNAL_ID, "");
        let env: Vec<(String, String)> = workers
            .map(|n| ("TOKIO_WORKER_THREADS".to_owned(), n.to_string()))
            .into_iter()
            .collect();
        let exe = if old { crate::before::exe() } else { None };
        let proxy = Proxy::run_exe(exe, &dir, &config, args, &env);
        let file = |name: &str| dir.path().join(name).display().to_string();
        let mut env = libpq(proxy.port(), &dir.path().join("ca.crt"));
        env.push(("PGSSLCERT", file("alice.crt")));
        env.push(("PGSSLKEY", file("alice.key")));
        Self {
            name: if old {
                crate::before::NAME
            } else if workers == Some(1) {
                "iamwire run, 1 worker"
            } else {
                "iamwire run"
            },
            env,
            pid: Some(proxy.pid()),
            _keep: Box::new((proxy, dir, moto, cross)),
        }
    }

    /// The client certificate and CA for a Rust client (`None` certificate: server TLS only).
    pub(crate) fn tls_files(&self) -> (PathBuf, Option<(PathBuf, PathBuf)>) {
        let get = |k: &str| {
            self.env
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| PathBuf::from(v))
        };
        let ca = get("PGSSLROOTCERT").expect("a CA");
        (ca, get("PGSSLCERT").zip(get("PGSSLKEY")))
    }

    /// The port clients connect to.
    pub(crate) fn port(&self) -> u16 {
        self.env
            .iter()
            .find(|(k, _)| *k == "PGPORT")
            .and_then(|(_, v)| v.parse().ok())
            .expect("a port")
    }
}

/// The bare relay (this binary with `--relay`) in front of `upstream`: its port and process.
pub(crate) fn spawn_relay(upstream: SocketAddr) -> (u16, KillOnDrop) {
    let exe = std::env::current_exe().expect("this harness's path");
    let mut child = Command::new(exe)
        .arg("--relay")
        .arg(upstream.to_string())
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn the bare relay");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("relay stdout"))
        .read_line(&mut line)
        .expect("the relay's port");
    let port: u16 = line.trim().parse().expect("a port number");
    (port, KillOnDrop(child))
}

pub(crate) fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

pub(crate) fn write_public(path: &Path, text: &str) {
    let mut f = std::fs::File::create(path).expect("create a config file");
    f.write_all(text.as_bytes()).expect("write a config file");
    chmod(path, 0o644);
}

/// A port nobody listens on right now (pgbouncer takes a fixed port; the race is harmless here).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub(crate) fn wait_listening(port: u16) {
    let start = Instant::now();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The bare relay's process: accept on `127.0.0.1:0`, print the port, copy bytes both ways with
/// tokio's `copy_bidirectional` (8 KiB buffers per direction), nothing else.
pub(crate) fn run_relay(upstream: &str) {
    let upstream: SocketAddr = upstream.parse().expect("an upstream address");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("address").port());
        let _ = std::io::stdout().flush();
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = client.set_nodelay(true);
                if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = server.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
}
