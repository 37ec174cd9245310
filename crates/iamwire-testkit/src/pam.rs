//! An "RDS-like" PAM service: logins are checked by the botocore-based token verifier.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Result, RigError};
use crate::process::{is_root, write_file};

const VERIFIER: &str = include_str!("../python/rds_token_verifier.py");
const PAM_PYTHON: &str = "/lib/security/pam_python.so";

/// What the token verifier accepts: which host:port a token must be made for, and where secrets come from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TokenPolicy {
    /// `host:port` strings a token may name (what the client dialled: RDS signs the endpoint name).
    pub hosts: Vec<String>,
    /// The region the token must be signed for; any region when `None`.
    pub region: Option<String>,
    /// The AWS emulator whose issued keys are valid (`http://127.0.0.1:port`).
    pub moto_url: Option<String>,
    /// Extra static keys (access key id → secret, session token).
    pub static_keys: std::collections::BTreeMap<String, StaticKey>,
    /// Also require, as RDS does, that the token's signer may `rds-db:connect` on the database user —
    /// evaluated by the emulator's own IAM policy engine over the signer's policies.
    pub connect_check: Option<ConnectCheck>,
}

/// The database whose `rds-db:connect` permission a token's signer must have:
/// `arn:aws:rds-db:<region>:<account>:dbuser:<resource_id>/<login user>`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectCheck {
    /// The database's account.
    pub account: String,
    /// Its resource id (`db-…`).
    pub resource_id: String,
}

/// A static access key the verifier accepts.
#[derive(Clone, Serialize)]
pub struct StaticKey {
    /// The secret access key.
    pub secret: String,
    /// The session token, if the key has one.
    pub token: Option<String>,
}

impl std::fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticKey(** redacted **)")
    }
}

#[derive(Serialize)]
struct VerifierConfig<'a> {
    #[serde(flatten)]
    policy: &'a TokenPolicy,
    log: PathBuf,
    venv: PathBuf,
}

/// A PAM service in `/etc/pam.d` whose `auth` step runs the token verifier; removed on drop.
#[derive(Debug)]
pub struct PamService {
    name: String,
    file: PathBuf,
    log: PathBuf,
}

impl PamService {
    /// Install a service named `iamwire-<unique>` that checks tokens against `policy`, keeping its script,
    /// config and decision log in `dir` (which must be readable by the server's user).
    pub(crate) fn install(dir: &Path, policy: &TokenPolicy) -> Result<Self> {
        if !is_root() {
            return Err(RigError::Missing {
                program: PathBuf::from("root (to write /etc/pam.d)"),
            });
        }
        if !Path::new(PAM_PYTHON).exists() {
            return Err(RigError::Missing {
                program: PathBuf::from(PAM_PYTHON),
            });
        }
        let unique = dir
            .file_name()
            // Linux-PAM lowercases service names before it looks in /etc/pam.d.
            .map(|n| {
                n.to_string_lossy()
                    .to_ascii_lowercase()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "")
            })
            .unwrap_or_default();
        let name = format!("iamwire-{unique}");
        let script = dir.join("rds_token_verifier.py");
        let config = dir.join("verifier.json");
        let log = dir.join("verifier.log");
        write_file(&script, VERIFIER, 0o644)?;
        write_file(&log, "", 0o666)?;
        let json = serde_json::to_vec_pretty(&VerifierConfig {
            policy,
            log: log.clone(),
            venv: crate::venv_dir(),
        })
        .map_err(|e| RigError::Protocol {
            what: "verifier config".into(),
            detail: e.to_string(),
        })?;
        write_file(&config, json, 0o644)?;
        let file = PathBuf::from("/etc/pam.d").join(&name);
        let service = format!(
            "# iamwire test rig: RDS-like IAM token check (removed when the test ends)\n\
             auth required {PAM_PYTHON} {} {}\n\
             account required pam_permit.so\n",
            script.display(),
            config.display()
        );
        write_file(&file, service, 0o644)?;
        Ok(Self { name, file, log })
    }

    /// The service name (for `pamservice=` in pg_hba or `USING '...'` in MariaDB).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier's decisions so far, one line each (`accept user=..` / `reject user=.. reason=..`).
    /// Never contains a token.
    pub fn decisions(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

impl Drop for PamService {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}
