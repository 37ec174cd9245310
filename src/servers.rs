//! The protocol registry of `iamwire run`: the proxy each configured database gets, by its `protocol`.
//! A database whose protocol this build does not serve is an error at start that names both.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use iamwire_aws::aws_api::ApiClient;
use iamwire_aws::inject::{RdsIamInjector, RedshiftApi, injector_for};
use iamwire_aws::role::RoleProvider;
use iamwire_core::{AuthInjector, Database, InjectError, Protocol};
use iamwire_mysql::{MySql, MySqlProxy};
use iamwire_postgres::{PgProxy, Postgres};
use iamwire_proxy::Listener;

use crate::proxy_config::{Listener as ListenerConfig, LoadedConfig};

/// The proxy of one listener.
pub(crate) enum Server {
    /// PostgreSQL (RDS, Aurora, RDS Proxy, Redshift, Redshift Serverless).
    Postgres(PgProxy),
    /// MySQL and MariaDB (RDS, Aurora, RDS Proxy).
    MySql(MySqlProxy),
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
                    redshift_api(database, shared.aws_tls, shared.env),
                );
                build(Postgres::new(), listener, config, injector).map(Self::Postgres)
            }
            Protocol::MySql => {
                // RDS IAM tokens, whatever else the database's settings say.
                let injector = Arc::new(RdsIamInjector::new(shared.roles.clone()));
                build(MySql::new(), listener, config, injector).map(Self::MySql)
            }
            other => Err(format!(
                "database {:?} speaks {other}, which this build of iamwire does not serve yet \
                 (it serves: postgres, mysql); remove its listener or use a build that serves {other}",
                database.name
            )),
        }
    }

    /// The database served.
    pub(crate) fn database(&self) -> &Database {
        match self {
            Self::Postgres(p) => p.database(),
            Self::MySql(p) => p.database(),
        }
    }

    /// Fetch the database's role credentials ahead of the first client.
    pub(crate) fn warm_up(&self) -> impl Future<Output = Result<(), InjectError>> + Send + 'static {
        let this = match self {
            Self::Postgres(p) => Warm::Postgres(p.clone()),
            Self::MySql(p) => Warm::MySql(p.clone()),
        };
        async move {
            match this {
                Warm::Postgres(p) => p.warm_up().await,
                Warm::MySql(p) => p.warm_up().await,
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
            }
        }
    }
}

/// The proxy speaking `protocol` for `listener`'s database, with the config's TLS, authorizer, timeouts
/// and limits.
fn build<P: iamwire_proxy::Protocol>(
    protocol: P,
    listener: &ListenerConfig,
    config: &LoadedConfig,
    injector: Arc<dyn AuthInjector>,
) -> Result<iamwire_proxy::Proxy<P>, String> {
    let database = &listener.database;
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

/// A server's proxy, for its warm-up.
enum Warm {
    Postgres(PgProxy),
    MySql(MySqlProxy),
}

/// The Redshift API client for `database`, honouring the SDKs' endpoint variables
/// (`AWS_ENDPOINT_URL_REDSHIFT[_SERVERLESS]`, then `AWS_ENDPOINT_URL`); an `http://` endpoint there is the
/// operator's explicit choice (an emulator), so plaintext is allowed for it only.
fn redshift_api(
    database: &Database,
    tls: &Arc<rustls::ClientConfig>,
    env: &BTreeMap<String, String>,
) -> RedshiftApi {
    let specific = if database.aws.redshift_serverless.is_some() {
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
