//! Why an endpoint was not confirmed.

use crate::aws_api::ApiError;
use crate::role::{ChainError, RoleError};

/// What a refused endpoint claims and what AWS says instead, for the messages of
/// [`EndpointCheckError::Mismatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mismatch {
    /// The host name the database's URI names.
    pub host: String,
    /// The account the database claims (`None`: the proxy's own account).
    pub claimed_account: Option<String>,
    /// The region the database claims.
    pub claimed_region: String,
    /// The account the endpoint really belongs to, when known (from the host name or the answer).
    pub actual_account: Option<String>,
    /// The region the endpoint really is in, when known.
    pub actual_region: Option<String>,
    /// What did not match.
    pub reason: &'static str,
}

impl Mismatch {
    fn claimed(&self) -> String {
        let account = self.claimed_account.as_deref().map_or_else(
            || "the proxy's own account".to_owned(),
            |a| format!("account {a}"),
        );
        format!("{account} in {}", self.claimed_region)
    }

    fn actual(&self) -> String {
        match (&self.actual_account, &self.actual_region) {
            (Some(a), Some(r)) => format!("; it belongs to account {a} in {r}"),
            (Some(a), None) => format!("; it belongs to account {a}"),
            (None, Some(r)) => format!("; it is in {r}"),
            (None, None) => String::new(),
        }
    }
}

/// Why the endpoint of a database could not be confirmed to belong to the account and region it
/// claims. Never carries a credential or the external ID; the cause, if any, is in `source()` only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointCheckError {
    /// The endpoint belongs elsewhere (another account or region), or the claimed account has no such
    /// resource.
    #[error("the endpoint {} of database {database:?} does not belong to {}{}: {}", mismatch.host, mismatch.claimed(), mismatch.actual(), mismatch.reason)]
    Mismatch {
        /// The database's name.
        database: String,
        /// What was claimed and found.
        mismatch: Box<Mismatch>,
    },
    /// The host is not an AWS endpoint iamwire can check (a custom DNS name, an IP address, a DAX
    /// cluster), and the guard's [`UnknownHosts`](super::UnknownHosts) policy refuses those.
    #[error(
        "the endpoint {host} of database {database:?} cannot be checked against its AWS account: {reason}"
    )]
    Unverifiable {
        /// The database's name.
        database: String,
        /// The host name.
        host: String,
        /// Why it cannot be checked.
        reason: &'static str,
    },
    /// The database lacks what the check needs (a `host:port` URI, `aws.region`, a valid role chain).
    #[error("database {database:?} cannot be checked: {reason}")]
    Misconfigured {
        /// The database's name.
        database: String,
        /// What is missing.
        reason: &'static str,
        /// The role chain's problem, if that is it.
        source: Option<Box<ChainError>>,
    },
    /// The credentials of the database's role could not be had.
    #[error("could not get credentials to check the endpoint of database {database:?}")]
    Credentials {
        /// The database's name.
        database: String,
        /// Why.
        source: Box<RoleError>,
    },
    /// The Describe call failed (denied, throttled, unreachable).
    #[error("could not check the endpoint of database {database:?}: {operation} failed")]
    Api {
        /// The database's name.
        database: String,
        /// The AWS operation.
        operation: &'static str,
        /// Why.
        source: Box<ApiError>,
    },
}

impl EndpointCheckError {
    /// The mismatch, for [`EndpointCheckError::Mismatch`].
    pub fn mismatch(&self) -> Option<&Mismatch> {
        match self {
            Self::Mismatch { mismatch, .. } => Some(mismatch),
            _ => None,
        }
    }

    /// Whether the endpoint was refused for what it is (a mismatch, an unverifiable host), rather than
    /// because the check could not run.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Mismatch { .. } | Self::Unverifiable { .. })
    }
}
