//! The local demo stack: an AWS emulator with a cross-account role guarded by an external id, and an
//! "RDS-like" PostgreSQL whose IAM user logs in with RDS IAM tokens that botocore checks.
//!
//! Run it with `scripts/demo.sh`. It prints a config for the proxy and a psql command that works when pasted;
//! with `--check` it runs that command itself and exits (CI does this).

use std::io::BufRead;
use std::process::{Command, ExitCode};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use iamwire_testkit::moto::Moto;
use iamwire_testkit::postgres::{self, PgOptions, Postgres};
use iamwire_testkit::{TestCa, TokenPolicy};

const REGION: &str = "us-west-2";
const EXTERNAL_ID: &str = "demo-external-id";

fn main() -> ExitCode {
    match run(std::env::args().any(|a| a == "--check")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(check: bool) -> Result<(), Box<dyn std::error::Error>> {
    eprintln!("demo: starting the AWS emulator and an RDS-like PostgreSQL ...");
    let ca = TestCa::new()?;
    let moto = Moto::start()?;
    let tokens = TokenPolicy {
        moto_url: Some(moto.endpoint()),
        region: Some(REGION.into()),
        ..Default::default()
    };
    let pg = Postgres::start(
        &ca,
        PgOptions {
            tokens,
            ..PgOptions::default()
        },
    )?;
    let cross = moto.cross_account("iamwire-demo-db", EXTERNAL_ID)?;

    let config = pg.dir().join("iamwire.yaml");
    std::fs::write(
        &config,
        format!(
            "db_service:\n  enabled: \"yes\"\n  databases:\n  - name: demo-postgres\n    protocol: postgres\n    \
             uri: \"localhost:{port}\"\n    tls:\n      mode: verify-full\n      ca_cert_file: \"{ca}\"\n    aws:\n      \
             region: {REGION}\n      assume_role_arn: \"{role}\"\n      external_id: \"{EXTERNAL_ID}\"\n",
            port = pg.port(),
            ca = pg.tls().ca.display(),
            role = cross.role_arn,
        ),
    )?;
    // The iamwire binary sits next to this example's directory (target/<profile>/examples/demo).
    let iamwire = std::env::current_exe()?
        .parent()
        .and_then(|examples| examples.parent())
        .map(|profile| profile.join("iamwire"))
        .ok_or("cannot locate the iamwire binary")?;
    let checked = Command::new(iamwire)
        .arg("check-config")
        .arg("--config")
        .arg(&config)
        .output()?;
    if !checked.status.success() {
        return Err(format!(
            "iamwire check-config: {}",
            String::from_utf8_lossy(&checked.stderr)
        )
        .into());
    }

    // What the proxy will do for each client: assume the database account's role with the external id, then
    // mint an RDS IAM token with iamwire-aws. (The role is assumed with boto3 here; iamwire's own STS provider
    // replaces this step.)
    let temp = moto
        .assume_role(&cross.proxy, &cross.role_arn, Some(EXTERNAL_ID))?
        .map_err(|e| format!("AssumeRole refused: {} {}", e.code, e.message))?;
    let creds = Credentials::new(
        temp.access_key_id,
        temp.secret_access_key,
        temp.session_token,
        None,
        "demo",
    );
    let token = iamwire_aws::token::rds_auth_token(
        &creds,
        "localhost",
        pg.port(),
        postgres::IAM_USER,
        REGION,
        SystemTime::now(),
    )?;
    let dsn = postgres::verify_full_dsn(&pg, postgres::IAM_USER, "app");
    let psql = format!(
        "PGPASSWORD='{}' psql \"{dsn}\" -c 'SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'",
        token.as_str()
    );

    println!("iamwire demo stack is up:");
    println!(
        "  AWS emulator (moto):   {}  (account {} trusts {} via external id)",
        moto.endpoint(),
        iamwire_testkit::moto::DATABASE_ACCOUNT,
        iamwire_testkit::moto::PROXY_ACCOUNT
    );
    println!("  cross-account role:    {}", cross.role_arn);
    println!(
        "  RDS-like PostgreSQL:   localhost:{}  (IAM user '{}', tokens checked by botocore via PAM)",
        pg.port(),
        postgres::IAM_USER
    );
    println!(
        "  proxy config:          {}  (validated by `iamwire check-config`)",
        config.display()
    );
    println!();
    println!("Log in with an RDS IAM token minted by iamwire-aws (valid 15 minutes):");
    println!("{psql}");
    println!();
    if check {
        let out = Command::new("sh").arg("-c").arg(&psql).output()?;
        let answer = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !answer.contains(postgres::IAM_USER) {
            return Err(format!(
                "the printed psql command failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        println!(
            "check: the printed command logged in as {}",
            postgres::IAM_USER
        );
        return Ok(());
    }
    println!("Press Enter (or Ctrl-C) to stop and delete everything.");
    let _ = std::io::stdin().lock().lines().next();
    Ok(())
}
