//! The demo proxy's config file: the foundation's `db_service` section plus a `proxy` section (listeners,
//! TLS, identities) and an optional `aws` section, loaded into a [`LoadedConfig`] that `iamwire run` serves.
//!
//! Parsing ([`ProxyConfigFile::parse`]) only reads YAML; [`load`] resolves relative paths against the config
//! file's directory, reads the PEM files, validates everything and builds the TLS configurations.

mod cluster;
mod duration;
mod error;
mod load;
mod report;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use iamwire_core::tls::ClientAuth;
use iamwire_core::{AllowList, Database, DbService, IdentityRules, YamlLimits, parse_yaml};
use iamwire_proxy::{Limits, Timeouts};
use serde::Deserialize;

pub(crate) use cluster::ClusterSection;
pub(crate) use duration::parse_duration;
pub(crate) use error::{ConfigError, chain};
pub(crate) use load::{load, load_with, upstream_tls_for};
pub(crate) use report::{has_proxy_section, report};

/// The whole config file, as written. Unknown keys are rejected at every level so that typos fail loudly.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProxyConfigFile {
    /// Listeners, TLS and identities of the demo proxy.
    pub(crate) proxy: ProxySection,
    /// How the proxy gets its own AWS credentials; absent means the standard chain and its region.
    #[serde(default)]
    pub(crate) aws: Option<AwsSection>,
    /// Static databases and discovery matchers (the foundation's section, validated by it).
    #[serde(default)]
    pub(crate) db_service: DbService,
    /// Where dynamic resources live and how often discovery runs.
    #[serde(default)]
    pub(crate) catalog: crate::catalog::CatalogSection,
}

impl ProxyConfigFile {
    /// Parses the file within the default [`YamlLimits`], without validating or reading anything else.
    pub(crate) fn parse(yaml: &[u8]) -> Result<Self, ConfigError> {
        let limits = YamlLimits::default();
        parse_yaml(yaml, &limits).map_err(|source| {
            // The parser streams: a syntax error further down (bad indentation) can surface first as a
            // missing field of the section it cut short. The syntax error, with its line, is the news.
            let source = match parse_yaml::<serde::de::IgnoredAny>(yaml, &limits) {
                Err(syntax) => syntax,
                Ok(_) => source,
            };
            ConfigError::Parse { source }
        })
    }
}

/// The `proxy` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProxySection {
    /// The listener's certificate, key and client CA.
    pub(crate) tls: TlsSection,
    /// How long a client may take to finish its handshake (`30s`, `1m`, `500ms`); 30 s when absent.
    #[serde(default)]
    pub(crate) handshake_timeout: Option<String>,
    /// How long getting AWS credentials for a session may take; 15 s when absent.
    #[serde(default)]
    pub(crate) credential_timeout: Option<String>,
    /// How long the TCP and TLS connection to a database may take; 10 s when absent.
    #[serde(default)]
    pub(crate) connect_timeout: Option<String>,
    /// How long the database login may take; 15 s when absent.
    #[serde(default)]
    pub(crate) login_timeout: Option<String>,
    /// How long live sessions may go on after SIGTERM / SIGINT; 30 s when absent.
    #[serde(default)]
    pub(crate) shutdown_timeout: Option<String>,
    /// Sessions per listener at once; 1000 when absent.
    #[serde(default)]
    pub(crate) max_connections: Option<usize>,
    /// Connections per listener still in their handshake (taken before TLS); 256 when absent.
    #[serde(default)]
    pub(crate) max_handshakes: Option<usize>,
    /// Connections per listener from one client address; unlimited when absent.
    #[serde(default)]
    pub(crate) max_connections_per_client: Option<usize>,
    /// One listen address per database.
    #[serde(default)]
    pub(crate) listeners: Vec<ListenerSection>,
    /// Access keys for HTTP databases (DynamoDB, OpenSearch): who signs with which key, as which role.
    #[serde(default)]
    pub(crate) access_keys: Option<AccessKeysSection>,
    /// The largest HTTP request body in bytes; 32 MiB when absent.
    #[serde(default)]
    pub(crate) max_request_body: Option<u64>,
    /// HTTP requests in flight to one database at once; 256 when absent.
    #[serde(default)]
    pub(crate) max_concurrent_requests: Option<usize>,
    /// How long an HTTP keep-alive connection may wait for its next request; 60 s when absent.
    #[serde(default)]
    pub(crate) http_idle_timeout: Option<String>,
    /// How long an HTTP database may take to answer a request; 60 s when absent.
    #[serde(default)]
    pub(crate) request_timeout: Option<String>,
    /// Who may use which databases, as which users.
    #[serde(default)]
    pub(crate) identities: Vec<IdentityRules>,
    /// The admin address: health, metrics and the admin API; absent means none is served.
    #[serde(default)]
    pub(crate) admin: Option<AdminSection>,
}

/// `proxy.admin`: health (`/livez`, `/readyz`) and Prometheus `/metrics` for anyone who reaches the address
/// over TLS; the admin API (`/v1/...`) for the listed identities only (client certificates from the client
/// CA).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminSection {
    /// `ip:port` to serve on (port 0 picks a free port).
    pub(crate) listen: String,
    /// Identities (client certificate CN / first DNS SAN) allowed to use the admin API.
    #[serde(default)]
    pub(crate) identities: Vec<String>,
}

/// `proxy.tls`: files are relative to the config file's directory unless absolute.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsSection {
    /// The listener's certificate chain (PEM).
    pub(crate) cert_file: PathBuf,
    /// The listener's private key (PEM).
    pub(crate) key_file: PathBuf,
    /// The CA that issues client certificates (mTLS); absent means no client certificates.
    #[serde(default)]
    pub(crate) client_ca_file: Option<PathBuf>,
    /// Whether clients must present a certificate; `required` when a client CA is set, else `none`.
    #[serde(default)]
    pub(crate) client_auth: Option<ClientAuthSetting>,
}

/// `proxy.tls.client_auth` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ClientAuthSetting {
    /// Clients must present a certificate issued by the client CA.
    Required,
    /// Clients may present one.
    Optional,
    /// Clients are never asked.
    None,
}

/// One entry of `proxy.listeners`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListenerSection {
    /// The name of a static database in `db_service.databases`.
    pub(crate) database: String,
    /// `ip:port` to listen on (port 0 picks a free port), or `unix:/path/to/socket` (clients are then
    /// identified as the operating-system user of their process; no TLS).
    pub(crate) listen: String,
    /// A unix socket's permission bits, octal (`"0660"`); `0600` (the proxy's user only) when absent.
    #[serde(default)]
    pub(crate) socket_mode: Option<String>,
    /// Redis: how often each database connection logs in again with fresh credentials (`1h`); one hour
    /// for ElastiCache and MemoryDB when absent, never for a static password.
    #[serde(default)]
    pub(crate) reauth_interval: Option<String>,
    /// Redis outside AWS: a file holding the password the proxy logs in with (its first line); the
    /// database user is the one the client asks for.
    #[serde(default)]
    pub(crate) password_file: Option<PathBuf>,
    /// Redis cluster mode: the database's address is a cluster's configuration endpoint, and each of its
    /// nodes gets an address of the proxy's (see `cluster.rs`).
    #[serde(default)]
    pub(crate) cluster: Option<ClusterSection>,
}

/// `proxy.access_keys`: the keys `iamwire keys create` issued. No secret is stored here: each key's
/// secret derives from the master key (its own file, readable by the proxy only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessKeysSection {
    /// The file `iamwire keys init` wrote (relative to the config file unless absolute).
    pub(crate) master_key_file: PathBuf,
    /// The keys accepted.
    #[serde(default)]
    pub(crate) keys: Vec<AccessKeyEntry>,
}

/// One issued key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessKeyEntry {
    /// The access key id (`AKIW...`).
    pub(crate) id: String,
    /// The identity it was issued to.
    pub(crate) identity: String,
    /// The database-user role it acts as.
    pub(crate) role: String,
}

/// What HTTP databases need beyond the common settings.
#[derive(Clone, Default)]
pub(crate) struct HttpSettings {
    /// The keys clients sign with, if configured.
    pub(crate) access_keys: Option<iamwire_http::keys::AccessKeys>,
    /// `proxy.max_request_body`.
    pub(crate) max_body: Option<u64>,
    /// `proxy.max_concurrent_requests`.
    pub(crate) max_in_flight: Option<usize>,
    /// `proxy.request_timeout`.
    pub(crate) request_timeout: Option<std::time::Duration>,
    /// `proxy.http_idle_timeout`.
    pub(crate) idle_timeout: Option<std::time::Duration>,
}

/// The `aws` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AwsSection {
    /// The region for STS and token signing (else the environment's).
    #[serde(default)]
    pub(crate) region: Option<String>,
    /// `KEY=value` lines read before the credential chain is built.
    #[serde(default)]
    pub(crate) env_file: Option<PathBuf>,
}

/// Everything `iamwire run` needs, validated, with files read and TLS configurations built.
///
/// `Debug` shows no key material: the TLS configurations print as their summary only.
#[derive(Clone)]
pub(crate) struct LoadedConfig {
    /// The config file this came from.
    pub(crate) path: PathBuf,
    /// The validated `db_service` section (account ids filled in from role ARNs); discovery matchers too.
    pub(crate) db_service: DbService,
    /// One per `proxy.listeners` entry, in file order.
    pub(crate) listeners: Vec<Listener>,
    /// The listener side: certificate, key, and client-certificate verification.
    pub(crate) server_tls: Arc<rustls::ServerConfig>,
    /// What `server_tls` was built from, for reports and logs.
    pub(crate) tls_summary: TlsSummary,
    /// The identities' rules as configured (also inside `allow_list`).
    pub(crate) identities: Vec<IdentityRules>,
    /// The authorizer built from `identities`.
    pub(crate) allow_list: Arc<AllowList>,
    /// How the proxy gets its own AWS credentials.
    pub(crate) aws: AwsSettings,
    /// How long each phase of a session may take.
    pub(crate) timeouts: Timeouts,
    /// Bounds on sessions, handshakes and per-client connections, and the drain time.
    pub(crate) limits: Limits,
    /// Access keys and bounds for HTTP databases.
    pub(crate) http: HttpSettings,
    /// The `catalog` section as written (paths relative to the config file's directory).
    pub(crate) catalog: crate::catalog::CatalogSection,
    /// The admin address, if configured.
    pub(crate) admin: Option<AdminSettings>,
}

/// `proxy.admin`, validated, with its TLS configuration (the listener's certificate; client certificates
/// asked for but optional, so health checks need none).
#[derive(Clone)]
pub(crate) struct AdminSettings {
    /// Where it is served.
    pub(crate) listen: SocketAddr,
    /// Who may use the admin API.
    pub(crate) identities: Vec<String>,
    /// Its TLS configuration.
    pub(crate) tls: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for AdminSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminSettings")
            .field("listen", &self.listen)
            .field("identities", &self.identities)
            .finish_non_exhaustive()
    }
}

/// Where a listener accepts its clients.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ListenAddr {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A unix socket, created with `mode` (permission bits).
    Unix {
        /// The socket's path (resolved).
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "{addr}"),
            Self::Unix { path, .. } => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A database the proxy listens for, and how it reaches it.
#[derive(Clone)]
pub(crate) struct Listener {
    /// The database (validated static entry).
    pub(crate) database: Database,
    /// Where the proxy accepts its clients.
    pub(crate) listen: ListenAddr,
    /// How the proxy verifies the database (mode and CA from the database's `tls` settings).
    pub(crate) upstream_tls: Arc<rustls::ClientConfig>,
    /// Redis: the re-AUTH interval, if configured.
    pub(crate) reauth_interval: Option<std::time::Duration>,
    /// The static password from `password_file`, if configured (redacted in `Debug`).
    pub(crate) password: Option<iamwire_core::Secret>,
    /// Redis cluster mode, if configured.
    pub(crate) cluster: Option<iamwire_redis::ClusterConfig>,
}

/// The listener's TLS setup, without key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsSummary {
    /// The certificate chain file (resolved).
    pub(crate) cert_file: PathBuf,
    /// The private key file (resolved; its contents are never kept here).
    pub(crate) key_file: PathBuf,
    /// The client CA file (resolved), if client certificates are asked for.
    pub(crate) client_ca_file: Option<PathBuf>,
    /// Whether clients are asked for a certificate.
    pub(crate) client_auth: ClientAuth,
}

/// The `aws` section with paths resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AwsSettings {
    /// The region, if configured (else the environment decides).
    pub(crate) region: Option<String>,
    /// The env file to read before the credential chain (resolved), if any.
    pub(crate) env_file: Option<PathBuf>,
}

impl fmt::Debug for LoadedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedConfig")
            .field("path", &self.path)
            .field("db_service", &self.db_service)
            .field("listeners", &self.listeners)
            .field("tls", &self.tls_summary)
            .field("identities", &self.identities)
            .field("aws", &self.aws)
            .field("timeouts", &self.timeouts)
            .field("limits", &self.limits)
            .field(
                "access_keys",
                &self.http.access_keys.as_ref().map(|k| k.len()),
            )
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("database", &self.database.name)
            .field("listen", &self.listen)
            .field("upstream_tls_mode", &self.database.tls.mode)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
