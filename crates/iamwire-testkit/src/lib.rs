//! Throwaway real servers for iamwire's tests: PostgreSQL, MariaDB and Redis with TLS on random ports, an AWS
//! emulator (moto) for STS and friends, an "RDS-like" token check, a stand-in Amazon Keyspaces endpoint that
//! checks SigV4 with AWS's own plugin, a stand-in Amazon DocumentDB that checks MONGODB-AWS through the
//! emulator's STS, and test certificates.
//!
//! Every server binds a random port on 127.0.0.1, lives in its own temporary directory, and is stopped and
//! deleted when dropped, so tests can run in parallel. Nothing is global.
//!
//! ```no_run
//! use iamwire_testkit::{TestCa, postgres::{PgOptions, Postgres}};
//! let ca = TestCa::new()?;
//! let pg = Postgres::start(&ca, PgOptions::default())?;
//! assert_eq!(pg.sql("SELECT 1")?.trim(), "1");
//! # Ok::<(), iamwire_testkit::RigError>(())
//! ```
#![forbid(unsafe_code)]

mod certs;
pub mod documentdb;
mod error;
pub mod fault;
pub mod keyspaces;
pub mod mariadb;
pub mod moto;
mod pam;
pub mod postgres;
mod process;
pub mod redis;
mod venv;

pub use certs::{CertifiedKey, LOCAL_NAMES, PemFiles, TestCa};
pub use error::{Result, RigError};
pub use fault::{Fault, FaultRelay};
pub use pam::{ConnectCheck, PamService, StaticKey, TokenPolicy};
pub use venv::{DEFAULT_MONGOSH, DEFAULT_VENV, mongosh, python, venv_dir};
