//! Amazon DocumentDB through `iamwire run`, end to end: pymongo (a real MongoDB driver) with a client
//! certificate from `iamwire certs`, logging in to the proxy with `PLAIN` whose user names the IAM role; the
//! proxy assuming the database's role (external ID) and then that role in the AWS emulator (moto), and
//! logging in with `MONGODB-AWS` to a stand-in DocumentDB (no MongoDB or DocumentDB server runs here) that
//! checks the signed `GetCallerIdentity` as DocumentDB does: it sends it to the emulator's STS, which checks
//! the signature with botocore, and accepts only the role STS names, if it has a `$external` user for it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;

use std::path::Path;
use std::process::Command;

use e2e_run_support::{Proxy, both, iamwire_ok};
use iamwire_testkit::TestCa;
use iamwire_testkit::documentdb::DocumentDbStandIn;
use iamwire_testkit::moto::{
    AwsSetup, CrossAccount, DATABASE_ACCOUNT, Moto, RoleSpec, allow, trust_policy,
};

const REGION: &str = "us-east-1";
const EXTERNAL_ID: &str = "docdb-ext-right";
const USER_ROLE: &str = "docs-app";
/// A role the database account has, the proxy may assume, but DocumentDB has no user for.
const NO_USER_ROLE: &str = "docs-stranger";

struct Rig {
    moto: Moto,
    cross: CrossAccount,
    standin: DocumentDbStandIn,
    user_role_arn: String,
}

fn rig() -> Rig {
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let cross = moto.cross_account("docdb-access", EXTERNAL_ID).unwrap();
    let role = |name: &str| RoleSpec {
        account: DATABASE_ACCOUNT.into(),
        name: name.into(),
        trust: trust_policy(&cross.role_arn, None),
        policies: vec![allow(&["sts:GetCallerIdentity"], "*")],
    };
    let created = moto
        .setup(&AwsSetup {
            users: vec![],
            roles: vec![role(USER_ROLE), role(NO_USER_ROLE)],
        })
        .unwrap();
    let user_role_arn = created.roles[USER_ROLE].arn.clone();
    let standin = DocumentDbStandIn::start(&ca, &moto, &[&user_role_arn]).unwrap();
    Rig {
        moto,
        cross,
        standin,
        user_role_arn,
    }
}

/// `iamwire run` in front of the stand-in with `external_id` in its config, debug logs on; the operator's
/// directory.
fn proxy(rig: &Rig, external_id: &str) -> (Proxy, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("iamwire-mongodb-e2e-")
        .tempdir()
        .unwrap();
    let d = dir.path().to_str().unwrap();
    iamwire_ok(&["certs", "init", "--dir", d]);
    iamwire_ok(&["certs", "client", "--dir", d, "--name", "alice"]);
    let pem = [
        std::fs::read_to_string(dir.path().join("alice.crt")).unwrap(),
        std::fs::read_to_string(dir.path().join("alice.key")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.path().join("alice.pem"), pem).unwrap();
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
    - database: documentdb
      listen: 127.0.0.1:0
  identities:
    - name: alice
      db_labels: {{"*": "*"}}
      db_users: ["{USER_ROLE}", "{NO_USER_ROLE}"]
aws:
  region: {REGION}
  env_file: aws.env
db_service:
  enabled: "yes"
  databases:
  - name: documentdb
    protocol: mongodb
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
    let env = [("RUST_LOG".to_owned(), "debug".to_owned())];
    (Proxy::spawn(&path, &home, &[], &env), dir)
}

/// pymongo through the proxy: TLS with alice's certificate, PLAIN naming the role (the password is not
/// used: the certificate is the identity). Inserts, finds and deletes, then tries a second login and a
/// logout on the same session. Prints `ok <json>` or `error <code> <message>`.
pub(crate) const PYMONGO: &str = r#"
import json, sys
from urllib.parse import quote_plus
from pymongo import MongoClient
from pymongo.errors import OperationFailure

port, ca, certkey, user, password = sys.argv[1:6]
uri = ("mongodb://{}:{}@localhost:{}/?tls=true&authMechanism=PLAIN&authSource=%24external"
       "&directConnection=true&retryWrites=false&serverSelectionTimeoutMS=30000"
       "&connectTimeoutMS=30000").format(quote_plus(user), quote_plus(password), port)
options = {"tlsCAFile": ca}
if certkey != "-":
    options["tlsCertificateKeyFile"] = certkey
client = MongoClient(uri, **options)
try:
    items = client.app.items
    items.insert_one({"k": "greeting", "v": "hello, documentdb"})
    rows = [[d["k"], d["v"]] for d in items.find({"k": "greeting"})]
    deleted = items.delete_many({"k": "greeting"}).deleted_count
    left = len(list(items.find({"k": "greeting"})))
    refused = {}
    for name, extra in (("saslStart", {"mechanism": "MONGODB-AWS", "payload": b""}), ("logout", {})):
        try:
            client.get_database("$external").command(name, 1, **extra)
            refused[name] = "allowed"
        except OperationFailure as e:
            refused[name] = e.code
    after = len(list(items.find({})))
    print("ok", json.dumps({"rows": rows, "deleted": deleted, "left": left, "refused": refused, "after": after}))
except OperationFailure as e:
    print("error", e.code, e.details.get("errmsg", ""))
finally:
    client.close()
"#;

fn pymongo(dir: &Path, port: u16, certkey: &str, user: &str, password: &str) -> String {
    let ca = dir.join("ca.crt").display().to_string();
    let certkey = dir.join(certkey).display().to_string();
    let out = Command::new(iamwire_testkit::python())
        .args([
            "-c",
            PYMONGO,
            &port.to_string(),
            &ca,
            &certkey,
            user,
            password,
        ])
        .output()
        .expect("run the venv's python");
    assert!(out.status.success(), "pymongo script: {}", both(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn pymongo_uses_documentdb_through_iamwire_run_as_the_user_role() {
    let rig = rig();
    let (proxy, dir) = proxy(&rig, EXTERNAL_ID);
    let answer = pymongo(dir.path(), proxy.port(), "alice.pem", USER_ROLE, "unused");
    assert_eq!(
        answer,
        r#"ok {"rows": [["greeting", "hello, documentdb"]], "deleted": 1, "left": 0, "refused": {"saslStart": 13, "logout": 13}, "after": 0}"#,
        "proxy stderr:\n{}\nstand-in:\n{}",
        proxy.stderr(),
        rig.standin.log()
    );
    // Every connection logged in upstream as the user role, through STS's answer.
    let auths = rig.standin.auths().unwrap();
    assert!(!auths.is_empty());
    for auth in &auths {
        assert!(auth.ok, "{auth:?}");
        assert_eq!(auth.arn.as_deref(), Some(rig.user_role_arn.as_str()));
    }
    // The refused second login and logout never reached the database; the data commands came
    // authenticated.
    let commands = rig.standin.commands().unwrap();
    assert!(
        commands
            .iter()
            .all(|c| !(c.authenticated && c.command == "saslStart") && c.command != "logout"),
        "{commands:?}"
    );
    for name in ["insert", "find", "delete"] {
        let seen: Vec<_> = commands.iter().filter(|c| c.command == name).collect();
        assert!(!seen.is_empty(), "{name} never arrived");
        assert!(
            seen.iter()
                .all(|c| c.authenticated && c.user.as_deref() == Some(rig.user_role_arn.as_str())),
            "{seen:?}"
        );
    }
    // The external ID went to STS on the database's role only.
    let assumes: Vec<_> = rig
        .moto
        .requests()
        .unwrap()
        .into_iter()
        .filter(|r| r.action().as_deref() == Some("AssumeRole"))
        .collect();
    assert!(assumes.iter().any(|r| {
        r.param("RoleArn").as_deref() == Some(rig.cross.role_arn.as_str())
            && r.param("ExternalId").as_deref() == Some(EXTERNAL_ID)
    }));
    assert!(assumes.iter().any(|r| {
        r.param("RoleArn").as_deref() == Some(rig.user_role_arn.as_str())
            && r.param("ExternalId").is_none()
    }));
    // With debug logs on, no secret in the proxy's log.
    let stderr = proxy.stderr();
    assert!(stderr.contains("session accepted"), "{stderr}");
    for secret in [
        EXTERNAL_ID,
        rig.cross.proxy.secret_access_key.as_str(),
        "Signature=",
        "FQoGZXIvYXdzE",
        "X-Amz-Security-Token",
        "unused",
    ] {
        let leak = stderr.lines().find(|l| l.contains(secret));
        assert!(leak.is_none(), "{secret:?} in the logs: {leak:?}");
    }
}

/// mongosh (MongoDB's shell, on the Node.js driver), installed by `scripts/setup.sh`.
fn mongosh() -> std::path::PathBuf {
    let path = iamwire_testkit::mongosh();
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup.sh",
        path.display()
    );
    path
}

const MONGOSH_SCRIPT: &str = r#"
const items = db.getSiblingDB("app").getCollection("shell");
items.insertOne({k: "mongosh"});
const found = items.find({k: "mongosh"}).toArray().map(d => d.k);
const deleted = items.deleteMany({k: "mongosh"}).deletedCount;
let logout;
try { logout = db.getSiblingDB("$external").runCommand({logout: 1}).code || "allowed"; } catch (e) { logout = e.code; }
print(JSON.stringify({found, deleted, logout}));
"#;

#[test]
fn mongosh_uses_documentdb_through_iamwire_run_as_the_user_role() {
    let rig = rig();
    let (proxy, dir) = proxy(&rig, EXTERNAL_ID);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let uri = format!(
        "mongodb://{USER_ROLE}:unused@localhost:{}/?tls=true&tlsCAFile={}&tlsCertificateKeyFile={}\
         &authMechanism=PLAIN&authSource=%24external&directConnection=true&retryWrites=false\
         &serverSelectionTimeoutMS=30000",
        proxy.port(),
        path("ca.crt"),
        path("alice.pem"),
    );
    let home = dir.path().join("mongosh-home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(mongosh())
        .args([&uri, "--quiet", "--norc", "--eval", MONGOSH_SCRIPT])
        .env("HOME", &home)
        .env("MONGOSH_NO_TELEMETRY", "1")
        .output()
        .expect("run mongosh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r#"{"found":["mongosh"],"deleted":1,"logout":13}"#),
        "mongosh: {}\nproxy:\n{}\nstand-in:\n{}",
        both(&out),
        proxy.stderr(),
        rig.standin.log()
    );
    let auths = rig.standin.auths().unwrap();
    assert!(!auths.is_empty());
    assert!(
        auths
            .iter()
            .all(|a| a.ok && a.arn.as_deref() == Some(rig.user_role_arn.as_str())),
        "{auths:?}"
    );
}

#[test]
fn a_wrong_external_id_is_authentication_failed_and_never_reaches_the_database() {
    let rig = rig();
    let (proxy, dir) = proxy(&rig, "docdb-ext-wrong");
    let answer = pymongo(dir.path(), proxy.port(), "alice.pem", USER_ROLE, "unused");
    assert!(answer.starts_with("error 18 "), "{answer}");
    assert!(answer.contains("trust policy"), "{answer}");
    assert!(!answer.contains("docdb-ext-wrong"), "{answer}");
    assert!(rig.standin.auths().unwrap().is_empty());
    assert!(!proxy.stderr().contains("docdb-ext-wrong"));
}

#[test]
fn a_role_without_a_documentdb_user_is_refused_by_the_database_with_the_remedy() {
    let rig = rig();
    let (proxy, dir) = proxy(&rig, EXTERNAL_ID);
    let answer = pymongo(
        dir.path(),
        proxy.port(),
        "alice.pem",
        NO_USER_ROLE,
        "unused",
    );
    assert!(answer.starts_with("error 18 "), "{answer}");
    assert!(answer.contains("$external"), "{answer}");
    let auths = rig.standin.auths().unwrap();
    assert!(
        auths.iter().any(|a| !a.ok
            && a.arn
                .as_deref()
                .is_some_and(|arn| arn.ends_with(NO_USER_ROLE))),
        "{auths:?}"
    );
    drop(proxy);
}

#[test]
fn a_role_the_identity_may_not_be_is_unauthorized_before_any_aws_call() {
    let rig = rig();
    let (proxy, dir) = proxy(&rig, EXTERNAL_ID);
    let answer = pymongo(
        dir.path(),
        proxy.port(),
        "alice.pem",
        "admin-role",
        "unused",
    );
    assert!(answer.starts_with("error 13 "), "{answer}");
    assert!(answer.contains("admin-role"), "{answer}");
    assert!(rig.standin.auths().unwrap().is_empty());
    let requests = rig.moto.requests().unwrap();
    assert!(
        !requests.iter().any(|r| r
            .param("RoleArn")
            .is_some_and(|arn| arn.contains("admin-role"))),
        "the proxy asked STS for a role it had refused"
    );
}
