//! A deployment for the HTTP databases' end-to-end tests: the AWS emulator (signature-checking, also over
//! HTTPS, with the OpenSearch stand-in beside it), a cross-account role guarded by an external ID, a
//! database-user role whose policy names one table, keys from `iamwire keys`, and `iamwire run`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use iamwire_testkit::moto::{
    AwsSetup, DATABASE_ACCOUNT, Moto, PROXY_ACCOUNT, RoleSpec, UserSpec, allow, trust_policy,
};
use iamwire_testkit::{Fault, FaultRelay, TestCa};
use serde_json::json;

use crate::e2e_run_support::Proxy;

/// The region the database is in.
pub(crate) const REGION: &str = "us-west-2";
/// The external ID the database role requires.
pub(crate) const EXTERNAL_ID: &str = "ext-http";
/// The table the user role may use.
pub(crate) const TABLE: &str = "orders";
/// The user role (database user) the keys act as.
pub(crate) const USER_ROLE: &str = "orders-rw";

/// The operator's identity (`<dir>/ops.crt`, `ops.key`), for tests that add an admin address.
pub(crate) const OPERATOR: &str = "ops";

/// A key `iamwire keys create` issued.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) id: String,
    pub(crate) secret: String,
}

/// Everything one test needs; the proxy stops first.
pub(crate) struct HttpStack {
    pub(crate) proxy: Proxy,
    pub(crate) moto: Moto,
    /// alice acting as [`USER_ROLE`] (allowed).
    pub(crate) alice: Key,
    /// alice acting as `admin` (a role her rules do not allow).
    pub(crate) alice_admin: Key,
    /// The relay between the proxy and the AWS endpoint (recording), if the options asked for one.
    pub(crate) sts_relay: Option<FaultRelay>,
    /// The relay between the proxy and the database, if the options asked for one.
    pub(crate) db_relay: Option<FaultRelay>,
    dir: tempfile::TempDir,
}

/// How a deployment differs from the usual one.
#[derive(Default)]
pub(crate) struct HttpOptions {
    /// Lines (indented two spaces) added to the config's `proxy` section.
    pub(crate) proxy_extra: String,
    /// Put a fault relay between the proxy and the AWS endpoint, starting in this mode.
    pub(crate) sts_fault: Option<Fault>,
    /// Put a fault relay between the proxy and the database, starting in this mode.
    pub(crate) db_fault: Option<Fault>,
    /// Cap the lifetime of the role sessions the emulator issues (seconds), before the proxy starts.
    pub(crate) sts_duration: Option<u64>,
    /// Extra environment for `iamwire run`.
    pub(crate) env: Vec<(String, String)>,
}

/// Which database the stack serves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    DynamoDb,
    OpenSearch,
}

impl HttpStack {
    /// The deployment, with `proxy_extra` lines (indented two spaces) added to the `proxy` section.
    pub(crate) fn start(kind: Kind, proxy_extra: &str) -> Self {
        Self::with(
            kind,
            HttpOptions {
                proxy_extra: proxy_extra.to_owned(),
                ..HttpOptions::default()
            },
        )
    }

    /// The deployment as `options` say.
    pub(crate) fn with(kind: Kind, options: HttpOptions) -> Self {
        let proxy_extra = options.proxy_extra.as_str();
        let ca = TestCa::new().expect("rig CA");
        let server = ca.server(&["localhost", "127.0.0.1"]).expect("server cert");
        let moto = Moto::start_with_tls(&server.cert_pem, &server.key_pem).expect("moto");
        let db_role = "iamwire-db-access";
        let created = moto
            .setup(&AwsSetup {
                users: vec![UserSpec {
                    account: PROXY_ACCOUNT.into(),
                    name: "iamwire-proxy".into(),
                    policies: vec![allow(&["sts:AssumeRole", "sts:TagSession"], "*")],
                }],
                roles: vec![
                    RoleSpec {
                        account: DATABASE_ACCOUNT.into(),
                        name: db_role.into(),
                        trust: trust_policy(
                            &format!("arn:aws:iam::{PROXY_ACCOUNT}:root"),
                            Some(EXTERNAL_ID),
                        ),
                        policies: vec![allow(&["sts:AssumeRole", "sts:TagSession"], "*")],
                    },
                    RoleSpec {
                        account: DATABASE_ACCOUNT.into(),
                        name: USER_ROLE.into(),
                        trust: trust_policy(
                            &format!("arn:aws:iam::{DATABASE_ACCOUNT}:role/{db_role}"),
                            None,
                        ),
                        // Only the one table (and its streams): a request for another table fails.
                        policies: vec![json!({"Version": "2012-10-17", "Statement": [{
                            "Effect": "Allow",
                            "Action": ["dynamodb:*"],
                            "Resource": [
                                format!("arn:aws:dynamodb:*:{DATABASE_ACCOUNT}:table/{TABLE}"),
                                format!("arn:aws:dynamodb:*:{DATABASE_ACCOUNT}:table/{TABLE}/*"),
                            ],
                        }, {
                            "Effect": "Allow",
                            "Action": ["dynamodb:ListTables", "dynamodb:ListStreams", "es:*"],
                            "Resource": "*",
                        }]})],
                    },
                ],
            })
            .expect("emulator setup");
        let proxy_user = &created.users["iamwire-proxy"];
        let db_role_arn = &created.roles[db_role].arn;

        let dir = tempfile::Builder::new()
            .prefix("iamwire-http-")
            .tempdir()
            .expect("temp dir");
        let files = ca.write(dir.path(), "server", &server).expect("PEM files");
        // An operator certificate, for tests that give the proxy an admin address.
        let ops = ca.client(OPERATOR, &[]).expect("operator cert");
        ca.write(dir.path(), OPERATOR, &ops)
            .expect("operator PEM files");
        // alice's certificate (`<dir>/alice.crt`, `alice.key`), for tests of certificate clients.
        let alice_cert = ca.client("alice", &[]).expect("alice's cert");
        ca.write(dir.path(), "alice", &alice_cert)
            .expect("alice's PEM files");
        let local = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let port_of = |url: &str| -> u16 {
            url.rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a port")
        };
        // Recording: a test can learn the credentials STS handed out, to look for them.
        let sts_relay = options.sts_fault.map(|fault| {
            FaultRelay::recording(local(port_of(&moto.endpoint())), fault).expect("STS relay")
        });
        let aws_endpoint = sts_relay
            .as_ref()
            .map_or_else(|| moto.endpoint(), FaultRelay::http_url);
        if let Some(seconds) = options.sts_duration {
            moto.cap_sts_duration(seconds).expect("cap STS lifetimes");
        }
        std::fs::write(
            dir.path().join("aws.env"),
            format!(
                "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nAWS_ENDPOINT_URL={aws_endpoint}\n",
                proxy_user.access_key_id, proxy_user.secret_access_key,
            ),
        )
        .expect("aws.env");
        let master = dir.path().join("master.key");
        iamwire(&["keys", "init", "--out", path(&master)]);
        let alice = create_key(&master, "alice", USER_ROLE);
        let alice_admin = create_key(&master, "alice", "admin");
        let (protocol, uri) = match kind {
            Kind::DynamoDb => (
                "dynamodb",
                moto.tls_endpoint().expect("the emulator over TLS"),
            ),
            Kind::OpenSearch => (
                "opensearch",
                format!(
                    "https://localhost:{}",
                    moto.opensearch_port().expect("stand-in")
                ),
            ),
        };
        // The relay fronts the database on localhost: the certificate names it, and the proxy signs for
        // the host it dials.
        let db_relay = options
            .db_fault
            .map(|fault| FaultRelay::start(local(port_of(&uri)), fault).expect("database relay"));
        let uri = db_relay
            .as_ref()
            .map_or(uri, |relay| format!("https://localhost:{}", relay.port()));
        let config = format!(
            r#"db_service:
  databases:
  - name: orders
    protocol: {protocol}
    uri: "{uri}"
    tls: {{ca_cert_file: {ca}}}
    aws:
      region: {REGION}
      assume_role_arn: "{db_role_arn}"
      external_id: {EXTERNAL_ID}
      session_tags: {{team: orders, env: e2e}}
aws:
  region: {REGION}
  env_file: aws.env
proxy:
  tls: {{cert_file: {cert}, key_file: {key}, client_ca_file: {ca}, client_auth: optional}}
  listeners:
  - {{database: orders, listen: "127.0.0.1:0"}}
  identities:
  - {{name: alice, db_labels: {{"*": "*"}}, db_users: ["{USER_ROLE}"]}}
  access_keys:
    master_key_file: master.key
    keys:
    - {{id: {alice_id}, identity: alice, role: {USER_ROLE}}}
    - {{id: {admin_id}, identity: alice, role: admin}}
{proxy_extra}"#,
            ca = path(&files.ca),
            cert = path(&files.cert),
            key = path(&files.key),
            alice_id = alice.id,
            admin_id = alice_admin.id,
        );
        let config_path = dir.path().join("iamwire.yaml");
        std::fs::write(&config_path, config).expect("config");
        let home = dir.path().join("home");
        std::fs::create_dir(&home).expect("home");
        let proxy = Proxy::spawn(&config_path, &home, &[], &options.env);
        Self {
            proxy,
            moto,
            alice,
            alice_admin,
            sts_relay,
            db_relay,
            dir,
        }
    }

    /// The deployment's directory (configuration, certificates, keys).
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stop the proxy, let `edit` change its configuration, and start it again.
    pub(crate) fn restart_with(&mut self, edit: impl FnOnce(String) -> String) {
        let config = self.dir.path().join("iamwire.yaml");
        let text = std::fs::read_to_string(&config).expect("config");
        std::fs::write(&config, edit(text)).expect("config");
        let home = self.dir.path().join("home");
        self.proxy = Proxy::spawn(&config, &home, &[], &[]);
    }

    /// `https://localhost:<proxy port>`.
    pub(crate) fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.proxy.port())
    }

    /// The CA that signed the proxy's (and the emulator's) certificate.
    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A file in the deployment's directory.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run a Python script from the rig venv with `args`; its stdout as JSON (panics with stderr if it fails).
    pub(crate) fn python(&self, script: &str, args: &[&str]) -> serde_json::Value {
        let out = Command::new(iamwire_testkit::python())
            .args(["-c", script])
            .args(args)
            .env("HOME", self.dir.path())
            // The clients must trust the rig's CA, which these would override (requests lets the
            // environment win over an explicit CA file).
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("CURL_CA_BUNDLE")
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .expect("python");
        assert!(
            out.status.success(),
            "script failed: {}\nproxy stderr:\n{}",
            both(&out),
            self.proxy.stderr()
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }
}

fn create_key(master: &Path, identity: &str, role: &str) -> Key {
    let out = iamwire(&[
        "keys",
        "create",
        "--master-key",
        path(master),
        "--identity",
        identity,
        "--role",
        role,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .to_owned()
    };
    Key {
        id: value("AWS_ACCESS_KEY_ID="),
        secret: value("AWS_SECRET_ACCESS_KEY="),
    }
}

pub(crate) fn iamwire(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_iamwire"))
        .args(args)
        .output()
        .expect("run iamwire");
    assert!(out.status.success(), "iamwire {args:?}: {}", both(&out));
    out
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

pub(crate) fn both(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Peak and current resident memory of process `pid`, in KiB (`VmHWM`, `VmRSS`).
pub(crate) fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}
