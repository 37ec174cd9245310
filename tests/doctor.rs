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

use e2e_run_support::{EXTERNAL_ID, Served, both, operator_dir};
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

/// The first failed step: its line and its fix; every step before it passed.
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
            .all(|l| l.trim_start().starts_with('✓')),
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
