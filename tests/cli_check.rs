//! The `iamwire` binary's configuration checks, run as an operator would run them.
#![allow(clippy::expect_used)] // test helpers outside #[test] fns may expect too

use std::process::Command;

fn iamwire(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iamwire"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run iamwire");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn documented_configs_validate_and_never_print_the_external_id() {
    let (ok, out, err) = iamwire(&["check-config", "--config", "tests/data/static.yaml"]);
    assert!(ok, "{err}");
    assert!(out.contains("rds-postgres (postgres)"), "{out}");
    assert!(
        out.contains("account: 222222222222"),
        "account id derived from the ARN: {out}"
    );
    assert!(out.contains("with external id"), "{out}");

    let (ok, out, err) = iamwire(&["check-config", "--config", "tests/data/discovery.yaml"]);
    assert!(ok, "{err}");
    assert!(out.contains("discovery matchers: 1"), "{out}");
    assert!(out.contains("resource selectors: 1"), "{out}");
    assert!(
        out.contains("assumes: arn:aws:iam::222222222222:role/example-access (with external id)"),
        "{out}"
    );
    assert!(!out.contains("example-external-id"), "{out}");

    let (ok, out, err) = iamwire(&["check-resource", "tests/data/dynamic.yaml"]);
    assert!(ok, "{err}");
    for text in [&out, &err] {
        assert!(
            !text.contains("example-external-id"),
            "external id leaked: {text}"
        );
    }
}

#[test]
fn dynamic_resource_with_another_account_is_rejected_naming_both() {
    let (ok, out, err) = iamwire(&[
        "check-resource",
        "tests/data/dynamic.yaml",
        "tests/data/dynamic-mismatch.yaml",
    ]);
    assert!(!ok, "{out}");
    assert!(err.contains("dynamic-mismatch.yaml"), "{err}");
    assert!(
        err.contains("333333333333") && err.contains("222222222222"),
        "{err}"
    );
    assert!(!err.contains("example-external-id"), "{err}");
    // The valid file before it was still checked.
    assert!(out.contains("dynamic.yaml: valid"), "{out}");
}

#[test]
fn unreadable_or_invalid_files_fail_with_the_file_name() {
    let (ok, _, err) = iamwire(&["check-config", "--config", "tests/data/nope.yaml"]);
    assert!(!ok);
    assert!(err.contains("nope.yaml"), "{err}");
    let (ok, _, err) = iamwire(&["check-config", "--config", "tests/data/dynamic.yaml"]);
    assert!(!ok, "a resource is not a config file");
    assert!(err.contains("dynamic.yaml"), "{err}");
}
