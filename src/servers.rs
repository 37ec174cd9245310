//! The protocol registry of `iamwire run`: the proxy each configured database gets, by its `protocol`.
//! A database whose protocol this build does not serve is an error at start that names both.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use iamwire_aws::aws_api::ApiClient;
use iamwire_aws::inject::{RedshiftApi, injector_for};
use iamwire_aws::role::RoleProvider;
use iamwire_core::{AuthInjector, Database, InjectError, Protocol, StaticPasswordInjector};
use iamwire_postgres::{PgProxy, Postgres};
use iamwire_proxy::Listener;
use iamwire_redis::{DEFAULT_REAUTH_INTERVAL, Redis, RedisProxy};

use crate::proxy_config::{Listener as ListenerConfig, LoadedConfig};

/// The proxy of one listener.
pub(crate) enum Server {
    /// PostgreSQL (RDS, Aurora, RDS Proxy, Redshift, Redshift Serverless).
    Postgres(PgProxy),
    /// Redis / Valkey (ElastiCache, MemoryDB, or a self-hosted Redis with a static password).
    Redis(RedisProxy),
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
        let config = shared.config;
        match database.protocol {
            Protocol::Postgres => {
                // RDS IAM token, Redshift or Redshift Serverless credentials, as the database says.
                let injector = injector_for(
                    database,
                    shared.roles.clone(),
                    aws_api(database, shared.aws_tls, shared.env),
                );
                let builder = PgProxy::builder(
                    Postgres::new(),
                    database.clone(),
                    config.server_tls.clone(),
                    config.allow_list.clone(),
                    injector,
                );
                build(builder, listener, config).map(Self::Postgres)
            }
            Protocol::Redis => redis(listener, shared).map(Self::Redis),
            other => Err(format!(
                "database {:?} speaks {other}, which this build of iamwire does not serve yet \
                 (it serves: postgres, redis); remove its listener or use a build that serves {other}",
                database.name
            )),
        }
    }

    /// The database served.
    pub(crate) fn database(&self) -> &Database {
        match self {
            Self::Postgres(p) => p.database(),
            Self::Redis(p) => p.database(),
        }
    }

    /// Fetch the database's role credentials ahead of the first client.
    pub(crate) fn warm_up(&self) -> impl Future<Output = Result<(), InjectError>> + Send + 'static {
        let this = self.clone_handle();
        async move {
            match this {
                Self::Postgres(p) => p.warm_up().await,
                Self::Redis(p) => p.warm_up().await,
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
                Self::Redis(p) => p.serve(listener, shutdown).await,
            }
        }
    }

    fn clone_handle(&self) -> Self {
        match self {
            Self::Postgres(p) => Self::Postgres(p.clone()),
            Self::Redis(p) => Self::Redis(p.clone()),
        }
    }
}

/// The Redis proxy of `listener`: ElastiCache / MemoryDB IAM tokens when the database names a cache
/// (re-AUTH every hour unless the listener says otherwise), else the listener's static password.
fn redis(listener: &ListenerConfig, shared: &Shared<'_>) -> Result<RedisProxy, String> {
    let database = &listener.database;
    let config = shared.config;
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
    let builder = RedisProxy::builder(
        Redis::new().reauth_interval(reauth),
        database.clone(),
        config.server_tls.clone(),
        config.allow_list.clone(),
        injector,
    );
    build(builder, listener, config)
}

/// The rest of every protocol's proxy: upstream TLS from the listener, timeouts and limits from the config.
fn build<P: iamwire_proxy::Protocol>(
    builder: iamwire_proxy::ProxyBuilder<P>,
    listener: &ListenerConfig,
    config: &LoadedConfig,
) -> Result<iamwire_proxy::Proxy<P>, String> {
    builder
        .upstream_tls_config(listener.upstream_tls.clone())
        .timeouts(config.timeouts)
        .limits(config.limits)
        .build()
        .map_err(|e| format!("database {:?}: {e}", listener.database.name))
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
