//! Settings of `iamwire run` given as flags or `IAMWIRE_*` variables, over the config file's: a flag wins
//! over its variable (clap reads both), either wins over the file, the file over the default. They are
//! applied again to the file at every reload.

use std::path::PathBuf;

use clap::Args;

use crate::proxy_config::{AdminSection, AwsSection, ProxyConfigFile};

/// Scalar settings of the config file as flags (each also an `IAMWIRE_*` variable).
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct Overrides {
    /// proxy.handshake_timeout (e.g. 30s).
    #[arg(long, env = "IAMWIRE_HANDSHAKE_TIMEOUT", value_name = "DURATION")]
    handshake_timeout: Option<String>,
    /// proxy.credential_timeout.
    #[arg(long, env = "IAMWIRE_CREDENTIAL_TIMEOUT", value_name = "DURATION")]
    credential_timeout: Option<String>,
    /// proxy.connect_timeout.
    #[arg(long, env = "IAMWIRE_CONNECT_TIMEOUT", value_name = "DURATION")]
    connect_timeout: Option<String>,
    /// proxy.login_timeout.
    #[arg(long, env = "IAMWIRE_LOGIN_TIMEOUT", value_name = "DURATION")]
    login_timeout: Option<String>,
    /// proxy.shutdown_timeout: how long live sessions may finish after SIGTERM.
    #[arg(long, env = "IAMWIRE_SHUTDOWN_TIMEOUT", value_name = "DURATION")]
    shutdown_timeout: Option<String>,
    /// proxy.max_connections (sessions per database).
    #[arg(long, env = "IAMWIRE_MAX_CONNECTIONS", value_name = "N")]
    max_connections: Option<usize>,
    /// proxy.max_handshakes (per listener).
    #[arg(long, env = "IAMWIRE_MAX_HANDSHAKES", value_name = "N")]
    max_handshakes: Option<usize>,
    /// proxy.max_connections_per_client (per listener and client address).
    #[arg(long, env = "IAMWIRE_MAX_CONNECTIONS_PER_CLIENT", value_name = "N")]
    max_connections_per_client: Option<usize>,
    /// proxy.max_request_body (HTTP databases, bytes).
    #[arg(long, env = "IAMWIRE_MAX_REQUEST_BODY", value_name = "BYTES")]
    max_request_body: Option<u64>,
    /// proxy.max_concurrent_requests (HTTP databases).
    #[arg(long, env = "IAMWIRE_MAX_CONCURRENT_REQUESTS", value_name = "N")]
    max_concurrent_requests: Option<usize>,
    /// proxy.request_timeout (HTTP databases).
    #[arg(long, env = "IAMWIRE_REQUEST_TIMEOUT", value_name = "DURATION")]
    request_timeout: Option<String>,
    /// proxy.http_idle_timeout (HTTP keep-alive connections).
    #[arg(long, env = "IAMWIRE_HTTP_IDLE_TIMEOUT", value_name = "DURATION")]
    http_idle_timeout: Option<String>,
    /// proxy.admin.listen (ip:port of health, metrics and the admin API).
    #[arg(long, env = "IAMWIRE_ADMIN_LISTEN", value_name = "ADDR")]
    admin_listen: Option<String>,
    /// aws.region.
    #[arg(long, env = "IAMWIRE_AWS_REGION", value_name = "REGION")]
    aws_region: Option<String>,
    /// aws.env_file.
    #[arg(long, env = "IAMWIRE_AWS_ENV_FILE", value_name = "FILE")]
    aws_env_file: Option<PathBuf>,
}

impl Overrides {
    /// Put every setting given over `file`'s.
    pub(crate) fn apply(&self, file: &mut ProxyConfigFile) {
        let proxy = &mut file.proxy;
        let set = |slot: &mut Option<String>, value: &Option<String>| {
            if value.is_some() {
                slot.clone_from(value);
            }
        };
        set(&mut proxy.handshake_timeout, &self.handshake_timeout);
        set(&mut proxy.credential_timeout, &self.credential_timeout);
        set(&mut proxy.connect_timeout, &self.connect_timeout);
        set(&mut proxy.login_timeout, &self.login_timeout);
        set(&mut proxy.shutdown_timeout, &self.shutdown_timeout);
        set(&mut proxy.request_timeout, &self.request_timeout);
        set(&mut proxy.http_idle_timeout, &self.http_idle_timeout);
        proxy.max_connections = self.max_connections.or(proxy.max_connections);
        proxy.max_handshakes = self.max_handshakes.or(proxy.max_handshakes);
        proxy.max_connections_per_client = self
            .max_connections_per_client
            .or(proxy.max_connections_per_client);
        proxy.max_request_body = self.max_request_body.or(proxy.max_request_body);
        proxy.max_concurrent_requests = self
            .max_concurrent_requests
            .or(proxy.max_concurrent_requests);
        if let Some(listen) = &self.admin_listen {
            match &mut proxy.admin {
                Some(admin) => admin.listen.clone_from(listen),
                None => {
                    proxy.admin = Some(AdminSection {
                        listen: listen.clone(),
                        identities: Vec::new(),
                    });
                }
            }
        }
        if self.aws_region.is_some() || self.aws_env_file.is_some() {
            let aws = file.aws.get_or_insert_with(AwsSection::default);
            if self.aws_region.is_some() {
                aws.region.clone_from(&self.aws_region);
            }
            if self.aws_env_file.is_some() {
                aws.env_file.clone_from(&self.aws_env_file);
            }
        }
    }
}
