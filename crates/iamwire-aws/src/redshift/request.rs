//! What to ask Redshift for: the three credential requests and their checks.

use std::time::Duration;

use crate::aws_api::ApiError;

/// The shortest credential lifetime Redshift grants (`DurationSeconds` 900).
pub const MIN_DURATION: Duration = Duration::from_secs(900);
/// The longest credential lifetime Redshift grants (`DurationSeconds` 3600).
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// The lifetime asked for unless set: the minimum, 15 minutes.
pub const DEFAULT_DURATION: Duration = MIN_DURATION;

const MAX_NAME_LEN: usize = 128;

/// The `db_name` and `duration` setters every request shares.
macro_rules! scope_setters {
    () => {
        /// Limit the credentials to database `db_name`.
        pub fn db_name(mut self, db_name: &'a str) -> Self {
            self.db_name = Some(db_name);
            self
        }

        /// Ask for credentials valid for `duration` (whole seconds, [`MIN_DURATION`]..=[`MAX_DURATION`]).
        pub fn duration(mut self, duration: Duration) -> Self {
            self.duration = duration;
            self
        }
    };
}

/// A `GetClusterCredentials` request: a cluster, a database user, optionally a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterCredentialsRequest<'a> {
    pub(super) cluster: &'a str,
    pub(super) db_user: &'a str,
    pub(super) db_name: Option<&'a str>,
    pub(super) duration: Duration,
}

impl<'a> ClusterCredentialsRequest<'a> {
    /// Credentials for `db_user` (without the `IAM:` prefix) on cluster `cluster`, for any database.
    pub fn new(cluster: &'a str, db_user: &'a str) -> Self {
        Self {
            cluster,
            db_user,
            db_name: None,
            duration: DEFAULT_DURATION,
        }
    }

    scope_setters!();

    pub(super) fn validate(&self) -> Result<(), ApiError> {
        name("cluster identifier", self.cluster)?;
        name("db user", self.db_user)?;
        optional("db name", self.db_name)?;
        duration(self.duration)
    }
}

/// A `GetClusterCredentialsWithIAM` request: a cluster, optionally a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterIamCredentialsRequest<'a> {
    pub(super) cluster: &'a str,
    pub(super) db_name: Option<&'a str>,
    pub(super) duration: Duration,
}

impl<'a> ClusterIamCredentialsRequest<'a> {
    /// Credentials for the calling IAM role on cluster `cluster`, for any database.
    pub fn new(cluster: &'a str) -> Self {
        Self {
            cluster,
            db_name: None,
            duration: DEFAULT_DURATION,
        }
    }

    scope_setters!();

    pub(super) fn validate(&self) -> Result<(), ApiError> {
        name("cluster identifier", self.cluster)?;
        optional("db name", self.db_name)?;
        duration(self.duration)
    }
}

/// A Redshift Serverless `GetCredentials` request: a workgroup, optionally a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerlessCredentialsRequest<'a> {
    pub(super) workgroup: &'a str,
    pub(super) db_name: Option<&'a str>,
    pub(super) duration: Duration,
}

impl<'a> ServerlessCredentialsRequest<'a> {
    /// Credentials for the calling IAM role on workgroup `workgroup`, for any database.
    pub fn new(workgroup: &'a str) -> Self {
        Self {
            workgroup,
            db_name: None,
            duration: DEFAULT_DURATION,
        }
    }

    scope_setters!();

    pub(super) fn validate(&self) -> Result<(), ApiError> {
        name("workgroup name", self.workgroup)?;
        optional("db name", self.db_name)?;
        duration(self.duration)
    }
}

fn name(field: &'static str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > MAX_NAME_LEN || value.chars().any(char::is_control) {
        return Err(ApiError::InvalidInput {
            field,
            reason: "must be 1 to 128 bytes without control characters",
        });
    }
    Ok(())
}

fn optional(field: &'static str, value: Option<&str>) -> Result<(), ApiError> {
    value.map_or(Ok(()), |v| name(field, v))
}

fn duration(d: Duration) -> Result<(), ApiError> {
    if d < MIN_DURATION || d > MAX_DURATION || d.subsec_nanos() != 0 {
        return Err(ApiError::InvalidInput {
            field: "duration",
            reason: "must be whole seconds from 900 to 3600",
        });
    }
    Ok(())
}
