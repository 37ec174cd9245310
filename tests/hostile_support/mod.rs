//! One `iamwire run` serving four databases at once — an RDS-like PostgreSQL and MariaDB (IAM tokens
//! checked by botocore against the AWS emulator), a self-hosted Redis 7 over TLS (the listener's static
//! password), the DocumentDB stand-in (MONGODB-AWS checked against the emulator; no MongoDB server runs
//! here) and the Keyspaces stand-in (its SigV4 challenge checked with AWS's own `cassandra-sigv4`
//! plugin; no Cassandra runs here) — with an admin address, a short handshake timeout, and the raw-socket tools the attacks
//! share: plaintext and TLS connections with alice's certificate, "read until the proxy closes", slowloris.

#![allow(dead_code)]

mod config;
pub(crate) mod cql;
pub(crate) mod flood;
pub(crate) mod http;
pub(crate) mod mongo;
pub(crate) mod mysql;
pub(crate) mod pg;
pub(crate) mod redis;
pub(crate) mod steady;
pub(crate) mod upstream_tls;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iamwire_testkit::documentdb::DocumentDbStandIn;
use iamwire_testkit::keyspaces::KeyspacesStandIn;
use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};
use iamwire_testkit::moto::{
    AwsSetup, CrossAccount, DATABASE_ACCOUNT, Moto, RoleSpec, allow, trust_policy,
};
use iamwire_testkit::postgres::{PgOptions, Postgres};
use iamwire_testkit::redis::Redis;
use iamwire_testkit::{TestCa, TokenPolicy};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::e2e_run_support::{
    ALLOWED_CLIENT, EXTERNAL_ID, Proxy, REGION, iamwire_ok, write_aws_env,
};

/// The listeners' `handshake_timeout`: short, so slow and idle clients are cut off quickly.
pub(crate) const HANDSHAKE: Duration = Duration::from_secs(3);
/// The most a refusal or a close may take, even on a loaded 2-core machine (only a hang reaches it).
pub(crate) const BOUND: Duration = Duration::from_secs(30);
/// The static password the proxy logs in to Redis with (the rig's `admin` ACL user).
pub(crate) const REDIS_PASSWORD: &str = "admin-pass";

/// The database names in the config.
pub(crate) const PG: &str = "hostile-pg";
pub(crate) const MY: &str = "hostile-my";
pub(crate) const CACHE: &str = "hostile-cache";
pub(crate) const DOCS: &str = "hostile-docs";
/// The IAM role a DocumentDB session becomes (its `$external` user), which alice may be.
pub(crate) const DOCS_ROLE: &str = "docs-app";
pub(crate) const KEYSPACES: &str = "hostile-cql";
/// The IAM role a Keyspaces session becomes, which alice may be.
pub(crate) const KEYSPACES_ROLE: &str = "keyspaces-app";
/// The DocumentDB stand-in's region (STS's global endpoint signs for it).
pub(crate) const DOCS_REGION: &str = "us-east-1";
/// The DynamoDB database (moto over HTTPS, checking every signature).
pub(crate) const DDB: &str = "hostile-ddb";
/// The IAM role a DynamoDB request is re-signed as (named in `X-Amz-Security-Token` by a client
/// identified by its certificate), which alice may be.
pub(crate) const DDB_ROLE: &str = "ddb-app";
/// The largest request body the HTTP listener takes (`proxy.max_request_body`).
pub(crate) const MAX_BODY: u64 = 1 << 20;

/// The deployment; dropped in field order, so the proxy stops before the servers behind it.
pub(crate) struct Rig {
    pub(crate) proxy: Proxy,
    pub(crate) pg: Postgres,
    pub(crate) my: MariaDb,
    pub(crate) redis: Redis,
    pub(crate) docs: DocumentDbStandIn,
    pub(crate) keyspaces: KeyspacesStandIn,
    pub(crate) cross: CrossAccount,
    pub(crate) moto: Moto,
    /// Each listener's port: PostgreSQL, MySQL, Redis, MongoDB, CQL, HTTP (DynamoDB).
    pub(crate) ports: [u16; 6],
    /// The listeners of the same databases behind a wrong CA or a wrong name, by database name.
    pub(crate) broken: std::collections::BTreeMap<String, u16>,
    /// Alice's client TLS configuration (verifies the proxy as `localhost`).
    pub(crate) tls: Arc<rustls::ClientConfig>,
    dir: tempfile::TempDir,
}

impl Rig {
    /// Start the servers, write the operator's directory, and start `iamwire run` with the short
    /// [`HANDSHAKE`] timeout the attacks rely on.
    pub(crate) fn start() -> Self {
        Self::start_with_handshake(HANDSHAKE)
    }

    /// [`Rig::start`] with another `handshake_timeout`: the soak's logins are not attacks, and on a
    /// loaded machine a full login (two TLS handshakes, a token) can take longer than 3 s.
    pub(crate) fn start_with_handshake(handshake: Duration) -> Self {
        Self::start_with(handshake, &[])
    }

    /// [`Rig::start_with_handshake`] with `env` added to the proxy's environment (the soak sets the
    /// allocator's, e.g. `MALLOC_ARENA_MAX`).
    pub(crate) fn start_with(handshake: Duration, env: &[(String, String)]) -> Self {
        let ca = TestCa::new().expect("rig CA");
        // Also over HTTPS: the DynamoDB database the HTTP listener serves (signature-checking).
        let moto_tls = ca.server(&["localhost", "127.0.0.1"]).expect("moto cert");
        let moto = Moto::start_with_tls(&moto_tls.cert_pem, &moto_tls.key_pem).expect("moto");
        let tokens = TokenPolicy {
            moto_url: Some(moto.endpoint()),
            region: Some(REGION.into()),
            ..TokenPolicy::default()
        };
        let pg = Postgres::start(
            &ca,
            PgOptions {
                tokens: tokens.clone(),
                ..PgOptions::default()
            },
        )
        .expect("postgres");
        let my = MariaDb::start(&ca, MariaDbOptions { tokens }).expect("mariadb");
        let redis = Redis::start(&ca).expect("redis");
        let cross = moto
            .cross_account("iamwire-hostile", EXTERNAL_ID)
            .expect("cross-account role");
        let roles = moto
            .setup(&AwsSetup {
                users: vec![],
                roles: vec![
                    RoleSpec {
                        account: DATABASE_ACCOUNT.into(),
                        name: DOCS_ROLE.into(),
                        trust: trust_policy(&cross.role_arn, None),
                        policies: vec![allow(&["sts:GetCallerIdentity"], "*")],
                    },
                    RoleSpec {
                        account: DATABASE_ACCOUNT.into(),
                        name: KEYSPACES_ROLE.into(),
                        trust: trust_policy(&cross.role_arn, None),
                        policies: vec![allow(&["cassandra:*"], "*")],
                    },
                    RoleSpec {
                        account: DATABASE_ACCOUNT.into(),
                        name: DDB_ROLE.into(),
                        trust: trust_policy(&cross.role_arn, None),
                        policies: vec![allow(&["dynamodb:*"], "*")],
                    },
                ],
            })
            .expect("user roles");
        let docs = DocumentDbStandIn::start(&ca, &moto, &[&roles.roles[DOCS_ROLE].arn])
            .expect("DocumentDB stand-in");
        let keyspaces = KeyspacesStandIn::start(&ca, &moto, REGION).expect("Keyspaces stand-in");
        let dir = tempfile::Builder::new()
            .prefix("iamwire-hostile-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path().to_str().expect("UTF-8 temp dir");
        iamwire_ok(&["certs", "init", "--dir", d]);
        iamwire_ok(&["certs", "client", "--dir", d, "--name", ALLOWED_CLIENT]);
        // pymongo takes the certificate and key in one file; its one-shot login runs against a stop file
        // that already exists.
        let pem = ["alice.crt", "alice.key"]
            .map(|f| std::fs::read_to_string(dir.path().join(f)).expect("pem"));
        std::fs::write(dir.path().join("alice.pem"), pem.concat()).expect("write alice.pem");
        std::fs::write(dir.path().join("once.stop"), "").expect("write once.stop");
        std::fs::copy(&pg.tls().ca, dir.path().join("db-ca.crt")).expect("copy db CA");
        let other = TestCa::new().expect("another CA");
        std::fs::write(dir.path().join("other-ca.crt"), other.cert_pem()).expect("other CA");
        write_aws_env(dir.path(), &cross, &moto.endpoint());
        std::fs::write(dir.path().join("redis.password"), REDIS_PASSWORD).expect("password");
        let config = dir.path().join("iamwire.yaml");
        std::fs::write(
            &config,
            config::yaml(
                &cross,
                handshake,
                [
                    pg.port(),
                    my.port(),
                    redis.port(),
                    docs.port(),
                    keyspaces.port(),
                    moto.tls_endpoint()
                        .and_then(|e| e.rsplit(':').next()?.parse().ok())
                        .expect("moto's HTTPS port"),
                ],
            ),
        )
        .expect("write config");
        let proxy = Proxy::run(&dir, &config, &[], env);
        let port = |name: &str| -> u16 {
            let addr = proxy.wait_listen(name);
            addr.rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a port")
        };
        let ports = [
            port(PG),
            port(MY),
            port(CACHE),
            port(DOCS),
            port(KEYSPACES),
            port(DDB),
        ];
        let broken = config::BROKEN
            .iter()
            .flat_map(|(name, _)| config::broken_names(name))
            .map(|name| {
                let port = port(&name);
                (name, port)
            })
            .collect();
        let read = |name: &str| std::fs::read(dir.path().join(name)).expect("read a certificate");
        let tls = iamwire_core::tls::upstream_config(
            iamwire_core::TlsMode::VerifyFull,
            Some(&read("ca.crt")),
            Some((&read("alice.crt"), &read("alice.key"))),
        )
        .expect("client TLS");
        Self {
            proxy,
            pg,
            my,
            redis,
            docs,
            keyspaces,
            cross,
            moto,
            ports,
            broken,
            tls,
            dir,
        }
    }

    /// The operator's directory (certificates: `ca.crt`, `alice.crt`, `alice.key`).
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file in the operator's directory.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The HTTP status of `GET /readyz` on the admin address (curl, verifying the proxy's certificate).
    pub(crate) fn readyz(&self) -> String {
        let url = self.proxy.admin_url().replace("127.0.0.1", "localhost") + "/readyz";
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "30",
            ])
            .arg("--cacert")
            .arg(self.file("ca.crt"))
            .arg(url)
            .output()
            .expect("run curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A TLS connection to `port` with alice's certificate, or what went wrong (for loops that count
    /// errors rather than fail at the first).
    pub(crate) async fn connect(
        &self,
        port: u16,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let tcp = tokio::time::timeout(BOUND, TcpStream::connect(("127.0.0.1", port)))
            .await
            .map_err(|_| "connect hung".to_owned())?
            .map_err(|e| format!("connect: {e}"))?;
        self.tls(tcp).await.map_err(|e| format!("TLS: {e}"))
    }

    /// A TLS session on `stream` with alice's certificate.
    pub(crate) async fn tls<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<S>> {
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        tokio::time::timeout(BOUND, connector.connect(name, stream))
            .await
            .map_err(|_| std::io::Error::other("TLS handshake with the proxy hung"))?
    }
}

/// The MySQL IAM user (also PostgreSQL's: both rigs call it `iam_user`).
pub(crate) const IAM_USER: &str = mariadb::IAM_USER;

/// A plaintext connection to `port` on 127.0.0.1.
pub(crate) async fn tcp(port: u16) -> TcpStream {
    tokio::time::timeout(BOUND, TcpStream::connect(("127.0.0.1", port)))
        .await
        .expect("connect hung")
        .expect("connect to the proxy")
}

/// What the proxy sent before it closed a connection, and how long after `since` it closed.
#[derive(Debug)]
pub(crate) struct Closed {
    pub(crate) bytes: Vec<u8>,
    pub(crate) after: Duration,
}

/// Read from `stream` until the proxy closes it (end of file, reset, a TLS error), which must happen
/// within [`BOUND`] of `since`; `what` names the attack in the failure message.
pub(crate) async fn until_closed<S: AsyncRead + Unpin>(
    stream: &mut S,
    since: Instant,
    what: &str,
) -> Closed {
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = BOUND.saturating_sub(since.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "{what}: the proxy kept the connection open past {BOUND:?} (got {} bytes: {:?})",
                bytes.len(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ),
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
        }
    }
    Closed {
        bytes,
        after: since.elapsed(),
    }
}

/// Send `bytes` to `stream` (ignoring a write refused because the proxy already closed) and read until
/// it closes.
pub(crate) async fn send_then_closed<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    what: &str,
) -> Closed {
    let since = Instant::now();
    let _ = stream.write_all(bytes).await;
    let _ = stream.flush().await;
    until_closed(stream, since, what).await
}

/// A message cut short: send `bytes`, then end of file; the proxy must close. Reported as `what`.
pub(crate) async fn truncated<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    bytes: &[u8],
    protocol: &str,
    what: &str,
) -> Closed {
    stream.write_all(bytes).await.expect("send");
    stream.shutdown().await.expect("end of file");
    let closed = until_closed(&mut stream, Instant::now(), what).await;
    report(protocol, what, "closed", &closed);
    closed
}

/// A client that says nothing more: the proxy must close it at the handshake timeout (within
/// [`BOUND`] of `since`, and not before half the timeout: it is the timeout that acts).
pub(crate) async fn idle<S: AsyncRead + Unpin>(
    mut stream: S,
    since: Instant,
    what: &str,
) -> Closed {
    let closed = until_closed(&mut stream, since, what).await;
    assert!(closed.after >= HANDSHAKE / 2, "{what}: {closed:?}");
    closed
}

/// Slowloris: write `bytes` one a second (cycling) until the proxy closes; it must close within the
/// handshake timeout (give or take [`BOUND`]), and not before half of it (it is the timeout that acts).
pub(crate) async fn slowloris<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    bytes: &[u8],
    since: Instant,
    what: &str,
) -> Closed {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut i = 0;
    loop {
        assert!(
            since.elapsed() < HANDSHAKE + BOUND,
            "{what}: a byte a second kept the connection open past {:?}",
            HANDSHAKE + BOUND
        );
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            },
            _ = tick.tick() => {
                let byte = [bytes[i % bytes.len()]];
                i += 1;
                if stream.write_all(&byte).await.is_err() || stream.flush().await.is_err() {
                    // Refused: the proxy closed; read what it said first.
                    let rest = until_closed(&mut stream, since, what).await;
                    got.extend_from_slice(&rest.bytes);
                    break;
                }
            }
        }
    }
    let after = since.elapsed();
    assert!(
        after >= HANDSHAKE / 2,
        "{what}: closed after {after:?}, before the handshake timeout could act"
    );
    Closed { bytes: got, after }
}

/// Poll `check` every 200 ms until it returns true, for at most [`BOUND`].
pub(crate) async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < BOUND, "{what}: not within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `text` (a log, an error sent to a client) holds none of the rig's secrets: the proxy's AWS secret
/// key, the external ID, the Redis password.
pub(crate) fn assert_no_secret(rig: &Rig, text: &[u8], what: &str) {
    let text = String::from_utf8_lossy(text);
    for (name, secret) in [
        (
            "the AWS secret key",
            rig.cross.proxy.secret_access_key.as_str(),
        ),
        ("the external ID", EXTERNAL_ID),
        ("the Redis password", REDIS_PASSWORD),
    ] {
        assert!(!text.contains(secret), "{what}: {name} in {text}");
    }
}

/// One row of the attack table (printed; `--nocapture` shows it): protocol, attack, result, time to close.
pub(crate) fn report(protocol: &str, attack: &str, result: &str, closed: &Closed) {
    eprintln!(
        "| {protocol} | {attack} | {result} | {:.1} s |",
        closed.after.as_secs_f64()
    );
}
