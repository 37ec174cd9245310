//! Where the rig's Python virtual environment lives.
//!
//! `scripts/setup.sh` creates it with Debian's `/usr/bin/python3` outside `/root`, so that processes running as
//! the `postgres` user (the PAM token verifier runs inside the Postgres backend) can import boto3 from it.

use std::path::PathBuf;

/// The default location of the venv, as created by `scripts/setup.sh`.
pub const DEFAULT_VENV: &str = "/opt/iamwire/venv";

/// The rig's Python venv: `$IAMWIRE_VENV`, else [`DEFAULT_VENV`].
///
/// This is test infrastructure, so it may read the environment; the shipped crates never do.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("IAMWIRE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_VENV))
}

/// The venv's Python interpreter (has boto3, botocore, moto, psycopg).
pub fn python() -> PathBuf {
    venv_dir().join("bin").join("python")
}

/// Where `scripts/setup.sh` installs mongosh (MongoDB's shell) by default.
pub const DEFAULT_MONGOSH: &str = "/opt/iamwire/mongosh-2.12.0/node_modules/.bin/mongosh";

/// mongosh, MongoDB's own shell (on the Node.js driver): `$IAMWIRE_MONGOSH`, else [`DEFAULT_MONGOSH`].
pub fn mongosh() -> PathBuf {
    std::env::var_os("IAMWIRE_MONGOSH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MONGOSH))
}
