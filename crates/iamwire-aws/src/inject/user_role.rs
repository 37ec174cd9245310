//! What the injectors of databases that log in *as an IAM role* by signing share (Amazon Keyspaces,
//! Amazon DocumentDB): the chain from the database's `assume_role_arn` (with its external ID) to the
//! client's database-user role, its credentials, the clock signatures are made at, and the warm-up of
//! the chain's first hop.

use std::fmt;
use std::sync::Arc;

use aws_credential_types::Credentials;
use iamwire_core::{Clock, Database, InjectError, SessionRequest, SystemClock, WarmUpFuture};

use super::{chain_error, role_error};
use crate::role::{DEFAULT_SESSION_NAME, RoleChain, RoleProvider};

/// The database-user role's credentials, for a signer.
#[derive(Clone)]
pub(crate) struct UserRole {
    pub(crate) roles: Arc<dyn RoleProvider>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) session_name: String,
}

impl UserRole {
    /// Credentials from `roles`, signatures at the system clock's time.
    pub(crate) fn new(roles: Arc<dyn RoleProvider>) -> Self {
        Self {
            roles,
            clock: Arc::new(SystemClock),
            session_name: DEFAULT_SESSION_NAME.to_owned(),
        }
    }

    /// The chain to `user`'s role (or only the database's own hop, without a user).
    pub(crate) fn chain(
        &self,
        database: &Database,
        user: Option<&str>,
    ) -> Result<RoleChain, InjectError> {
        RoleChain::for_database(&database.aws, user, &self.session_name)
            .map_err(|e| chain_error(&database.name, e))
    }

    /// The credentials of the client's database-user role.
    pub(crate) async fn credentials(
        &self,
        want: &SessionRequest<'_>,
    ) -> Result<Credentials, InjectError> {
        let chain = self.chain(want.database, Some(want.db_user))?;
        let credentials = self.roles.credentials(&chain).await.map_err(role_error)?;
        tracing::debug!(
            database = %want.database.name,
            role = ?chain.last_role_arn().map(ToString::to_string),
            "database-user role credentials ready"
        );
        Ok(credentials)
    }

    /// The database's own role (hop 1), which every user role is assumed from.
    pub(crate) fn warm_up<'a>(&'a self, database: &'a Database) -> WarmUpFuture<'a> {
        Box::pin(async move {
            let chain = self.chain(database, None)?;
            if chain.is_empty() {
                return Ok(());
            }
            self.roles
                .credentials(&chain)
                .await
                .map(drop)
                .map_err(role_error)
        })
    }
}

impl fmt::Debug for UserRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRole")
            .field("roles", &self.roles)
            .field("session_name", &self.session_name)
            .finish_non_exhaustive()
    }
}

/// A role provider for the injectors' tests: hands out the same credentials for whatever role a chain
/// ends in, and records the chains it was asked for.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct RecordingRoles {
    pub(crate) asked: std::sync::Mutex<Vec<RoleChain>>,
    credentials: Credentials,
}

#[cfg(test)]
impl RecordingRoles {
    pub(crate) fn new(credentials: Credentials) -> Self {
        Self {
            asked: std::sync::Mutex::default(),
            credentials,
        }
    }
}

#[cfg(test)]
impl RoleProvider for RecordingRoles {
    fn credentials<'a>(&'a self, chain: &'a RoleChain) -> crate::role::CredentialsFuture<'a> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(chain.clone());
        }
        Box::pin(std::future::ready(Ok(self.credentials.clone())))
    }
}
