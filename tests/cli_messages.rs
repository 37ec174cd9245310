//! The command line's messages for config and AWS problems (issue 13, item 8), through the real binary:
//! `check-config` and `run` agree on a file (malformed, empty, switched off), every config error names the
//! file, line and key and suggests the nearest key for a typo, names are the ones the user writes, and AWS
//! failures are one line that says what to do — no `Debug` dumps, no talk of retrying, no garbling.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

/// `iamwire <args>` in `dir`, with no AWS configuration but what `env` gives (no ~/.aws, no IMDS).
fn iamwire(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iamwire"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("run iamwire")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A directory with the proxy's certificates (`iamwire certs init`) and `iamwire.yaml` holding `yaml`.
fn config_dir(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(
        iamwire(dir.path(), &["certs", "init", "--dir", d], &[])
            .status
            .success()
    );
    std::fs::write(dir.path().join("iamwire.yaml"), yaml).unwrap();
    dir
}

/// `check-config` and `run` on the directory's file: both must fail; their stderr.
fn both_refuse(dir: &Path) -> (String, String) {
    let check = iamwire(dir, &["check-config", "--config", "iamwire.yaml"], &[]);
    let run = iamwire(dir, &["run", "--config", "iamwire.yaml"], &[]);
    assert!(
        !check.status.success(),
        "check-config passed: {}",
        stderr(&check)
    );
    assert!(!run.status.success(), "run started: {}", stderr(&run));
    (stderr(&check), stderr(&run))
}

const GOOD: &str = r#"proxy:
  tls:
    cert_file: server.crt
    key_file: server.key
  listeners:
    - database: pg
      listen: 127.0.0.1:0
db_service:
  enabled: "yes"
  databases:
  - name: pg
    protocol: postgres
    uri: "localhost:5432"
    tls:
      mode: verify-full
      ca_cert_file: ca.crt
"#;

#[test]
fn malformed_yaml_is_reported_at_its_line_by_check_config_and_run() {
    let bad = GOOD.replace("    key_file: server.key", "   key_file: server.key");
    let dir = config_dir(&bad);
    let (check, run) = both_refuse(dir.path());
    for text in [&check, &run] {
        assert!(text.contains("iamwire.yaml"), "{text}");
        assert!(text.contains("at line 4"), "{text}");
        assert!(!text.contains("unknown field `proxy`"), "{text}");
    }
}

#[test]
fn an_empty_file_fails_check_config_as_it_fails_run() {
    let dir = config_dir("# nothing yet\n");
    let (check, run) = both_refuse(dir.path());
    for text in [&check, &run] {
        assert!(text.contains("iamwire.yaml: the file is empty"), "{text}");
    }
}

#[test]
fn a_switched_off_db_service_is_refused_by_check_config_and_run_alike() {
    let dir = config_dir(&GOOD.replace("enabled: \"yes\"", "enabled: \"no\""));
    let (check, run) = both_refuse(dir.path());
    for text in [&check, &run] {
        assert!(
            text.contains("iamwire.yaml:9: db_service.enabled is off"),
            "{text}"
        );
    }
    // Absent is not off: the file is served (and reported as enabled).
    let dir = config_dir(&GOOD.replace("  enabled: \"yes\"\n", ""));
    let out = iamwire(
        dir.path(),
        &["check-config", "--config", "iamwire.yaml"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("db_service enabled"));
}

#[test]
fn check_config_says_what_run_will_not_serve() {
    let yaml = format!(
        "{GOOD}  - name: other\n    protocol: postgres\n    uri: \"localhost:5433\"\n  aws:\n  - types: [\"rds\"]\n    regions: [\"us-east-1\"]\n"
    );
    let dir = config_dir(&yaml);
    let out = iamwire(
        dir.path(),
        &["check-config", "--config", "iamwire.yaml"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("note: 1 discovery matcher(s) (db_service.aws)"),
        "{text}"
    );
    assert!(
        text.contains("serves them only with catalog.listen set"),
        "{text}"
    );
    assert!(
        text.contains("database \"other\" has no proxy.listeners entry"),
        "{text}"
    );
    assert!(text.contains("upstream TLS: verify-full"), "{text}");
}

#[test]
fn config_errors_name_file_line_and_key_in_the_users_words() {
    let cases = [
        // A typo: the nearest valid key.
        (
            GOOD.replace("  listeners:", "  listners:"),
            "iamwire.yaml: invalid config file: unknown field `listners` at line 5, column 3; did you mean `listeners`?",
        ),
        // A missing CA: `verify-full`, as written, on the database's line.
        (
            GOOD.replace("      ca_cert_file: ca.crt\n", ""),
            "iamwire.yaml:15: database \"pg\": tls.mode verify-full needs tls.ca_cert_file",
        ),
        (
            GOOD.replace("listen: 127.0.0.1:0", "listen: nowhere"),
            "iamwire.yaml:7: proxy.listeners[].listen: \"nowhere\"",
        ),
        (
            GOOD.replace("  listeners:", "  handshake_timeout: 3x\n  listeners:"),
            "iamwire.yaml:5: proxy.handshake_timeout: \"3x\" is not a duration",
        ),
    ];
    for (yaml, want) in cases {
        let dir = config_dir(&yaml);
        let (check, run) = both_refuse(dir.path());
        for text in [&check, &run] {
            assert!(text.contains(want), "want {want:?} in:\n{text}");
            assert!(!text.contains("VerifyFull"), "{text}");
        }
    }
}

/// The AWS settings of a proxy whose STS endpoint is `endpoint`.
fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE".into()),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        ),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL", endpoint.into()),
    ]
}

/// An address nothing listens on.
fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// stderr of a failed `iamwire aws whoami <args>`, which must be one line.
fn whoami_error(args: &[&str], env: &[(&'static str, String)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut all = vec!["aws", "whoami"];
    all.extend_from_slice(args);
    let out = iamwire(dir.path(), &all, &env);
    assert!(!out.status.success());
    let text = stderr(&out);
    assert_eq!(text.trim_end().lines().count(), 1, "not one line:\n{text}");
    text
}

#[test]
fn unreachable_sts_is_one_line_without_debug_dumps_or_retry_talk() {
    let text = whoami_error(&[], &aws_env(&closed_endpoint()));
    assert!(
        text.starts_with("iamwire: cannot reach STS for sts:GetCallerIdentity"),
        "{text}"
    );
    assert!(text.contains("Connection refused"), "{text}");
    for noise in ["DispatchFailure", "ConnectorError", "{", "retr", "backoff"] {
        assert!(!text.contains(noise), "{noise:?} in {text}");
    }
}

#[test]
fn no_credentials_is_one_line_that_says_what_to_set() {
    let env = vec![("AWS_REGION", "us-east-1".to_owned())];
    let text = whoami_error(&[], &env);
    assert!(
        text.starts_with("iamwire: no AWS credentials found"),
        "{text}"
    );
    assert!(text.contains("AWS_ACCESS_KEY_ID"), "{text}");
    assert!(!text.contains("IMDS disabled"), "{text}");
}

#[test]
fn a_short_external_id_is_refused_and_scrubbing_does_not_garble() {
    let role = "arn:aws:iam::222222222222:role/db-access";
    let env = aws_env(&closed_endpoint());
    let text = whoami_error(&["--assume-role-arn", role, "--external-id", "r"], &env);
    assert!(
        text.contains("--external-id must be 2 to 1224 characters"),
        "{text}"
    );

    // `ro` is inside "error" and "Connection refused"... none of it may be scrubbed but the ID itself.
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = iamwire(
        dir.path(),
        &[
            "token",
            "rds",
            "--host",
            "db",
            "--port",
            "5432",
            "--user",
            "u",
            "--assume-role-arn",
            role,
            "--external-id",
            "ro",
        ],
        &env,
    );
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(!text.contains("redacted"), "{text}");
    assert!(text.contains(role), "{text}");
}
