//! An ElastiCache-like deployment for end-to-end tests of `protocol: redis`: the AWS emulator with a
//! cross-account role (external ID) and ElastiCache users, a real Redis 7 over TLS behind the IAM stand-in
//! (which accepts only tokens botocore agrees with, then logs in to Redis itself), a certificate directory
//! made by `iamwire certs`, a config file, and `iamwire run` serving it on `127.0.0.1:0`.
//!
//! ElastiCache cannot run here: the stand-in checks what it checks at `AUTH` (signature, user, cache name,
//! expiry, AUTH outside MULTI, a connection's last AUTH not too old), with botocore and the emulator's
//! record of the assumed-role credentials, code iamwire did not write.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use iamwire_testkit::moto::{CrossAccount, Moto};
use iamwire_testkit::redis::{CacheTokenPolicy, IamStandIn, Redis, create_cache_user};
use iamwire_testkit::{Fault, FaultRelay, TestCa};

use crate::e2e_run_support::{
    ALLOWED_CLIENT, EXTERNAL_ID, Proxy, REGION, iamwire_ok, write_aws_env,
};

/// The replication group the database names (and tokens must be for).
pub(crate) const CACHE: &str = "e2e-cache";

/// How a deployment differs from the usual one.
#[derive(Default)]
pub(crate) struct CacheOptions {
    /// The listener's `reauth_interval`.
    pub(crate) reauth_interval: Option<String>,
    /// The stand-in closes connections whose last AUTH is older than this (seconds).
    pub(crate) max_auth_age: Option<f64>,
    /// The database's `aws.region` (tokens are checked for [`REGION`]).
    pub(crate) db_region: Option<String>,
    /// A self-hosted Redis instead: the proxy logs in to the real Redis (no stand-in in the path) with
    /// this password from the listener's `password_file`, and the database has no `aws` section.
    pub(crate) static_password: Option<String>,
    /// Put a fault relay between the proxy and the cache (the IAM stand-in), starting in this mode.
    pub(crate) db_fault: Option<Fault>,
}

/// Everything one test needs; dropped in field order, so the proxy stops first.
pub(crate) struct CacheStack {
    pub(crate) proxy: Proxy,
    /// The relay between the proxy and the cache, if the options asked for one.
    pub(crate) db_relay: Option<FaultRelay>,
    pub(crate) standin: IamStandIn,
    pub(crate) redis: Redis,
    pub(crate) cross: CrossAccount,
    pub(crate) moto: Moto,
    dir: tempfile::TempDir,
}

impl CacheStack {
    pub(crate) fn start(options: CacheOptions) -> Self {
        let ca = TestCa::new().expect("rig CA");
        let moto = Moto::start().expect("moto");
        let redis = Redis::start(&ca).expect("redis");
        // The users live where the database says the cache is (DescribeUsers asks there).
        let users_region = options
            .db_region
            .clone()
            .unwrap_or_else(|| REGION.to_owned());
        for user in ["app", "admin"] {
            create_cache_user(&moto, "elasticache", &users_region, user, true)
                .expect("IAM cache user");
        }
        create_cache_user(&moto, "elasticache", &users_region, "pwuser", false)
            .expect("password cache user");
        let cross = moto
            .cross_account("iamwire-e2e-cache", EXTERNAL_ID)
            .expect("cross-account role");
        let mut policy = CacheTokenPolicy::elasticache(CACHE, REGION, moto.endpoint());
        policy.max_auth_age = options.max_auth_age;
        let standin = IamStandIn::start(&redis, &policy).expect("stand-in");
        // ElastiCache tokens name the cache, not an address: the relay can come after the stand-in.
        let db_relay = options.db_fault.map(|fault| {
            FaultRelay::start(([127, 0, 0, 1], standin.port()).into(), fault).expect("fault relay")
        });

        let dir = tempfile::Builder::new()
            .prefix("iamwire-e2e-redis-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path().to_str().expect("UTF-8 temp dir");
        iamwire_ok(&["certs", "init", "--dir", d]);
        for client in [ALLOWED_CLIENT, "bob"] {
            iamwire_ok(&["certs", "client", "--dir", d, "--name", client]);
        }
        std::fs::copy(&redis.tls().ca, dir.path().join("db-ca.crt")).expect("copy db CA");
        write_aws_env(dir.path(), &cross, &moto.endpoint());
        let mut listener_extra = options
            .reauth_interval
            .map(|i| format!("      reauth_interval: {i}\n"))
            .unwrap_or_default();
        let db_region = options.db_region.as_deref().unwrap_or(REGION);
        let (db_port, db_aws) = match &options.static_password {
            Some(password) => {
                std::fs::write(dir.path().join("redis.password"), format!("{password}\n"))
                    .expect("write password file");
                listener_extra.push_str("      password_file: redis.password\n");
                (redis.port(), String::new())
            }
            None => (
                db_relay
                    .as_ref()
                    .map_or_else(|| standin.port(), FaultRelay::port),
                format!(
                    "    aws:\n      region: {db_region}\n      assume_role_arn: \"{}\"\n      \
                     external_id: \"{EXTERNAL_ID}\"\n      elasticache:\n        \
                     replication_group_id: {CACHE}\n",
                    cross.role_arn
                ),
            ),
        };
        let config = format!(
            r#"proxy:
  tls:
    cert_file: server.crt
    key_file: server.key
    client_ca_file: ca.crt
  listeners:
    - database: e2e-cache
      listen: 127.0.0.1:0
{listener_extra}  identities:
    - name: {ALLOWED_CLIENT}
      db_labels: {{"*": "*"}}
      db_users: ["app", "admin", "pwuser"]
      db_names: ["*"]
    - name: bob
      db_labels: {{"*": "*"}}
      db_users: ["admin"]
      db_names: ["*"]
aws:
  region: {REGION}
  env_file: aws.env
db_service:
  enabled: "yes"
  databases:
  - name: e2e-cache
    protocol: redis
    uri: "localhost:{db_port}"
    tls:
      mode: verify-full
      ca_cert_file: db-ca.crt
{db_aws}"#,
        );
        let path = dir.path().join("iamwire.yaml");
        std::fs::write(&path, config).expect("write config");
        let home = dir.path().join("home");
        std::fs::create_dir(&home).expect("home dir");
        let proxy = Proxy::spawn(
            &path,
            &home,
            &[],
            &[(
                "RUST_LOG".into(),
                std::env::var("IAMWIRE_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )],
        );
        Self {
            proxy,
            db_relay,
            standin,
            redis,
            cross,
            moto,
            dir,
        }
    }

    /// The proxy's port.
    pub(crate) fn port(&self) -> u16 {
        self.proxy.port()
    }

    /// A file in the operator's directory.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `redis-cli` through the proxy over TLS with `client`'s certificate, as `user` (any password: the
    /// certificate is the credential), with `extra` options before `args`.
    pub(crate) fn cli(&self, client: &str, user: &str, extra: &[&str], args: &[&str]) -> Output {
        Command::new("redis-cli")
            .args(["--tls", "-h", "localhost", "--no-auth-warning"])
            .arg("--cacert")
            .arg(self.file("ca.crt"))
            .arg("--cert")
            .arg(self.file(&format!("{client}.crt")))
            .arg("--key")
            .arg(self.file(&format!("{client}.key")))
            .args(["-p", &self.port().to_string(), "--user", user])
            .env("REDISCLI_AUTH", "not-a-database-password")
            .args(extra)
            .args(args)
            .output()
            .expect("run redis-cli")
    }

    /// redis-benchmark through the proxy as `admin` with 50 clients (`extra`: `-P 16` for pipelining);
    /// its CSV output and any server errors (`-e`).
    pub(crate) fn benchmark(&self, requests: u32, extra: &[&str]) -> Output {
        Command::new("redis-benchmark")
            .args(["--tls", "-h", "localhost"])
            .arg("--cacert")
            .arg(self.file("ca.crt"))
            .arg("--cert")
            .arg(self.file(&format!("{ALLOWED_CLIENT}.crt")))
            .arg("--key")
            .arg(self.file(&format!("{ALLOWED_CLIENT}.key")))
            .args(["-p", &self.port().to_string()])
            .args(benchmark_args(requests, extra))
            .output()
            .expect("run redis-benchmark")
    }

    /// The same redis-benchmark straight to Redis (no proxy): the baseline.
    pub(crate) fn benchmark_direct(&self, requests: u32, extra: &[&str]) -> Output {
        Command::new("redis-benchmark")
            .args(["--tls", "-h", "localhost"])
            .arg("--cacert")
            .arg(&self.redis.tls().ca)
            .args(["-p", &self.redis.port().to_string()])
            .args(benchmark_args(requests, extra))
            .output()
            .expect("run redis-benchmark")
    }

    /// Run a redis-py script (from the rig's venv) with `PORT`, `CA`, `CERT`, `KEY` in its environment.
    pub(crate) fn python(&self, client: &str, script: &str) -> Output {
        Command::new(iamwire_testkit::python())
            .args(["-c", script])
            .env("PORT", self.port().to_string())
            .env("CA", self.file("ca.crt"))
            .env("CERT", self.file(&format!("{client}.crt")))
            .env("KEY", self.file(&format!("{client}.key")))
            .output()
            .expect("run the venv's python")
    }
}

/// A redis-rs connection over TLS to `port` as `user`, with `client`'s certificate from the operator's
/// directory `dir` (the password is ignored: the certificate is the credential). Generous timeouts: a
/// slow path takes longer than redis-rs's 1 s default.
pub(crate) async fn tls_client(
    port: u16,
    dir: &Path,
    client: &str,
    user: &str,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let url = format!("rediss://{user}:ignored@localhost:{port}/");
    let read = |name: &str| std::fs::read(dir.join(name)).expect("read a certificate file");
    let tls = redis::Client::build_with_tls(
        url.as_str(),
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: read(&format!("{client}.crt")),
                client_key: read(&format!("{client}.key")),
            }),
            root_cert: Some(read("ca.crt")),
        },
    )?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(PROMPT))
        .set_response_timeout(Some(PROMPT));
    tokio::time::timeout(
        PROMPT * 2,
        tls.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    .expect("the proxy answers the login")
}

/// How long a redis-rs client waits for a connection or a reply.
pub(crate) const PROMPT: std::time::Duration = std::time::Duration::from_secs(30);

/// redis-benchmark's arguments: as `admin`, 50 clients, SET and GET, server errors shown, CSV.
fn benchmark_args(requests: u32, extra: &[&str]) -> Vec<String> {
    let n = requests.to_string();
    let fixed = ["--user", "admin", "-a", "admin-pass", "-c", "50", "-n", &n];
    let tests = ["-t", "set,get", "-e", "--csv"];
    fixed
        .iter()
        .chain(&tests)
        .chain(extra)
        .map(|s| (*s).to_owned())
        .collect()
}

/// stdout and stderr of a finished process, for assertion messages.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
