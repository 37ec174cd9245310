//! The local demo: an AWS emulator with a cross-account role guarded by an external ID, an "RDS-like"
//! PostgreSQL whose IAM user logs in only with RDS IAM tokens (checked by botocore through PAM), and
//! `iamwire run` in front of it with mTLS client certificates issued by `iamwire certs`.
//!
//! Run it with `scripts/demo.sh`. It prints a psql command that works when pasted (no password: the client
//! certificate proves who you are, the proxy mints the token); with `--check` it runs that command and exits.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use iamwire_testkit::moto::{DATABASE_ACCOUNT, Moto, PROXY_ACCOUNT};
use iamwire_testkit::postgres::{self, PgOptions, Postgres};
use iamwire_testkit::{TestCa, TokenPolicy};

const REGION: &str = "us-west-2";
const EXTERNAL_ID: &str = "demo-external-id";

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    match run(std::env::args().any(|a| a == "--check")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The `iamwire` binary next to this example (target/<profile>/examples/demo → target/<profile>/iamwire).
fn iamwire() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe()?;
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate the iamwire binary")?;
    Ok(profile.join("iamwire"))
}

fn iamwire_ok(args: &[&str]) -> Result<(), Error> {
    let out = Command::new(iamwire()?).args(args).output()?;
    if !out.status.success() {
        return Err(format!(
            "iamwire {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// Kills `iamwire run` when the demo ends.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(check: bool) -> Result<(), Error> {
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

    // Everything the proxy needs lives in one directory, as an operator would lay it out.
    let dir = tempfile::Builder::new().prefix("iamwire-demo-").tempdir()?;
    let d = dir.path().to_str().ok_or("temp dir is not UTF-8")?;
    iamwire_ok(&["certs", "init", "--dir", d])?;
    iamwire_ok(&["certs", "client", "--dir", d, "--name", "alice"])?;
    std::fs::copy(&pg.tls().ca, dir.path().join("db-ca.crt"))?;
    std::fs::write(
        dir.path().join("aws.env"),
        format!(
            "# The proxy's own AWS identity (account {PROXY_ACCOUNT}); like /etc/default/teleport\n\
             AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nAWS_ENDPOINT_URL={}\n",
            cross.proxy.access_key_id,
            cross.proxy.secret_access_key,
            moto.endpoint()
        ),
    )?;
    let config = dir.path().join("iamwire.yaml");
    std::fs::write(
        &config,
        format!(
            r#"proxy:
  tls:
    cert_file: server.crt
    key_file: server.key
    client_ca_file: ca.crt
  listeners:
    - database: demo-postgres
      listen: 127.0.0.1:0
  identities:
    - name: alice
      db_labels: {{"*": "*"}}
      db_users: ["{user}"]
      db_names: ["*"]
aws:
  region: {REGION}
  env_file: aws.env
db_service:
  enabled: "yes"
  databases:
  - name: demo-postgres
    protocol: postgres
    uri: "localhost:{port}"
    tls:
      mode: verify-full
      ca_cert_file: db-ca.crt
    aws:
      region: {REGION}
      assume_role_arn: "{role}"
      external_id: "{EXTERNAL_ID}"
"#,
            user = postgres::IAM_USER,
            port = pg.port(),
            role = cross.role_arn,
        ),
    )?;
    iamwire_ok(&["check-config", "--config", config.to_str().ok_or("path")?])?;

    let mut child = Command::new(iamwire()?)
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let proxy = Proxy(child);
    let mut lines = BufReader::new(stdout).lines();
    let listen = loop {
        let line = lines
            .next()
            .ok_or("iamwire run exited before listening")??;
        eprintln!("{line}");
        if let Some(addr) = line
            .split(" on ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
        {
            break addr.to_string();
        }
    };
    let port = listen.rsplit(':').next().ok_or("no port")?;
    let psql = format!(
        "psql \"host=localhost port={port} user={user} dbname=app sslmode=verify-full sslrootcert={d}/ca.crt \
         sslcert={d}/alice.crt sslkey={d}/alice.key\" -c 'SELECT current_user'",
        user = postgres::IAM_USER
    );

    println!("iamwire demo is up:");
    println!(
        "  AWS emulator (moto):  {}  (role in {DATABASE_ACCOUNT} trusts {PROXY_ACCOUNT} with an external ID)",
        moto.endpoint()
    );
    println!(
        "  RDS-like PostgreSQL:  localhost:{}  (IAM user '{}': RDS IAM tokens only)",
        pg.port(),
        postgres::IAM_USER
    );
    println!(
        "  iamwire run:          {listen}  (config {})",
        config.display()
    );
    println!();
    println!(
        "Connect as alice (client certificate; the proxy assumes the role and mints the token):"
    );
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
            "check: the printed command logged in through iamwire as {}",
            postgres::IAM_USER
        );
        drop(proxy);
        return Ok(());
    }
    println!("Press Enter (or Ctrl-C, or send SIGTERM) to stop and delete everything.");
    println!("{}", wait_for_stop());
    drop(proxy);
    Ok(())
}

/// Block until Enter, SIGINT or SIGTERM; what stopped the demo. Handling the signals (rather than dying
/// of them) lets every drop run: the proxy, the database and the emulator stop, and the PAM service file
/// in /etc/pam.d and the temporary directories are removed.
fn wait_for_stop() -> &'static str {
    let (tx, rx) = std::sync::mpsc::channel();
    let enter = tx.clone();
    std::thread::spawn(move || {
        let _ = std::io::stdin().lock().lines().next();
        let _ = enter.send("stopping (Enter)");
    });
    std::thread::spawn(move || {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        let stopped = rt.block_on(async {
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return None;
            };
            tokio::select! {
                _ = term.recv() => Some("stopping (SIGTERM)"),
                _ = int.recv() => Some("stopping (SIGINT)"),
            }
        });
        if let Some(why) = stopped {
            let _ = tx.send(why);
        }
    });
    rx.recv().unwrap_or("stopping")
}
