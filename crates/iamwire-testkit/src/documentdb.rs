//! A stand-in Amazon DocumentDB (no MongoDB or DocumentDB server runs here): the MongoDB wire protocol over
//! TLS with pymongo's own `bson` module, enough commands for a driver's handshake, insert, find and delete,
//! and `MONGODB-AWS` authentication checked as DocumentDB checks it — the server rebuilds the STS
//! `GetCallerIdentity` request with its own nonce and STS host around the client's `Authorization`,
//! `X-Amz-Date` and session token, sends it to the AWS emulator ([`Moto`], which checks the SigV4 signature
//! with botocore), and logs the client in only as a role STS names that is one of its `$external` users.

use serde::Deserialize;

use crate::certs::{LOCAL_NAMES, PemFiles, TestCa};
use crate::error::{Result, RigError};
use crate::moto::Moto;
use crate::process::{ChildGuard, log_tail, read_jsonl, start_standin};

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
        let (auth_log, command_log) = (
            dir.path().join("auth.jsonl"),
            dir.path().join("commands.jsonl"),
        );
        let (endpoint, users) = (moto.endpoint(), users.join(","));
        let args = [
            tls.cert.as_os_str(),
            tls.key.as_os_str(),
            endpoint.as_ref(),
            auth_log.as_os_str(),
            command_log.as_os_str(),
            users.as_ref(),
        ];
        let (guard, port) = start_standin(
            dir.path(),
            "documentdb_standin.py",
            SCRIPT,
            &args,
            "DocumentDB stand-in",
        )?;
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
        read_jsonl(&self.dir.path().join("auth.jsonl"))
    }

    /// Every command received after a connection's `hello`, oldest first.
    pub fn commands(&self) -> Result<Vec<CommandRecord>> {
        read_jsonl(&self.dir.path().join("commands.jsonl"))
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
