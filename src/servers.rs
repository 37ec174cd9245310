//! The protocol registry of `iamwire run`: the proxy each configured database gets, by its `protocol`.
//! A database whose protocol this build does not serve is an error at start that names both.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use iamwire_aws::aws_api::ApiClient;
use iamwire_aws::inject::{RdsIamInjector, RedshiftApi, injector_for};
use iamwire_aws::role::RoleProvider;
use iamwire_core::{AuthInjector, Database, InjectError, Protocol, StaticPasswordInjector};
use iamwire_cql::{Cql, CqlProxy};
use iamwire_http::{HttpLimits, HttpProxy, HttpTimeouts};
use iamwire_mysql::{MySql, MySqlProxy};
use iamwire_postgres::{PgProxy, Postgres};
use iamwire_proxy::Listener;
use iamwire_redis::{DEFAULT_REAUTH_INTERVAL, Redis, RedisProxy};

use crate::proxy_config::{Listener as ListenerConfig, LoadedConfig};

/// The proxy of one listener.
pub(crate) enum Server {
    /// PostgreSQL (RDS, Aurora, RDS Proxy, Redshift, Redshift Serverless).
    Postgres(PgProxy),
    /// MySQL and MariaDB (RDS, Aurora, RDS Proxy).
    MySql(MySqlProxy),
    /// Redis / Valkey (ElastiCache, MemoryDB, or a self-hosted Redis with a static password).
    Redis(RedisProxy),
    /// Cassandra CQL (Amazon Keyspaces).
    Cassandra(CqlProxy),
    /// DynamoDB (with Streams and the DAX API) and OpenSearch: every request re-signed as the
    /// database-user role.
    Http(HttpProxy),
}

/// What a server needs from the process besides its own config.
pub(crate) struct Shared<'a> {
    pub(crate) config: &'a LoadedConfig,
    pub(crate) roles: Arc<dyn RoleProvider>,
    pub(crate) aws_tls: &'a Arc<rustls::ClientConfig>,
    pub(crate) env: &'a BTreeMap<String, String>,
}

impl Server {
    /// The proxy for `listener`'s database.
    pub(crate) fn for_listener(
        listener: &ListenerConfig,
        shared: &Shared<'_>,
    ) -> Result<Self, String> {
        let database = &listener.database;
        match database.protocol {
            // RDS IAM token, Redshift or Redshift Serverless credentials, as the database says.
            Protocol::Postgres => {
                let injector = injector_for(
                    database,
                    shared.roles.clone(),
                    aws_api(database, shared.aws_tls, shared.env),
                );
                proxy(Postgres::new(), listener, shared, injector).map(Self::Postgres)
            }
            // RDS IAM tokens, whatever else the database's settings say.
            Protocol::MySql => {
                let injector = Arc::new(RdsIamInjector::new(shared.roles.clone()));
                proxy(MySql::new(), listener, shared, injector).map(Self::MySql)
            }
            Protocol::Redis => redis(listener, shared).map(Self::Redis),
            // Keyspaces: the database-user role's credentials answer the SigV4 challenge.
            Protocol::Cassandra => {
                let injector = injector_for(
                    database,
                    shared.roles.clone(),
                    aws_api(database, shared.aws_tls, shared.env),
                );
                proxy(Cql::new(), listener, shared, injector).map(Self::Cassandra)
            }
            Protocol::DynamoDb | Protocol::OpenSearch => {
                http_proxy(listener, shared).map(Self::Http)
            }
            other => Err(format!(
                "database {:?} speaks {other}, which this build of iamwire does not serve yet \
                 (it serves: postgres, mysql, redis, cassandra, dynamodb, opensearch); remove its \
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
            Self::Cassandra(p) => p.database(),
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
                Self::Cassandra(p) => p.warm_up().await,
                // HTTP databases assume a role per identity and role, known only when a request comes.
                Self::Http(_) => Ok(()),
            }
        }
    }

    /// Serve `listener` until `shutdown`, then drain.
    pub(crate) fn serve(
        self,
        listener: impl Into<Listener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let listener = listener.into();
        async move {
            match self {
                Self::Postgres(p) => p.serve(listener, shutdown).await,
                Self::MySql(p) => p.serve(listener, shutdown).await,
                Self::Redis(p) => p.serve(listener, shutdown).await,
                Self::Cassandra(p) => p.serve(listener, shutdown).await,
                Self::Http(h) => h.serve(listener, shutdown).await,
            }
        }
    }

    /// Another handle on the same proxy.
    fn clone_handle(&self) -> Self {
        match self {
            Self::Postgres(p) => Self::Postgres(p.clone()),
            Self::MySql(p) => Self::MySql(p.clone()),
            Self::Redis(p) => Self::Redis(p.clone()),
            Self::Cassandra(p) => Self::Cassandra(p.clone()),
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
) -> Result<iamwire_proxy::Proxy<P>, String> {
    let database = &listener.database;
    let config = shared.config;
    iamwire_proxy::Proxy::builder(
        protocol,
        database.clone(),
        config.server_tls.clone(),
        config.allow_list.clone(),
        injector,
    )
    .upstream_tls_config(listener.upstream_tls.clone())
    .timeouts(config.timeouts)
    .limits(config.limits)
    .build()
    .map_err(|e| format!("database {:?}: {e}", database.name))
}

/// The Redis proxy of `listener`: ElastiCache / MemoryDB IAM tokens when the database names a cache
/// (re-AUTH every hour unless the listener says otherwise), else the listener's static password.
fn redis(listener: &ListenerConfig, shared: &Shared<'_>) -> Result<RedisProxy, String> {
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
    proxy(
        Redis::new().reauth_interval(reauth),
        listener,
        shared,
        injector,
    )
}

/// The HTTP proxy for `listener`'s DynamoDB or OpenSearch database.
fn http_proxy(listener: &ListenerConfig, shared: &Shared<'_>) -> Result<HttpProxy, String> {
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
    builder
        .build()
        .map_err(|e| format!("database {:?}: {e}", database.name))
}

/// The AWS API client for `database`'s injector (Redshift credentials, ElastiCache / MemoryDB
/// `DescribeUsers`), honouring the SDKs' endpoint variables (`AWS_ENDPOINT_URL_REDSHIFT[_SERVERLESS]`,
/// `AWS_ENDPOINT_URL_ELASTICACHE`, `AWS_ENDPOINT_URL_MEMORYDB`, then `AWS_ENDPOINT_URL`); an `http://`
/// endpoint there is the operator's explicit choice (an emulator), so plaintext is allowed for it only.
fn aws_api(
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
