//! `iamwire check-config` on the demo proxy's full config file, with certificates made by `iamwire certs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

fn iamwire(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iamwire"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run iamwire");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const CONFIG: &str = r#"
proxy:
  tls:
    cert_file: pki/server.crt
    key_file: pki/server.key
    client_ca_file: pki/ca.crt
  handshake_timeout: 500ms
  listeners:
    - database: rds-postgres
      listen: 127.0.0.1:15432
  identities:
    - name: alice
      db_labels: {env: dev}
      db_users: ["iam_user", "app_*"]
      db_names: ["*"]
aws:
  region: us-west-2
db_service:
  enabled: "yes"
  databases:
  - name: "rds-postgres"
    protocol: "postgres"
    uri: "rds-postgres.abcdef012345.us-west-1.rds.amazonaws.com:5432"
    static_labels: {env: dev}
    tls:
      ca_cert_file: pki/ca.crt
    aws:
      assume_role_arn: "arn:aws:iam::222222222222:role/example-role"
      external_id: "example-external-id"
"#;

/// A temp dir with `pki/` from `iamwire certs init` and `conf/proxy.yaml` = `yaml` with `pki/` → `../pki/`,
/// so that relative paths only work when resolved against the config file's directory.
fn setup(yaml: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let (ok, _, err) = iamwire(tmp.path(), &["certs", "init", "--dir", "pki"]);
    assert!(ok, "{err}");
    std::fs::create_dir(tmp.path().join("conf")).unwrap();
    std::fs::write(
        tmp.path().join("conf/proxy.yaml"),
        yaml.replace("pki/", "../pki/"),
    )
    .unwrap();
    tmp
}

#[test]
fn the_full_file_is_checked_and_reported_without_secrets() {
    let tmp = setup(CONFIG);
    let (ok, out, err) = iamwire(tmp.path(), &["check-config", "--config", "conf/proxy.yaml"]);
    assert!(ok, "{err}");
    for expected in [
        "rds-postgres (postgres)",
        "account: 222222222222",
        "mTLS, client certificates required",
        "timeouts: handshake 500ms, credentials 15s",
        "127.0.0.1:15432 -> rds-postgres",
        "identities: 1",
        "alice",
        "aws region: us-west-2",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from {out}");
    }
    let key = std::fs::read_to_string(tmp.path().join("pki/server.key")).unwrap();
    for text in [&out, &err] {
        assert!(!text.contains("example-external-id"), "{text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        assert!(!text.contains(key.lines().nth(1).unwrap()), "{text}");
    }
}

#[test]
fn problems_fail_the_check_naming_the_file() {
    let tmp = setup(&CONFIG.replace("key_file: pki/server.key", "key_file: pki/missing.key"));
    let (ok, _, err) = iamwire(tmp.path(), &["check-config", "--config", "conf/proxy.yaml"]);
    assert!(!ok);
    assert!(
        err.contains("proxy.yaml") && err.contains("missing.key"),
        "{err}"
    );

    let tmp = setup(&CONFIG.replace("- database: rds-postgres", "- database: nowhere"));
    let (ok, _, err) = iamwire(tmp.path(), &["check-config", "--config", "conf/proxy.yaml"]);
    assert!(!ok);
    assert!(err.contains("nowhere"), "{err}");
}

#[test]
fn a_db_service_only_file_still_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (ok, out, err) = iamwire(dir, &["check-config", "--config", "tests/data/static.yaml"]);
    assert!(ok, "{err}");
    assert!(out.contains("rds-postgres (postgres)"), "{out}");
    assert!(!out.contains("listeners"), "{out}");
}
