//! The RDS IAM injector: credentials from the database's role chain, then an RDS auth token.

use std::fmt;
use std::sync::Arc;

use iamwire_core::{
    AuthInjector, Database, InjectError, InjectErrorKind, LoginFuture, SessionRequest,
    UpstreamLogin, WarmUpFuture,
};

use super::token_core::{TokenCore, token_builder_methods};
use super::tokens::{TokenKey, TokenKind};
use super::{missing, role_error};
use crate::role::RoleProvider;
use crate::token::rds_auth_token;

/// Logs in to RDS, Aurora and RDS Proxy (Postgres, MySQL, MariaDB) with IAM auth tokens, minted from the
/// credentials at the end of each database's role chain (`assume_role_arn` with its external ID).
///
/// A token is reused for the same endpoint and user while it has more than the
/// [`TokenReuse`](crate::token::TokenReuse) margin
/// left (two minutes by default), so a burst of connections signs once.
pub struct RdsIamInjector {
    core: TokenCore,
}

token_builder_methods!(RdsIamInjector);

impl RdsIamInjector {
    /// An injector asking `roles` for credentials, with the system clock and its own token map.
    pub fn new(roles: Arc<dyn RoleProvider>) -> Self {
        Self {
            core: TokenCore::new(roles),
        }
    }

    async fn mint(&self, want: &SessionRequest<'_>) -> Result<UpstreamLogin, InjectError> {
        let database = want.database;
        let (host, port) = database
            .host_port()
            .ok_or_else(|| missing(&database.name, "URI of the form host:port"))?;
        let region = database
            .aws
            .region
            .as_deref()
            .ok_or_else(|| missing(&database.name, "aws.region"))?;
        let chain = self.core.chain(database)?;
        let key = TokenKey {
            kind: TokenKind::Rds,
            target: host.to_owned(),
            port,
            user: want.db_user.to_owned(),
            role: chain.last_role_arn().map(ToString::to_string),
        };
        let now = self.core.clock.now();
        if let Some(token) = self.core.tokens.get(&key, now) {
            tracing::debug!(database = %database.name, "reusing an RDS IAM token");
            return Ok(UpstreamLogin::new(want.db_user, token.into_string()));
        }
        let credentials = self
            .core
            .roles
            .credentials(&chain)
            .await
            .map_err(role_error)?;
        let token = rds_auth_token(&credentials, host, port, want.db_user, region, now).map_err(
            |source| {
                InjectError::new(
                    InjectErrorKind::Internal,
                    format!(
                        "could not sign the IAM token for database \"{}\"",
                        database.name
                    ),
                )
                .with_source(source)
            },
        )?;
        tracing::debug!(database = %database.name, "minted an RDS IAM token");
        self.core.tokens.put(key, token.clone(), now);
        Ok(UpstreamLogin::new(want.db_user, token.into_string()))
    }
}

impl fmt::Debug for RdsIamInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdsIamInjector")
            .field("roles", &self.core.roles)
            .field("reuse", &self.core.tokens.reuse())
            .field("session_name", &self.core.session_name)
            .finish_non_exhaustive()
    }
}

impl AuthInjector for RdsIamInjector {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        Box::pin(self.mint(want))
    }

    fn rejected_hint(&self, want: &SessionRequest<'_>) -> Option<String> {
        Some(connect_hint(want.database, want.db_user))
    }

    fn warm_up<'a>(&'a self, database: &'a Database) -> WarmUpFuture<'a> {
        Box::pin(self.core.warm_up(database))
    }
}

/// The IAM permission an RDS login needs, spelled out for the database at hand.
fn connect_hint(database: &Database, user: &str) -> String {
    let aws = &database.aws;
    let region = aws.region.as_deref().unwrap_or("<region>");
    let from_role = aws.assume_role().ok().flatten();
    let account = aws
        .account_id
        .as_deref()
        .or_else(|| from_role.as_ref().map(|arn| arn.account_id()))
        .unwrap_or("<account>");
    let resource = aws
        .rds
        .as_ref()
        .and_then(|rds| rds.resource_id.as_deref())
        .unwrap_or("<resource-id>");
    format!(
        "the proxy's role needs rds-db:connect on \
         arn:aws:rds-db:{region}:{account}:dbuser:{resource}/{user}, and the database user \
         must be set up for IAM authentication"
    )
}
