//! What goes upstream: the [`AuthInjector`] seam that turns a session request into the login
//! the proxy performs against the database, with the RDS IAM and static-password
//! implementations.

mod rds;
mod redshift;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use iamwire_aws::role::{ChainError, RoleError};
use iamwire_aws::sigv4::SigV4Error;
use iamwire_core::{RoleArn, SessionRequest};

use crate::auth::{Secret, UpstreamLogin};
use crate::codec::sqlstate;

pub use rds::RdsIamInjector;
pub(crate) use rds::host_port;
pub use redshift::{
    RedshiftApi, RedshiftError, RedshiftInjector, RedshiftServerlessInjector, injector_for,
};

/// The future of an upstream login, returned by [`AuthInjector::login`]: boxed and named so the
/// trait stays object-safe.
pub type LoginFuture<'a> =
    Pin<Box<dyn Future<Output = Result<UpstreamLogin, InjectError>> + Send + 'a>>;

/// Resolves the login the proxy uses upstream for a session (may await a role provider).
pub trait AuthInjector: fmt::Debug + Send + Sync {
    /// The user and secret to log in to `want.database` with, for a client that asked to be
    /// `want.db_user` (already authorized).
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a>;

    /// What to tell a client when the database rejects this injector's login (added to the
    /// database's `ErrorResponse` only if it has no hint of its own).
    fn rejected_hint(&self, want: &SessionRequest<'_>) -> Option<String> {
        let _ = want;
        None
    }
}

/// Why the credentials for an upstream login could not be had.
///
/// Never carries a secret, a token or the external ID.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    /// The database's role chain could not be assumed.
    #[error("{}", role_message(source))]
    Role {
        /// The role provider's error (role ARN, AWS error code).
        #[source]
        source: RoleError,
    },
    /// The database's `aws` settings do not make a valid role chain.
    #[error("the AWS settings of database \"{database}\" are invalid")]
    Chain {
        /// The database resource.
        database: String,
        /// What is wrong.
        #[source]
        source: ChainError,
    },
    /// The database has no AWS region to sign its token for.
    #[error("database \"{database}\" has no AWS region; set aws.region")]
    NoRegion {
        /// The database resource.
        database: String,
    },
    /// The database's URI is not `host:port`.
    #[error("the URI of database \"{database}\" is not host:port")]
    BadUri {
        /// The database resource.
        database: String,
    },
    /// The IAM token could not be signed.
    #[error("could not sign the IAM token for database \"{database}\"")]
    Token {
        /// The database resource.
        database: String,
        /// The signing error.
        #[source]
        source: SigV4Error,
    },
    /// Redshift or Redshift Serverless credentials could not be had.
    #[error(transparent)]
    Redshift(#[from] RedshiftError),
}

fn role_message(error: &RoleError) -> String {
    match (error.role_arn(), error.code()) {
        (Some(arn), Some(code)) if is_denied(code) => {
            format!("access denied: the proxy could not assume role {arn} ({code})")
        }
        (Some(arn), code) => format!(
            "could not get credentials for role {arn}{}",
            code.map(|c| format!(" ({c})")).unwrap_or_default()
        ),
        (None, _) => format!("could not get AWS credentials: {error}"),
    }
}

fn is_denied(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied" | "AccessDeniedException" | "InvalidClientTokenId" | "ExpiredToken"
    )
}

impl InjectError {
    /// The SQLSTATE for the client: `28000` when AWS refused access, `08001` otherwise.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Self::Role { source } if source.code().is_some_and(is_denied) => {
                sqlstate::INVALID_AUTHORIZATION_SPECIFICATION
            }
            Self::Redshift(e) => e.sqlstate(),
            _ => sqlstate::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
        }
    }

    /// What to do about it, for the `ErrorResponse` hint.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Role { source } => source.role_arn().map(trust_hint),
            Self::Redshift(e) => e.hint(),
            _ => None,
        }
    }
}

fn trust_hint(arn: &RoleArn) -> String {
    format!(
        "the trust policy of {arn} must allow this proxy's AWS identity to call sts:AssumeRole \
         with this database's external ID"
    )
}

/// Logs in with a fixed user and password, for upstreams outside AWS and for tests.
#[derive(Clone)]
pub struct StaticPasswordInjector {
    user: Option<String>,
    password: Secret,
}

impl StaticPasswordInjector {
    /// Log in as the client's requested database user with `password`.
    pub fn new(password: impl Into<Secret>) -> Self {
        Self {
            user: None,
            password: password.into(),
        }
    }

    /// Log in as `user` whatever the client asked for.
    pub fn as_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
}

impl fmt::Debug for StaticPasswordInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticPasswordInjector")
            .field("user", &self.user)
            .field("password", &"** redacted **")
            .finish()
    }
}

impl AuthInjector for StaticPasswordInjector {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        let user = self.user.as_deref().unwrap_or(want.db_user);
        let login = UpstreamLogin::new(user, self.password.clone());
        Box::pin(std::future::ready(Ok(login)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_password_debug_is_redacted() {
        let injector = StaticPasswordInjector::new("hunter2").as_user("app");
        let shown = format!("{injector:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app"));
    }
}
