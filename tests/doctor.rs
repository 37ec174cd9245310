//! `iamwire doctor` and `iamwire run --check` through the real binary against the test rig: the AWS emulator
//! (moto, signature-checking, with a cross-account role that requires an external ID) and a real
//! PostgreSQL that takes only RDS IAM tokens for `iam_user` (checked by a PAM verifier against moto).
//!
//! Every step is the real thing: STS calls to moto, DNS, TCP, TLS against the configured CA, and a login
//! with the minted token. Each broken setup must stop at the step it breaks, with that step's fix.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod e2e_run_support;

use std::path::Path;
use std::process::{Command, Output};

use e2e_run_support::{EXTERNAL_ID, Served, both, operator_dir, operator_dir_for, user_role};
use iamwire_testkit::TestCa;
use iamwire_testkit::TokenPolicy;
use iamwire_testkit::moto::{CrossAccount, Moto};
use iamwire_testkit::postgres::{self, PgOptions, Postgres};

/// The emulator, the database and the role, without `iamwire run`.
struct Rig {
    pg: Postgres,
    cross: CrossAccount,
    moto: Moto,
}

impl Rig {
    fn start() -> Self {
        let ca = TestCa::new().unwrap();
        let moto = Moto::start().unwrap();
        let pg = Postgres::start(
            &ca,
            PgOptions {
                tokens: TokenPolicy {
                    moto_url: Some(moto.endpoint()),
                    region: Some(e2e_run_support::REGION.into()),
                    ..Default::default()
                },
                ..PgOptions::default()
            },
        )
        .unwrap();
        let cross = moto
            .cross_account("iamwire-doctor-db", EXTERNAL_ID)
            .unwrap();
        Self { pg, cross, moto }
    }

    /// The operator's directory and config, giving `external_id` for the role.
    fn operator(&self, external_id: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let served = Served {
            protocol: "postgres",
            port: self.pg.port(),
            ca: &self.pg.tls().ca,
            user: postgres::IAM_USER,
            db_names: "\"*\"",
        };
        operator_dir(&served, &self.cross, &self.moto.endpoint(), external_id, "")
    }
}

/// `iamwire <args>` with only the config's env file for AWS (no ~/.aws, no IMDS).
fn iamwire(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iamwire"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("run iamwire")
}

fn doctor(config: &Path, extra: &[&str]) -> Output {
    let config = config.to_str().unwrap();
    let mut args = vec!["doctor", "--config", config];
    args.extend_from_slice(extra);
    iamwire(Path::new(config).parent().unwrap(), &args)
}

/// The step lines (`✓ name: ...`, `✗ name: ...`) of a run.
fn steps(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('✓') || l.starts_with('✗') || l.starts_with('-'))
        .map(str::to_owned)
        .collect()
}

/// The first failed step: its line and its fix; every step before it passed (or did not apply).
fn first_failure(out: &Output) -> (String, String) {
    // Shown with --nocapture: what an operator sees.
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(!out.status.success(), "doctor must fail:\n{}", both(out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_start().starts_with('✗'))
        .unwrap_or_else(|| panic!("no ✗ line:\n{}", both(out)));
    assert!(
        lines[..at]
            .iter()
            .filter(|l| l.starts_with("  "))
            .all(|l| l.trim_start().starts_with('✓') || l.trim_start().starts_with("- ")),
        "a step before the first failure did not pass:\n{}",
        both(out)
    );
    let fix = lines
        .get(at + 1)
        .and_then(|l| l.trim_start().strip_prefix("fix: "))
        .unwrap_or_else(|| panic!("no fix after the ✗ line:\n{}", both(out)));
    // Nothing after the first failure is tried.
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.trim_start().starts_with('✗'))
            .count(),
        1,
        "{}",
        both(out)
    );
    (lines[at].trim().to_owned(), fix.to_owned())
}

const ALL_STEPS: [&str; 8] = [
    "✓ config:",
    "✓ AWS identity:",
    "✓ assume role",
    "✓ token:",
    "✓ DNS:",
    "✓ TCP:",
    "✓ TLS:",
    "✓ login:",
];

#[test]
fn doctor_passes_every_step_for_a_good_database_and_names_the_first_broken_one() {
    let rig = Rig::start();
    let (dir, config) = rig.operator(EXTERNAL_ID);

    // All ✓, by `iamwire doctor` and by `iamwire run --check`, which exits instead of serving.
    for out in [
        doctor(&config, &[]),
        iamwire(
            dir.path(),
            &["run", "--check", "--config", config.to_str().unwrap()],
        ),
    ] {
        assert!(out.status.success(), "{}", both(&out));
        println!("{}", String::from_utf8_lossy(&out.stdout));
        let steps = steps(&out);
        assert_eq!(steps.len(), ALL_STEPS.len(), "{}", both(&out));
        for (step, want) in steps.iter().zip(ALL_STEPS) {
            assert!(
                step.starts_with(want),
                "{step:?} is not {want:?}:\n{}",
                both(&out)
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&rig.cross.role_arn), "{text}");
        assert!(text.contains("logged in as iam_user"), "{text}");
        assert!(
            !text.contains(EXTERNAL_ID),
            "the external ID is never printed:\n{text}"
        );
    }
    // The database's connection log shows the doctor's login.
    assert!(rig.pg.log().contains("iam_user"), "{}", rig.pg.log());

    // A database user the token is refused for (it logs in with a password, not IAM): the login step,
    // with the GRANT and the rds-db:connect permission to add.
    let (line, fix) = first_failure(&doctor(&config, &["--db-user", "scram_user"]));
    assert!(line.starts_with("✗ login:"), "{line}");
    assert!(line.contains("28P01"), "{line}");
    assert!(fix.contains("GRANT rds_iam TO \"scram_user\""), "{fix}");
    assert!(fix.contains("rds-db:connect"), "{fix}");

    // The wrong CA: the TLS step, pointing at tls.ca_cert_file.
    std::fs::copy(dir.path().join("ca.crt"), dir.path().join("db-ca.crt")).unwrap();
    let (line, fix) = first_failure(&doctor(&config, &[]));
    assert!(line.starts_with("✗ TLS:"), "{line}");
    assert!(fix.contains("tls.ca_cert_file (db-ca.crt)"), "{fix}");

    // An unreachable database: the TCP step, naming the port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let yaml = std::fs::read_to_string(&config).unwrap();
    let yaml = yaml.replace(
        &format!("localhost:{}", rig.pg.port()),
        &format!("localhost:{port}"),
    );
    std::fs::write(&config, yaml).unwrap();
    let (line, fix) = first_failure(&doctor(&config, &[]));
    assert!(line.starts_with("✗ TCP:"), "{line}");
    assert!(fix.contains(&format!("port {port}")), "{fix}");

    // `run --check` fails the same way, and exits instead of serving.
    let out = iamwire(
        dir.path(),
        &["run", "--check", "--config", config.to_str().unwrap()],
    );
    assert_eq!(first_failure(&out).0, line);
}

#[test]
fn doctor_stops_at_the_hop_a_wrong_external_id_breaks_and_gives_the_trust_policy_fix() {
    let rig = Rig::start();
    let (_dir, config) = rig.operator("ext-wrong-value");
    let out = doctor(&config, &[]);
    let (line, fix) = first_failure(&out);
    assert!(
        line.starts_with(&format!("✗ assume role {}", rig.cross.role_arn)),
        "{line}"
    );
    assert!(line.contains("AccessDenied"), "{line}");
    assert!(fix.contains("sts:ExternalId"), "{fix}");
    assert!(
        fix.contains(&rig.cross.proxy.arn),
        "the fix names the caller: {fix}"
    );
    let text = both(&out);
    assert!(!text.contains("ext-wrong-value"), "{text}");
    assert!(!text.contains("✓ token"), "{text}");
}

#[test]
fn doctor_logs_in_to_mariadb_with_the_token_and_names_a_refused_user() {
    use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let db = MariaDb::start(
        &ca,
        MariaDbOptions {
            tokens: TokenPolicy {
                moto_url: Some(moto.endpoint()),
                region: Some(e2e_run_support::REGION.into()),
                ..TokenPolicy::default()
            },
        },
    )
    .unwrap();
    let cross = moto
        .cross_account("iamwire-doctor-my", EXTERNAL_ID)
        .unwrap();
    let served = Served {
        protocol: "mariadb",
        port: db.port(),
        ca: &db.tls().ca,
        user: mariadb::IAM_USER,
        db_names: "app",
    };
    let (_dir, config) = operator_dir(&served, &cross, &moto.endpoint(), EXTERNAL_ID, "");

    let out = doctor(&config, &[]);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{}", both(&out));
    let steps = steps(&out);
    assert_eq!(steps.len(), ALL_STEPS.len(), "{}", both(&out));
    for (step, want) in steps.iter().zip(ALL_STEPS) {
        assert!(
            step.starts_with(want),
            "{step:?} is not {want:?}:\n{}",
            both(&out)
        );
    }

    // A password user: the token is refused with ER_ACCESS_DENIED_ERROR, after TLS passed.
    let out = doctor(&config, &["--db-user", mariadb::NATIVE_USER.0]);
    let (line, fix) = first_failure(&out);
    assert!(line.starts_with("✗ login:"), "{line}");
    assert!(line.contains("ERROR 1045"), "{line}");
    assert!(fix.contains("rds-db:connect"), "{fix}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("✓ TLS:"));
}

/// Neither the proxy's AWS secret key nor the external ID is in anything the doctor printed.
fn no_secrets(out: &Output, cross: &CrossAccount) {
    let text = both(out);
    assert!(!text.contains(&cross.proxy.secret_access_key), "{text}");
    assert!(!text.contains(EXTERNAL_ID), "{text}");
}

/// Every step passed and the login line says `login`.
fn all_passed(out: &Output, token_checked: bool, login: &str) {
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{}", both(out));
    let steps = steps(out);
    let token = if token_checked {
        "✓ token:"
    } else {
        "- token:"
    };
    let want: Vec<&str> = ALL_STEPS
        .iter()
        .map(|s| if *s == "✓ token:" { token } else { *s })
        .collect();
    // The database's role, then (for a database-user role) the role itself: one more hop.
    let hops = steps
        .iter()
        .filter(|s| s.starts_with("✓ assume role"))
        .count();
    assert!(hops >= 1, "{}", both(out));
    let steps: Vec<&String> = steps
        .iter()
        .enumerate()
        .filter(|(i, s)| !(s.starts_with("✓ assume role") && *i > 2))
        .map(|(_, s)| s)
        .collect();
    assert_eq!(steps.len(), want.len(), "{}", both(out));
    for (step, want) in steps.iter().zip(&want) {
        assert!(
            step.starts_with(want),
            "{step:?} is not {want:?}:\n{}",
            both(out)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("✓ login:")).unwrap();
    assert!(line.contains(login), "{line}");
    assert!(
        !text.contains(EXTERNAL_ID),
        "the external ID is never printed:\n{text}"
    );
}

#[test]
fn doctor_logs_in_to_an_elasticache_like_redis_and_names_a_token_for_another_cache() {
    use iamwire_testkit::redis::{CacheTokenPolicy, IamStandIn, Redis, create_cache_user};
    let region = e2e_run_support::REGION;
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let redis = Redis::start(&ca).unwrap();
    create_cache_user(&moto, "elasticache", region, "app", true).unwrap();
    // The stand-in checks each token with botocore, as ElastiCache does, for this cache only.
    let policy = CacheTokenPolicy::elasticache("doctor-cache", region, moto.endpoint());
    let standin = IamStandIn::start(&redis, &policy).unwrap();
    let cross = moto
        .cross_account("iamwire-doctor-redis", EXTERNAL_ID)
        .unwrap();
    let served = Served {
        protocol: "redis",
        port: standin.port(),
        ca: &redis.tls().ca,
        user: "app",
        db_names: "\"*\"",
    };
    let uri = format!("localhost:{}", standin.port());
    let cache = |group: &str| format!("      elasticache: {{replication_group_id: {group}}}\n");
    let (_dir, config) = operator_dir_for(
        &served,
        &cross,
        &moto.endpoint(),
        &uri,
        &cache("doctor-cache"),
    );
    let out = doctor(&config, &[]);
    all_passed(&out, true, "PING answered PONG");
    no_secrets(&out, &cross);
    assert!(
        standin.decisions().iter().any(|d| d.contains("app")),
        "{:?}",
        standin.decisions()
    );

    // A token for another replication group: the cache refuses it at the login step.
    let (_dir, config) = operator_dir_for(
        &served,
        &cross,
        &moto.endpoint(),
        &uri,
        &cache("other-cache"),
    );
    let out = doctor(&config, &[]);
    no_secrets(&out, &cross);
    let (line, fix) = first_failure(&out);
    assert!(line.starts_with("✗ login:"), "{line}");
    assert!(line.contains("WRONGPASS"), "{line}");
    assert!(fix.contains("elasticache:Connect"), "{fix}");
}

#[test]
fn doctor_logs_in_to_keyspaces_with_sigv4_and_names_a_signature_for_another_region() {
    use iamwire_testkit::keyspaces::KeyspacesStandIn;
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let cross = moto
        .cross_account("iamwire-doctor-ks", EXTERNAL_ID)
        .unwrap();
    user_role(&moto, &cross, "ks-app", &["cassandra:*"]);
    // The stand-in checks each SigV4 answer against AWS's own cassandra-sigv4 plugin.
    let standin = KeyspacesStandIn::start(&ca, &moto, e2e_run_support::REGION).unwrap();
    let served = Served {
        protocol: "cassandra",
        port: standin.port(),
        ca: &standin.tls().ca,
        user: "ks-app",
        db_names: "\"*\"",
    };
    let uri = format!("localhost:{}", standin.port());
    let (_dir, config) = operator_dir_for(&served, &cross, &moto.endpoint(), &uri, "");
    let out = doctor(&config, &[]);
    all_passed(&out, true, "SigV4 challenge was accepted");
    no_secrets(&out, &cross);
    let auths = standin.auths().unwrap();
    assert!(auths.iter().any(|a| a.ok), "{auths:?}");

    // Signed for another region than the endpoint's: Keyspaces' bad-credentials error at the login.
    let yaml = std::fs::read_to_string(&config).unwrap();
    let elsewhere = yaml.replace(
        &format!("    aws:\n      region: {}", e2e_run_support::REGION),
        "    aws:\n      region: eu-west-3",
    );
    assert_ne!(yaml, elsewhere);
    std::fs::write(&config, elsewhere).unwrap();
    let out = doctor(&config, &[]);
    no_secrets(&out, &cross);
    let (line, fix) = first_failure(&out);
    assert!(line.starts_with("✗ login:"), "{line}");
    assert!(line.contains("0x0100"), "{line}");
    assert!(fix.contains("region eu-west-3"), "{fix}");
}

#[test]
fn doctor_logs_in_to_documentdb_with_mongodb_aws_and_names_a_role_without_a_user() {
    use iamwire_testkit::documentdb::DocumentDbStandIn;
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let cross = moto
        .cross_account("iamwire-doctor-docdb", EXTERNAL_ID)
        .unwrap();
    let app = user_role(&moto, &cross, "docs-app", &["sts:GetCallerIdentity"]);
    user_role(&moto, &cross, "docs-stranger", &["sts:GetCallerIdentity"]);
    // The stand-in sends the signed GetCallerIdentity to the emulator's STS, as DocumentDB does, and
    // has a $external user for docs-app only.
    let standin = DocumentDbStandIn::start(&ca, &moto, &[&app]).unwrap();
    let served = Served {
        protocol: "mongodb",
        port: standin.port(),
        ca: &standin.tls().ca,
        user: "docs-app",
        db_names: "\"*\"",
    };
    let uri = format!("localhost:{}", standin.port());
    let (_dir, config) = operator_dir_for(&served, &cross, &moto.endpoint(), &uri, "");
    let out = doctor(&config, &[]);
    all_passed(&out, true, "MONGODB-AWS) and ran ping");
    no_secrets(&out, &cross);
    assert!(
        standin.auths().unwrap().iter().any(|a| a.ok),
        "{}",
        standin.log()
    );

    // A role the database has no user for: authentication failed (18) at the login step.
    let out = doctor(&config, &["--db-user", "docs-stranger"]);
    no_secrets(&out, &cross);
    let (line, fix) = first_failure(&out);
    assert!(line.starts_with("✗ login:"), "{line}");
    assert!(line.contains("code 18"), "{line}");
    assert!(fix.contains("createUser"), "{fix}");
}

/// The emulator over TLS (DynamoDB, and the OpenSearch stand-in beside it), with its CA.
fn tls_moto() -> (Moto, TestCa) {
    let ca = TestCa::new().unwrap();
    let server = ca.server(iamwire_testkit::LOCAL_NAMES).unwrap();
    let moto = Moto::start_with_tls(&server.cert_pem, &server.key_pem).unwrap();
    (moto, ca)
}

#[test]
fn doctor_signs_a_dynamodb_list_tables_as_the_role_and_names_a_role_without_the_permission() {
    let (moto, ca) = tls_moto();
    let cross = moto
        .cross_account("iamwire-doctor-ddb", EXTERNAL_ID)
        .unwrap();
    user_role(&moto, &cross, "ddb-app", &["dynamodb:*"]);
    user_role(&moto, &cross, "ddb-none", &["s3:GetObject"]);
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca.cert_pem()).unwrap();
    let endpoint = moto.tls_endpoint().unwrap();
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let served = Served {
        protocol: "dynamodb",
        port,
        ca: ca_file.path(),
        user: "ddb-app",
        db_names: "\"*\"",
    };
    let (_dir, config) = operator_dir_for(&served, &cross, &moto.endpoint(), &endpoint, "");
    let out = doctor(&config, &[]);
    all_passed(
        &out,
        false,
        "ListTables signed as role ddb-app answered 200",
    );
    no_secrets(&out, &cross);

    // The emulator checks the signer's policy: a role without dynamodb:ListTables is refused.
    let out = doctor(&config, &["--db-user", "ddb-none"]);
    no_secrets(&out, &cross);
    let (line, fix) = first_failure(&out);
    assert!(line.starts_with("✗ login:"), "{line}");
    assert!(line.contains("400") || line.contains("403"), "{line}");
    assert!(fix.contains("dynamodb:ListTables"), "{fix}");
}

#[test]
fn doctor_signs_an_opensearch_get_as_the_role_and_names_a_role_it_cannot_assume() {
    let (moto, ca) = tls_moto();
    let cross = moto
        .cross_account("iamwire-doctor-os", EXTERNAL_ID)
        .unwrap();
    user_role(&moto, &cross, "search-app", &["es:*"]);
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca.cert_pem()).unwrap();
    let port = moto.opensearch_port().unwrap();
    let served = Served {
        protocol: "opensearch",
        port,
        ca: ca_file.path(),
        user: "search-app",
        db_names: "\"*\"",
    };
    let uri = format!("https://localhost:{port}");
    let (_dir, config) = operator_dir_for(&served, &cross, &moto.endpoint(), &uri, "");
    let out = doctor(&config, &[]);
    all_passed(&out, false, "GET / signed as role search-app answered 200");
    no_secrets(&out, &cross);
    // The stand-in verified the doctor's signature with botocore, as the user role's session.
    let seen = moto.opensearch_requests().unwrap();
    assert!(
        seen.iter().any(|r| r["status"] == 200
            && r["principal"]
                .as_str()
                .unwrap_or("")
                .contains("assumed-role/search-app/")),
        "{seen:?}"
    );

    // A role that does not exist (a typo in --db-user): the hop to it fails, with the trust fix.
    let out = doctor(&config, &["--db-user", "search-typo"]);
    no_secrets(&out, &cross);
    let (line, fix) = first_failure(&out);
    assert!(line.starts_with("✗ assume role"), "{line}");
    assert!(line.contains("search-typo"), "{line}");
    assert!(fix.contains("sts:AssumeRole"), "{fix}");
}
