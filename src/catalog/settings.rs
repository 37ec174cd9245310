//! The config file's `catalog` section: where dynamic resources are kept and how often discovery runs.
//!
//! ```yaml
//! catalog:
//!   discovery_interval: 5m          # default 5m
//!   store:
//!     file: databases.json          # the default: one node, beside the config file
//!   # Where discovered and dynamic databases are served: one port each from this range, the same
//!   # port for the same database on every replica (absent: they are listed, not served).
//!   listen: 127.0.0.1:17000-17099
//!   # Hosts that are not AWS endpoints (IP addresses, custom DNS names) cannot be confirmed to belong
//!   # to the account a database claims: refuse (default), loopback (allow 127.0.0.0/8, ::1,
//!   # localhost: tests and local tunnels), or allow (the operator vouches for every resource).
//!   unknown_hosts: refuse
//!   # The CA bundle for discovered and dynamic databases whose tls settings name none.
//!   ca_cert_file: rds-global-bundle.pem
//!   # or, for replicas:
//!   # store:
//!   #   postgres:
//!   #     dsn_file: store.dsn       # "host=db.internal user=iamwire password=... dbname=iamwire sslmode=verify-full"
//!   #     ca_file: store-ca.pem     # verifies the server; the system's roots when absent
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use iamwire_aws::endpoint_check::UnknownHosts;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;

use super::pg_store::PgStore;
use super::store::{FileStore, ResourceStore};

/// The default store file, relative to the config file.
pub(crate) const DEFAULT_STORE_FILE: &str = "iamwire-databases.json";
/// How often discovery runs when the config does not say.
pub(crate) const DEFAULT_DISCOVERY_INTERVAL: Duration = Duration::from_secs(300);

/// `catalog`, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CatalogSection {
    /// How often each discovery matcher runs again (`30s`, `5m`).
    #[serde(default)]
    pub(crate) discovery_interval: Option<String>,
    /// Where dynamic resources live.
    #[serde(default)]
    pub(crate) store: Option<StoreSection>,
    /// `ip:first-last`: the ports discovered and dynamic databases are served on.
    #[serde(default)]
    pub(crate) listen: Option<String>,
    /// `refuse` (default), `loopback` or `allow`: endpoints that are not AWS's.
    #[serde(default)]
    pub(crate) unknown_hosts: Option<String>,
    /// The CA bundle that verifies discovered and dynamic databases whose `tls` names none (the RDS
    /// global bundle, say); relative to the config file.
    #[serde(default)]
    pub(crate) ca_cert_file: Option<String>,
}

/// `catalog.listen`, parsed: an address and an inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortRange {
    /// The address every port is bound on.
    pub(crate) ip: std::net::IpAddr,
    /// The first port.
    pub(crate) first: u16,
    /// The last port (inclusive).
    pub(crate) last: u16,
}

impl PortRange {
    /// How many ports it holds.
    pub(crate) fn len(self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    /// The `i`th port's address (`i` taken modulo [`Self::len`]).
    pub(crate) fn addr(self, i: usize) -> std::net::SocketAddr {
        let offset = u16::try_from(i % self.len()).unwrap_or(0);
        std::net::SocketAddr::new(self.ip, self.first + offset)
    }

    fn parse(text: &str) -> Option<Self> {
        let (ip, ports) = text.trim().rsplit_once(':')?;
        let ip = ip
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?;
        let (first, last) = ports.split_once('-').unwrap_or((ports, ports));
        let (first, last): (u16, u16) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
        (first > 0 && first <= last).then_some(Self { ip, first, last })
    }
}

/// `catalog.store`: exactly one of `file` and `postgres`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub(crate) enum StoreSection {
    /// A JSON file (relative to the config file unless absolute).
    File(PathBuf),
    /// A PostgreSQL database shared by replicas.
    Postgres(PostgresSection),
}

/// `catalog.store.postgres`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostgresSection {
    /// A file holding the libpq connection string (it holds a password, so never the config itself).
    pub(crate) dsn_file: PathBuf,
    /// PEM CA certificates that verify the server; the system's roots when absent.
    #[serde(default)]
    pub(crate) ca_file: Option<PathBuf>,
}

impl CatalogSection {
    /// The discovery interval.
    ///
    /// # Errors
    ///
    /// A value that is not a duration.
    pub(crate) fn interval(&self) -> Result<Duration, String> {
        match &self.discovery_interval {
            None => Ok(DEFAULT_DISCOVERY_INTERVAL),
            Some(v) => crate::proxy_config::parse_duration(v).ok_or_else(|| {
                format!("catalog.discovery_interval: {v:?} is not a duration (30s, 5m, 1h)")
            }),
        }
    }
}

impl CatalogSection {
    /// `catalog.listen`, if set.
    ///
    /// # Errors
    ///
    /// A value that is not `ip:first-last` with `0 < first <= last`.
    pub(crate) fn listen_range(&self) -> Result<Option<PortRange>, String> {
        self.listen
            .as_deref()
            .map(|text| {
                PortRange::parse(text).ok_or_else(|| {
                    format!(
                        "catalog.listen: {text:?} is not an address and a port range \
                         (127.0.0.1:17000-17099)"
                    )
                })
            })
            .transpose()
    }

    /// `catalog.unknown_hosts`.
    ///
    /// # Errors
    ///
    /// A value other than `refuse`, `loopback` and `allow`.
    pub(crate) fn unknown_hosts(&self) -> Result<UnknownHosts, String> {
        match self.unknown_hosts.as_deref().map(str::trim) {
            None | Some("refuse") => Ok(UnknownHosts::Refuse),
            Some("loopback") => Ok(UnknownHosts::AllowLoopback),
            Some("allow") => Ok(UnknownHosts::Allow),
            Some(other) => Err(format!(
                "catalog.unknown_hosts: {other:?} is not one of refuse, loopback, allow"
            )),
        }
    }
}

/// Open the store `section` names; paths are relative to `base` (the config file's directory).
/// Must run inside a tokio runtime (the PostgreSQL store connects in the background).
///
/// # Errors
///
/// The file store's file cannot be read, or the PostgreSQL settings are unusable.
pub(crate) fn open_store(
    section: &CatalogSection,
    base: &Path,
) -> Result<Arc<dyn ResourceStore>, String> {
    match &section.store {
        None => Ok(Arc::new(FileStore::open(&base.join(DEFAULT_STORE_FILE))?)),
        Some(StoreSection::File(path)) => Ok(Arc::new(FileStore::open(&base.join(path))?)),
        Some(StoreSection::Postgres(pg)) => {
            let dsn_path = base.join(&pg.dsn_file);
            let dsn = std::fs::read_to_string(&dsn_path)
                .map_err(|e| format!("cannot read {}: {e}", dsn_path.display()))?;
            let tls = store_tls(pg.ca_file.as_ref().map(|p| base.join(p)).as_deref())?;
            Ok(Arc::new(PgStore::start(&dsn, tls)?))
        }
    }
}

/// TLS for the store's connection: `ca_file`'s certificates, or the system's roots.
pub(crate) fn store_tls(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            {
                let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
