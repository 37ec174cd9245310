//! The local demo: an AWS emulator with a cross-account role guarded by an external ID, one database per
//! protocol that logs in only with IAM as its AWS service does — an RDS-like PostgreSQL and MariaDB (RDS IAM
//! tokens checked by botocore through PAM), an ElastiCache-like Redis (the IAM stand-in checks ElastiCache
//! tokens with botocore), DynamoDB in the emulator (over TLS, checking SigV4 and the signer's policy), and
//! stand-ins for the services that cannot run here, each checking what the service checks with code we did
//! not write: Keyspaces (CQL; each SigV4 answer against AWS's own cassandra-sigv4 plugin), DocumentDB
//! (MONGODB-AWS; the signed GetCallerIdentity sent to the emulator's STS) and OpenSearch (each signature
//! recomputed with botocore) — and one `iamwire run` in front of them, a listener per database, with mTLS
//! client certificates issued by `iamwire certs` and access keys from `iamwire keys` for the HTTP clients.
//!
//! Run it with `scripts/demo.sh`. It prints a `psql`, a `mariadb`, a `redis-cli`, an `aws dynamodb`, a
//! cassandra-driver, a `mongosh` and a `curl --aws-sigv4` command that work when pasted (no database
//! password: the client certificate or the proxy's access key proves who you are, the proxy mints the token
//! or signs as the role; the AWS-native four write and read back); with `--check` it runs every printed command,
//! fails if any fails, and exits.

#[path = "demo/kind.rs"]
mod kind;
#[path = "demo/stack.rs"]
mod stack;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use iamwire_testkit::moto::{DATABASE_ACCOUNT, PROXY_ACCOUNT};
use kind::Kind;
use stack::Stack;

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

/// Start `iamwire run --config <config>` and wait for a listener line per database
/// (`iamwire: NAME (protocol) on ADDR -> URI`); the proxy and each database's address, in [`Kind::ALL`]
/// order. Later lines are passed on to stderr, so the proxy never blocks on a full pipe.
fn start_proxy(config: &Path) -> Result<(Proxy, Vec<String>), Error> {
    let mut child = Command::new(iamwire()?)
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let proxy = Proxy(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut addrs: Vec<Option<String>> = vec![None; Kind::ALL.len()];
    while addrs.iter().any(Option::is_none) {
        let line = lines
            .next()
            .ok_or("iamwire run exited before listening")??;
        eprintln!("{line}");
        for (kind, addr) in Kind::ALL.iter().zip(addrs.iter_mut()) {
            let Some(rest) = line.strip_prefix(&format!("iamwire: {} (", kind.database())) else {
                continue;
            };
            *addr = rest
                .split(" on ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .map(str::to_owned);
        }
    }
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            eprintln!("{line}");
        }
    });
    Ok((proxy, addrs.into_iter().flatten().collect()))
}

fn run(check: bool) -> Result<(), Error> {
    let started = std::time::Instant::now();
    eprintln!(
        "demo: starting the AWS emulator (with DynamoDB and an OpenSearch stand-in), an RDS-like PostgreSQL \
         and MariaDB, an ElastiCache-like Redis, Keyspaces and DocumentDB stand-ins ..."
    );
    let mut stack = Stack::start()?;
    let config = stack.write_config()?;
    let path = config.to_str().ok_or("config path is not UTF-8")?;
    iamwire_ok(&["check-config", "--config", path])?;
    let (proxy, addrs) = start_proxy(&config)?;

    println!(
        "iamwire demo is up (in {:.1} s):",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  AWS emulator (moto): {}  (role in {DATABASE_ACCOUNT} trusts {PROXY_ACCOUNT} with an external ID)",
        stack.moto.endpoint()
    );
    let mut commands = Vec::new();
    for (kind, listen) in Kind::ALL.iter().zip(&addrs) {
        println!(
            "  {}: iamwire on {listen} -> {}, {}",
            kind.database(),
            stack.uri(*kind)?,
            kind.describe()
        );
        let proxy_port = listen.rsplit(':').next().ok_or("no port")?;
        commands.push((*kind, kind.command(&stack, proxy_port)?));
    }
    println!("  config: {path}");
    println!();
    println!(
        "Connect as alice (client certificate or access key; the proxy assumes the role, mints the token or signs):"
    );
    for (_, command) in &commands {
        println!("{command}");
    }
    println!();
    if check {
        let mut failed = Vec::new();
        for (kind, command) in &commands {
            match run_printed(*kind, command) {
                Ok(()) => println!(
                    "check: the printed {} command worked through iamwire (as {})",
                    kind.database(),
                    kind.user()
                ),
                Err(e) => {
                    println!("check: the printed {} command FAILED: {e}", kind.database());
                    failed.push(kind.database());
                }
            }
        }
        drop(proxy);
        if !failed.is_empty() {
            return Err(format!("printed commands failed: {}", failed.join(", ")).into());
        }
        return Ok(());
    }
    println!("Press Enter (or Ctrl-C, or send SIGTERM) to stop and delete everything.");
    println!("{}", wait_for_stop());
    drop(proxy);
    Ok(())
}

/// Run a printed command as a user would paste it; it must succeed and answer as [`Kind::answer`] says.
fn run_printed(kind: Kind, command: &str) -> Result<(), Error> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .output()?;
    let answer = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !answer.contains(kind.answer()) {
        return Err(format!(
            "{}; stdout: {}; stderr: {}",
            out.status,
            answer.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(())
}

/// Block until Enter, SIGINT or SIGTERM; what stopped the demo. Handling the signals (rather than dying
/// of them) lets every drop run: the proxy, the databases and the emulator stop, and the PAM service files
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
