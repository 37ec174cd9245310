//! `iamwire`: the bundled demo proxy's command line.
//!
//! It serves databases (`run`), checks configuration (a Teleport-style `db_service` config file or the
//! demo proxy's full file with its `proxy` section, dynamic `kind: db` resources), creates certificates
//! for mTLS (`certs init`, `certs client`), and helps debug AWS access (`aws whoami`,
//! `token rds|elasticache|memorydb`).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin;
mod admin_cmd;
mod aws_cmd;
mod aws_messages;
mod catalog;
mod certs;
mod check;
mod config_messages;
mod db_cmd;
mod doctor;
mod envfile;
mod iam_policy;
mod keys_cmd;
mod logging;
mod proxy_config;
mod run;
mod servers;

/// Reach AWS databases in this and other accounts without AWS keys or database passwords.
#[derive(Debug, Parser)]
#[command(name = "iamwire", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the databases of a proxy config file (`proxy.listeners`) until SIGTERM or Ctrl-C, then
    /// drain; SIGHUP reloads the file. Logs go to stderr; RUST_LOG filters them (default `info`).
    ///
    /// Every scalar setting of the file is also a flag and an IAMWIRE_* variable. Precedence: flag, then
    /// variable, then the file, then the default (docs/config.md).
    Run {
        /// The YAML config file.
        #[arg(long, short, env = "IAMWIRE_CONFIG")]
        config: PathBuf,
        /// How log lines are written.
        #[arg(long, value_enum, default_value_t = logging::LogFormat::Text, env = "IAMWIRE_LOG_FORMAT")]
        log_format: logging::LogFormat,
        /// Check every database as `iamwire doctor` does, then exit (non-zero if a check failed).
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        overrides: run::Overrides,
    },
    /// Parse and validate a config file (`db_service` only, or the demo proxy's full file with `proxy`)
    /// and list what it configures.
    CheckConfig {
        /// The YAML config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Parse and validate dynamic `kind: db` resources (YAML files) as the proxy would on creation.
    CheckResource {
        /// One or more resource files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check each database step by step (AWS identity, each AssumeRole hop, token, DNS, TCP, TLS, login)
    /// and say how to fix the first step that fails.
    Doctor(doctor::DoctorArgs),
    /// AWS helpers for debugging a cross-account setup.
    Aws {
        #[command(subcommand)]
        command: AwsCommand,
    },
    /// Print a database auth token minted with the credentials at the end of the role chain.
    Token {
        #[command(subcommand)]
        kind: aws_cmd::TokenKind,
    },
    /// Print the IAM policies both sides of the cross-account trust need for a config (or check them).
    IamPolicy(iam_policy::IamPolicyArgs),
    /// Access keys for HTTP databases (DynamoDB, OpenSearch): a master key, and a key per identity and
    /// role for the AWS CLI / SDKs to sign with.
    Keys {
        #[command(subcommand)]
        command: keys_cmd::KeysCommand,
    },
    /// Live sessions of a running proxy (through its admin API, `proxy.admin`).
    Sessions {
        #[command(subcommand)]
        command: admin_cmd::SessionsCommand,
    },
    /// Databases of a running proxy: list, pause and resume new sessions (through its admin API).
    Db {
        #[command(subcommand)]
        command: admin_cmd::DbCommand,
    },
    /// Create a local CA, a server certificate for the proxy, and client certificates (mTLS).
    Certs {
        #[command(subcommand)]
        command: certs::CertsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AwsCommand {
    /// Print the caller identity after each AssumeRole hop (like `aws sts get-caller-identity`), or the
    /// exact hop that failed and the AWS error.
    Whoami {
        #[command(flatten)]
        aws: aws_cmd::AwsArgs,
    },
}

/// Run a future on a small runtime (the AWS SDK needs tokio).
fn block_on<T>(future: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(future)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config, check, .. } if check => doctor::check_before_run(&config),
        Command::Run {
            config,
            log_format,
            overrides,
            ..
        } => run::run(&config, log_format, overrides).map(|()| String::new()),
        Command::Doctor(args) => doctor::run(&args),
        Command::CheckConfig { config } => check::config(&config),
        Command::CheckResource { files } => check::resources(&files),
        Command::Aws {
            command: AwsCommand::Whoami { aws },
        } => block_on(aws_cmd::whoami(&aws)),
        Command::Token { kind } => block_on(aws_cmd::token(&kind)),
        Command::Certs { command } => certs::run(&command),
        Command::IamPolicy(args) => block_on(iam_policy::run(&args)),
        Command::Keys { command } => keys_cmd::run(&command),
        Command::Sessions { command } => block_on(admin_cmd::sessions(&command)),
        Command::Db { command } => block_on(admin_cmd::db(&command)),
    };
    match result {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("iamwire: {message}");
            ExitCode::FAILURE
        }
    }
}
