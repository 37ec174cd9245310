//! The RDS IAM injector: credentials from the database's role chain, then an RDS auth token.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use iamwire_aws::cache::{Clock, SystemClock};
use iamwire_aws::role::{RoleChain, RoleProvider};
use iamwire_aws::token::{AuthToken, TokenReuse, rds_auth_token};
use iamwire_core::{Database, SessionRequest};

use super::{AuthInjector, InjectError, LoginFuture};
use crate::auth::UpstreamLogin;

/// The AssumeRole session name used unless [`RdsIamInjector::session_name`] sets another.
const DEFAULT_SESSION_NAME: &str = "iamwire-postgres";

/// Logs in to RDS, Aurora and RDS Proxy with IAM auth tokens, minted from the credentials at the
/// end of each database's role chain (`assume_role_arn` with its external ID).
///
/// A token is reused for the same endpoint and user while it has more than the
/// [`TokenReuse`] margin left (two minutes by default), so a burst of connections signs once.
pub struct RdsIamInjector {
    roles: Arc<dyn RoleProvider>,
    clock: Arc<dyn Clock>,
    reuse: TokenReuse,
    session_name: String,
    tokens: Mutex<HashMap<TokenKey, AuthToken>>,
}

/// Tokens are reused per endpoint, user and the role they were signed with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    host: String,
    port: u16,
    user: String,
    role: Option<String>,
}

impl RdsIamInjector {
    /// An injector asking `roles` for credentials, with the system clock.
    pub fn new(roles: Arc<dyn RoleProvider>) -> Self {
        Self {
            roles,
            clock: Arc::new(SystemClock),
            reuse: TokenReuse::default(),
            session_name: DEFAULT_SESSION_NAME.to_owned(),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Sign tokens at the time `clock` gives (a test seam).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// When a minted token may be reused.
    pub fn token_reuse(mut self, reuse: TokenReuse) -> Self {
        self.reuse = reuse;
        self
    }

    /// The AssumeRole session name (shows up in the database account's CloudTrail).
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.session_name = name.into();
        self
    }

    async fn mint(&self, want: &SessionRequest<'_>) -> Result<UpstreamLogin, InjectError> {
        let database = want.database;
        let (host, port) = host_port(&database.uri).ok_or_else(|| InjectError::BadUri {
            database: database.name.clone(),
        })?;
        let region = database
            .aws
            .region
            .as_deref()
            .ok_or_else(|| InjectError::NoRegion {
                database: database.name.clone(),
            })?;
        let chain =
            RoleChain::for_database(&database.aws, None, &self.session_name).map_err(|source| {
                InjectError::Chain {
                    database: database.name.clone(),
                    source,
                }
            })?;
        let key = TokenKey {
            host: host.to_owned(),
            port,
            user: want.db_user.to_owned(),
            role: chain.last_role_arn().map(ToString::to_string),
        };
        let now = self.clock.now();
        if let Some(token) = self.cached(&key, now) {
            tracing::debug!(database = %database.name, "reusing an RDS IAM token");
            return Ok(UpstreamLogin::new(want.db_user, token.into_string()));
        }
        let credentials = self
            .roles
            .credentials(&chain)
            .await
            .map_err(|source| InjectError::Role { source })?;
        let token = rds_auth_token(&credentials, host, port, want.db_user, region, now).map_err(
            |source| InjectError::Token {
                database: database.name.clone(),
                source,
            },
        )?;
        tracing::debug!(database = %database.name, "minted an RDS IAM token");
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.retain(|_, t| t.is_reusable(self.reuse, now));
            tokens.insert(key, token.clone());
        }
        Ok(UpstreamLogin::new(want.db_user, token.into_string()))
    }

    fn cached(&self, key: &TokenKey, now: std::time::SystemTime) -> Option<AuthToken> {
        let tokens = self.tokens.lock().ok()?;
        tokens
            .get(key)
            .filter(|t| t.is_reusable(self.reuse, now))
            .cloned()
    }
}

impl fmt::Debug for RdsIamInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdsIamInjector")
            .field("roles", &self.roles)
            .field("reuse", &self.reuse)
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
         must have the rds_iam role"
    )
}

/// `host:port` (or `[v6]:port`, or a bare host meaning port 5432) from a database URI.
pub(crate) fn host_port(uri: &str) -> Option<(&str, u16)> {
    let uri = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let uri = uri.split(['/', '?']).next()?;
    if let Some(rest) = uri.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 5432,
            None => return None,
        };
        return Some((host, port));
    }
    match uri.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !host.contains(':') => {
            Some((host, port.parse().ok()?))
        }
        None if !uri.is_empty() => Some((uri, 5432)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            host_port("db.example.com:6543"),
            Some(("db.example.com", 6543))
        );
        assert_eq!(host_port("db.example.com"), Some(("db.example.com", 5432)));
        assert_eq!(host_port("postgres://h:1/app"), Some(("h", 1)));
        assert_eq!(host_port("[::1]:7"), Some(("::1", 7)));
        assert_eq!(host_port("h:notaport"), None);
        assert_eq!(host_port(""), None);
    }
}
