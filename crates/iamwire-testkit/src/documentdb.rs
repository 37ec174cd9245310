//! A stand-in Amazon DocumentDB (no MongoDB or DocumentDB server runs here): the MongoDB wire protocol over
//! TLS with pymongo's own `bson` module, enough commands for a driver's handshake, insert, find and delete,
//! and `MONGODB-AWS` authentication checked as DocumentDB checks it — the server rebuilds the STS
//! `GetCallerIdentity` request with its own nonce and STS host around the client's `Authorization`,
//! `X-Amz-Date` and session token, sends it to the AWS emulator ([`Moto`], which checks the SigV4 signature
//! with botocore), and logs the client in only as a role STS names that is one of its `$external` users.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::certs::{LOCAL_NAMES, PemFiles, TestCa};
use crate::error::{Result, RigError};
use crate::moto::Moto;
use crate::process::{ChildGuard, log_tail};

const SCRIPT: &str = include_str!("../python/documentdb_standin.py");

/// A running stand-in on a random port, stopped on drop.
#[derive(Debug)]
pub struct DocumentDbStandIn {
    guard: ChildGuard,
    port: u16,
    tls: PemFiles,
    dir: tempfile::TempDir,
}

/// One `MONGODB-AWS` authentication the stand-in judged.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthRecord {
    /// Whether it was accepted.
    pub ok: bool,
    /// The role STS named (as an IAM role ARN), if STS accepted the signature.
    pub arn: Option<String>,
    /// Why it was refused.
    pub reason: Option<String>,
}

/// One command the stand-in received after a connection's `hello`.
#[derive(Debug, Clone, Deserialize)]
pub struct CommandRecord {
    /// The command's name.
    pub command: String,
    /// Whether the connection was authenticated when it arrived.
    pub authenticated: bool,
    /// The role the connection was logged in as.
    pub user: Option<String>,
}

impl DocumentDbStandIn {
    /// Start one with a certificate from `ca` for the local names, checking identities against `moto`'s
    /// STS, with a `$external` user for each of `users` (IAM role ARNs). Its challenges name the STS host
    /// `sts.amazonaws.com`.
    pub fn start(ca: &TestCa, moto: &Moto, users: &[&str]) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("iamwire-documentdb-")
            .tempdir()
            .map_err(RigError::io("documentdb dir"))?;
        let tls = ca.write(dir.path(), "server", &ca.server(LOCAL_NAMES)?)?;
        let script = dir.path().join("documentdb_standin.py");
        std::fs::write(&script, SCRIPT).map_err(RigError::io("writing the stand-in"))?;
        let log = dir.path().join("standin.log");
        let log_file = std::fs::File::create(&log).map_err(RigError::io("stand-in log"))?;
        let child = Command::new(crate::python())
            .arg(&script)
            .arg(&tls.cert)
            .arg(&tls.key)
            .arg(moto.endpoint())
            .arg(dir.path().join("auth.jsonl"))
            .arg(dir.path().join("commands.jsonl"))
            .arg(users.join(","))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(RigError::io("starting the DocumentDB stand-in"))?;
        let mut guard = ChildGuard::new(child);
        let mut line = String::new();
        if let Some(out) = guard.child_mut().stdout.take() {
            BufReader::new(out)
                .read_line(&mut line)
                .map_err(RigError::io("reading the stand-in's port"))?;
        }
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| RigError::Protocol {
                what: "DocumentDB stand-in".into(),
                detail: log_tail(&log),
            })?;
        Ok(Self {
            guard,
            port,
            tls,
            dir,
        })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its certificate files (`ca` is the CA to verify it with).
    pub fn tls(&self) -> &PemFiles {
        &self.tls
    }

    /// Every authentication judged so far, oldest first.
    pub fn auths(&self) -> Result<Vec<AuthRecord>> {
        self.records("auth.jsonl")
    }

    /// Every command received after a connection's `hello`, oldest first.
    pub fn commands(&self) -> Result<Vec<CommandRecord>> {
        self.records("commands.jsonl")
    }

    fn records<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Vec<T>> {
        let path = self.dir.path().join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RigError::io("reading the stand-in's log")(e)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| RigError::Protocol {
                    what: "stand-in log".into(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// The stand-in's stderr so far (for assertion messages).
    pub fn log(&self) -> String {
        log_tail(&self.dir.path().join("standin.log"))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.guard.child_mut().try_wait(), Ok(None))
    }
}
