//! The CQL proxy embedded in-process with proxy passwords: the Python `cassandra-driver` (no client
//! certificate) names the user role and a proxy password in the PasswordAuthenticator; the proxy checks the
//! password against its stored secret, assumes the role in the AWS emulator and logs in to the stand-in
//! Keyspaces endpoint (its SigV4 checked with AWS's `cassandra-sigv4` plugin). A wrong password and an
//! unknown user are bad-credentials errors that never reach AWS or the database. With protocol v5 offered,
//! the driver speaks v5 (checksummed segments) end to end to a v5 database, and is talked down to v4 by a
//! database that speaks only v4, as Keyspaces does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aws_roles;

use std::process::Command;
use std::sync::Arc;

use iamwire_aws::inject::KeyspacesInjector;
use iamwire_core::tls::{ClientAuth, server_config};
use iamwire_core::{AllowList, Database, ExternalId, Glob, IdentityRules, Protocol};
use iamwire_cql::{Cql, CqlProxy};
use iamwire_proxy::ProxyPasswordAuthenticator;
use iamwire_proxy::scram::{DEFAULT_ITERATIONS, MockKey, ScramSecret};
use iamwire_testkit::keyspaces::KeyspacesStandIn;
use iamwire_testkit::moto::{AwsSetup, DATABASE_ACCOUNT, Moto, RoleSpec, allow, trust_policy};
use iamwire_testkit::{LOCAL_NAMES, TestCa};

const REGION: &str = "us-west-2";

const DRIVER: &str = r#"
import ssl, sys
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable
port, ca, user, password, version = sys.argv[1:6]
context = ssl.create_default_context(cafile=ca)
versions = {} if version == "auto" else {"protocol_version": int(version)}
cluster = Cluster(["127.0.0.1"], port=int(port), ssl_context=context, ssl_options={"server_hostname": "localhost"},
                  auth_provider=PlainTextAuthProvider(username=user, password=password),
                  schema_metadata_enabled=False, token_metadata_enabled=False, connect_timeout=30, **versions)
try:
    session = cluster.connect()
except NoHostAvailable as e:
    text = str(list(e.errors.values())[0])
    print("error", text.split("code=")[1][:4] if "code=" in text else "none", text)
    sys.exit(0)
session.execute("USE app")
session.execute("CREATE TABLE t (k text PRIMARY KEY, v text)")
session.execute("INSERT INTO t (k, v) VALUES ('a', 'b')")
print("ok", cluster.protocol_version, [tuple(r) for r in session.execute("SELECT k, v FROM t")])
cluster.shutdown()
"#;

/// The emulator, the stand-in (speaking up to `db_max` like a database), and the embedded proxy offering
/// protocol versions up to `proxy_max`, serving until dropped.
struct Harness {
    port: u16,
    ca_file: String,
    standin: KeyspacesStandIn,
    _moto: Moto,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn harness(proxy_max: u8, db_max: u8) -> Harness {
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let cross = moto.cross_account("keyspaces-pw", "ext-pw").unwrap();
    moto.setup(&AwsSetup {
        users: vec![],
        roles: vec![RoleSpec {
            account: DATABASE_ACCOUNT.into(),
            name: "writer".into(),
            trust: trust_policy(&cross.role_arn, None),
            policies: vec![allow(&["cassandra:*"], "*")],
        }],
    })
    .unwrap();
    let standin = KeyspacesStandIn::start_with(&ca, &moto, REGION, db_max).unwrap();

    let mut db = Database::new(
        "keyspaces",
        Protocol::Cassandra,
        format!("localhost:{}", standin.port()),
    );
    db.aws.region = Some(REGION.into());
    db.aws.assume_role_arn = Some(cross.role_arn.clone());
    db.aws.external_id = Some(ExternalId::new("ext-pw"));
    let dir = tempfile::tempdir().unwrap();
    let server = ca
        .write(dir.path(), "proxy", &ca.server(LOCAL_NAMES).unwrap())
        .unwrap();
    let tls = server_config(
        &std::fs::read(&server.cert).unwrap(),
        &std::fs::read(&server.key).unwrap(),
        Some(ca.cert_pem().as_bytes()),
        ClientAuth::Optional,
    )
    .unwrap();
    // The PLAIN user names the database user, so the proxy user is "writer" too.
    let secret = ScramSecret::from_password(b"proxy-pw", b"0123456789abcdef", DEFAULT_ITERATIONS);
    let passwords =
        ProxyPasswordAuthenticator::new(MockKey::from_random_bytes([9; 32])).user("writer", secret);
    let allow = AllowList::new(vec![IdentityRules {
        name: "writer".into(),
        db_labels: [("*".to_owned(), Glob::new("*"))].into(),
        db_users: vec![Glob::new("writer")],
        db_names: vec![Glob::new("*")],
    }]);
    let injector = KeyspacesInjector::new(aws_roles::roles(&moto, &cross, REGION).await);
    let proxy = CqlProxy::builder(
        Cql::new().max_version(proxy_max),
        db,
        tls,
        Arc::new(allow),
        Arc::new(injector),
    )
    .client_authenticator(Arc::new(passwords))
    .upstream_tls(std::fs::read(&standin.tls().ca).unwrap())
    .build()
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        proxy
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    Harness {
        port,
        ca_file: dir.path().join("ca.crt").display().to_string(),
        standin,
        _moto: moto,
        _dir: dir,
        _stop: stop,
    }
}

impl Harness {
    /// The driver script as `user` / `password` at protocol `version` (`auto`: the driver's choice).
    async fn driver(&self, user: &str, password: &str, version: &str) -> String {
        let args = [
            self.port.to_string(),
            self.ca_file.clone(),
            user.to_owned(),
            password.to_owned(),
            version.to_owned(),
        ];
        tokio::task::spawn_blocking(move || {
            let out = Command::new(iamwire_testkit::python())
                .args(["-c", DRIVER])
                .args(&args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        })
        .await
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_passwords_log_in_as_the_named_role() {
    let h = harness(4, 4).await;
    let ok = h.driver("writer", "proxy-pw", "4").await;
    assert_eq!(ok, "ok 4 [('a', 'b')]", "{}", h.standin.log());
    let auths = h.standin.auths().unwrap();
    assert!(auths.iter().all(|a| {
        a.ok && a
            .role_arn
            .as_deref()
            .is_some_and(|r| r.ends_with(":role/writer"))
    }));
    let seen = auths.len();

    for (user, password) in [("writer", "wrong"), ("nobody", "proxy-pw")] {
        let refused = h.driver(user, password, "4").await;
        assert!(refused.starts_with("error 0100 "), "{user}: {refused}");
        assert!(!refused.contains("proxy-pw"), "{refused}");
    }
    assert_eq!(
        h.standin.auths().unwrap().len(),
        seen,
        "refusals reached the database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_v5_segments_end_to_end() {
    let h = harness(5, 5).await;
    let ok = h.driver("writer", "proxy-pw", "auto").await;
    assert_eq!(ok, "ok 5 [('a', 'b')]", "{}", h.standin.log());
    assert!(h.standin.auths().unwrap().iter().all(|a| a.ok));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v4_database_talks_a_v5_client_down() {
    let h = harness(5, 4).await;
    let ok = h.driver("writer", "proxy-pw", "auto").await;
    assert_eq!(ok, "ok 4 [('a', 'b')]", "{}", h.standin.log());
}
