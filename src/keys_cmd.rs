//! `iamwire keys init|create`: the master key of the HTTP databases' access keys, and a key per identity
//! and role. The master key lives in its own file (mode 0600); the config file lists keys by id, identity
//! and role only, so it reveals no secret. A key's secret is printed once, for the client.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use clap::Subcommand;
use iamwire_core::{Randomness, Secret, SystemRandom};
use iamwire_http::keys::AccessKeys;

use crate::proxy_config::ConfigError;

/// `iamwire keys ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Write a new random master key to FILE (mode 0600; refuses to overwrite). Point
    /// `proxy.access_keys.master_key_file` at it.
    Init {
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Issue an access key for IDENTITY acting as ROLE: prints the line to add under
    /// `proxy.access_keys.keys` and, once, the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY to give the client.
    Create {
        /// The master key file.
        #[arg(long)]
        master_key: PathBuf,
        /// The identity (as `proxy.identities` names it).
        #[arg(long)]
        identity: String,
        /// The database-user role: a role name in the database's account, or a role ARN.
        #[arg(long)]
        role: String,
    },
}

/// Run a `keys` subcommand; the report to print.
pub(crate) fn run(command: &KeysCommand) -> Result<String, String> {
    match command {
        KeysCommand::Init { out } => {
            let mut bytes = [0u8; 32];
            SystemRandom
                .fill(&mut bytes)
                .map_err(|_| "no randomness for a master key".to_owned())?;
            let text = base64::engine::general_purpose::STANDARD.encode(bytes);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
            writeln!(file, "{text}").map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            Ok(format!(
                "master key written to {} (mode 0600); set proxy.access_keys.master_key_file to it\n",
                out.display()
            ))
        }
        KeysCommand::Create {
            master_key,
            identity,
            role,
        } => {
            let master = read_master_key(master_key).map_err(|e| crate::proxy_config::chain(&e))?;
            let keys = AccessKeys::new(master).map_err(|e| e.to_string())?;
            let (id, secret) = keys
                .mint(identity, role, &SystemRandom)
                .map_err(|e| e.to_string())?;
            let secret = secret.expose_str().unwrap_or_default().to_owned();
            Ok(format!(
                "# add under proxy.access_keys.keys:\n\
                 - {{id: {id}, identity: {identity:?}, role: {role:?}}}\n\
                 # give the client (shown once; the proxy does not store it):\n\
                 AWS_ACCESS_KEY_ID={id}\n\
                 AWS_SECRET_ACCESS_KEY={secret}\n"
            ))
        }
    }
}

/// Read a master key file written by `keys init`: base64 of at least 32 bytes, not readable by group or
/// others.
pub(crate) fn read_master_key(path: &Path) -> Result<Secret, ConfigError> {
    let problem = |problem: String| ConfigError::AccessKeys { problem };
    let metadata = std::fs::metadata(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err(problem(format!(
            "{} is readable by others; chmod 600 it",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| {
            problem(format!(
                "{} is not a key `iamwire keys init` wrote",
                path.display()
            ))
        })?;
    Ok(Secret::from(bytes))
}
