//! The AWS emulator: moto's server in signature-checking mode, with AssumeRole checked as AWS checks it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Result, RigError};
use crate::process::{ChildGuard, log_tail};

const LAUNCHER: &str = include_str!("../python/moto_rig.py");
const RIG: &str = include_str!("../python/rig.py");

/// A running moto server on a random port, stopped on drop.
///
/// Every request must be signed by a key the emulator issued (`INITIAL_NO_AUTH_ACTION_COUNT=0`); [`Moto::setup`]
/// opens an unauthenticated window for exactly its own calls and closes it again. Requests are recorded so
/// tests can count calls per action.
#[derive(Debug)]
pub struct Moto {
    guard: ChildGuard,
    port: u16,
    tls_ports: Option<(u16, u16)>,
    dir: tempfile::TempDir,
}

/// What to create in the emulator: users with access keys, and roles with trust and permission policies.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AwsSetup {
    /// IAM users (each gets an access key).
    pub users: Vec<UserSpec>,
    /// IAM roles.
    pub roles: Vec<RoleSpec>,
}

/// An IAM user to create.
#[derive(Debug, Clone, Serialize)]
pub struct UserSpec {
    /// 12-digit account id.
    pub account: String,
    /// User name.
    pub name: String,
    /// Inline identity policies (JSON documents).
    pub policies: Vec<Value>,
}

/// An IAM role to create.
#[derive(Debug, Clone, Serialize)]
pub struct RoleSpec {
    /// 12-digit account id.
    pub account: String,
    /// Role name.
    pub name: String,
    /// The trust (assume-role) policy.
    pub trust: Value,
    /// Inline permission policies.
    pub policies: Vec<Value>,
}

/// What [`Moto::setup`] created.
#[derive(Debug, Clone, Deserialize)]
pub struct AwsCreated {
    /// Users by name.
    pub users: BTreeMap<String, CreatedUser>,
    /// Roles by name.
    pub roles: BTreeMap<String, CreatedRole>,
}

/// A created user and its access key.
#[derive(Clone, Deserialize, Serialize)]
pub struct CreatedUser {
    /// The user's ARN.
    pub arn: String,
    /// Its account.
    pub account: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for CreatedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedUser")
            .field("arn", &self.arn)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A created role.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedRole {
    /// The role's ARN.
    pub arn: String,
    /// Its account.
    pub account: String,
}

/// One request the emulator received.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Raw URL.
    pub url: String,
    /// Request headers.
    pub headers: BTreeMap<String, String>,
    /// The body (decoded from the recorder's base64 where needed).
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    body_encoded: bool,
}

impl RecordedRequest {
    /// The form/query parameters of the request (AWS query protocol: `Action=AssumeRole&...`).
    pub fn params(&self) -> Vec<(String, String)> {
        let body = self.decoded_body();
        let query = self.url.split_once('?').map(|(_, q)| q).unwrap_or("");
        form_pairs(query)
            .into_iter()
            .chain(form_pairs(&body))
            .collect()
    }

    /// The value of parameter `name`, if present.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The API action (`Action` parameter, or the `X-Amz-Target` operation).
    pub fn action(&self) -> Option<String> {
        self.param("Action").or_else(|| {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
                .and_then(|(_, v)| v.rsplit('.').next().map(str::to_owned))
        })
    }

    fn decoded_body(&self) -> String {
        let body = self.body.clone().unwrap_or_default();
        if self.body_encoded {
            String::from_utf8_lossy(&base64_decode(&body)).into_owned()
        } else {
            body
        }
    }
}

impl Moto {
    /// Start a fresh emulator.
    pub fn start() -> Result<Self> {
        Self::launch(None)
    }

    /// Start a fresh emulator that is also served over HTTPS with `cert_pem` / `key_pem` (see
    /// [`tls_endpoint`](Self::tls_endpoint)), with an OpenSearch stand-in beside it (see
    /// [`opensearch_port`](Self::opensearch_port)).
    pub fn start_with_tls(cert_pem: &str, key_pem: &str) -> Result<Self> {
        Self::launch(Some((cert_pem, key_pem)))
    }

    fn launch(tls: Option<(&str, &str)>) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("iamwire-moto-")
            .tempdir()
            .map_err(RigError::io("moto dir"))?;
        let launcher = dir.path().join("moto_rig.py");
        std::fs::write(&launcher, LAUNCHER).map_err(RigError::io("writing moto launcher"))?;
        std::fs::write(dir.path().join("rig.py"), RIG)
            .map_err(RigError::io("writing rig helper"))?;
        let python = crate::python();
        if !python.exists() {
            return Err(RigError::Missing { program: python });
        }
        let log = dir.path().join("moto.log");
        let log_file = std::fs::File::create(&log).map_err(RigError::io("moto log"))?;
        let mut command = Command::new(&python);
        if let Some((cert, key)) = tls {
            let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
            std::fs::write(&cert_path, cert)
                .map_err(RigError::io("writing the rig's certificate"))?;
            std::fs::write(&key_path, key).map_err(RigError::io("writing the rig's key"))?;
            command
                .env("IAMWIRE_RIG_TLS_CERT", cert_path)
                .env("IAMWIRE_RIG_TLS_KEY", key_path)
                .env(
                    "IAMWIRE_RIG_OPENSEARCH_LOG",
                    dir.path().join("opensearch.jsonl"),
                );
        }
        let child = command
            .arg(&launcher)
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "0")
            .env("MOTO_ENABLE_RECORDING", "true")
            .env("MOTO_RECORDER_FILEPATH", dir.path().join("recording.jsonl"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(RigError::io("starting moto"))?;
        let mut guard = ChildGuard::new(child);
        let stdout = guard.child_mut().stdout.take();
        let mut reader = stdout.map(BufReader::new);
        let mut port_line = |prefix: &str| -> Result<u16> {
            let mut line = String::new();
            if let Some(out) = reader.as_mut() {
                out.read_line(&mut line)
                    .map_err(RigError::io("reading moto's port"))?;
            }
            line.trim()
                .strip_prefix(prefix)
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| RigError::Protocol {
                    what: "moto launcher".into(),
                    detail: log_tail(&log),
                })
        };
        let port = port_line("PORT ")?;
        let tls_ports = match tls {
            Some(_) => Some((port_line("TLS_PORT ")?, port_line("OPENSEARCH_PORT ")?)),
            None => None,
        };
        Ok(Self {
            guard,
            port,
            tls_ports,
            dir,
        })
    }

    /// The emulator's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The endpoint URL (`http://127.0.0.1:<port>`), for `AWS_ENDPOINT_URL` or an SDK endpoint override.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cap the lifetime of every session AssumeRole issues from now on at `seconds` (0 lifts the cap).
    /// AWS's own floor is 900 s; tests of credential expiry need far less.
    ///
    /// # Errors
    /// If the emulator does not answer, or refuses.
    pub fn cap_sts_duration(&self, seconds: u64) -> Result<()> {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port))
            .map_err(RigError::io("connecting to moto"))?;
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .map_err(RigError::io("moto read timeout"))?;
        write!(
            stream,
            "GET /iamwire-rig/sts-duration?seconds={seconds} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .map_err(RigError::io("asking moto to cap STS lifetimes"))?;
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .map_err(RigError::io("reading moto's answer"))?;
        if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
            Ok(())
        } else {
            Err(RigError::Protocol {
                what: "sts-duration".into(),
                detail: answer.lines().next().unwrap_or_default().to_owned(),
            })
        }
    }

    /// The emulator over HTTPS (`https://localhost:<port>`), if started with TLS.
    pub fn tls_endpoint(&self) -> Option<String> {
        self.tls_ports
            .map(|(port, _)| format!("https://localhost:{port}"))
    }

    /// The OpenSearch stand-in's HTTPS port on 127.0.0.1, if started with TLS.
    pub fn opensearch_port(&self) -> Option<u16> {
        self.tls_ports.map(|(_, port)| port)
    }

    /// Every request the OpenSearch stand-in received: method, path, status, detail (why a signature was
    /// refused), principal (the assumed-role session that signed), body_len, body_sha256.
    pub fn opensearch_requests(&self) -> Result<Vec<Value>> {
        let path = self.dir.path().join("opensearch.jsonl");
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

    /// Create users, access keys and roles (in any accounts) through a window of unauthenticated calls that
    /// is closed again before this returns.
    pub fn setup(&self, spec: &AwsSetup) -> Result<AwsCreated> {
        let value = self.rig(
            &["setup", &self.endpoint()],
            &serde_json::to_value(spec).unwrap_or_default(),
        )?;
        serde_json::from_value(value).map_err(|e| RigError::Protocol {
            what: "rig setup".into(),
            detail: e.to_string(),
        })
    }

    /// Put identity policies on users and roles (a `null` document deletes the named policy) and replace
    /// roles' trust policies: `policies` is a list of `{"account", "attach_to", "kind": "identity" |
    /// "trust", "name", "document"}` (the shape `iamwire iam-policy` prints, one entry per policy).
    pub fn apply_policies(&self, policies: &[Value]) -> Result<()> {
        self.rig(
            &["apply-policies", &self.endpoint()],
            &serde_json::json!({ "policies": policies }),
        )
        .map(drop)
    }

    /// Run one of `rig.py`'s subcommands with a JSON argument and return its JSON answer.
    pub fn rig(&self, args: &[&str], input: &Value) -> Result<Value> {
        rig(&self.dir.path().join("rig.py"), args, input)
    }

    /// Call `service`'s `method` (boto3's snake_case name) as `who` in `region` with `params`; the
    /// answer, or the emulator's refusal as an error.
    pub fn call(
        &self,
        who: &CreatedUser,
        region: &str,
        service: &str,
        method: &str,
        params: &Value,
    ) -> Result<Value> {
        let answer = self.rig(
            &["call", &self.endpoint()],
            &serde_json::json!({
                "service": service, "method": method, "creds": who, "region": region, "params": params,
            }),
        )?;
        match answer.get("error") {
            Some(error) => Err(RigError::Protocol {
                what: format!("{service} {method}"),
                detail: error.to_string(),
            }),
            None => Ok(answer),
        }
    }

    /// Create a PostgreSQL RDS instance `id` as `who` in `region` with `tags`, IAM database
    /// authentication on or off; its endpoint as `host:port`.
    pub fn rds_instance(
        &self,
        who: &CreatedUser,
        region: &str,
        id: &str,
        tags: &[(&str, &str)],
        iam_auth: bool,
    ) -> Result<String> {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
            .collect();
        let answer = self.call(
            who,
            region,
            "rds",
            "create_db_instance",
            &serde_json::json!({
                "DBInstanceIdentifier": id, "Engine": "postgres", "DBInstanceClass": "db.t3.micro",
                "AllocatedStorage": 20, "MasterUsername": "admin", "MasterUserPassword": "password1234",
                "Tags": tags, "EnableIAMDatabaseAuthentication": iam_auth,
            }),
        )?;
        let endpoint = &answer["DBInstance"]["Endpoint"];
        Ok(format!(
            "{}:{}",
            endpoint["Address"].as_str().unwrap_or_default(),
            endpoint["Port"]
        ))
    }

    /// Every request received so far, oldest first (including refused ones).
    pub fn requests(&self) -> Result<Vec<RecordedRequest>> {
        let path = self.dir.path().join("recording.jsonl");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RigError::io("reading moto's recording")(e)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| RigError::Protocol {
                    what: "recording".into(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// How many requests for `action` (e.g. `AssumeRole`) the emulator received.
    pub fn count(&self, action: &str) -> Result<usize> {
        Ok(self
            .requests()?
            .iter()
            .filter(|r| r.action().as_deref() == Some(action))
            .count())
    }

    /// The path of the rig helper script (for tests that drive boto3 directly).
    pub fn rig_script(&self) -> PathBuf {
        self.dir.path().join("rig.py")
    }

    /// Whether the emulator process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.guard.child_mut().try_wait(), Ok(None))
    }
}

/// Run `rig.py` with the venv's Python.
pub(crate) fn rig(script: &std::path::Path, args: &[&str], input: &Value) -> Result<Value> {
    let mut child = Command::new(crate::python())
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(RigError::io("running rig.py"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.to_string().as_bytes())
            .map_err(RigError::io("writing to rig.py"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(RigError::io("waiting for rig.py"))?;
    if !out.status.success() {
        return Err(RigError::Command {
            program: format!("rig.py {}", args.first().unwrap_or(&"")),
            status: out.status.to_string(),
            output: crate::process::tail(&out.stderr),
        });
    }
    serde_json::from_slice(&out.stdout).map_err(|e| RigError::Protocol {
        what: "rig.py".into(),
        detail: e.to_string(),
    })
}

/// A trust policy that lets `principal` (an ARN or account id) assume the role, requiring `external_id`
/// when given.
pub fn trust_policy(principal: &str, external_id: Option<&str>) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    });
    if let Some(id) = external_id {
        statement["Condition"] = json!({"StringEquals": {"sts:ExternalId": id}});
    }
    json!({"Version": "2012-10-17", "Statement": [statement]})
}

/// An identity policy allowing `actions` on `resource`.
pub fn allow(actions: &[&str], resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]})
}

/// A user `name` in `account` allowed `actions` on every resource.
pub fn user(account: &str, name: &str, actions: &[&str]) -> UserSpec {
    UserSpec {
        account: account.into(),
        name: name.into(),
        policies: vec![allow(actions, "*")],
    }
}

/// A role `name` in [`DATABASE_ACCOUNT`] that [`PROXY_ACCOUNT`] may assume (with `external_id` when
/// given), allowed `actions` on every resource: a discovery or database role.
pub fn proxy_trusted_role(name: &str, external_id: Option<&str>, actions: &[&str]) -> RoleSpec {
    RoleSpec {
        account: DATABASE_ACCOUNT.into(),
        name: name.into(),
        trust: trust_policy(&format!("arn:aws:iam::{PROXY_ACCOUNT}:root"), external_id),
        policies: vec![allow(actions, "*")],
    }
}

fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64_decode(s: &str) -> Vec<u8> {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let Some(v) = TABLE.iter().position(|&t| t == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The account the proxy's own identity lives in.
pub const PROXY_ACCOUNT: &str = "111111111111";
/// The account the databases live in (reached through a role with an external id).
pub const DATABASE_ACCOUNT: &str = "222222222222";

/// The usual cross-account arrangement: a proxy user in [`PROXY_ACCOUNT`] allowed to call sts:AssumeRole,
/// and a role in [`DATABASE_ACCOUNT`] that trusts that account when the external id matches.
#[derive(Debug, Clone)]
pub struct CrossAccount {
    /// The proxy's user and access key.
    pub proxy: CreatedUser,
    /// The database account's role.
    pub role_arn: String,
    /// The external id the role's trust policy requires.
    pub external_id: String,
}

/// Temporary credentials from the emulator.
#[derive(Clone, Deserialize, Serialize)]
pub struct TempCredentials {
    /// Access key id (`ASIA...`).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: Option<String>,
    /// Expiry, ISO 8601.
    pub expiration: Option<String>,
}

impl std::fmt::Debug for TempCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// An error answer from the emulator (`AccessDenied`, `SignatureDoesNotMatch`, ...).
#[derive(Debug, Clone, Deserialize)]
pub struct AwsError {
    /// The AWS error code.
    pub code: String,
    /// The message.
    pub message: String,
}

impl Moto {
    /// Create the [`CrossAccount`] arrangement with a role named `name` requiring `external_id`.
    pub fn cross_account(&self, name: &str, external_id: &str) -> Result<CrossAccount> {
        let created = self.setup(&AwsSetup {
            users: vec![UserSpec {
                account: PROXY_ACCOUNT.into(),
                name: "iamwire-proxy".into(),
                policies: vec![allow(&["sts:AssumeRole", "sts:TagSession"], "*")],
            }],
            roles: vec![RoleSpec {
                account: DATABASE_ACCOUNT.into(),
                name: name.into(),
                trust: trust_policy(
                    &format!("arn:aws:iam::{PROXY_ACCOUNT}:root"),
                    Some(external_id),
                ),
                policies: vec![allow(
                    &[
                        "rds-db:connect",
                        "redshift:GetClusterCredentials",
                        "sts:AssumeRole",
                        "elasticache:Connect",
                        "elasticache:DescribeUsers",
                        "memorydb:Connect",
                        "memorydb:DescribeUsers",
                    ],
                    "*",
                )],
            }],
        })?;
        let missing = || RigError::Protocol {
            what: "rig setup".into(),
            detail: "missing user or role".into(),
        };
        Ok(CrossAccount {
            proxy: created
                .users
                .get("iamwire-proxy")
                .cloned()
                .ok_or_else(missing)?,
            role_arn: created
                .roles
                .get(name)
                .map(|r| r.arn.clone())
                .ok_or_else(missing)?,
            external_id: external_id.into(),
        })
    }

    /// sts:AssumeRole with boto3 as `user`; the inner error is the emulator's refusal.
    pub fn assume_role(
        &self,
        user: &CreatedUser,
        role_arn: &str,
        external_id: Option<&str>,
    ) -> Result<std::result::Result<TempCredentials, AwsError>> {
        let mut input = serde_json::to_value(user).unwrap_or_default();
        input["role_arn"] = json!(role_arn);
        if let Some(id) = external_id {
            input["external_id"] = json!(id);
        }
        let answer = self.rig(&["assume-role", &self.endpoint()], &input)?;
        answer_or_error(answer, "credentials")
    }

    /// boto3's `generate_db_auth_token` for `creds`; signed at `at` (naive ISO 8601 UTC) instead of now if given.
    pub fn rds_token(
        &self,
        creds: &TempCredentials,
        host: &str,
        port: u16,
        user: &str,
        region: &str,
        at: Option<&str>,
    ) -> Result<String> {
        let mut input = serde_json::to_value(creds).unwrap_or_default();
        input["host"] = json!(host);
        input["port"] = json!(port);
        input["user"] = json!(user);
        input["region"] = json!(region);
        if let Some(at) = at {
            input["at"] = json!(at);
        }
        let answer = self.rig(&["rds-token"], &input)?;
        answer["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| RigError::Protocol {
                what: "rig rds-token".into(),
                detail: answer.to_string(),
            })
    }
}

fn answer_or_error<T: serde::de::DeserializeOwned>(
    answer: Value,
    field: &str,
) -> Result<std::result::Result<T, AwsError>> {
    let bad = |e: serde_json::Error| RigError::Protocol {
        what: "rig.py".into(),
        detail: e.to_string(),
    };
    if let Some(err) = answer.get("error") {
        return Ok(Err(serde_json::from_value(err.clone()).map_err(bad)?));
    }
    Ok(Ok(
        serde_json::from_value(answer[field].clone()).map_err(bad)?
    ))
}
