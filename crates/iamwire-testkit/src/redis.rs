//! A throwaway Redis 7 with TLS only (no plaintext port) and ACL users, and [`IamStandIn`], which puts
//! ElastiCache's IAM token check in front of it, and [`RedisCluster`], a cluster of them.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::certs::{LOCAL_NAMES, PemFiles, TestCa};
use crate::error::{Result, RigError};
use crate::process::{ChildGuard, accepts, free_port, run, wait_until, write_file};

mod cluster;
mod iam;

pub use cluster::RedisCluster;
pub use iam::{AuthRecord, CacheTokenPolicy, IamStandIn, create_cache_user};

/// ACL users every server has: `(user, password)`. `admin` may do anything; `app` only keys `app:*`.
pub const USERS: &[(&str, &str)] = &[("admin", "admin-pass"), ("app", "app-pass")];

/// A running throwaway Redis, killed and deleted on drop.
#[derive(Debug)]
pub struct Redis {
    port: u16,
    tls: PemFiles,
    guard: ChildGuard,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Start a server with a certificate from `ca`; clients need not present one (`tls-auth-clients optional`).
    pub fn start(ca: &TestCa) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("iamwire-redis-")
            .tempdir()
            .map_err(RigError::io("redis dir"))?;
        let root = dir.path().to_path_buf();
        let tls = ca.write(&root, "server", &ca.server(LOCAL_NAMES)?)?;
        let mut last_err = None;
        for _ in 0..3 {
            let port = free_port()?;
            let log = root.join("redis.log");
            let conf = root.join("redis.conf");
            let mut text = format!(
                "port 0\ntls-port {port}\nbind 127.0.0.1\ndir {}\nlogfile {}\nsave \"\"\nappendonly no\n\
                 tls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\ntls-auth-clients optional\n\
                 daemonize no\nuser default off\n",
                root.display(),
                log.display(),
                tls.cert.display(),
                tls.key.display(),
                tls.ca.display()
            );
            text.push_str(
                "user admin on >admin-pass ~* &* +@all\nuser app on >app-pass ~app:* &* +@all\n",
            );
            write_file(&conf, text, 0o600)?;
            let child = Command::new("redis-server")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(RigError::io("starting redis-server"))?;
            let mut guard = ChildGuard::new(child);
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            match wait_until("redis-server", &mut guard, &log, || accepts(addr)) {
                Ok(()) => {
                    return Ok(Self {
                        port,
                        tls,
                        guard,
                        dir,
                    });
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| RigError::Timeout {
            what: "redis".into(),
            seconds: 0,
            detail: String::new(),
        }))
    }

    /// The TLS port on 127.0.0.1.
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

    /// Where the server lives.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.guard.child_mut().try_wait(), Ok(None))
    }

    /// Run `redis-cli` over TLS (verifying the server against the rig's CA) as `user`; returns its output,
    /// which for a refused login is the server's error line (`WRONGPASS ...`).
    pub fn cli(&self, user: &str, password: &str, args: &[&str]) -> Result<String> {
        let out = run(Command::new("redis-cli")
            .args(["--tls", "-h", "localhost", "--no-auth-warning"])
            .arg("--cacert")
            .arg(&self.tls.ca)
            .args(["-p", &self.port.to_string(), "--user", user])
            .env("REDISCLI_AUTH", password)
            .args(args))?;
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .trim()
        .to_string())
    }
}
