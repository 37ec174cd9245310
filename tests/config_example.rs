//! `examples/iamwire.yaml`, the annotated config docs/config.md points to, is valid: `iamwire check-config`
//! accepts it as it is (next to the certificates `iamwire certs init` writes and a CA bundle) and sees every
//! database and listener it describes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn the_annotated_example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let iamwire = env!("CARGO_BIN_EXE_iamwire");
    let d = dir.path().to_str().unwrap();
    assert!(
        Command::new(iamwire)
            .args(["certs", "init", "--dir", d])
            .status()
            .unwrap()
            .success()
    );
    for bundle in ["rds-global-bundle.pem", "amazon-root-ca.pem"] {
        std::fs::copy(dir.path().join("ca.crt"), dir.path().join(bundle)).unwrap();
    }
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/iamwire.yaml");
    let config = dir.path().join("iamwire.yaml");
    std::fs::copy(example, &config).unwrap();
    let out = Command::new(iamwire)
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("databases: 7"), "{report}");
    for name in [
        "orders-pg",
        "orders-pg-local",
        "billing-mysql",
        "sessions-cache",
        "events-dynamodb",
        "catalog-keyspaces",
        "docs-documentdb",
    ] {
        assert!(report.contains(name), "{name}: {report}");
    }
    assert!(
        report.contains("unix:/run/iamwire/.s.PGSQL.5432"),
        "{report}"
    );
}
