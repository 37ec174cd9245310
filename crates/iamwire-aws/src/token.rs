//! IAM authentication tokens for RDS (and Aurora, RDS Proxy), ElastiCache and MemoryDB.
//!
//! A token is a SigV4 presigned `GET https://<host>/?Action=connect&...` URL, valid for 15 minutes, with the
//! scheme stripped. Minting is a pure function of the credentials, the target and the time, and the result
//! is byte-for-byte what boto3's `generate_db_auth_token` (RDS) or the AWS-documented botocore construction
//! (ElastiCache, MemoryDB) produce for the same inputs.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use aws_credential_types::Credentials;
//! use iamwire_aws::token::{rds_auth_token, TokenReuse};
//!
//! let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
//! let issued = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let token = rds_auth_token(&creds, "db.example.us-east-1.rds.amazonaws.com", 5432, "app", "us-east-1", issued)?;
//! assert!(token.as_str().starts_with("db.example.us-east-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app&"));
//! assert!(TokenReuse::default().can_reuse(token.issued_at(), issued + Duration::from_secs(600)));
//! # Ok::<(), iamwire_aws::sigv4::SigV4Error>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;

use crate::sigv4::SigV4Error;

mod presign;

pub(crate) use presign::encode as presign_encode;

/// How long every IAM auth token is valid (`X-Amz-Expires=900`).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// The default [`TokenReuse`] margin: a token is reused only while it has more than this left.
pub const DEFAULT_REUSE_MARGIN: Duration = Duration::from_secs(120);

/// The longest user name accepted in a token, in bytes.
pub const MAX_USER_LEN: usize = 1024;

/// A minted IAM auth token. Its value is a credential: `Debug` prints `** redacted **`.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken {
    value: String,
    issued_at: SystemTime,
}

impl AuthToken {
    /// The token, to send as the database password / `AUTH` secret. Never log it.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The token as an owned string, for APIs that take one.
    pub fn into_string(self) -> String {
        self.value
    }

    /// The time the token was signed at (its `X-Amz-Date`).
    pub fn issued_at(&self) -> SystemTime {
        self.issued_at
    }

    /// The time the token stops being accepted.
    pub fn expires_at(&self) -> SystemTime {
        self.issued_at + TOKEN_LIFETIME
    }

    /// Whether this token may still be handed out at `now` under `policy`.
    pub fn is_reusable(&self, policy: TokenReuse, now: SystemTime) -> bool {
        policy.can_reuse(self.issued_at, now)
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthToken")
            .field("value", &"** redacted **")
            .field("issued_at", &self.issued_at)
            .finish()
    }
}

/// When a minted token may be reused instead of minting a new one.
///
/// A token is reused while more than `margin` of its [`TOKEN_LIFETIME`] is left, so a login that starts with
/// it still finishes well before it expires. Pure: the caller passes the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenReuse {
    margin: Duration,
}

impl Default for TokenReuse {
    fn default() -> Self {
        Self {
            margin: DEFAULT_REUSE_MARGIN,
        }
    }
}

impl TokenReuse {
    /// Reuse tokens while they have more than `margin` left.
    pub const fn with_margin(margin: Duration) -> Self {
        Self { margin }
    }

    /// The margin this policy keeps.
    pub const fn margin(&self) -> Duration {
        self.margin
    }

    /// Whether a token issued at `issued_at` may be reused at `now`.
    ///
    /// `false` if `now` is before `issued_at` (the clock went back: mint afresh rather than guess).
    pub fn can_reuse(&self, issued_at: SystemTime, now: SystemTime) -> bool {
        match now.duration_since(issued_at) {
            Ok(age) => TOKEN_LIFETIME
                .checked_sub(age)
                .is_some_and(|left| left > self.margin),
            Err(_) => false,
        }
    }
}

/// The kind of ElastiCache cache a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ElastiCacheKind {
    /// A replication group (node-based cluster); the token's host is the replication group id.
    ReplicationGroup,
    /// A serverless cache; the token's host is the cache name and it carries `ResourceType=ServerlessCache`.
    Serverless,
}

/// Mint an RDS / Aurora / RDS Proxy IAM token for `db_user` at `host:port`, signed at `time`.
///
/// Identical to boto3's `rds.generate_db_auth_token(host, port, db_user, region)` at the same time.
pub fn rds_auth_token(
    credentials: &Credentials,
    host: &str,
    port: u16,
    db_user: &str,
    region: &str,
    time: SystemTime,
) -> Result<AuthToken, SigV4Error> {
    let params = [("Action", "connect"), ("DBUser", db_user)];
    presign::presign(
        credentials,
        host,
        Some(port),
        &params,
        "rds-db",
        region,
        time,
    )
}

/// Mint an ElastiCache IAM token for `user` on the cache `cache_name`, signed at `time`.
///
/// `cache_name` is the replication group id (or the serverless cache name), lowercase as AWS stores it.
pub fn elasticache_auth_token(
    credentials: &Credentials,
    cache_name: &str,
    kind: ElastiCacheKind,
    user: &str,
    region: &str,
    time: SystemTime,
) -> Result<AuthToken, SigV4Error> {
    let serverless = [
        ("Action", "connect"),
        ("User", user),
        ("ResourceType", "ServerlessCache"),
    ];
    let params = match kind {
        ElastiCacheKind::ReplicationGroup => &serverless[..2],
        ElastiCacheKind::Serverless => &serverless[..],
    };
    presign::presign(
        credentials,
        cache_name,
        None,
        params,
        "elasticache",
        region,
        time,
    )
}

/// Mint a MemoryDB IAM token for `user` on the cluster `cluster_name`, signed at `time`.
pub fn memorydb_auth_token(
    credentials: &Credentials,
    cluster_name: &str,
    user: &str,
    region: &str,
    time: SystemTime,
) -> Result<AuthToken, SigV4Error> {
    let params = [("Action", "connect"), ("User", user)];
    presign::presign(
        credentials,
        cluster_name,
        None,
        &params,
        "memorydb",
        region,
        time,
    )
}

#[cfg(test)]
mod tests;
