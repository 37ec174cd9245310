//! What can go wrong while discovering databases, one failure per matcher, region and type.

use iamwire_core::DiscoveryType;

use crate::aws_api::ApiError;
use crate::role::{ChainError, RoleError};

/// Why part of a discovery run failed. Each names its matcher (its index in `db_service.aws`) and, where
/// it applies, the region and the database type; the cause, if any, is in `source()` only. Never
/// carries a credential or the external ID.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The matcher's role settings do not make a role chain; nothing was listed for it.
    #[error("discovery matcher {matcher}: its assume_role_arn / external_id are not usable")]
    Matcher {
        /// The matcher's index.
        matcher: usize,
        /// Why.
        source: Box<ChainError>,
    },
    /// The matcher's role could not be assumed (trust policy, external ID, STS unreachable); nothing was
    /// listed for it.
    #[error("discovery matcher {matcher}: could not get credentials for {role}{}", code_suffix(code.as_deref()))]
    Role {
        /// The matcher's index.
        matcher: usize,
        /// The role ARN, or "the proxy's own identity".
        role: String,
        /// The AWS error code, when STS answered with one.
        code: Option<String>,
        /// Why.
        source: Box<RoleError>,
    },
    /// An AWS call failed while listing one type of database in one region.
    #[error("discovery matcher {matcher}: {operation} for {kind} databases in {region} failed{}", code_suffix(code.as_deref()))]
    Api {
        /// The matcher's index.
        matcher: usize,
        /// The region.
        region: String,
        /// The database type being listed.
        kind: DiscoveryType,
        /// The AWS operation (`DescribeDBInstances`, ...).
        operation: &'static str,
        /// The AWS error code, when AWS answered with one.
        code: Option<String>,
        /// Why.
        source: Box<ApiError>,
    },
    /// Listing stopped at a limit ([`DiscoveryLimits`](super::DiscoveryLimits)): what was found is
    /// returned, but the list is not complete.
    #[error(
        "discovery matcher {matcher}: {kind} databases in {region} exceed the limit of {limit} {what}; the list is incomplete"
    )]
    Truncated {
        /// The matcher's index.
        matcher: usize,
        /// The region.
        region: String,
        /// The database type being listed.
        kind: DiscoveryType,
        /// What ran out: `pages` or `databases`.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A database was found but cannot be served as found (its name, URI or AWS settings do not
    /// validate); it was left out.
    #[error(
        "discovery matcher {matcher}: {kind} resource {resource:?} in {region} was left out: it does not make a valid database"
    )]
    Invalid {
        /// The matcher's index.
        matcher: usize,
        /// The region.
        region: String,
        /// The database type.
        kind: DiscoveryType,
        /// The AWS resource (identifier or ARN).
        resource: String,
        /// Why.
        source: Box<iamwire_core::Error>,
    },
    /// A resource's ARN names another account than the matcher's role: it was left out.
    #[error(
        "discovery matcher {matcher}: {kind} resource {resource:?} in {region} belongs to account {account}, not to {role_account} of the matcher's role; it was left out"
    )]
    ForeignAccount {
        /// The matcher's index.
        matcher: usize,
        /// The region.
        region: String,
        /// The database type.
        kind: DiscoveryType,
        /// The resource's ARN.
        resource: String,
        /// The account in the ARN.
        account: String,
        /// The account of the matcher's role.
        role_account: String,
    },
    /// Two resources would get the same database name; the second was left out.
    #[error(
        "discovery matcher {matcher}: {resource:?} would be named {name:?} like another database; it was left out"
    )]
    NameTaken {
        /// The matcher's index.
        matcher: usize,
        /// The name.
        name: String,
        /// The resource left out (its ARN).
        resource: String,
    },
    /// [`Discoverer::enable_iam_auth`](super::Discoverer::enable_iam_auth) was asked for a database that
    /// is not an RDS instance or Aurora cluster.
    #[error(
        "database {database:?} is not an RDS instance or Aurora cluster: IAM authentication cannot be turned on here"
    )]
    NotRds {
        /// The database's name.
        database: String,
    },
    /// Turning IAM authentication on failed.
    #[error("could not turn on IAM authentication for database {database:?} ({operation}){}", code_suffix(code.as_deref()))]
    EnableIamAuth {
        /// The database's name.
        database: String,
        /// `ModifyDBInstance` or `ModifyDBCluster`.
        operation: &'static str,
        /// The AWS error code, when AWS answered with one.
        code: Option<String>,
        /// Why.
        source: Box<ApiError>,
    },
    /// The credentials of the database's role could not be had (for
    /// [`Discoverer::enable_iam_auth`](super::Discoverer::enable_iam_auth)).
    #[error("could not get credentials for database {database:?}{}", code_suffix(code.as_deref()))]
    Credentials {
        /// The database's name.
        database: String,
        /// The AWS error code, when STS answered with one.
        code: Option<String>,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl DiscoveryError {
    /// The index of the matcher this error belongs to, if any.
    pub fn matcher(&self) -> Option<usize> {
        match self {
            Self::Matcher { matcher, .. }
            | Self::Role { matcher, .. }
            | Self::Api { matcher, .. }
            | Self::Truncated { matcher, .. }
            | Self::Invalid { matcher, .. }
            | Self::ForeignAccount { matcher, .. }
            | Self::NameTaken { matcher, .. } => Some(*matcher),
            _ => None,
        }
    }

    /// The region this error is about, if it is about one.
    pub fn region(&self) -> Option<&str> {
        match self {
            Self::Api { region, .. }
            | Self::Truncated { region, .. }
            | Self::Invalid { region, .. }
            | Self::ForeignAccount { region, .. } => Some(region),
            _ => None,
        }
    }

    /// The AWS error code behind this error, if AWS answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Role { code, .. }
            | Self::Api { code, .. }
            | Self::EnableIamAuth { code, .. }
            | Self::Credentials { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Whether the whole matcher failed (bad settings, a role that cannot be assumed), rather than one
    /// region, type or resource.
    pub fn is_matcher_wide(&self) -> bool {
        matches!(self, Self::Matcher { .. } | Self::Role { .. })
    }

    /// Whether the next run may succeed without a change (throttling, timeouts, unreachable endpoints).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Role { source, .. } => source.is_retryable(),
            Self::Api { source, .. } | Self::EnableIamAuth { source, .. } => source.is_retryable(),
            _ => false,
        }
    }
}

fn code_suffix(code: Option<&str>) -> String {
    code.map_or_else(String::new, |c| format!(" ({c})"))
}
