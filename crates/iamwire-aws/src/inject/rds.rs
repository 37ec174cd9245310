//! The RDS IAM injector: credentials from the database's role chain, then an RDS auth token.

use std::fmt;
use std::sync::Arc;

use iamwire_core::{
    AuthInjector, Clock, Database, InjectError, InjectErrorKind, LoginFuture, SessionRequest,
    SystemClock, UpstreamLogin, WarmUpFuture,
};

use super::tokens::{TokenKey, TokenKind, TokenMap};
use super::{chain_error, missing, role_error};
use crate::role::{DEFAULT_SESSION_NAME, RoleChain, RoleProvider};
use crate::token::{TokenReuse, rds_auth_token};

/// Logs in to RDS, Aurora and RDS Proxy (Postgres, MySQL, MariaDB) with IAM auth tokens, minted from the
/// credentials at the end of each database's role chain (`assume_role_arn` with its external ID).
///
/// A token is reused for the same endpoint and user while it has more than the [`TokenReuse`] margin
/// left (two minutes by default), so a burst of connections signs once.
pub struct RdsIamInjector {
    roles: Arc<dyn RoleProvider>,
    clock: Arc<dyn Clock>,
    session_name: String,
    tokens: Arc<TokenMap>,
}

impl RdsIamInjector {
    /// An injector asking `roles` for credentials, with the system clock and its own token map.
    pub fn new(roles: Arc<dyn RoleProvider>) -> Self {
        Self {
            roles,
            clock: Arc::new(SystemClock),
            session_name: DEFAULT_SESSION_NAME.to_owned(),
            tokens: Arc::new(TokenMap::default()),
        }
    }

    /// Sign tokens at the time `clock` gives (a test seam).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// When a minted token may be reused (a map of this injector's own with that policy).
    #[must_use]
    pub fn token_reuse(mut self, reuse: TokenReuse) -> Self {
        self.tokens = Arc::new(TokenMap::new(reuse));
        self
    }

    /// Share `tokens` with other injectors.
    #[must_use]
    pub fn tokens(mut self, tokens: Arc<TokenMap>) -> Self {
        self.tokens = tokens;
        self
    }

    /// The AssumeRole session name (shows up in the database account's CloudTrail).
    #[must_use]
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.session_name = name.into();
        self
    }

    fn chain(&self, database: &Database) -> Result<RoleChain, InjectError> {
        RoleChain::for_database(&database.aws, None, &self.session_name)
            .map_err(|e| chain_error(&database.name, e))
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
        let chain = self.chain(database)?;
        let key = TokenKey {
            kind: TokenKind::Rds,
            target: host.to_owned(),
            port,
            user: want.db_user.to_owned(),
            role: chain.last_role_arn().map(ToString::to_string),
        };
        let now = self.clock.now();
        if let Some(token) = self.tokens.get(&key, now) {
            tracing::debug!(database = %database.name, "reusing an RDS IAM token");
            return Ok(UpstreamLogin::new(want.db_user, token.into_string()));
        }
        let credentials = self.roles.credentials(&chain).await.map_err(role_error)?;
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
        self.tokens.put(key, token.clone(), now);
        Ok(UpstreamLogin::new(want.db_user, token.into_string()))
    }
}

impl fmt::Debug for RdsIamInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdsIamInjector")
            .field("roles", &self.roles)
            .field("reuse", &self.tokens.reuse())
            .field("session_name", &self.session_name)
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
        Box::pin(async move {
            let chain = self.chain(database)?;
            self.roles
                .credentials(&chain)
                .await
                .map(drop)
                .map_err(role_error)
        })
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
