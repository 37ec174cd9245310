//! The deployment's `iamwire.yaml`: five databases, each also served twice more with its TLS broken —
//! the wrong CA (`other-ca.crt`, a CA that did not issue the database's certificate) and the wrong name
//! (`server_name: db.example.com`, which the certificate does not name) — to show that the proxy fails
//! closed.

use std::time::Duration;

use iamwire_testkit::moto::CrossAccount;
use iamwire_testkit::postgres;

use super::{
    CACHE, DDB, DDB_ROLE, DOCS, DOCS_REGION, DOCS_ROLE, KEYSPACES, KEYSPACES_ROLE, MAX_BODY, MY, PG,
};
use crate::e2e_run_support::{ALLOWED_CLIENT, EXTERNAL_ID, REGION, RESOURCE_ID};

/// The databases (name, protocol) in the order of [`Rig::ports`](super::Rig); each is also served
/// broken ([`broken_names`]).
pub(crate) const BROKEN: [(&str, &str); 6] = [
    (PG, "postgres"),
    (MY, "mariadb"),
    (CACHE, "redis"),
    (DOCS, "mongodb"),
    (KEYSPACES, "cassandra"),
    (DDB, "dynamodb"),
];

/// The broken variants of `name`: behind the wrong CA, behind the wrong name.
pub(crate) fn broken_names(name: &str) -> [String; 2] {
    [format!("{name}-wrong-ca"), format!("{name}-wrong-name")]
}

/// The config for databases on `ports` (in [`BROKEN`]'s order), assuming `cross`'s role; alice may be
/// `iam_user` (PostgreSQL, MySQL), `admin` (Redis), [`DOCS_ROLE`] (MongoDB), [`KEYSPACES_ROLE`]
/// (CQL) and [`DDB_ROLE`] (DynamoDB) only.
pub(crate) fn yaml(cross: &CrossAccount, handshake: Duration, ports: [u16; 6]) -> String {
    let role = &cross.role_arn;
    let mut listeners = String::new();
    let mut databases = String::new();
    for ((name, protocol), port) in BROKEN.iter().zip(ports) {
        let aws = match *protocol {
            "postgres" | "mariadb" => format!(
                "    aws:\n      region: {REGION}\n      assume_role_arn: \"{role}\"\n      \
                 external_id: \"{EXTERNAL_ID}\"\n      rds: {{resource_id: \"{RESOURCE_ID}\"}}\n"
            ),
            "redis" => String::new(),
            other => format!(
                "    aws:\n      region: {}\n      assume_role_arn: \"{role}\"\n      \
                 external_id: \"{EXTERNAL_ID}\"\n",
                if other == "mongodb" {
                    DOCS_REGION
                } else {
                    REGION
                }
            ),
        };
        let password = if *protocol == "redis" {
            "      password_file: redis.password\n"
        } else {
            ""
        };
        let [wrong_ca, wrong_name] = broken_names(name);
        for (db, tls) in [
            (name.to_string(), "ca_cert_file: db-ca.crt"),
            (wrong_ca, "ca_cert_file: other-ca.crt"),
            (
                wrong_name,
                "ca_cert_file: db-ca.crt\n      server_name: db.example.com",
            ),
        ] {
            listeners.push_str(&format!(
                "    - database: {db}\n      listen: 127.0.0.1:0\n{password}"
            ));
            databases.push_str(&format!(
                "  - name: {db}\n    protocol: {protocol}\n    uri: \"{uri}\"\n    \
                 tls:\n      mode: verify-full\n      {tls}\n{aws}",
                uri = if *protocol == "dynamodb" {
                    format!("https://localhost:{port}")
                } else {
                    format!("localhost:{port}")
                },
            ));
        }
    }
    format!(
        r#"proxy:
  handshake_timeout: {}s
  max_request_body: {MAX_BODY}
  tls:
    cert_file: server.crt
    key_file: server.key
    client_ca_file: ca.crt
  admin:
    listen: 127.0.0.1:0
  listeners:
{listeners}  identities:
    - name: {ALLOWED_CLIENT}
      db_labels: {{"*": "*"}}
      db_users: ["{}", "admin", "{DOCS_ROLE}", "{KEYSPACES_ROLE}", "{DDB_ROLE}"]
      db_names: ["*"]
aws:
  region: {REGION}
  env_file: aws.env
db_service:
  enabled: "yes"
  databases:
{databases}"#,
        handshake.as_secs(),
        postgres::IAM_USER,
    )
}
