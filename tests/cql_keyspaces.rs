//! Amazon Keyspaces through `iamwire run`, end to end: the Python `cassandra-driver` (a real CQL client) with a
//! client certificate from `iamwire certs`, the proxy assuming the database's role (external ID) and then the
//! database-user role in the AWS emulator (moto), and a stand-in Keyspaces endpoint (no Cassandra or Keyspaces
//! emulator runs here) that checks each SigV4 response byte for byte against AWS's own `cassandra-sigv4`
//! plugin, for its nonce and the credentials the emulator issued.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;

use std::path::Path;
use std::process::Command;

use e2e_run_support::{Proxy, both, iamwire_ok};
use iamwire_testkit::TestCa;
use iamwire_testkit::keyspaces::KeyspacesStandIn;
use iamwire_testkit::moto::{
    AwsSetup, CrossAccount, DATABASE_ACCOUNT, Moto, RoleSpec, allow, trust_policy,
};

const REGION: &str = "us-west-2";
const EXTERNAL_ID: &str = "ks-ext-right";
const USER_ROLE: &str = "keyspaces-app";

/// The emulator, the stand-in, and the roles: the database's (external ID) and the user role it may assume.
struct Rig {
    moto: Moto,
    cross: CrossAccount,
    standin: KeyspacesStandIn,
    user_role_arn: String,
}

fn rig() -> Rig {
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let cross = moto.cross_account("keyspaces-db", EXTERNAL_ID).unwrap();
    let created = moto
        .setup(&AwsSetup {
            users: vec![],
            roles: vec![RoleSpec {
                account: DATABASE_ACCOUNT.into(),
                name: USER_ROLE.into(),
                trust: trust_policy(&cross.role_arn, None),
                policies: vec![allow(&["cassandra:*"], "*")],
            }],
        })
        .unwrap();
    let user_role_arn = created.roles[USER_ROLE].arn.clone();
    let standin = KeyspacesStandIn::start(&ca, &moto, REGION).unwrap();
    Rig {
        moto,
        cross,
        standin,
        user_role_arn,
    }
}

/// `iamwire run` in front of the stand-in, with `external_id` in its config; the operator's directory.
fn proxy(rig: &Rig, external_id: &str) -> (Proxy, tempfile::TempDir) {
    proxy_with(rig, external_id, &[])
}

/// [`proxy`] with extra environment for `iamwire run`.
fn proxy_with(
    rig: &Rig,
    external_id: &str,
    env: &[(String, String)],
) -> (Proxy, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("iamwire-cql-e2e-")
        .tempdir()
        .unwrap();
    let d = dir.path().to_str().unwrap();
    iamwire_ok(&["certs", "init", "--dir", d]);
    iamwire_ok(&["certs", "client", "--dir", d, "--name", "alice"]);
    std::fs::copy(&rig.standin.tls().ca, dir.path().join("db-ca.crt")).unwrap();
    std::fs::write(
        dir.path().join("aws.env"),
        format!(
            "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nAWS_ENDPOINT_URL={}\n",
            rig.cross.proxy.access_key_id,
            rig.cross.proxy.secret_access_key,
            rig.moto.endpoint()
        ),
    )
    .unwrap();
    let config = format!(
        r#"proxy:
  tls:
    cert_file: server.crt
    key_file: server.key
    client_ca_file: ca.crt
  listeners:
    - database: keyspaces
      listen: 127.0.0.1:0
  identities:
    - name: alice
      db_labels: {{"*": "*"}}
      db_users: ["{USER_ROLE}"]
      db_names: ["*"]
aws:
  region: {REGION}
  env_file: aws.env
db_service:
  enabled: "yes"
  databases:
  - name: keyspaces
    protocol: cassandra
    uri: "localhost:{port}"
    tls:
      mode: verify-full
      ca_cert_file: db-ca.crt
    aws:
      region: {REGION}
      assume_role_arn: "{role}"
      external_id: "{external_id}"
"#,
        port = rig.standin.port(),
        role = rig.cross.role_arn,
    );
    let path = dir.path().join("iamwire.yaml");
    std::fs::write(&path, config).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    (Proxy::spawn(&path, &home, &[], env), dir)
}

/// The DataStax Python driver through the proxy: mutual TLS with alice's certificate, PasswordAuthenticator
/// naming the user role (the password is not used: the certificate is the identity). The driver starts at
/// its highest protocol version and must be talked down to v4. Prints `ok <protocol> <json rows>` or
/// `error <code> <message>`.
const DRIVER_SCRIPT: &str = r#"
import json, ssl, sys
from cassandra import AuthenticationFailed
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable

port, ca, cert, key, user = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
context = ssl.create_default_context(cafile=ca)
context.load_cert_chain(cert, key)
cluster = Cluster(["127.0.0.1"], port=int(port), ssl_context=context, ssl_options={"server_hostname": "localhost"},
                  auth_provider=PlainTextAuthProvider(username=user, password="not-used"),
                  schema_metadata_enabled=False, token_metadata_enabled=False,
                  connect_timeout=30, control_connection_timeout=30)
try:
    session = cluster.connect()
except NoHostAvailable as e:
    error = list(e.errors.values())[0]
    text = str(error)
    code = text.split("code=")[1][:4] if "code=" in text else "none"
    print("error", code, text)
    sys.exit(0)
session.execute("USE app")
session.execute("CREATE TABLE IF NOT EXISTS kv (k text PRIMARY KEY, v text)")
session.execute("INSERT INTO kv (k, v) VALUES ('greeting', 'hello, keyspaces')")
rows = [[r.k, r.v] for r in session.execute("SELECT k, v FROM kv WHERE k = 'greeting'")]
print("ok", cluster.protocol_version, json.dumps(rows))
cluster.shutdown()
"#;

fn driver(dir: &Path, port: u16, user: &str) -> String {
    let path = |name: &str| dir.join(name).display().to_string();
    let out = Command::new(iamwire_testkit::python())
        .args(["-c", DRIVER_SCRIPT, &port.to_string()])
        .args([
            path("ca.crt"),
            path("alice.crt"),
            path("alice.key"),
            user.to_owned(),
        ])
        .output()
        .expect("run the venv's python");
    assert!(out.status.success(), "driver script: {}", both(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn cassandra_driver_uses_keyspaces_through_iamwire_run_as_the_user_role() {
    let rig = rig();
    // Debug logs everywhere, so the check for secrets below has something to look at.
    let (proxy, dir) = proxy_with(&rig, EXTERNAL_ID, &[("RUST_LOG".into(), "debug".into())]);
    let answer = driver(dir.path(), proxy.port(), USER_ROLE);
    assert_eq!(
        answer,
        r#"ok 4 [["greeting", "hello, keyspaces"]]"#,
        "proxy stderr:\n{}\nstand-in:\n{}",
        proxy.stderr(),
        rig.standin.log()
    );
    // Every connection the driver opened (control + pool) logged in upstream as the user role, with a
    // response equal to the plugin's.
    let auths = rig.standin.auths().unwrap();
    assert!(!auths.is_empty());
    for auth in &auths {
        assert!(auth.ok, "{auth:?}");
        assert_eq!(auth.role_arn.as_deref(), Some(rig.user_role_arn.as_str()));
        assert!(auth.access_key.as_deref().unwrap().starts_with("ASIA"));
    }
    // The external ID went to STS once per chain walk, on the database's role only.
    let assumes: Vec<_> = rig
        .moto
        .requests()
        .unwrap()
        .into_iter()
        .filter(|r| r.action().as_deref() == Some("AssumeRole"))
        .collect();
    assert!(assumes.iter().any(|r| r.param("RoleArn").as_deref()
        == Some(rig.user_role_arn.as_str())
        && r.param("ExternalId").is_none()));
    assert!(assumes.iter().any(|r| r.param("RoleArn").as_deref()
        == Some(rig.cross.role_arn.as_str())
        && r.param("ExternalId").as_deref() == Some(EXTERNAL_ID)));
    let stderr = proxy.stderr();
    assert!(stderr.contains("DEBUG"), "debug logging is on");
    for secret in [
        EXTERNAL_ID,
        &rig.cross.proxy.secret_access_key,
        "signature=",
        "session_token",
        "not-used",
        "nonce=",
    ] {
        assert!(!stderr.contains(secret), "{secret:?} in the proxy's log");
    }
}

#[test]
fn a_wrong_external_id_is_a_bad_credentials_error_naming_the_role() {
    let rig = rig();
    let (proxy, dir) = proxy(&rig, "ks-ext-wrong");
    let answer = driver(dir.path(), proxy.port(), USER_ROLE);
    assert!(answer.starts_with("error 0100 "), "{answer}");
    assert!(answer.contains(&rig.cross.role_arn), "{answer}");
    assert!(!answer.contains("ks-ext-wrong"), "{answer}");
    // Nothing reached the database.
    assert!(rig.standin.auths().unwrap().is_empty());
}

#[test]
fn a_user_role_outside_the_allow_list_never_reaches_aws() {
    let rig = rig();
    let (proxy, dir) = proxy(&rig, EXTERNAL_ID);
    let answer = driver(dir.path(), proxy.port(), "admin-role");
    assert!(answer.starts_with("error 0100 "), "{answer}");
    // Refused before any credentials: only the start-up warm-up of the database's own role reached STS.
    let requests = rig.moto.requests().unwrap();
    assert!(!requests.iter().any(|r| {
        r.param("RoleArn")
            .is_some_and(|arn| arn.contains("admin-role"))
    }));
    assert!(rig.standin.auths().unwrap().is_empty());
}
