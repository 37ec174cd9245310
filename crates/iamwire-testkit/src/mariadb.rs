//! A throwaway MariaDB with TLS, a `mysql_native_password` user, and an RDS-like IAM user
//! (`IDENTIFIED VIA pam` with `pam_use_cleartext_plugin=ON`: the server asks for `mysql_clear_password`, exactly
//! like RDS for MySQL with IAM authentication).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::certs::{LOCAL_NAMES, PemFiles, TestCa};
use crate::error::{Result, RigError};
use crate::pam::{PamService, TokenPolicy};
use crate::process::{ChildGuard, accepts, free_port, is_root, run, wait_until};

/// The `mysql_native_password` user and its password.
pub const NATIVE_USER: (&str, &str) = ("native_user", "native-pass");
/// The IAM user (PAM + token verifier, TLS required).
pub const IAM_USER: &str = "iam_user";
/// The database every user may use.
pub const DATABASE: &str = "app";

/// How to build a server.
#[derive(Debug, Clone, Default)]
pub struct MariaDbOptions {
    /// What tokens the IAM user's PAM service accepts; `hosts` defaults to `127.0.0.1:<port>` and
    /// `localhost:<port>`.
    pub tokens: TokenPolicy,
}

/// A running throwaway MariaDB, killed and deleted on drop.
#[derive(Debug)]
pub struct MariaDb {
    port: u16,
    socket: PathBuf,
    tls: PemFiles,
    pam: PamService,
    guard: ChildGuard,
    dir: tempfile::TempDir,
}

impl MariaDb {
    /// Start a server with a certificate from `ca` for localhost / 127.0.0.1.
    pub fn start(ca: &TestCa, opts: MariaDbOptions) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("iamwire-mariadb-")
            .tempdir()
            .map_err(RigError::io("mariadb dir"))?;
        let root = dir.path().to_path_buf();
        let data = root.join("data");
        // Temporary tables in the server's own directory: in the shared /tmp, bootstraps running side by
        // side have been seen to lose theirs ("Could not remove temporary table", then install fails).
        let tmp = root.join("tmp");
        std::fs::create_dir(&tmp).map_err(RigError::io("mariadb tmp dir"))?;
        let tls = ca.write(&root, "server", &ca.server(LOCAL_NAMES)?)?;
        // mariadbd refuses to run as root unless told to; as anyone else it runs as that user.
        let user: &[&str] = if is_root() { &["--user=root"] } else { &[] };
        run(Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ])
            .args(user)
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display())))?;

        let mut last_err = None;
        for _ in 0..3 {
            let port = free_port()?;
            let mut policy = opts.tokens.clone();
            if policy.hosts.is_empty() {
                policy.hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
            }
            let pam = PamService::install(&root, &policy)?;
            let socket = root.join("mysqld.sock");
            let log = root.join("error.log");
            let child = Command::new("mariadbd")
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--tmpdir={}", tmp.display()))
                .args(user)
                .arg(format!("--port={port}"))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--socket={}", socket.display()))
                .arg(format!("--pid-file={}", root.join("mysqld.pid").display()))
                .arg(format!("--log-error={}", log.display()))
                .arg(format!("--ssl-cert={}", tls.cert.display()))
                .arg(format!("--ssl-key={}", tls.key.display()))
                .arg(format!("--ssl-ca={}", tls.ca.display()))
                .args([
                    "--plugin-load-add=auth_pam",
                    "--pam-use-cleartext-plugin=ON",
                    "--skip-name-resolve",
                    "--innodb-buffer-pool-size=16M",
                    "--innodb-log-file-size=8M",
                    "--innodb-use-native-aio=0",
                    "--innodb-flush-log-at-trx-commit=0",
                    "--max-connections=300",
                    "--performance-schema=OFF",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(RigError::io("starting mariadbd"))?;
            let mut guard = ChildGuard::new(child);
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            match wait_until("mariadbd", &mut guard, &log, || {
                accepts(addr) && socket.exists()
            }) {
                Ok(()) => {
                    let db = Self {
                        port,
                        socket,
                        tls,
                        pam,
                        guard,
                        dir,
                    };
                    db.create_users()?;
                    return Ok(db);
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| RigError::Timeout {
            what: "mariadbd".into(),
            seconds: 0,
            detail: String::new(),
        }))
    }

    fn create_users(&self) -> Result<()> {
        let (native, password) = NATIVE_USER;
        self.sql(&format!(
            "CREATE DATABASE {DATABASE};
             CREATE USER '{native}'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('{password}');
             CREATE USER '{IAM_USER}'@'%' IDENTIFIED VIA pam USING '{}' REQUIRE SSL;
             GRANT ALL ON {DATABASE}.* TO '{native}'@'%';
             GRANT ALL ON {DATABASE}.* TO '{IAM_USER}'@'%';",
            self.pam.name()
        ))
        .map(|_| ())
    }

    /// Run SQL as root over the Unix socket; returns the tab-separated output.
    pub fn sql(&self, sql: &str) -> Result<String> {
        let out = run(Command::new("mariadb")
            .args(["--no-defaults", "-uroot", "-N", "-B"])
            .arg(format!("--socket={}", self.socket.display()))
            .args(["-e", sql]))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The server's TLS files.
    pub fn tls(&self) -> &PemFiles {
        &self.tls
    }

    /// The IAM user's PAM service.
    pub fn pam(&self) -> &PamService {
        &self.pam
    }

    /// Where the server lives.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.guard.child_mut().try_wait(), Ok(None))
    }
}

/// Run the `mariadb` client over TCP with TLS verification against the rig's CA. (MariaDB's client answers a
/// `mysql_clear_password` request by itself, which is what an RDS IAM login needs.)
pub fn mariadb_client(db: &MariaDb, user: &str, password: &str, sql: &str) -> Result<String> {
    let mut cmd = Command::new("mariadb");
    cmd.args([
        "--no-defaults",
        "-N",
        "-B",
        "-h",
        "localhost",
        "--protocol=TCP",
    ])
    .arg(format!("--port={}", db.port()))
    .arg(format!("--user={user}"))
    .arg(format!("--ssl-ca={}", db.tls().ca.display()))
    .arg("--ssl-verify-server-cert")
    .arg("--connect-timeout=30")
    .env("MYSQL_PWD", password);
    cmd.arg(format!("--database={DATABASE}")).args(["-e", sql]);
    let out = run(&mut cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
