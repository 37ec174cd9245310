//! A stand-in Amazon Keyspaces endpoint (no Cassandra or Keyspaces emulator runs here): CQL v3/v4 over TLS
//! with Keyspaces' SigV4 challenge, each response checked byte for byte against what AWS's own plugin
//! (`cassandra-sigv4`) computes for the same nonce and the assumed-role credentials the AWS emulator
//! ([`Moto`]) issued. Enough CQL for a driver's handshake, `USE`, `CREATE TABLE`, `INSERT` and `SELECT`; v3 and
//! v4 like Keyspaces, or up to v5 (checksummed segments, through the driver's own codec) on request.

use std::path::PathBuf;

use serde::Deserialize;

use crate::certs::{LOCAL_NAMES, PemFiles, TestCa};
use crate::error::{Result, RigError};
use crate::moto::Moto;
use crate::process::{ChildGuard, log_tail, read_jsonl, start_standin};

const SCRIPT: &str = include_str!("../python/keyspaces_standin.py");

/// A running stand-in on a random port, stopped on drop.
#[derive(Debug)]
pub struct KeyspacesStandIn {
    guard: ChildGuard,
    port: u16,
    tls: PemFiles,
    dir: tempfile::TempDir,
}

/// One authentication the stand-in judged.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthRecord {
    /// Whether it was accepted.
    pub ok: bool,
    /// The role whose session signed it (from the emulator's record), if the access key was known.
    pub role_arn: Option<String>,
    /// The access key the response named.
    pub access_key: Option<String>,
    /// Why it was refused.
    pub reason: Option<String>,
}

impl KeyspacesStandIn {
    /// Start one for `region`, with a certificate from `ca` for the local names, checking credentials
    /// against `moto`.
    pub fn start(ca: &TestCa, moto: &Moto, region: &str) -> Result<Self> {
        Self::start_with(ca, moto, region, 4)
    }

    /// Like [`start`](Self::start), speaking protocol versions 3 up to `max_version` (5: v5 segments, as
    /// Cassandra 4 speaks them; Keyspaces itself stops at 4).
    pub fn start_with(ca: &TestCa, moto: &Moto, region: &str, max_version: u8) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("iamwire-keyspaces-")
            .tempdir()
            .map_err(RigError::io("keyspaces dir"))?;
        let tls = ca.write(dir.path(), "server", &ca.server(LOCAL_NAMES)?)?;
        let (auth_log, version) = (dir.path().join("auth.jsonl"), max_version.to_string());
        let endpoint = moto.endpoint();
        let args = [
            tls.cert.as_os_str(),
            tls.key.as_os_str(),
            endpoint.as_ref(),
            region.as_ref(),
            auth_log.as_os_str(),
            version.as_ref(),
        ];
        let (guard, port) = start_standin(
            dir.path(),
            "keyspaces_standin.py",
            SCRIPT,
            &args,
            "Keyspaces stand-in",
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

    /// The stand-in's stderr so far (for assertion messages).
    pub fn log(&self) -> String {
        log_tail(&self.dir.path().join("standin.log"))
    }

    /// The directory it lives in.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.guard.child_mut().try_wait(), Ok(None))
    }
}
