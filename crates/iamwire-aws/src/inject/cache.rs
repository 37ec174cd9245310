//! The ElastiCache / MemoryDB injector: credentials from the database's role chain, `DescribeUsers` to
//! confirm the user authenticates with IAM, then an IAM token for the cache as the `AUTH` password.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use iamwire_core::{
    AuthInjector, Database, InjectError, InjectErrorKind, LoginFuture, SessionRequest,
    UpstreamLogin, WarmUpFuture,
};

use super::redshift::account_of;
use super::token_core::{TokenCore, token_builder_methods};
use super::tokens::{TokenKey, TokenKind};
use super::{api_error, missing, role_error};
use crate::aws_api::{ApiClient, Call};
use crate::cache_users::{CacheService, IamUserCache};
use crate::role::RoleProvider;
use crate::token::{ElastiCacheKind, elasticache_auth_token, memorydb_auth_token};

/// How long a `DescribeUsers` answer is trusted.
const USER_CHECK_TTL: Duration = Duration::from_secs(300);

/// Logs in to ElastiCache (Redis OSS / Valkey replication groups and serverless caches) and MemoryDB
/// clusters as the client's database user with an IAM token, minted from the credentials at the end of
/// the database's role chain. Before the first token for a user, `DescribeUsers` (through the same role)
/// confirms the user authenticates with IAM; the answer is kept for five minutes.
///
/// The cache is named by `aws.elasticache.replication_group_id`, `aws.elasticache.serverless_cache_name`
/// (tokens carry `ResourceType=ServerlessCache`) or `aws.memorydb.cluster_name`. Tokens are reused
/// per cache and user while they have more than the [`TokenMap`](super::TokenMap)'s margin left.
pub struct CacheIamInjector {
    core: TokenCore,
    api: ApiClient,
    endpoint: Option<String>,
    users: IamUserCache,
}

token_builder_methods!(CacheIamInjector);

/// The cache a database names.
#[derive(Debug, Clone, Copy)]
enum Target<'a> {
    ElastiCache {
        name: &'a str,
        kind: ElastiCacheKind,
    },
    MemoryDb {
        name: &'a str,
    },
}

impl Target<'_> {
    fn of(database: &Database) -> Result<Target<'_>, InjectError> {
        fn set(v: Option<&String>) -> Option<&str> {
            v.map(String::as_str).filter(|s| !s.is_empty())
        }
        let aws = &database.aws;
        if let Some(ec) = &aws.elasticache {
            if let Some(name) = set(ec.serverless_cache_name.as_ref()) {
                return Ok(Target::ElastiCache {
                    name,
                    kind: ElastiCacheKind::Serverless,
                });
            }
            if let Some(name) = set(ec.replication_group_id.as_ref()) {
                return Ok(Target::ElastiCache {
                    name,
                    kind: ElastiCacheKind::ReplicationGroup,
                });
            }
        }
        if let Some(name) = aws
            .memorydb
            .as_ref()
            .and_then(|m| set(m.cluster_name.as_ref()))
        {
            return Ok(Target::MemoryDb { name });
        }
        Err(missing(
            &database.name,
            "aws.elasticache.replication_group_id, aws.elasticache.serverless_cache_name or \
             aws.memorydb.cluster_name",
        ))
    }

    fn service(self) -> CacheService {
        match self {
            Target::ElastiCache { .. } => CacheService::ElastiCache,
            Target::MemoryDb { .. } => CacheService::MemoryDb,
        }
    }

    fn token_kind(self) -> TokenKind {
        match self {
            Target::ElastiCache { .. } => TokenKind::ElastiCache,
            Target::MemoryDb { .. } => TokenKind::MemoryDb,
        }
    }

    /// The name as AWS stores it (lower case), which the token must carry.
    fn name(self) -> String {
        match self {
            Target::ElastiCache { name, .. } | Target::MemoryDb { name } => {
                name.to_ascii_lowercase()
            }
        }
    }
}

impl CacheIamInjector {
    /// An injector asking `roles` for credentials and calling `DescribeUsers` through `api`, with the
    /// system clock and its own token map.
    pub fn new(roles: Arc<dyn RoleProvider>, api: ApiClient) -> Self {
        Self {
            core: TokenCore::new(roles),
            api,
            endpoint: None,
            users: IamUserCache::new(USER_CHECK_TTL),
        }
    }

    /// Send `DescribeUsers` to `endpoint` (a VPC endpoint, or an emulator) instead of the regional one.
    #[must_use]
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    async fn mint(&self, want: &SessionRequest<'_>) -> Result<UpstreamLogin, InjectError> {
        let database = want.database;
        let user = want.db_user;
        let target = Target::of(database)?;
        let region = database
            .aws
            .region
            .as_deref()
            .ok_or_else(|| missing(&database.name, "aws.region"))?;
        let chain = self.core.chain(database)?;
        let name = target.name();
        let key = TokenKey {
            kind: target.token_kind(),
            target: name.clone(),
            port: 0,
            user: user.to_owned(),
            role: chain.last_role_arn().map(ToString::to_string),
        };
        let now = self.core.clock.now();
        if let Some(token) = self.core.tokens.get(&key, now) {
            return Ok(UpstreamLogin::new(user, token.into_string()));
        }
        let credentials = self
            .core
            .roles
            .credentials(&chain)
            .await
            .map_err(role_error)?;
        let mut call = Call::new(&credentials, region, now);
        if let Some(endpoint) = self.endpoint.as_deref() {
            call = call.endpoint(endpoint);
        }
        let uses_iam = self
            .users
            .user_uses_iam(&self.api, call, target.service(), user)
            .await
            .map_err(|e| api_error(&database.name, e, None))?;
        if !uses_iam {
            return Err(not_iam(database, target, user));
        }
        let token = match target {
            Target::ElastiCache { kind, .. } => {
                elasticache_auth_token(&credentials, &name, kind, user, region, now)
            }
            Target::MemoryDb { .. } => memorydb_auth_token(&credentials, &name, user, region, now),
        }
        .map_err(|source| {
            InjectError::new(
                InjectErrorKind::Internal,
                format!(
                    "could not sign the IAM token for database \"{}\"",
                    database.name
                ),
            )
            .with_source(source)
        })?;
        tracing::debug!(database = %database.name, "minted a cache IAM token");
        self.core.tokens.put(key, token.clone(), now);
        Ok(UpstreamLogin::new(user, token.into_string()))
    }
}

/// The user exists with another authentication mode, or not at all.
fn not_iam(database: &Database, target: Target<'_>, user: &str) -> InjectError {
    let (service, fix) = match target {
        Target::ElastiCache { .. } => (
            "ElastiCache",
            format!(
                "create it with `aws elasticache create-user --user-id {user} --user-name {user} \
                 --authentication-mode Type=iam` and add it to the cache's user group, or log in as \
                 a user that authenticates with IAM"
            ),
        ),
        Target::MemoryDb { .. } => (
            "MemoryDB",
            format!(
                "create it with `aws memorydb create-user --user-name {user} --authentication-mode \
                 Type=iam` and add it to the cluster's ACL, or log in as a user that authenticates \
                 with IAM"
            ),
        ),
    };
    InjectError::new(
        InjectErrorKind::Misconfigured,
        format!(
            "{service} user \"{user}\" of database \"{}\" does not authenticate with IAM \
             (DescribeUsers), so the proxy has no way to log in as it",
            database.name
        ),
    )
    .with_hint(fix)
}

impl fmt::Debug for CacheIamInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheIamInjector")
            .field("roles", &self.core.roles)
            .field("endpoint", &self.endpoint)
            .field("reuse", &self.core.tokens.reuse())
            .field("session_name", &self.core.session_name)
            .finish_non_exhaustive()
    }
}

impl AuthInjector for CacheIamInjector {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        Box::pin(self.mint(want))
    }

    fn rejected_hint(&self, want: &SessionRequest<'_>) -> Option<String> {
        let target = Target::of(want.database).ok()?;
        Some(connect_hint(want.database, target, want.db_user))
    }

    fn warm_up<'a>(&'a self, database: &'a Database) -> WarmUpFuture<'a> {
        Box::pin(self.core.warm_up(database))
    }
}

/// The IAM permission a cache login needs, with the ARNs spelled out for the database at hand.
fn connect_hint(database: &Database, target: Target<'_>, user: &str) -> String {
    let (account, partition) = account_of(database);
    let region = database.aws.region.as_deref().unwrap_or("<region>");
    let role = database
        .aws
        .assume_role_arn
        .as_deref()
        .unwrap_or("the proxy's AWS identity");
    let name = target.name();
    let (action, cache, user_arn) = match target {
        Target::ElastiCache { kind, .. } => {
            let base = format!("arn:{partition}:elasticache:{region}:{account}");
            let cache = match kind {
                ElastiCacheKind::Serverless => format!("{base}:serverlesscache:{name}"),
                _ => format!("{base}:replicationgroup:{name}"),
            };
            ("elasticache:Connect", cache, format!("{base}:user:{user}"))
        }
        Target::MemoryDb { .. } => {
            let base = format!("arn:{partition}:memorydb:{region}:{account}");
            (
                "memorydb:Connect",
                format!("{base}:cluster/{name}"),
                format!("{base}:user/{user}"),
            )
        }
    };
    format!(
        "{role} needs {action} on {cache} and {user_arn}; the user must authenticate with IAM and \
         belong to the cache's user group (its trust policy must let the proxy assume it)"
    )
}

#[cfg(test)]
mod tests {
    use iamwire_core::{ElastiCache, MemoryDb, Protocol};

    use super::*;

    fn db(ec: Option<ElastiCache>, mdb: Option<MemoryDb>) -> Database {
        let mut db = Database::new("cache", Protocol::Redis, "master.cache.example:6379");
        db.aws.region = Some("us-west-2".into());
        db.aws.assume_role_arn = Some("arn:aws:iam::222222222222:role/cache".into());
        db.aws.account_id = Some("222222222222".into());
        db.aws.elasticache = ec;
        db.aws.memorydb = mdb;
        db
    }

    #[test]
    fn targets_and_hints_name_the_arns() {
        let mut ec = ElastiCache::default();
        ec.replication_group_id = Some("My-Group".into());
        let d = db(Some(ec.clone()), None);
        let target = Target::of(&d).unwrap();
        assert_eq!(target.name(), "my-group");
        let hint = connect_hint(&d, target, "app");
        assert!(hint.contains("elasticache:Connect on arn:aws:elasticache:us-west-2:222222222222:replicationgroup:my-group and arn:aws:elasticache:us-west-2:222222222222:user:app"), "{hint}");
        assert!(hint.contains("arn:aws:iam::222222222222:role/cache"));
        ec.serverless_cache_name = Some("sls".into());
        let d = db(Some(ec), None);
        assert!(matches!(
            Target::of(&d).unwrap(),
            Target::ElastiCache {
                kind: ElastiCacheKind::Serverless,
                ..
            }
        ));
        assert!(connect_hint(&d, Target::of(&d).unwrap(), "app").contains(":serverlesscache:sls "));
        let mut m = MemoryDb::default();
        m.cluster_name = Some("mem".into());
        let d = db(None, Some(m));
        let hint = connect_hint(&d, Target::of(&d).unwrap(), "app");
        assert!(hint.contains("memorydb:Connect on arn:aws:memorydb:us-west-2:222222222222:cluster/mem and arn:aws:memorydb:us-west-2:222222222222:user/app"), "{hint}");
        let e = Target::of(&db(None, None)).unwrap_err();
        assert_eq!(e.kind(), InjectErrorKind::Misconfigured);
    }
}
