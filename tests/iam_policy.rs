//! `iamwire iam-policy` against the emulator in signature-checking mode: starting from a proxy user and a
//! database role that may do nothing, applying exactly the printed policies makes `iamwire run` work end to
//! end for Postgres (the database checks each token's `rds-db:connect` with the emulator's own IAM policy
//! engine, as RDS does); removing any one statement makes the login fail with an error that names that
//! statement's action, and `--check` reports it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;

use std::process::Command;

use e2e_run_support::{Login, Options, Stack, both, psycopg_login};
use iamwire_testkit::postgres::IAM_USER;
use serde_json::Value;

/// One policy as printed, with its statements.
#[derive(Clone)]
struct Printed {
    account: String,
    attach_to: String,
    kind: String,
    name: String,
    optional: bool,
    document: Value,
}

impl Printed {
    /// What the rig applies: this policy, or this policy without statement `drop` (a trust policy that
    /// loses its only statement trusts nobody; an identity policy, is deleted).
    fn applied(&self, drop: Option<&str>) -> Value {
        let mut document = self.document.clone();
        if let Some(sid) = drop {
            let statements = document["Statement"].as_array_mut().unwrap();
            statements.retain(|s| s["Sid"] != sid);
            if statements.is_empty() {
                document = if self.kind == "trust" {
                    serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "Nobody",
                        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                        "Action": "sts:AssumeRole"}]})
                } else {
                    Value::Null
                };
            }
        }
        serde_json::json!({"account": self.account, "attach_to": self.attach_to, "kind": self.kind,
            "name": self.name, "document": document})
    }
}

fn iamwire(stack: &Stack, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iamwire"))
        .args(["iam-policy", "--config"])
        .arg(stack.config_path())
        .args(["--proxy-principal", &stack.cross.proxy.arn])
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

fn printed(stack: &Stack) -> Vec<Printed> {
    let out = iamwire(stack, &[]);
    assert!(out.status.success(), "{}", both(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut policies = Vec::new();
    for account in plan["accounts"].as_array().unwrap() {
        for p in account["policies"].as_array().unwrap() {
            policies.push(Printed {
                account: account["account"].as_str().unwrap().to_owned(),
                attach_to: p["attach_to"].as_str().unwrap().to_owned(),
                kind: p["kind"].as_str().unwrap().to_owned(),
                name: p["name"].as_str().unwrap().to_owned(),
                optional: p["optional"].as_bool().unwrap(),
                document: p["document"].clone(),
            });
        }
    }
    policies
}

fn apply(stack: &Stack, policies: &[Printed], drop: Option<(&str, &str)>) {
    let values: Vec<Value> = policies
        .iter()
        .map(|p| p.applied(drop.filter(|(name, _)| *name == p.name).map(|(_, sid)| sid)))
        .collect();
    stack.moto.apply_policies(&values).unwrap();
}

fn check(stack: &Stack) -> (bool, String) {
    let out = iamwire(stack, &["--check"]);
    (out.status.success(), both(&out))
}

#[test]
fn the_printed_policies_are_exactly_what_the_proxy_needs() {
    let mut stack = Stack::with(Options {
        bare_iam: true,
        ..Options::default()
    });
    // Nothing is allowed yet.
    assert!(matches!(
        psycopg_login(&stack.dsn("alice")),
        Login::Refused { .. }
    ));

    let policies = printed(&stack);
    let required: Vec<(String, String, String)> = policies
        .iter()
        .filter(|p| !p.optional)
        .flat_map(|p| {
            p.document["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let action = match &s["Action"] {
                        Value::String(a) => a.clone(),
                        other => other[0].as_str().unwrap().to_owned(),
                    };
                    (
                        p.name.clone(),
                        s["Sid"].as_str().unwrap().to_owned(),
                        action,
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let actions: Vec<&str> = required.iter().map(|(_, _, a)| a.as_str()).collect();
    assert!(actions.contains(&"rds-db:connect"), "{actions:?}");
    assert!(
        actions.iter().filter(|a| **a == "sts:AssumeRole").count() == 2,
        "{actions:?}"
    );

    // Everything printed (the optional check policy too, so --check can simulate): in.
    apply(&stack, &policies, None);
    stack.restart_proxy();
    match psycopg_login(&stack.dsn("alice")) {
        Login::User(user) => assert_eq!(user, IAM_USER),
        refused => panic!("refused with every printed policy applied: {refused:?}"),
    }
    let (ok, report) = check(&stack);
    assert!(ok, "{report}");
    assert!(
        report.contains("✓ rds-db:connect on arn:aws:rds-db:"),
        "{report}"
    );

    // Without any one required statement: refused, naming that statement's action; --check says so.
    for (policy, sid, action) in &required {
        apply(&stack, &policies, Some((policy, sid)));
        stack.restart_proxy();
        match psycopg_login(&stack.dsn("alice")) {
            Login::Refused { text, .. } => {
                assert!(text.contains(action.as_str()), "without {sid}: {text}");
            }
            Login::User(_) => panic!("logged in without statement {sid} of {policy}"),
        }
        let (ok, report) = check(&stack);
        assert!(!ok, "--check passed without {sid}:\n{report}");
        let failure = report
            .lines()
            .find(|l| l.starts_with('✗'))
            .unwrap_or_else(|| panic!("no ✗ line:\n{report}"));
        assert!(
            failure.contains(action.as_str()),
            "without {sid}: {failure}"
        );
        apply(&stack, &policies, None);
    }
}
