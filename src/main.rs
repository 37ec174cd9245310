//! `iamwire`: the bundled demo proxy's command line.
//!
//! Today it checks configuration: a Teleport-style `db_service` config file, and dynamic `kind: db` resources.
//! Serving connections comes with the protocol crates.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;

/// Reach AWS databases in this and other accounts without AWS keys or database passwords.
#[derive(Debug, Parser)]
#[command(name = "iamwire", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse and validate a proxy config file (its `db_service` section) and list what it configures.
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::CheckConfig { config } => check::config(&config),
        Command::CheckResource { files } => check::resources(&files),
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
