//! The protocol registry of `iamwire run`: the proxy each configured database gets, by its `protocol`.
//! A database whose protocol this build does not serve is an error at start that names both.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use iamwire_aws::aws_api::ApiClient;
use iamwire_aws::endpoint_check::EndpointGuard;
use iamwire_aws::inject::{RdsIamInjector, RedshiftApi, TokenMap, injector_for};
use iamwire_aws::role::RoleProvider;
use iamwire_core::{AuthInjector, Database, InjectError, Protocol, StaticPasswordInjector};
use iamwire_cql::{Cql, CqlProxy};
use iamwire_http::{HttpLimits, HttpMetrics, HttpProxy, HttpTimeouts};
use iamwire_mongodb::{Mongo, MongoProxy};
use iamwire_mysql::{MySql, MySqlProxy};
use iamwire_postgres::{PgProxy, Postgres};
use iamwire_proxy::{Drain, Listener, MetricsSnapshot, SessionId, SessionInfo};
use iamwire_redis::{DEFAULT_REAUTH_INTERVAL, Redis, RedisCluster, RedisProxy};

use crate::catalog::CatalogEntry;
use crate::proxy_config::{Listener as ListenerConfig, LoadedConfig};

/// The proxy of one listener.
pub(crate) enum Server {
    /// PostgreSQL (RDS, Aurora, RDS Proxy, Redshift, Redshift Serverless).
    Postgres(PgProxy),
    /// MySQL and MariaDB (RDS, Aurora, RDS Proxy).
    MySql(MySqlProxy),
    /// Redis / Valkey (ElastiCache, MemoryDB, or a self-hosted Redis with a static password).
    Redis(RedisProxy),
    /// A Redis cluster (the listener's `cluster` section): one proxy address per node.
    RedisCluster(RedisCluster),
    /// Cassandra CQL (Amazon Keyspaces).
    Cassandra(CqlProxy),
    /// MongoDB (Amazon DocumentDB with MONGODB-AWS).
    MongoDb(MongoProxy),
    /// DynamoDB (with Streams and the DAX API) and OpenSearch: every request re-signed as the
    /// database-user role.
    Http(HttpProxy),
}

/// `$body` with `$p` bound to the framework proxy of `$server`, or `$http` for an HTTP database.
macro_rules! framework {
    ($server:expr, $p:ident => $body:expr, $http:expr) => {
        match $server {
            Server::Postgres($p) => $body,
            Server::MySql($p) => $body,
            Server::Redis($p) => $body,
            Server::RedisCluster(cluster) => {
                let $p = cluster.proxy();
                $body
            }
            Server::Cassandra($p) => $body,
            Server::MongoDb($p) => $body,
            Server::Http(_) => $http,
        }
    };
}

/// What a server needs from the process besides its own config.
pub(crate) struct Shared<'a> {
    pub(crate) config: &'a LoadedConfig,
    pub(crate) roles: Arc<dyn RoleProvider>,
    pub(crate) aws_tls: &'a Arc<rustls::ClientConfig>,
    pub(crate) env: &'a BTreeMap<String, String>,
    /// The RDS IAM tokens every database of the process mints and reuses (counted for `/metrics`).
    pub(crate) tokens: Arc<TokenMap>,
    /// For a discovered or dynamic database: its catalog entry and the guard that confirms its
    /// endpoint before any credential is sent.
    pub(crate) guard: Option<(&'a CatalogEntry, &'a EndpointGuard)>,
}

impl Server {
    /// The proxy for `listener`'s database; with `previous` (a reload), the new proxy takes over its
    /// predecessor's live sessions, counters and pause.
    pub(crate) fn for_listener(
        listener: &ListenerConfig,
        shared: &Shared<'_>,
        previous: Option<&Self>,
    ) -> Result<Self, String> {
        let database = &listener.database;
        match database.protocol {
            // RDS IAM token, Redshift or Redshift Serverless credentials, as the database says.
            Protocol::Postgres => {
                let aws = &database.aws;
                let injector: Arc<dyn AuthInjector> =
                    if aws.redshift.is_none() && aws.redshift_serverless.is_none() {
                        let rds = RdsIamInjector::new(shared.roles.clone());
                        Arc::new(rds.tokens(shared.tokens.clone()))
                    } else {
                        injector_for(
                            database,
                            shared.roles.clone(),
                            aws_api(database, shared.aws_tls, shared.env),
                        )
                    };
                let before = previous.and_then(|p| match p {
                    Self::Postgres(p) => Some(p),
                    _ => None,
                });
                proxy(Postgres::new(), listener, shared, injector, before).map(Self::Postgres)
            }
            // RDS IAM tokens, whatever else the database's settings say.
            Protocol::MySql => {
                let injector = Arc::new(
                    RdsIamInjector::new(shared.roles.clone()).tokens(shared.tokens.clone()),
                );
                let before = previous.and_then(|p| match p {
                    Self::MySql(p) => Some(p),
                    _ => None,
                });
                proxy(MySql::new(), listener, shared, injector, before).map(Self::MySql)
            }
            Protocol::Redis => {
                let before = previous.and_then(|p| match p {
                    Self::Redis(p) => Some(p),
                    _ => None,
                });
                redis(listener, shared, before)
            }
            // Keyspaces: the database-user role's credentials answer the SigV4 challenge.
            Protocol::Cassandra => {
                let injector = injector_for(
                    database,
                    shared.roles.clone(),
                    aws_api(database, shared.aws_tls, shared.env),
                );
                let before = previous.and_then(|p| match p {
                    Self::Cassandra(p) => Some(p),
                    _ => None,
                });
                proxy(Cql::new(), listener, shared, injector, before).map(Self::Cassandra)
            }
            // DocumentDB: the database-user role's credentials sign MONGODB-AWS's GetCallerIdentity.
            Protocol::MongoDb => {
                let injector = injector_for(
                    database,
                    shared.roles.clone(),
                    aws_api(database, shared.aws_tls, shared.env),
                );
                let before = previous.and_then(|p| match p {
                    Self::MongoDb(p) => Some(p),
                    _ => None,
                });
                proxy(Mongo::new(), listener, shared, injector, before).map(Self::MongoDb)
            }
            Protocol::DynamoDb | Protocol::OpenSearch => {
                let before = previous.and_then(|p| match p {
                    Self::Http(p) => Some(p),
                    _ => None,
                });
                http_proxy(listener, shared, before).map(Self::Http)
            }
            other => Err(format!(
                "database {:?} speaks {other}, which this build of iamwire does not serve yet \
                 (it serves: postgres, mysql, redis, cassandra, mongodb, dynamodb, opensearch); remove its \
                 listener or use a build that serves {other}",
                database.name
            )),
        }
    }

    /// The database served.
    pub(crate) fn database(&self) -> &Database {
        match self {
            Self::Postgres(p) => p.database(),
            Self::MySql(p) => p.database(),
            Self::Redis(p) => p.database(),
            Self::RedisCluster(c) => c.proxy().database(),
            Self::Cassandra(p) => p.database(),
            Self::MongoDb(p) => p.database(),
            Self::Http(h) => h.database(),
        }
    }

    /// Fetch the database's role credentials ahead of the first client.
    pub(crate) fn warm_up(&self) -> impl Future<Output = Result<(), InjectError>> + Send + 'static {
        let this = self.clone_handle();
        async move {
            match this {
                Self::Postgres(p) => p.warm_up().await,
                Self::MySql(p) => p.warm_up().await,
                Self::Redis(p) => p.warm_up().await,
                Self::RedisCluster(c) => c.proxy().warm_up().await,
                Self::Cassandra(p) => p.warm_up().await,
                Self::MongoDb(p) => p.warm_up().await,
                // HTTP databases assume a role per identity and role, known only when a request comes.
                Self::Http(_) => Ok(()),
            }
        }
    }

    /// Accept from `listener` until `stop`, each session living under the process's `drain`.
    pub(crate) fn serve_until(
        &self,
        listener: impl Into<Listener>,
        stop: impl Future<Output = ()> + Send + 'static,
        drain: Drain,
    ) -> impl Future<Output = ()> + Send + 'static {
        let listener = listener.into();
        let this = self.clone_handle();
        async move {
            match this {
                Self::Postgres(p) => p.serve_until(listener, stop, &drain).await,
                Self::MySql(p) => p.serve_until(listener, stop, &drain).await,
                Self::Redis(p) => p.serve_until(listener, stop, &drain).await,
                Self::RedisCluster(c) => match listener {
                    Listener::Tcp(tcp) => c.serve_until(tcp, stop, &drain).await,
                    Listener::Unix(_) => tracing::error!(
                        database = %c.proxy().database().name,
                        "Redis cluster mode needs a TCP listener; not serving"
                    ),
                },
                Self::Cassandra(p) => p.serve_until(listener, stop, &drain).await,
                Self::MongoDb(p) => p.serve_until(listener, stop, &drain).await,
                Self::Http(h) => h.serve_until(listener, stop, &drain).await,
            }
        }
    }

    /// The live sessions (none for HTTP databases: they have requests, not sessions).
    pub(crate) fn sessions(&self) -> Vec<Arc<SessionInfo>> {
        framework!(self, p => p.registry().list(), Vec::new())
    }

    /// End live session `id`; whether it was there.
    pub(crate) fn kill(&self, id: SessionId) -> bool {
        framework!(self, p => p.registry().kill(id), false)
    }

    /// Refuse new sessions (or requests) until resumed.
    pub(crate) fn pause(&self) {
        match self {
            Self::Http(h) => h.pause(),
            _ => framework!(self, p => p.pause(), ()),
        }
    }

    /// Accept new sessions again.
    pub(crate) fn resume(&self) {
        match self {
            Self::Http(h) => h.resume(),
            _ => framework!(self, p => p.resume(), ()),
        }
    }

    /// Whether new sessions are refused.
    pub(crate) fn is_paused(&self) -> bool {
        match self {
            Self::Http(h) => h.is_paused(),
            _ => framework!(self, p => p.is_paused(), false),
        }
    }

    /// The framework's counters (`None` for HTTP databases, see [`Self::http_metrics`]).
    pub(crate) fn metrics(&self) -> Option<MetricsSnapshot> {
        framework!(self, p => Some(p.metrics()), None)
    }

    /// An HTTP database's counters.
    pub(crate) fn http_metrics(&self) -> Option<HttpMetrics> {
        match self {
            Self::Http(h) => Some(h.metrics()),
            _ => None,
        }
    }

    /// Another handle on the same proxy.
    pub(crate) fn clone_handle(&self) -> Self {
        match self {
            Self::Postgres(p) => Self::Postgres(p.clone()),
            Self::MySql(p) => Self::MySql(p.clone()),
            Self::Redis(p) => Self::Redis(p.clone()),
            Self::RedisCluster(c) => Self::RedisCluster(c.clone()),
            Self::Cassandra(p) => Self::Cassandra(p.clone()),
            Self::MongoDb(p) => Self::MongoDb(p.clone()),
            Self::Http(h) => Self::Http(h.clone()),
        }
    }
}

/// `protocol`'s proxy for `listener`'s database, logging in upstream through `injector`, with the
/// config's TLS, allow list, timeouts and limits.
fn proxy<P: iamwire_proxy::Protocol>(
    protocol: P,
    listener: &ListenerConfig,
    shared: &Shared<'_>,
    injector: Arc<dyn AuthInjector>,
    previous: Option<&iamwire_proxy::Proxy<P>>,
) -> Result<iamwire_proxy::Proxy<P>, String> {
    let database = &listener.database;
    let config = shared.config;
    let injector = match shared.guard {
        Some((entry, guard)) => crate::catalog::guard_injector(entry, guard, injector),
        None => injector,
    };
    let builder = iamwire_proxy::Proxy::builder(
        protocol,
        database.clone(),
        config.server_tls.clone(),
        config.allow_list.clone(),
        injector,
    )
    .upstream_tls_config(listener.upstream_tls.clone())
    .timeouts(config.timeouts)
    .limits(config.limits);
    match previous {
        Some(previous) => builder.succeed(previous),
        None => builder,
    }
    .build()
    .map_err(|e| format!("database {:?}: {e}", database.name))
}

/// The Redis proxy of `listener`: ElastiCache / MemoryDB IAM tokens when the database names a cache
/// (re-AUTH every hour unless the listener says otherwise), else the listener's static password.
fn redis(
    listener: &ListenerConfig,
    shared: &Shared<'_>,
    previous: Option<&RedisProxy>,
) -> Result<Server, String> {
    let database = &listener.database;
    let aws = &database.aws;
    let (injector, reauth): (Arc<dyn AuthInjector>, _) = if aws.elasticache.is_some()
        || aws.memorydb.is_some()
    {
        let api = aws_api(database, shared.aws_tls, shared.env);
        let injector = injector_for(database, shared.roles.clone(), api);
        (
            injector,
            listener.reauth_interval.or(Some(DEFAULT_REAUTH_INTERVAL)),
        )
    } else if let Some(password) = &listener.password {
        let injector = Arc::new(StaticPasswordInjector::new(password.clone()));
        (injector, listener.reauth_interval)
    } else {
        return Err(format!(
            "database {:?} (redis) names no cache to log in to with IAM \
                 (aws.elasticache.replication_group_id, aws.elasticache.serverless_cache_name or \
                 aws.memorydb.cluster_name) and its listener has no password_file for a self-hosted \
                 Redis; set one of them",
            database.name
        ));
    };
    let mut redis = Redis::new().reauth_interval(reauth);
    let Some(cluster) = &listener.cluster else {
        return proxy(redis, listener, shared, injector, previous).map(Server::Redis);
    };
    redis = redis.cluster(cluster.clone());
    let proxy = proxy(redis, listener, shared, injector, None)?;
    RedisCluster::new(proxy)
        .map(Server::RedisCluster)
        .map_err(|e| format!("database {:?}: {e}", listener.database.name))
}

/// The HTTP proxy for `listener`'s DynamoDB or OpenSearch database.
fn http_proxy(
    listener: &ListenerConfig,
    shared: &Shared<'_>,
    previous: Option<&HttpProxy>,
) -> Result<HttpProxy, String> {
    let config = shared.config;
    let database = &listener.database;
    let mut limits = HttpLimits::default();
    limits.listener = config.limits.listener;
    if let Some(max) = config.http.max_body {
        limits.max_body = max;
    }
    if let Some(max) = config.http.max_in_flight {
        limits.max_in_flight = max;
    }
    let mut timeouts = HttpTimeouts::default();
    timeouts.handshake = config.timeouts.handshake;
    timeouts.credentials = config.timeouts.credentials;
    timeouts.connect = config.timeouts.connect;
    if let Some(after) = config.http.request_timeout {
        timeouts.response = after;
    }
    if let Some(after) = config.http.idle_timeout {
        timeouts.idle = after;
    }
    let mut builder = HttpProxy::builder(
        database.clone(),
        shared.roles.clone(),
        config.allow_list.clone(),
    )
    .server_tls(config.server_tls.clone())
    .upstream_tls(listener.upstream_tls.clone())
    .limits(limits)
    .timeouts(timeouts);
    if let Some(keys) = &config.http.access_keys {
        builder = builder.access_keys(keys.clone());
    }
    if let Some((entry, guard)) = shared.guard
        && entry.origin.needs_endpoint_check()
    {
        builder = builder.endpoint_guard(guard.clone());
    }
    if let Some(previous) = previous {
        builder = builder.succeed(previous);
    }
    builder
        .build()
        .map_err(|e| format!("database {:?}: {e}", database.name))
}

/// The AWS API client for `database`'s injector (Redshift credentials, ElastiCache / MemoryDB
/// `DescribeUsers`), honouring the SDKs' endpoint variables (`AWS_ENDPOINT_URL_REDSHIFT[_SERVERLESS]`,
/// `AWS_ENDPOINT_URL_ELASTICACHE`, `AWS_ENDPOINT_URL_MEMORYDB`, then `AWS_ENDPOINT_URL`); an `http://`
/// endpoint there is the operator's explicit choice (an emulator), so plaintext is allowed for it only.
pub(crate) fn aws_api(
    database: &Database,
    tls: &Arc<rustls::ClientConfig>,
    env: &BTreeMap<String, String>,
) -> RedshiftApi {
    let aws = &database.aws;
    let specific = if aws.elasticache.is_some() {
        "AWS_ENDPOINT_URL_ELASTICACHE"
    } else if aws.memorydb.is_some() {
        "AWS_ENDPOINT_URL_MEMORYDB"
    } else if aws.redshift_serverless.is_some() {
        "AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS"
    } else {
        "AWS_ENDPOINT_URL_REDSHIFT"
    };
    let endpoint = env
        .get(specific)
        .or_else(|| env.get("AWS_ENDPOINT_URL"))
        .filter(|e| !e.is_empty());
    let client =
        ApiClient::new(tls.clone()).allow_http(endpoint.is_some_and(|e| e.starts_with("http://")));
    match endpoint {
        Some(url) => RedshiftApi::new(client).endpoint(url.clone()),
        None => RedshiftApi::new(client),
    }
}
