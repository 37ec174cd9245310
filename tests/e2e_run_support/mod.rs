//! A whole deployment for end-to-end tests: the AWS emulator with a cross-account role guarded by an external
//! ID, an RDS-like PostgreSQL that takes only RDS IAM tokens for `iam_user`, a certificate directory made by
//! `iamwire certs`, a config file, and `iamwire run` serving it on `127.0.0.1:0`.
//!
//! Every test builds its own [`Stack`], so tests share no ports, files or processes and may run in parallel.

#![allow(dead_code)] // each test binary uses its own part of the deployment

pub(crate) mod admin;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iamwire_testkit::moto::{
    AwsSetup, DATABASE_ACCOUNT, PROXY_ACCOUNT, RoleSpec, UserSpec, trust_policy,
};
use iamwire_testkit::moto::{CrossAccount, Moto};
use iamwire_testkit::postgres::{self, PgOptions, Postgres};
use iamwire_testkit::{ConnectCheck, Fault, FaultRelay, TestCa, TokenPolicy};

/// The region the role is assumed in and the tokens are signed for.
pub(crate) const REGION: &str = "us-west-2";
/// The external ID the role's trust policy requires.
pub(crate) const EXTERNAL_ID: &str = "ext-right";
/// The database's RDS resource id in the config (what `rds-db:connect` permissions name).
pub(crate) const RESOURCE_ID: &str = "db-IAMWIRE0E2E0TEST";
/// The client identity the config allows.
pub(crate) const ALLOWED_CLIENT: &str = "alice";
/// Slow enough for a loaded 2-core machine; only a hang should ever reach it.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// `iamwire run`, killed on drop; its stderr is collected as it comes.
pub(crate) struct Proxy {
    child: Child,
    port: u16,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
}

impl Proxy {
    /// Spawn `iamwire run --config <config> <args>` with `env` and wait for the line that names its listen
    /// address.
    pub(crate) fn spawn(
        config: &Path,
        home: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Self {
        Self::spawn_exe(
            Path::new(env!("CARGO_BIN_EXE_iamwire")),
            config,
            home,
            args,
            env,
        )
    }

    /// [`Proxy::spawn`] with another `iamwire` binary `exe` (the overhead harness's build of a base
    /// commit, measured side by side with this one).
    pub(crate) fn spawn_exe(
        exe: &Path,
        config: &Path,
        home: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Self {
        let mut child = Command::new(exe)
            .args(["run", "--config"])
            .arg(config)
            .args(args)
            // The proxy's AWS identity comes from the config's env file only: no ~/.aws, no IMDS.
            .env_clear()
            .env("HOME", home)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn iamwire run");
        let stderr = drain(child.stderr.take().expect("stderr"));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let printed = Arc::new(Mutex::new(String::new()));
        let sink = printed.clone();
        // Keep draining stdout after the listen line, so the proxy never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = listen_port(&line) {
                    let _ = tx.send(port);
                }
                let mut sink = sink.lock().unwrap();
                sink.push_str(&line);
                sink.push('\n');
            }
        });
        let mut proxy = Self {
            child,
            port: 0,
            stderr,
            stdout: printed,
        };
        proxy.port = match rx.recv_timeout(START_TIMEOUT) {
            Ok(port) => port,
            Err(e) => panic!(
                "iamwire run did not report a listener ({e}); stderr:\n{}",
                proxy.stderr()
            ),
        };
        proxy
    }

    /// `iamwire run` for the operator's directory `dir` and its `config`, with a home of its own there.
    pub(crate) fn run(
        dir: &tempfile::TempDir,
        config: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Self {
        Self::run_exe(None, dir, config, args, env)
    }

    /// [`Proxy::run`] with the `iamwire` binary `exe`, or this build's if `None`.
    pub(crate) fn run_exe(
        exe: Option<&Path>,
        dir: &tempfile::TempDir,
        config: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Self {
        let home = dir.path().join("home");
        std::fs::create_dir(&home).expect("home dir");
        let exe = exe.unwrap_or(Path::new(env!("CARGO_BIN_EXE_iamwire")));
        Self::spawn_exe(exe, config, &home, args, env)
    }

    /// The port `iamwire run` listens on, on 127.0.0.1.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// What the proxy has written to stdout so far (its listener lines).
    pub(crate) fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Wait (up to a generous limit) for the stdout line `iamwire: <database> (...) on <addr> -> ...` and
    /// return `<addr>` (the last such line: a reload prints a database again).
    pub(crate) fn wait_listen(&self, database: &str) -> String {
        let prefix = format!("iamwire: {database} (");
        let start = Instant::now();
        loop {
            let found = self
                .stdout()
                .lines()
                .filter(|l| l.starts_with(&prefix))
                .filter_map(|l| l.split(" on ").nth(1)?.split(' ').next().map(str::to_owned))
                .next_back();
            if let Some(addr) = found {
                return addr;
            }
            assert!(
                start.elapsed() < START_TIMEOUT,
                "no listener line for {database}; stdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The admin address `iamwire run` printed (`https://127.0.0.1:PORT`), waiting for it.
    pub(crate) fn admin_url(&self) -> String {
        let start = Instant::now();
        loop {
            if let Some(url) = self
                .stdout()
                .lines()
                .find_map(|l| l.strip_prefix("iamwire: admin address "))
            {
                return url.trim().to_owned();
            }
            assert!(
                start.elapsed() < START_TIMEOUT,
                "no admin address printed; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the proxy has written to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The process id of `iamwire run`.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send `signal` (`TERM`, `HUP`, `INT`) to `iamwire run`.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Wait up to `limit` for `iamwire run` to exit; its status, if it did.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if start.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether `iamwire run` is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait (up to a generous limit) until stderr contains `needle`; returns stderr.
    pub(crate) fn wait_stderr(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let text = self.stderr();
            if text.contains(needle) || start.elapsed() > START_TIMEOUT {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Collect everything `pipe` yields, as it comes, on a thread of its own (so the writer never blocks on
/// a full pipe); the text so far.
pub(crate) fn drain(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// The secrets a deployment whose proxy reaches STS through `relay` (recording) must never show: the
/// proxy's own secret key `proxy_key`, the external ID, and every secret key and session token STS
/// handed out (read off the wire; each kind must have been seen).
pub(crate) fn sts_secrets(relay: &FaultRelay, proxy_key: &str) -> Vec<String> {
    let recorded = String::from_utf8_lossy(&relay.recorded()).into_owned();
    let mut secrets = vec![proxy_key.to_owned(), EXTERNAL_ID.to_owned()];
    for tag in ["SecretAccessKey", "SessionToken"] {
        let open = format!("<{tag}>");
        let issued: Vec<String> = recorded
            .split(&open)
            .skip(1)
            .filter_map(|rest| rest.split('<').next())
            .map(str::to_owned)
            .collect();
        assert!(!issued.is_empty(), "no {tag} recorded from STS");
        secrets.extend(issued);
    }
    secrets
}

/// How a test's deployment differs from the usual one.
#[derive(Default)]
pub(crate) struct Options {
    /// The external ID the config gives (the role requires [`EXTERNAL_ID`]); `None`: the right one.
    pub(crate) external_id: Option<String>,
    /// Extra lines for the config's `proxy` section (indented two spaces), e.g. timeouts and limits.
    pub(crate) proxy_extra: String,
    /// The database names `alice` may open (default: any).
    pub(crate) db_names: Option<Vec<String>>,
    /// Put a fault relay between the proxy and the AWS endpoint, starting in this mode.
    pub(crate) sts_fault: Option<Fault>,
    /// Put a fault relay between the proxy and the database, starting in this mode.
    pub(crate) db_fault: Option<Fault>,
    /// Cap the lifetime of the role sessions the emulator issues (seconds), before the proxy starts.
    pub(crate) sts_duration: Option<u64>,
    /// Extra arguments for `iamwire run`.
    pub(crate) args: Vec<String>,
    /// Extra environment for `iamwire run`.
    pub(crate) env: Vec<(String, String)>,
    /// Start from bare IAM: the proxy's user may do nothing, the database role trusts nobody and may do
    /// nothing, and the database checks `rds-db:connect` of each token's signer (as RDS does).
    pub(crate) bare_iam: bool,
}

/// `iamwire: NAME (postgres) on 127.0.0.1:PORT -> URI` → PORT.
fn listen_port(line: &str) -> Option<u16> {
    let addr = line.split(" on ").nth(1)?.split(' ').next()?;
    addr.rsplit(':').next()?.parse().ok()
}

/// Everything one test needs; dropped in field order, so the proxy stops before the servers behind it.
pub(crate) struct Stack {
    /// `iamwire run`.
    pub(crate) proxy: Proxy,
    /// The RDS-like PostgreSQL.
    pub(crate) pg: Postgres,
    /// The role (in the database account) and the proxy's own identity.
    pub(crate) cross: CrossAccount,
    /// The relay between the proxy and the AWS emulator, if the options asked for one.
    pub(crate) sts_relay: Option<FaultRelay>,
    /// The relay between the proxy and the database, if the options asked for one.
    pub(crate) db_relay: Option<FaultRelay>,
    /// The AWS emulator.
    pub(crate) moto: Moto,
    /// The operator's directory: CA, server and client certificates, aws.env, iamwire.yaml.
    dir: tempfile::TempDir,
    /// How `iamwire run` was started (to start it again).
    spawn: (PathBuf, PathBuf, Vec<String>, Vec<(String, String)>),
}

impl Stack {
    /// The usual deployment: the config's external ID matches the role's.
    pub(crate) fn start() -> Self {
        Self::with_external_id(EXTERNAL_ID)
    }

    /// A deployment whose config gives `external_id` for the role (which requires [`EXTERNAL_ID`]).
    pub(crate) fn with_external_id(external_id: &str) -> Self {
        Self::with(Options {
            external_id: Some(external_id.to_owned()),
            ..Options::default()
        })
    }

    /// A deployment as `options` say.
    pub(crate) fn with(options: Options) -> Self {
        let external_id = options.external_id.as_deref().unwrap_or(EXTERNAL_ID);
        let ca = TestCa::new().expect("rig CA");
        let moto = Moto::start().expect("moto");
        // The relay's port must be known first: RDS checks the host:port a token was signed for, and
        // the proxy signs for the address it dials.
        let db_relay = options.db_fault.map(|fault| {
            FaultRelay::start(([127, 0, 0, 1], 9).into(), fault).expect("fault relay")
        });
        let pg = Postgres::start(
            &ca,
            PgOptions {
                tokens: TokenPolicy {
                    hosts: db_relay
                        .as_ref()
                        .map(|relay| vec![format!("localhost:{}", relay.port())])
                        .unwrap_or_default(),
                    moto_url: Some(moto.endpoint()),
                    region: Some(REGION.into()),
                    connect_check: options.bare_iam.then(|| ConnectCheck {
                        account: DATABASE_ACCOUNT.into(),
                        resource_id: RESOURCE_ID.into(),
                    }),
                    ..Default::default()
                },
                ..PgOptions::default()
            },
        )
        .expect("postgres");
        if let Some(relay) = &db_relay {
            relay.retarget(pg.addr());
        }
        let cross = if options.bare_iam {
            bare_cross_account(&moto)
        } else {
            moto.cross_account("iamwire-e2e-db", EXTERNAL_ID)
                .expect("cross-account role")
        };

        let sts_relay = options.sts_fault.map(|fault| {
            let target = moto
                .endpoint()
                .trim_start_matches("http://")
                .parse()
                .expect("the emulator's address");
            // Recording: a test can learn the credentials STS handed out, to look for them.
            FaultRelay::recording(target, fault).expect("fault relay")
        });
        let aws_endpoint = sts_relay
            .as_ref()
            .map_or_else(|| moto.endpoint(), FaultRelay::http_url);
        if let Some(seconds) = options.sts_duration {
            moto.cap_sts_duration(seconds).expect("cap STS lifetimes");
        }
        let db_names = options.db_names.as_ref().map_or_else(
            || "\"*\"".to_owned(),
            |names| {
                names
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        );
        let served = Served {
            protocol: "postgres",
            port: db_relay
                .as_ref()
                .map_or_else(|| pg.port(), FaultRelay::port),
            ca: &pg.tls().ca,
            user: postgres::IAM_USER,
            db_names: &db_names,
        };
        let (dir, config) = operator_dir(
            &served,
            &cross,
            &aws_endpoint,
            external_id,
            &options.proxy_extra,
        );
        let proxy = Proxy::run(&dir, &config, &options.args, &options.env);
        let home = dir.path().join("home");
        Self {
            proxy,
            pg,
            cross,
            sts_relay,
            db_relay,
            moto,
            dir,
            spawn: (config, home, options.args, options.env),
        }
    }

    /// Stop `iamwire run` and start it again with the same config (a fresh credential cache).
    pub(crate) fn restart_proxy(&mut self) {
        let (config, home, args, env) = &self.spawn;
        let fresh = Proxy::spawn(config, home, args, env);
        self.proxy = fresh;
    }

    /// The config file.
    pub(crate) fn config_path(&self) -> &Path {
        &self.spawn.0
    }

    /// The proxy's port on 127.0.0.1.
    pub(crate) fn port(&self) -> u16 {
        self.proxy.port
    }

    /// Issue another client certificate from the proxy's CA (`iamwire certs client`).
    pub(crate) fn issue_client(&self, name: &str) {
        let d = self.dir.path().to_str().expect("UTF-8 temp dir");
        iamwire_ok(&["certs", "client", "--dir", d, "--name", name]);
    }

    /// The operator's directory (certificates, config, env file).
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file in the operator's directory.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// libpq settings for `client`'s certificate, verifying the proxy by name against the proxy's CA.
    pub(crate) fn libpq_env(&self, client: &str) -> Vec<(&'static str, String)> {
        let path = |name: String| self.file(&name).display().to_string();
        vec![
            ("PGHOST", "localhost".into()),
            ("PGPORT", self.port().to_string()),
            ("PGUSER", postgres::IAM_USER.into()),
            ("PGDATABASE", "app".into()),
            ("PGSSLMODE", "verify-full".into()),
            ("PGSSLROOTCERT", path("ca.crt".into())),
            ("PGSSLCERT", path(format!("{client}.crt"))),
            ("PGSSLKEY", path(format!("{client}.key"))),
            ("PGCONNECT_TIMEOUT", "30".into()),
        ]
    }

    /// tokio-postgres through the proxy with `client`'s certificate as `user`, on database `dbname` (none:
    /// the startup message carries no `database` at all). The connection runs in the background.
    pub(crate) async fn tokio_pg(
        &self,
        client: &str,
        user: &str,
        dbname: Option<&str>,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let mut config = tokio_postgres::Config::new();
        config
            .host("localhost")
            .port(self.port())
            .user(user)
            .ssl_mode(tokio_postgres::config::SslMode::Require)
            .connect_timeout(Duration::from_secs(30));
        if let Some(name) = dbname {
            config.dbname(name);
        }
        let (pg, connection) = config.connect(client_tls(self.dir.path(), client)).await?;
        tokio::spawn(connection);
        Ok(pg)
    }

    /// tokio-postgres settings for a login as [`postgres::IAM_USER`] on `app` over TLS through `port`
    /// (the proxy's, or a relay's in front of it); connect with [`tokio_pg_tls`](Self::tokio_pg_tls).
    pub(crate) fn tokio_pg_config(&self, port: u16) -> tokio_postgres::Config {
        pg_config(port)
    }

    /// The TLS connector tokio-postgres uses for `client`'s certificate (cancel requests need it too).
    pub(crate) fn tokio_pg_tls(&self, client: &str) -> tokio_postgres_rustls::MakeRustlsConnect {
        client_tls(self.dir.path(), client)
    }

    /// A libpq connection string for `client` (no password: the certificate is the credential).
    pub(crate) fn dsn(&self, client: &str) -> String {
        format!(
            "host=localhost port={} user={} dbname=app sslmode=verify-full sslrootcert={} sslcert={} \
             sslkey={} connect_timeout=30",
            self.port(),
            postgres::IAM_USER,
            self.file("ca.crt").display(),
            self.file(&format!("{client}.crt")).display(),
            self.file(&format!("{client}.key")).display(),
        )
    }
}

/// How many ports a test's `catalog.listen` range from [`catalog_ports`] holds.
pub(crate) const CATALOG_RANGE: u16 = 40;

/// The first port of a `catalog.listen` range of [`CATALOG_RANGE`] ports below the kernel's ephemeral
/// ports (where tests' `:0` listeners land), different for every call in this process and unlikely to
/// meet another test process's.
pub(crate) fn catalog_ports() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let seed = u16::try_from(std::process::id() % 300).unwrap_or(0);
    20_000 + (seed * 7 + NEXT.fetch_add(1, Ordering::Relaxed)) % 300 * CATALOG_RANGE
}

/// tokio-postgres settings for a login as [`postgres::IAM_USER`] on `app` over TLS through `port`.
pub(crate) fn pg_config(port: u16) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host("localhost")
        .port(port)
        .user(postgres::IAM_USER)
        .dbname("app")
        .ssl_mode(tokio_postgres::config::SslMode::Require)
        .connect_timeout(Duration::from_secs(30));
    config
}

/// The TLS connector tokio-postgres uses for `client`'s certificate from the operator's directory `dir`
/// (`ca.crt`, `<client>.crt`, `<client>.key`), verifying the proxy by name.
pub(crate) fn client_tls(dir: &Path, client: &str) -> tokio_postgres_rustls::MakeRustlsConnect {
    let read = |name: &str| std::fs::read(dir.join(name)).expect("read a certificate file");
    let tls = iamwire_core::tls::upstream_config(
        iamwire_core::TlsMode::VerifyFull,
        Some(&read("ca.crt")),
        Some((
            &read(&format!("{client}.crt")),
            &read(&format!("{client}.key")),
        )),
    )
    .expect("client TLS");
    tokio_postgres_rustls::MakeRustlsConnect::new((*tls).clone())
}

/// The proxy's user and the database role, with no permissions, the role trusting nobody.
fn bare_cross_account(moto: &Moto) -> CrossAccount {
    let created = moto
        .setup(&AwsSetup {
            users: vec![UserSpec {
                account: PROXY_ACCOUNT.into(),
                name: "iamwire-proxy".into(),
                policies: vec![],
            }],
            roles: vec![RoleSpec {
                account: DATABASE_ACCOUNT.into(),
                name: "iamwire-e2e-db".into(),
                trust: trust_policy("arn:aws:iam::999999999999:root", None),
                policies: vec![],
            }],
        })
        .expect("bare IAM");
    CrossAccount {
        proxy: created.users["iamwire-proxy"].clone(),
        role_arn: created.roles["iamwire-e2e-db"].arn.clone(),
        external_id: EXTERNAL_ID.into(),
    }
}

/// The database a deployment serves, as the operator's config names it.
pub(crate) struct Served<'a> {
    /// Its `protocol:` (`postgres`, `mariadb`); the database is named `e2e-<protocol>`.
    pub(crate) protocol: &'a str,
    /// Its port on localhost.
    pub(crate) port: u16,
    /// Its CA certificate.
    pub(crate) ca: &'a Path,
    /// The one database user [`ALLOWED_CLIENT`] may be.
    pub(crate) user: &'a str,
    /// The database names [`ALLOWED_CLIENT`] may open, as a YAML list's items (`"*"`).
    pub(crate) db_names: &'a str,
}

/// The operator's directory for `served`: certificates from `iamwire certs` (the proxy's and
/// [`ALLOWED_CLIENT`]'s), the database's CA, `aws.env` with the proxy's key for `aws_endpoint`, and
/// `iamwire.yaml` assuming `cross`'s role with `external_id`. Returns the directory and the config.
pub(crate) fn operator_dir(
    served: &Served<'_>,
    cross: &CrossAccount,
    aws_endpoint: &str,
    external_id: &str,
    proxy_extra: &str,
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("iamwire-e2e-")
        .tempdir()
        .expect("temp dir");
    let d = dir.path().to_str().expect("UTF-8 temp dir");
    iamwire_ok(&["certs", "init", "--dir", d]);
    iamwire_ok(&["certs", "client", "--dir", d, "--name", ALLOWED_CLIENT]);
    std::fs::copy(served.ca, dir.path().join("db-ca.crt")).expect("copy db CA");
    write_aws_env(dir.path(), cross, aws_endpoint);
    let config = dir.path().join("iamwire.yaml");
    let Served {
        protocol,
        port,
        user,
        db_names,
        ..
    } = served;
    let role_arn = &cross.role_arn;
    let yaml = format!(
        r#"proxy:
{proxy_extra}
  tls:
    cert_file: server.crt
    key_file: server.key
    client_ca_file: ca.crt
  listeners:
    - database: e2e-{protocol}
      listen: 127.0.0.1:0
  identities:
    - name: {ALLOWED_CLIENT}
      db_labels: {{"*": "*"}}
      db_users: ["{user}"]
      db_names: [{db_names}]
aws:
  region: {REGION}
  env_file: aws.env
db_service:
  enabled: "yes"
  databases:
  - name: e2e-{protocol}
    protocol: {protocol}
    uri: "localhost:{port}"
    tls:
      mode: verify-full
      ca_cert_file: db-ca.crt
    aws:
      region: {REGION}
      assume_role_arn: "{role_arn}"
      external_id: "{external_id}"
      rds: {{resource_id: "{RESOURCE_ID}"}}
"#
    );
    std::fs::write(&config, yaml).expect("write config");
    (dir, config)
}

/// The operator's directory for a database that is not RDS: [`operator_dir`]'s, with `aws_extra` (lines
/// under the database's `aws:`, indented six spaces) instead of its RDS resource id and the database at
/// `uri`.
pub(crate) fn operator_dir_for(
    served: &Served<'_>,
    cross: &CrossAccount,
    aws_endpoint: &str,
    uri: &str,
    aws_extra: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    non_rds_operator_dir(served, cross, aws_endpoint, uri, aws_extra, "")
}

/// [`operator_dir_for`] with `proxy_extra` lines in the config's `proxy` section (timeouts, say).
pub(crate) fn non_rds_operator_dir(
    served: &Served<'_>,
    cross: &CrossAccount,
    aws_endpoint: &str,
    uri: &str,
    aws_extra: &str,
    proxy_extra: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, config) = operator_dir(served, cross, aws_endpoint, EXTERNAL_ID, proxy_extra);
    let yaml = std::fs::read_to_string(&config).expect("the config");
    let rds = format!("      rds: {{resource_id: \"{}\"}}\n", RESOURCE_ID);
    assert!(yaml.contains(&rds), "{yaml}");
    let yaml = yaml.replace(&rds, aws_extra).replace(
        &format!("uri: \"localhost:{}\"", served.port),
        &format!("uri: \"{uri}\""),
    );
    std::fs::write(&config, yaml).expect("the config");
    (dir, config)
}

/// A database-user role in the database account that the database's role may assume, allowed `actions`.
pub(crate) fn user_role(moto: &Moto, cross: &CrossAccount, name: &str, actions: &[&str]) -> String {
    use iamwire_testkit::moto::{AwsSetup, DATABASE_ACCOUNT, RoleSpec, allow, trust_policy};
    let created = moto
        .setup(&AwsSetup {
            users: vec![],
            roles: vec![RoleSpec {
                account: DATABASE_ACCOUNT.into(),
                name: name.into(),
                trust: trust_policy(&cross.role_arn, None),
                policies: vec![allow(actions, "*")],
            }],
        })
        .unwrap();
    created.roles[name].arn.clone()
}

/// `dir/aws.env`: the proxy's own access key (`cross`'s proxy user) and the AWS endpoint to use.
pub(crate) fn write_aws_env(dir: &Path, cross: &CrossAccount, aws_endpoint: &str) {
    std::fs::write(
        dir.join("aws.env"),
        format!(
            "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nAWS_ENDPOINT_URL={aws_endpoint}\n",
            cross.proxy.access_key_id, cross.proxy.secret_access_key,
        ),
    )
    .expect("write aws.env");
}

/// Run `iamwire <args>`, which must succeed.
pub(crate) fn iamwire_ok(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_iamwire"))
        .args(args)
        .output()
        .expect("run iamwire");
    assert!(
        out.status.success(),
        "iamwire {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a psycopg client saw.
#[derive(Debug)]
pub(crate) enum Login {
    /// Logged in; `select current_user` answered this.
    User(String),
    /// The login failed with this SQLSTATE; `text` is libpq's whole (verbose) error text.
    Refused { sqlstate: String, text: String },
}

/// psycopg 3 (from the rig venv) logs in with `dsn` and runs `select current_user`.
///
/// psycopg keeps no SQLSTATE for a refused login, so on failure the script repeats the login through
/// psycopg's ctypes libpq binding (the system libpq) with verbose errors, which put the SQLSTATE in front
/// of the message. psycopg has no call for the verbosity, hence `PQsetErrorVerbosity` by hand.
const PSYCOPG_SCRIPT: &str = r#"
import ctypes, re, select, sys
import psycopg
from psycopg import pq
from psycopg.pq import _pq_ctypes, pq_ctypes

dsn = sys.argv[1]
try:
    with psycopg.connect(dsn) as conn:
        print("user=" + conn.execute("select current_user").fetchone()[0])
    sys.exit(0)
except psycopg.OperationalError:
    pass

pg = pq_ctypes.PGconn.connect_start(dsn.encode())
set_verbosity = _pq_ctypes.pq.PQsetErrorVerbosity
set_verbosity.argtypes = [ctypes.c_void_p, ctypes.c_int]
set_verbosity.restype = ctypes.c_int
set_verbosity(pg.pgconn_ptr, 2)  # PQERRORS_VERBOSE
while True:
    status = pg.connect_poll()
    if status == pq.PollingStatus.OK:
        sys.exit("the second login unexpectedly succeeded")
    if status == pq.PollingStatus.FAILED:
        break
    want = ([pg.socket], [], []) if status == pq.PollingStatus.READING else ([], [pg.socket], [])
    if not any(select.select(*want, 30)):
        sys.exit("timed out waiting for the proxy")
text = pg.error_message.decode("utf-8", "replace")
pg.finish()
found = re.search(r"(?:FATAL|ERROR):  ([0-9A-Z]{5}): ", text)
print("sqlstate=" + (found.group(1) if found else "none"))
print(text)
"#;

/// Run [`PSYCOPG_SCRIPT`] with `dsn`.
pub(crate) fn psycopg_login(dsn: &str) -> Login {
    let out = Command::new(iamwire_testkit::python())
        .args(["-c", PSYCOPG_SCRIPT, dsn])
        .env_remove("PGPASSWORD")
        .output()
        .expect("run the venv's python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "psycopg script: {}", both(&out));
    let (first, rest) = stdout.split_once('\n').unwrap_or((&stdout, ""));
    if let Some(user) = first.strip_prefix("user=") {
        Login::User(user.trim().to_string())
    } else if let Some(state) = first.strip_prefix("sqlstate=") {
        Login::Refused {
            sqlstate: state.trim().to_string(),
            text: rest.to_string(),
        }
    } else {
        panic!("unexpected psycopg script output: {}", both(&out));
    }
}

/// stdout and stderr of a finished process, for assertion messages.
pub(crate) fn both(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
