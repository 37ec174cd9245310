//! A stand-in for ElastiCache / MemoryDB IAM authentication in front of a real [`Redis`]: it accepts only
//! an `AUTH` (or `HELLO ... AUTH`) whose password is an IAM token that botocore agrees with, then logs in to
//! the real Redis itself (`python/redis_iam_standin.py`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::{Redis, USERS};
use crate::certs::PemFiles;
use crate::error::{Result, RigError};
use crate::pam::StaticKey;
use crate::process::{ChildGuard, log_tail, read_jsonl, write_file};

const STANDIN: &str = include_str!("../../python/redis_iam_standin.py");
const VERIFIER: &str = include_str!("../../python/rds_token_verifier.py");

/// What the stand-in accepts, as ElastiCache or MemoryDB would.
#[derive(Debug, Clone, Serialize)]
pub struct CacheTokenPolicy {
    /// `elasticache` or `memorydb`: the token's signing service.
    pub service: String,
    /// The cache names a token may name (replication group id, serverless cache name, cluster name).
    pub cache_names: Vec<String>,
    /// ElastiCache Serverless: tokens must carry `ResourceType=ServerlessCache` (and others must not).
    pub serverless: bool,
    /// The region tokens must be signed for; any when `None`.
    pub region: Option<String>,
    /// The AWS emulator whose issued keys are valid.
    pub moto_url: Option<String>,
    /// Extra static keys.
    pub static_keys: BTreeMap<String, StaticKey>,
    /// Close a connection whose last accepted `AUTH` is older than this many seconds (ElastiCache:
    /// 12 hours); never when `None`.
    pub max_auth_age: Option<f64>,
}

impl CacheTokenPolicy {
    /// ElastiCache tokens for the replication group `name`, keys from `moto_url`, in `region`.
    pub fn elasticache(name: &str, region: &str, moto_url: String) -> Self {
        Self {
            service: "elasticache".into(),
            cache_names: vec![name.into()],
            serverless: false,
            region: Some(region.into()),
            moto_url: Some(moto_url),
            static_keys: BTreeMap::new(),
            max_auth_age: None,
        }
    }
}

#[derive(Serialize)]
struct Config<'a> {
    #[serde(flatten)]
    policy: &'a CacheTokenPolicy,
    cert: PathBuf,
    key: PathBuf,
    redis_port: u16,
    redis_ca: PathBuf,
    passwords: BTreeMap<&'static str, &'static str>,
    log: PathBuf,
    auths: PathBuf,
    tokens: PathBuf,
    venv: PathBuf,
}

/// One `AUTH` (or `HELLO ... AUTH`) the stand-in checked, from its record. Never the token.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuthRecord {
    /// The client connection it came on, numbered from 1 in the order the stand-in accepted them.
    pub conn: u64,
    /// `login` (the connection's first) or `reauth` (a later one).
    pub what: String,
    /// The user it named.
    pub user: String,
    /// Whether the token was accepted.
    pub accepted: bool,
    /// The token's `X-Amz-Date` (when it was signed), if it had one.
    pub signed: Option<String>,
    /// When the stand-in checked it (seconds since the Unix epoch).
    pub at: f64,
}

/// The running stand-in, stopped on drop.
#[derive(Debug)]
pub struct IamStandIn {
    port: u16,
    log: PathBuf,
    auths: PathBuf,
    tokens: PathBuf,
    _guard: ChildGuard,
    _dir: tempfile::TempDir,
}

impl IamStandIn {
    /// Start a stand-in in front of `redis` (with `redis`'s certificate), accepting what `policy` says;
    /// it logs in to Redis as the same user with the rig's password for it ([`USERS`]).
    pub fn start(redis: &Redis, policy: &CacheTokenPolicy) -> Result<Self> {
        Self::in_front_of(redis.port(), redis.tls(), policy)
    }

    /// Start a stand-in in front of the Redis with TLS port `redis_port` on 127.0.0.1 and TLS files
    /// `tls` (its listener uses the same certificate), as [`start`](Self::start) does: a cluster node
    /// gets one this way.
    pub fn in_front_of(redis_port: u16, tls: &PemFiles, policy: &CacheTokenPolicy) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("iamwire-cache-")
            .tempdir()
            .map_err(RigError::io("stand-in dir"))?;
        let script = dir.path().join("redis_iam_standin.py");
        write_file(&script, STANDIN, 0o644)?;
        write_file(&dir.path().join("rds_token_verifier.py"), VERIFIER, 0o644)?;
        let log = dir.path().join("decisions.log");
        write_file(&log, "", 0o644)?;
        let auths = dir.path().join("auths.jsonl");
        write_file(&auths, "", 0o644)?;
        let tokens = dir.path().join("tokens");
        write_file(&tokens, "", 0o600)?;
        let config = Config {
            policy,
            cert: tls.cert.clone(),
            key: tls.key.clone(),
            redis_port,
            redis_ca: tls.ca.clone(),
            passwords: USERS.iter().copied().collect(),
            log: log.clone(),
            auths: auths.clone(),
            tokens: tokens.clone(),
            venv: crate::venv_dir(),
        };
        let json = serde_json::to_vec_pretty(&config).map_err(|e| RigError::Protocol {
            what: "stand-in config".into(),
            detail: e.to_string(),
        })?;
        let config_path = dir.path().join("standin.json");
        write_file(&config_path, json, 0o600)?;
        let python = crate::python();
        if !python.exists() {
            return Err(RigError::Missing { program: python });
        }
        let stderr = dir.path().join("standin.err");
        let err_file = std::fs::File::create(&stderr).map_err(RigError::io("stand-in log"))?;
        let child = Command::new(&python)
            .arg(&script)
            .arg(&config_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err_file)
            .spawn()
            .map_err(RigError::io("starting the stand-in"))?;
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
                what: "redis IAM stand-in".into(),
                detail: log_tail(&stderr),
            })?;
        Ok(Self {
            port,
            log,
            auths,
            tokens,
            _guard: guard,
            _dir: dir,
        })
    }

    /// The TLS port on 127.0.0.1 (the certificate is `redis`'s, for `localhost` and `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The decisions so far, one line each: `accept login user='app'`, `accept reauth ...`,
    /// `reject login user=.. reason=..`, `expired: ...`. Never a token.
    pub fn decisions(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Every `AUTH` checked so far, in order.
    pub fn auths(&self) -> Result<Vec<AuthRecord>> {
        read_jsonl(&self.auths)
    }

    /// Every token received so far (accepted or not), for a test to prove that none of them, nor its
    /// signature or session token, reached a log or a client. Kept in the stand-in's private directory.
    pub fn tokens(&self) -> Vec<String> {
        std::fs::read_to_string(&self.tokens)
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

/// Create the ElastiCache (`service` `elasticache`) or MemoryDB (`memorydb`) user `user` in `region` of the
/// emulator's database account ([`DATABASE_ACCOUNT`](crate::moto::DATABASE_ACCOUNT)), authenticating with
/// IAM (`iam`) or with a password, through an admin user of that account made for the purpose.
pub fn create_cache_user(
    moto: &crate::moto::Moto,
    service: &str,
    region: &str,
    user: &str,
    iam: bool,
) -> Result<()> {
    use crate::moto::{AwsSetup, DATABASE_ACCOUNT, UserSpec, allow};
    let admin_name = format!("{service}-admin-{user}");
    let created = moto.setup(&AwsSetup {
        users: vec![UserSpec {
            account: DATABASE_ACCOUNT.into(),
            name: admin_name.clone(),
            policies: vec![allow(&[&format!("{service}:*")], "*")],
        }],
        roles: vec![],
    })?;
    let admin = created
        .users
        .get(&admin_name)
        .ok_or_else(|| RigError::Protocol {
            what: "rig setup".into(),
            detail: "missing admin user".into(),
        })?;
    let mode = if iam {
        serde_json::json!({"Type": "iam"})
    } else {
        serde_json::json!({"Type": "password", "Passwords": ["a-long-enough-password"]})
    };
    let params = match service {
        "memorydb" => serde_json::json!({
            "UserName": user, "AccessString": "on ~* +@all", "AuthenticationMode": mode,
        }),
        _ => serde_json::json!({
            "UserId": user, "UserName": user, "Engine": "redis",
            "AccessString": "on ~* +@all", "AuthenticationMode": mode,
        }),
    };
    let answer = moto.rig(
        &["call", &moto.endpoint()],
        &serde_json::json!({
            "service": service, "method": "create_user", "creds": admin, "params": params,
            "region": region,
        }),
    )?;
    if answer.get("error").is_some() {
        return Err(RigError::Protocol {
            what: format!("{service} create_user"),
            detail: answer.to_string(),
        });
    }
    Ok(())
}
