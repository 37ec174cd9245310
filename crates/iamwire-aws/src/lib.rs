//! AWS side of iamwire: where the credentials a protocol crate injects come from.
//!
//! - [`base`]: the standard AWS credential chain (env, profiles, IRSA, containers, IMDS), built from an
//!   environment the caller passes in.
//! - [`role`] and [`sts`]: role chains of at most two AssumeRole hops (external ID sent exactly once), the
//!   [`role::RoleProvider`] seam, and its STS implementation.
//! - [`cache`]: the caller-owned credential cache: refresh ahead of expiry, one STS call per key in flight.
//! - [`token`]: RDS / ElastiCache / MemoryDB IAM tokens, byte-identical to boto3's; [`redshift`]: Redshift
//!   and Redshift Serverless temporary credentials; [`cache_users`]: the ElastiCache/MemoryDB IAM-user check.
//! - [`inject`]: the [`AuthInjector`](iamwire_core::AuthInjector)s every protocol shares (RDS IAM,
//!   Redshift, Redshift Serverless), one token-reuse map, and AWS failures as classified
//!   [`InjectError`](iamwire_core::InjectError)s.
//! - [`sigv4`]: SigV4 signing and verification; [`endpoint`]: AWS database endpoint parsing.
//! - [`discovery`]: the databases a `db_service.aws` matcher finds through its role (RDS, Aurora, RDS
//!   Proxy, Redshift, Redshift Serverless, ElastiCache, MemoryDB, OpenSearch, DocumentDB), results and
//!   errors side by side; [`endpoint_check`]: confirming that a discovered or dynamic database's
//!   endpoint belongs to the account and region it claims, before anything is signed for it
//!   ([`inject::GuardedInjector`]).
//!
//! Signing is a pure function of credentials and time:
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use aws_credential_types::Credentials;
//!
//! let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "doc");
//! let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let token = iamwire_aws::token::rds_auth_token(&creds, "db.example.com", 5432, "app", "us-west-2", at)?;
//! assert!(token.as_str().starts_with("db.example.com:5432/?Action=connect&DBUser=app&"));
//! // The token is a secret: Debug never shows it.
//! assert!(!format!("{token:?}").contains("Signature"));
//! # Ok::<(), iamwire_aws::sigv4::SigV4Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod aws_api;
pub mod base;
pub mod cache;
pub mod cache_users;
pub mod discovery;
pub mod endpoint;
pub mod endpoint_check;
pub mod iam;
pub mod inject;
mod reach;
pub mod redshift;
pub mod role;
pub mod sigv4;
pub mod sts;
pub mod token;

#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
mod test_support;
