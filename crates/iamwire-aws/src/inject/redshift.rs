//! The Redshift injectors: temporary database credentials from `redshift:GetClusterCredentials`
//! (user `IAM:<user>`), `GetClusterCredentialsWithIAM` and Redshift Serverless `GetCredentials`
//! (user `IAMR:<role>`), asked for with the credentials at the end of the database's role chain;
//! and [`injector_for`], which picks the injector a database needs.

mod memo;

use std::fmt;
use std::sync::Arc;

use iamwire_core::{
    AuthInjector, Clock, Database, InjectError, LoginFuture, Partition, SessionRequest,
    SystemClock, UpstreamLogin, WarmUpFuture,
};

use super::{RdsIamInjector, api_error, chain_error, is_denied, missing, role_error};
use crate::aws_api::{ApiClient, ApiError, Call};
use crate::redshift::{
    ClusterCredentialsRequest, ClusterIamCredentialsRequest, MIN_DURATION,
    ServerlessCredentialsRequest, get_cluster_credentials, get_cluster_credentials_with_iam,
    get_serverless_credentials,
};
use crate::role::{DEFAULT_SESSION_NAME, RoleChain, RoleProvider};
use memo::{Memo, MemoKey};

/// How the injectors reach Redshift: an [`ApiClient`] (its TLS configuration chosen by the caller)
/// and, for VPC endpoints and emulators, an endpoint override.
#[derive(Debug, Clone)]
pub struct RedshiftApi {
    client: ApiClient,
    endpoint: Option<String>,
}

impl RedshiftApi {
    /// Call the services' regional endpoints through `client`.
    pub fn new(client: ApiClient) -> Self {
        Self {
            client,
            endpoint: None,
        }
    }

    /// Send every call to `endpoint` (e.g. a VPC endpoint, or `http://127.0.0.1:5000` with
    /// [`ApiClient::allow_http`]) instead.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }
}

impl From<ApiClient> for RedshiftApi {
    fn from(client: ApiClient) -> Self {
        Self::new(client)
    }
}

/// The injector `database` needs: Keyspaces for `protocol: cassandra`, DocumentDB (`MONGODB-AWS`) for
/// `protocol: mongodb`, ElastiCache / MemoryDB IAM tokens when `aws.elasticache` or `aws.memorydb` is set
/// (`api` then carries their `DescribeUsers` calls), Redshift Serverless when `aws.redshift_serverless`
/// is, Redshift when `aws.redshift` is, RDS IAM otherwise.
pub fn injector_for(
    database: &Database,
    roles: Arc<dyn RoleProvider>,
    api: impl Into<RedshiftApi>,
) -> Arc<dyn AuthInjector> {
    if database.protocol == iamwire_core::Protocol::Cassandra {
        Arc::new(super::KeyspacesInjector::new(roles))
    } else if database.protocol == iamwire_core::Protocol::MongoDb {
        Arc::new(super::DocumentDbInjector::new(roles))
    } else if database.aws.elasticache.is_some() || database.aws.memorydb.is_some() {
        let api = api.into();
        let injector = super::CacheIamInjector::new(roles, api.client);
        Arc::new(match api.endpoint {
            Some(endpoint) => injector.endpoint(endpoint),
            None => injector,
        })
    } else if database.aws.redshift_serverless.is_some() {
        Arc::new(RedshiftServerlessInjector::new(roles, api))
    } else if database.aws.redshift.is_some() {
        Arc::new(RedshiftInjector::new(roles, api))
    } else {
        Arc::new(RdsIamInjector::new(roles))
    }
}

/// Logs in to provisioned Redshift clusters (`aws.redshift.cluster_id`) with temporary
/// credentials for the client's database user, `IAM:<user>` (never auto-created).
///
/// A client user naming an IAM role (`role/<name>` or a role ARN) logs in as that role instead,
/// `IAMR:<role>`, through `GetClusterCredentialsWithIAM` with the role as the chain's second hop.
/// Credentials are reused per cluster, user and database name until a minute before they expire.
pub struct RedshiftInjector {
    core: Core,
}

/// Logs in to Redshift Serverless workgroups (`aws.redshift_serverless.workgroup_name`) as the
/// client's database user, an IAM role in the database's account (`IAMR:<role>`), assumed as the
/// chain's second hop. Credentials are reused per workgroup, role and database name until a
/// minute before they expire.
pub struct RedshiftServerlessInjector {
    core: Core,
}

macro_rules! builder_methods {
    ($ty:ident) => {
        impl $ty {
            /// An injector asking `roles` for AWS credentials and calling AWS through `api`, with
            /// the system clock.
            pub fn new(roles: Arc<dyn RoleProvider>, api: impl Into<RedshiftApi>) -> Self {
                Self {
                    core: Core::new(roles, api.into()),
                }
            }

            /// Sign calls and judge expiry at the time `clock` gives (a test seam).
            pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
                self.core.clock = clock;
                self
            }

            /// The AssumeRole session name (shows up in the database account's CloudTrail).
            pub fn session_name(mut self, name: impl Into<String>) -> Self {
                self.core.session_name = name.into();
                self
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("roles", &self.core.roles)
                    .field("api", &self.core.api)
                    .field("session_name", &self.core.session_name)
                    .finish_non_exhaustive()
            }
        }
    };
}

builder_methods!(RedshiftInjector);
builder_methods!(RedshiftServerlessInjector);

impl AuthInjector for RedshiftInjector {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        Box::pin(async move {
            let cluster = setting(
                want.database
                    .aws
                    .redshift
                    .as_ref()
                    .and_then(|r| r.cluster_id.as_deref()),
            )
            .ok_or_else(|| missing_setting(want.database, "aws.redshift.cluster_id"))?;
            let op = match role_user(want.db_user) {
                Some(role) => Op::ClusterIam { cluster, role },
                None if want.database.logs_in_as_iam_role() => Op::ClusterIam {
                    cluster,
                    role: want.db_user,
                },
                None => Op::Cluster { cluster },
            };
            self.core.login(want, op).await
        })
    }

    fn warm_up<'a>(&'a self, database: &'a Database) -> WarmUpFuture<'a> {
        Box::pin(self.core.warm_up(database))
    }

    fn rejected_hint(&self, want: &SessionRequest<'_>) -> Option<String> {
        let user = want.db_user;
        Some(match role_user(user) {
            Some(_) => format!(
                "the database user for IAM role {user} must exist in the cluster \
                 (as \"IAMR:<role name>\") and have access to the database"
            ),
            None => format!(
                "the proxy does not create database users: \"IAM:{user}\" must exist in the \
                 cluster (CREATE USER \"IAM:{user}\" PASSWORD DISABLE) and have access to the database"
            ),
        })
    }
}

impl AuthInjector for RedshiftServerlessInjector {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        Box::pin(async move {
            let workgroup = setting(
                want.database
                    .aws
                    .redshift_serverless
                    .as_ref()
                    .and_then(|r| r.workgroup_name.as_deref()),
            )
            .ok_or_else(|| {
                missing_setting(want.database, "aws.redshift_serverless.workgroup_name")
            })?;
            let role = role_user(want.db_user).unwrap_or(want.db_user);
            self.core
                .login(want, Op::Serverless { workgroup, role })
                .await
        })
    }

    fn warm_up<'a>(&'a self, database: &'a Database) -> WarmUpFuture<'a> {
        Box::pin(self.core.warm_up(database))
    }

    fn rejected_hint(&self, want: &SessionRequest<'_>) -> Option<String> {
        Some(format!(
            "the database user for IAM role {} must have access to the database",
            want.db_user
        ))
    }
}

/// A client user that names an IAM role: `role/<name>` (the name) or a role ARN (as is).
fn role_user(user: &str) -> Option<&str> {
    if let Some(name) = user.strip_prefix("role/") {
        return Some(name);
    }
    (user.starts_with("arn:") && user.contains(":role/")).then_some(user)
}

/// `value` if set and not empty; else nothing, and the caller reports the missing `setting`.
fn setting(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

fn missing_setting(database: &Database, setting: &'static str) -> InjectError {
    missing(&database.name, setting)
}

/// Which credentials call one login makes.
#[derive(Debug, Clone, Copy)]
enum Op<'a> {
    /// `GetClusterCredentials` for the client's user.
    Cluster { cluster: &'a str },
    /// `GetClusterCredentialsWithIAM` as the user role `role`.
    ClusterIam { cluster: &'a str, role: &'a str },
    /// Redshift Serverless `GetCredentials` as the user role `role`.
    Serverless { workgroup: &'a str, role: &'a str },
}

impl<'a> Op<'a> {
    fn name(self) -> &'static str {
        match self {
            Op::Cluster { .. } => "GetClusterCredentials",
            Op::ClusterIam { .. } => "GetClusterCredentialsWithIAM",
            Op::Serverless { .. } => "GetCredentials",
        }
    }

    fn target(self) -> &'a str {
        match self {
            Op::Cluster { cluster } | Op::ClusterIam { cluster, .. } => cluster,
            Op::Serverless { workgroup, .. } => workgroup,
        }
    }
}

/// What both injectors share: the role provider, the API, the clock and the memo.
struct Core {
    roles: Arc<dyn RoleProvider>,
    api: RedshiftApi,
    clock: Arc<dyn Clock>,
    session_name: String,
    memo: Memo,
}

impl Core {
    fn new(roles: Arc<dyn RoleProvider>, api: RedshiftApi) -> Self {
        Self {
            roles,
            api,
            clock: Arc::new(SystemClock),
            session_name: DEFAULT_SESSION_NAME.to_owned(),
            memo: Memo::default(),
        }
    }

    /// Hop 1 of the chain (the database's role), which every login through it starts from.
    async fn warm_up(&self, database: &Database) -> Result<(), InjectError> {
        let chain = RoleChain::for_database(&database.aws, None, &self.session_name)
            .map_err(|e| chain_error(&database.name, e))?;
        self.roles
            .credentials(&chain)
            .await
            .map(drop)
            .map_err(role_error)
    }

    async fn login(
        &self,
        want: &SessionRequest<'_>,
        op: Op<'_>,
    ) -> Result<UpstreamLogin, InjectError> {
        let database = want.database;
        let region = database
            .aws
            .region
            .as_deref()
            .ok_or_else(|| missing_setting(database, "aws.region"))?;
        let user_role = match op {
            Op::Cluster { .. } => None,
            Op::ClusterIam { role, .. } | Op::Serverless { role, .. } => Some(role),
        };
        let chain = RoleChain::for_database(&database.aws, user_role, &self.session_name)
            .map_err(|e| chain_error(&database.name, e))?;
        let key = MemoKey {
            operation: op.name(),
            region: region.to_owned(),
            target: op.target().to_owned(),
            user: want.db_user.to_owned(),
            db_name: want.db_name.map(str::to_owned),
            role: chain.last_role_arn().map(ToString::to_string),
        };
        let now = self.clock.now();
        if let Some(found) = self.memo.get(&key, now) {
            tracing::debug!(database = %database.name, operation = op.name(), "reusing Redshift credentials");
            return Ok(UpstreamLogin::new(found.user(), found.password()));
        }
        let aws = self.roles.credentials(&chain).await.map_err(role_error)?;
        let mut call = Call::new(&aws, region, now);
        if let Some(endpoint) = self.api.endpoint.as_deref() {
            call = call.endpoint(endpoint);
        }
        let client = &self.api.client;
        let db_name = want.db_name;
        let answer = match op {
            Op::Cluster { cluster } => {
                let mut request =
                    ClusterCredentialsRequest::new(cluster, want.db_user).duration(MIN_DURATION);
                if let Some(db) = db_name {
                    request = request.db_name(db);
                }
                get_cluster_credentials(client, call, &request).await
            }
            Op::ClusterIam { cluster, .. } => {
                let mut request = ClusterIamCredentialsRequest::new(cluster).duration(MIN_DURATION);
                if let Some(db) = db_name {
                    request = request.db_name(db);
                }
                get_cluster_credentials_with_iam(client, call, &request).await
            }
            Op::Serverless { workgroup, .. } => {
                let mut request =
                    ServerlessCredentialsRequest::new(workgroup).duration(MIN_DURATION);
                if let Some(db) = db_name {
                    request = request.db_name(db);
                }
                get_serverless_credentials(client, call, &request).await
            }
        };
        let found = answer.map_err(|source| {
            let hint = hint_for(&source, want, op, region);
            api_error(&database.name, source, hint)
        })?;
        tracing::debug!(database = %database.name, operation = op.name(), user = found.user(), "got Redshift credentials");
        let login = UpstreamLogin::new(found.user(), found.password());
        self.memo.put(key, found, now);
        Ok(login)
    }
}

/// What to do about a failed call: the exact permission when access was denied, else what the
/// API layer suggests.
fn hint_for(
    error: &ApiError,
    want: &SessionRequest<'_>,
    op: Op<'_>,
    region: &str,
) -> Option<String> {
    let ApiError::Service(service) = error else {
        return None;
    };
    if !is_denied(&service.code) {
        return service.hint.clone();
    }
    let (account, partition) = account_of(want.database);
    let db = want.db_name.unwrap_or("*");
    let base = format!("arn:{partition}:redshift:{region}:{account}");
    Some(match op {
        Op::Cluster { cluster } => format!(
            "the proxy's role needs redshift:GetClusterCredentials on \
             {base}:dbuser:{cluster}/{user} and {base}:dbname:{cluster}/{db}",
            user = want.db_user
        ),
        Op::ClusterIam { cluster, role } => format!(
            "the role {role} needs redshift:GetClusterCredentialsWithIAM on \
             {base}:dbname:{cluster}/{db}"
        ),
        Op::Serverless { workgroup, role } => format!(
            "the role {role} needs redshift-serverless:GetCredentials on workgroup {workgroup} \
             (arn:{partition}:redshift-serverless:{region}:{account}:workgroup/<workgroup id>)"
        ),
    })
}

#[cfg(test)]
mod tests;

/// The account and partition a database lives in, as far as its settings say.
pub(super) fn account_of(database: &Database) -> (String, &'static str) {
    let aws = &database.aws;
    let from_role = aws.assume_role().ok().flatten();
    let partition = from_role
        .as_ref()
        .map(|arn| arn.partition())
        .or_else(|| aws.region.as_deref().and_then(Partition::of_region))
        .unwrap_or(Partition::Aws)
        .as_str();
    let account = aws
        .account_id
        .clone()
        .or_else(|| from_role.as_ref().map(|arn| arn.account_id().to_owned()))
        .unwrap_or_else(|| "<account>".to_owned());
    (account, partition)
}
