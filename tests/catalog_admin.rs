//! Dynamic resources through the real binary: `iamwire run` with an admin address and the default file
//! store, and `iamwire db create | ls | rm` as an admin identity — a valid resource is stored (and kept
//! in the store file), a mismatched `account_id` is refused naming both accounts, a static database
//! cannot be removed, and `db rm` removes the dynamic one. (Serving dynamic databases needs the
//! supervisor to follow the catalog; see src/catalog.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;

use e2e_run_support::{Options, Stack, admin, both};

const ADMIN: &str = "ops";

fn admin_cli(stack: &Stack, args: &[&str]) -> std::process::Output {
    admin::cli(&stack.proxy, stack.dir(), ADMIN, args)
}

#[test]
fn db_create_ls_rm_through_the_admin_api() {
    let stack = Stack::with(Options {
        proxy_extra: format!("  admin:\n    listen: 127.0.0.1:0\n    identities: [{ADMIN}]"),
        ..Options::default()
    });
    stack.issue_client(ADMIN);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("orders.yaml");
    std::fs::write(
        &good,
        "kind: db\nversion: v3\nmetadata:\n  name: orders\n  labels: { env: prod }\nspec:\n  protocol: postgres\n  uri: orders.example:5432\n  aws:\n    account_id: \"222222222222\"\n    assume_role_arn: arn:aws:iam::222222222222:role/db-access\n",
    )
    .unwrap();
    let bad = dir.path().join("billing.yaml");
    std::fs::write(
        &bad,
        "kind: db\nversion: v3\nmetadata:\n  name: billing\nspec:\n  protocol: postgres\n  uri: billing.example:5432\n  aws:\n    account_id: \"333333333333\"\n    assume_role_arn: arn:aws:iam::222222222222:role/db-access\n",
    )
    .unwrap();

    let out = admin_cli(
        &stack,
        &[
            "db",
            "create",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success(), "{}", both(&out));
    let text = both(&out);
    assert!(text.contains("created orders"), "{text}");
    assert!(
        text.contains("billing.yaml") && text.contains("account_mismatch"),
        "{text}"
    );
    assert!(
        text.contains("333333333333") && text.contains("222222222222"),
        "{text}"
    );
    // Kept in the store file beside the config (it survives a restart).
    let stored = std::fs::read_to_string(stack.file("iamwire-databases.json")).unwrap();
    assert!(
        stored.contains("orders") && !stored.contains("billing"),
        "{stored}"
    );

    let out = admin_cli(&stack, &["db", "create", good.to_str().unwrap()]);
    assert!(
        !out.status.success() && both(&out).contains("exists"),
        "{}",
        both(&out)
    );

    let listed = admin_cli(&stack, &["db", "ls", "--json"]);
    assert!(listed.status.success(), "{}", both(&listed));
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let origins: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_owned(),
                d["origin"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        origins.contains(&("e2e-postgres".into(), "static".into())),
        "{origins:?}"
    );

    let out = admin_cli(&stack, &["db", "rm", "e2e-postgres"]);
    assert!(
        !out.status.success() && both(&out).contains("not_dynamic"),
        "{}",
        both(&out)
    );
    let out = admin_cli(&stack, &["db", "rm", "orders"]);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "removed orders\n");
    let stored = std::fs::read_to_string(stack.file("iamwire-databases.json")).unwrap();
    assert!(!stored.contains("orders"), "{stored}");
    let out = admin_cli(&stack, &["db", "rm", "orders"]);
    assert!(
        !out.status.success() && both(&out).contains("not_found"),
        "{}",
        both(&out)
    );
}
