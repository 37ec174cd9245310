//! A throwaway PostgreSQL cluster with TLS, password users of every method, and RDS-like IAM users.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::certs::{LOCAL_NAMES, PemFiles, TestCa};
use crate::error::{Result, RigError};
use crate::pam::{PamService, TokenPolicy};
use crate::process::{
    accepts, chown_to, command_as, free_port, log_tail, run, scratch_dir, write_file,
};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const SERVER_USER: &str = "postgres";

/// A password user and how pg_hba makes it log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgAuth {
    /// `scram-sha-256` (SCRAM-SHA-256-PLUS is offered too when the connection uses TLS).
    Scram,
    /// `md5` (the password is stored as an MD5 hash).
    Md5,
    /// `password`: cleartext over the wire.
    Cleartext,
}

/// Fixed password users every cluster has: `(user, password, method)`.
pub const PASSWORD_USERS: &[(&str, &str, PgAuth)] = &[
    ("scram_user", "scram-pass", PgAuth::Scram),
    ("md5_user", "md5-pass", PgAuth::Md5),
    ("clear_user", "clear-pass", PgAuth::Cleartext),
];

/// The default IAM user (logs in with an RDS IAM token, checked by the PAM verifier).
pub const IAM_USER: &str = "iam_user";

/// How to build a cluster.
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    /// IAM users (PAM + token verifier, TLS only); [`IAM_USER`] when empty.
    pub iam_users: Vec<String>,
    /// What tokens the IAM users' PAM service accepts; `hosts` defaults to this server's
    /// `127.0.0.1:<port>` and `localhost:<port>`.
    pub tokens: TokenPolicy,
    /// Users who log in over TLS with no password at all (`hostssl ... trust`): for measuring what a
    /// proxy's own connection setup costs without the database's authentication in the numbers.
    pub trust_users: Vec<String>,
    /// `max_connections` (200 when `None`).
    pub max_connections: Option<u32>,
}

/// A running throwaway cluster, stopped and deleted on drop.
#[derive(Debug)]
pub struct Postgres {
    port: u16,
    tls: PemFiles,
    pam: PamService,
    data: PathBuf,
    log: PathBuf,
    socket_dir: PathBuf,
    // Last, so the directory outlives the server that uses it.
    dir: tempfile::TempDir,
}

impl Postgres {
    /// Start a cluster with a server certificate from `ca` for localhost / 127.0.0.1.
    pub fn start(ca: &TestCa, opts: PgOptions) -> Result<Self> {
        let dir = scratch_dir("iamwire-pg-", SERVER_USER)?;
        let root = dir.path().to_path_buf();
        let data = root.join("data");
        let socket_dir = root.join("sock");
        let log = root.join("postgres.log");
        std::fs::create_dir(&socket_dir).map_err(RigError::io("creating the socket dir"))?;
        let tls = ca.write(&root, "server", &ca.server(LOCAL_NAMES)?)?;
        chown_to(&root, SERVER_USER)?;
        run(command_as(SERVER_USER, Path::new(PG_BIN).join("initdb"))
            .args([
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
                "-U",
                "postgres",
                "--auth=trust",
                "-D",
            ])
            .arg(&data))?;

        let mut last_err = None;
        for _ in 0..3 {
            let port = free_port()?;
            let mut policy = opts.tokens.clone();
            if policy.hosts.is_empty() {
                policy.hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
            }
            let pam = PamService::install(&root, &policy)?;
            let iam_users = if opts.iam_users.is_empty() {
                vec![IAM_USER.to_string()]
            } else {
                opts.iam_users.clone()
            };
            write_config(&data, port, &socket_dir, &tls, &pam, &iam_users, &opts)?;
            chown_to(&root, SERVER_USER)?;
            let started = run(command_as(SERVER_USER, Path::new(PG_BIN).join("pg_ctl"))
                .args(["-w", "-t", "120", "-D"])
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .arg("start"));
            match started {
                Ok(_) if accepts(SocketAddr::from(([127, 0, 0, 1], port))) => {
                    let pg = Self {
                        port,
                        tls,
                        pam,
                        data,
                        log,
                        socket_dir,
                        dir,
                    };
                    pg.create_users(&iam_users, &opts.trust_users)?;
                    return Ok(pg);
                }
                Ok(_) => {
                    last_err = Some(RigError::Timeout {
                        what: "postgres".into(),
                        seconds: 120,
                        detail: log_tail(&log),
                    })
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| RigError::Timeout {
            what: "postgres".into(),
            seconds: 0,
            detail: log_tail(&log),
        }))
    }

    fn create_users(&self, iam_users: &[String], trust_users: &[String]) -> Result<()> {
        // psql -c runs one transaction, and CREATE DATABASE may not run inside one.
        self.sql("CREATE DATABASE app")?;
        let mut sql = String::new();
        for (user, password, auth) in PASSWORD_USERS {
            let encryption = if *auth == PgAuth::Md5 {
                "md5"
            } else {
                "scram-sha-256"
            };
            let _ = writeln!(
                sql,
                "SET password_encryption = '{encryption}'; CREATE ROLE {user} LOGIN PASSWORD '{password}';"
            );
        }
        for user in iam_users.iter().chain(trust_users) {
            let _ = writeln!(sql, "CREATE ROLE {} LOGIN;", quote_ident(user));
        }
        sql.push_str("GRANT ALL ON DATABASE app TO PUBLIC;\n");
        self.sql(&sql).map(|_| ())
    }

    /// Run SQL as the superuser over the Unix socket; returns psql's unaligned output.
    pub fn sql(&self, sql: &str) -> Result<String> {
        let out = run(command_as(SERVER_USER, "/usr/bin/psql")
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.socket_dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                sql,
            ]))?;
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

    /// The server's TLS files (`ca` verifies it).
    pub fn tls(&self) -> &PemFiles {
        &self.tls
    }

    /// The IAM users' PAM service (its decision log tells what the verifier saw).
    pub fn pam(&self) -> &PamService {
        &self.pam
    }

    /// How many client connections the server has accepted so far (counted from its log).
    pub fn connections_received(&self) -> usize {
        log_tail_all(&self.log)
            .matches("connection received:")
            .count()
    }

    /// The server log.
    pub fn log(&self) -> String {
        log_tail_all(&self.log)
    }

    /// Stop the server at once (`pg_ctl stop -m immediate`, like a crash): clients lose their
    /// connections and new ones are refused until [`Postgres::restart`].
    pub fn kill(&self) -> Result<()> {
        run(command_as(SERVER_USER, Path::new(PG_BIN).join("pg_ctl"))
            .args(["-w", "-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("stop"))
        .map(drop)
    }

    /// Start the server again after [`Postgres::kill`], on the same port with the same data.
    pub fn restart(&self) -> Result<()> {
        run(command_as(SERVER_USER, Path::new(PG_BIN).join("pg_ctl"))
            .args(["-w", "-t", "120", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .arg("start"))
        .map(drop)
    }

    /// Where the cluster lives (data directory, sockets, certificates).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = command_as(SERVER_USER, Path::new(PG_BIN).join("pg_ctl"))
            .args(["-w", "-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("stop")
            .output();
    }
}

fn log_tail_all(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn write_config(
    data: &Path,
    port: u16,
    socket_dir: &Path,
    tls: &PemFiles,
    pam: &PamService,
    iam: &[String],
    opts: &PgOptions,
) -> Result<()> {
    let conf = format!(
        "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\nssl = on\n\
         ssl_cert_file = '{}'\nssl_key_file = '{}'\nssl_ca_file = '{}'\npassword_encryption = 'scram-sha-256'\n\
         fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 32MB\nmax_connections = {}\n\
         log_connections = on\nlog_min_messages = warning\n",
        socket_dir.display(),
        tls.cert.display(),
        tls.key.display(),
        tls.ca.display(),
        opts.max_connections.unwrap_or(200),
    );
    write_file(&data.join("postgresql.auto.conf"), conf, 0o600)?;
    let mut hba = String::from("local all all trust\n");
    for user in iam {
        // RDS IAM: cleartext password (the token) over TLS only, checked by PAM.
        let _ = writeln!(
            hba,
            "hostssl all {} 127.0.0.1/32 pam pamservice={}",
            quote_ident(user),
            pam.name()
        );
    }
    for user in &opts.trust_users {
        let _ = writeln!(hba, "hostssl all {} 127.0.0.1/32 trust", quote_ident(user));
    }
    for (user, _, auth) in PASSWORD_USERS {
        let method = match auth {
            PgAuth::Scram => "scram-sha-256",
            PgAuth::Md5 => "md5",
            PgAuth::Cleartext => "password",
        };
        let _ = writeln!(hba, "host all {user} 127.0.0.1/32 {method}");
    }
    hba.push_str("host all all 127.0.0.1/32 reject\n");
    write_file(&data.join("pg_hba.conf"), hba, 0o600)
}

/// The libpq connection string for `user` over TLS with full verification against the rig's CA.
pub fn verify_full_dsn(pg: &Postgres, user: &str, dbname: &str) -> String {
    format!(
        "host=localhost port={} user={user} dbname={dbname} sslmode=verify-full sslrootcert={}",
        pg.port(),
        pg.tls().ca.display()
    )
}

/// Run `psql` (as the current user) with `dsn` and `password`, returning its output or its error.
pub fn psql(dsn: &str, password: Option<&str>, sql: &str) -> Result<String> {
    let mut cmd = Command::new("/usr/bin/psql");
    cmd.args(["-X", "-At", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql]);
    cmd.env("PGCONNECT_TIMEOUT", "30");
    match password {
        Some(p) => cmd.env("PGPASSWORD", p),
        None => cmd.env_remove("PGPASSWORD"),
    };
    let out = run(&mut cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
