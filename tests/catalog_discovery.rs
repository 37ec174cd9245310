//! Discovery through the real binary: `iamwire run` with two `db_service.aws` matchers against the
//! rig's emulator in signature-checking mode. The first finds RDS instances in two regions of the
//! database account through a role that requires an external ID, keeps the `env: prod` ones, and
//! serves each on a port of `catalog.listen` (`iamwire db ls` shows origin, labels and where); the
//! second names a role that does not exist: it is reported on `/readyz` and in the logs, the replica
//! stays ready and the first goes on. An instance deleted in the emulator leaves `db ls` within one
//! interval, and its port stops accepting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;

use std::time::{Duration, Instant};

use e2e_run_support::{EXTERNAL_ID, Options, Stack, admin, both};
use iamwire_testkit::moto::{AwsSetup, DATABASE_ACCOUNT, proxy_trusted_role, user};
use serde_json::{Value, json};

const ADMIN: &str = "ops";
const INTERVAL: Duration = Duration::from_secs(3);
/// Much longer than a discovery run should take on a loaded machine; only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(90);

fn db_ls(stack: &Stack) -> Vec<Value> {
    let out = admin::cli(&stack.proxy, stack.dir(), ADMIN, &["db", "ls", "--json"]);
    assert!(out.status.success(), "{}", both(&out));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn find<'a>(list: &'a [Value], name: &str) -> Option<&'a Value> {
    list.iter().find(|d| d["name"] == name)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
    start.elapsed()
}

#[test]
fn discovered_databases_are_served_follow_aws_and_a_broken_matcher_stops_no_other() {
    let mut stack = Stack::with(Options {
        proxy_extra: format!("  admin:\n    listen: 127.0.0.1:0\n    identities: [{ADMIN}]"),
        ..Options::default()
    });
    stack.issue_client(ADMIN);
    let created = stack
        .moto
        .setup(&AwsSetup {
            users: vec![user(DATABASE_ACCOUNT, "db-admin", &["rds:*", "ec2:*"])],
            roles: vec![proxy_trusted_role(
                "discovery",
                Some(EXTERNAL_ID),
                &[
                    "rds:DescribeDBInstances",
                    "rds:DescribeDBClusters",
                    "rds:ListTagsForResource",
                ],
            )],
        })
        .unwrap();
    let dba = &created.users["db-admin"];
    let role = &created.roles["discovery"].arn;
    let moto = &stack.moto;
    moto.rds_instance(
        dba,
        "us-east-1",
        "orders",
        &[("env", "prod"), ("team", "payments")],
        true,
    )
    .unwrap();
    moto.rds_instance(dba, "eu-west-1", "ledger", &[("env", "prod")], true)
        .unwrap();
    moto.rds_instance(dba, "eu-west-1", "scratch", &[("env", "dev")], true)
        .unwrap();

    let first = 20_000 + u16::try_from(std::process::id() % 300).unwrap() * 40;
    let text = std::fs::read_to_string(stack.config_path()).unwrap();
    let text = format!(
        "{text}  aws:\n  - types: [rds]\n    regions: [us-east-1, eu-west-1]\n    tags: {{env: prod}}\n    assume_role_arn: \"{role}\"\n    external_id: \"{EXTERNAL_ID}\"\n  - types: [rds]\n    regions: [us-east-1]\n    assume_role_arn: \"arn:aws:iam::{DATABASE_ACCOUNT}:role/not-there\"\n    external_id: \"{EXTERNAL_ID}\"\ncatalog:\n  discovery_interval: {}s\n  listen: 127.0.0.1:{first}-{}\n  ca_cert_file: db-ca.crt\n",
        INTERVAL.as_secs(),
        first + 39
    );
    std::fs::write(stack.config_path(), text).unwrap();
    stack.restart_proxy();

    let orders = format!("orders-rds-us-east-1-{DATABASE_ACCOUNT}");
    let ledger = format!("ledger-rds-eu-west-1-{DATABASE_ACCOUNT}");
    wait_for("both instances in db ls", || {
        let list = db_ls(&stack);
        find(&list, &orders).is_some() && find(&list, &ledger).is_some()
    });
    let list = db_ls(&stack);
    assert!(
        !list
            .iter()
            .any(|d| d["name"].as_str().unwrap().starts_with("scratch")),
        "env=dev is filtered out: {list:?}"
    );
    let entry = find(&list, &orders).unwrap();
    assert_eq!(entry["origin"], "discovered", "{entry}");
    assert_eq!(entry["protocol"], "postgres", "{entry}");
    assert_eq!(entry["account"], DATABASE_ACCOUNT, "{entry}");
    assert_eq!(entry["labels"]["team"], "payments", "{entry}");
    assert_eq!(entry["labels"]["region"], "us-east-1", "{entry}");
    let listen = entry["listen"].as_str().unwrap().to_owned();
    let port: u16 = listen.rsplit(':').next().unwrap().parse().unwrap();
    assert!((first..first + 40).contains(&port), "{listen}");
    assert_eq!(stack.proxy.wait_listen(&orders), listen);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    // The broken matcher: on /readyz and in the logs; the replica is ready, no external ID shown.
    wait_for("the broken matcher on /readyz", || {
        let ready = admin::get(&stack.proxy, stack.dir(), "/readyz", None);
        ready["body"]
            .as_str()
            .unwrap()
            .contains("db_service.aws[1]")
    });
    let ready = admin::get(&stack.proxy, stack.dir(), "/readyz", None);
    let body = ready["body"].as_str().unwrap();
    assert_eq!(ready["status"], 200, "{body}");
    assert!(body.contains("not-there"), "{body}");
    assert!(!body.contains(EXTERNAL_ID), "{body}");
    let logs = stack.proxy.wait_stderr("not-there");
    assert!(logs.contains("not-there"), "{logs}");
    assert!(!logs.contains(EXTERNAL_ID));

    // Deleted in AWS: gone from db ls within one interval (plus a run), and no longer accepting.
    stack
        .moto
        .call(
            dba,
            "us-east-1",
            "rds",
            "delete_db_instance",
            &json!({"DBInstanceIdentifier": "orders", "SkipFinalSnapshot": true}),
        )
        .unwrap();
    let took = wait_for("orders to leave db ls", || {
        find(&db_ls(&stack), &orders).is_none()
    });
    eprintln!("a deleted instance left db ls after {took:?}");
    assert!(took < INTERVAL + Duration::from_secs(30), "{took:?}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(find(&db_ls(&stack), &ledger).is_some());
}
