//! From a config file on disk to a [`LoadedConfig`]: resolve paths, read files, validate, build TLS.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use iamwire_core::tls::{self, ClientAuth};
use iamwire_core::{AllowList, Database, IdentityRules, TlsMode, is_valid_region};
use iamwire_proxy::{Limits, Timeouts};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{
    AdminSettings, AwsSettings, ClientAuthSetting, ConfigError, ListenAddr, Listener,
    ListenerSection, LoadedConfig, ProxyConfigFile, TlsSection, TlsSummary, parse_duration,
};

/// Loads the config file at `path`: parse, validate, read every file it names (relative to its directory)
/// and build the TLS configurations.
pub(crate) fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    load_with(path, &|_| {})
}

/// Like [`load`], with `adjust` applied to the file as parsed (flags and variables over its settings).
pub(crate) fn load_with(
    path: &Path,
    adjust: &dyn Fn(&mut ProxyConfigFile),
) -> Result<LoadedConfig, ConfigError> {
    // Absolute, so that the resolved paths still work if the process changes directory.
    let path = std::path::absolute(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let yaml = read(&path)?;
    load_bytes(&yaml, &path, adjust)
}

/// Like [`load`], for config text already read from `path` (which still anchors relative paths).
fn load_bytes(
    yaml: &[u8],
    path: &Path,
    adjust: &dyn Fn(&mut ProxyConfigFile),
) -> Result<LoadedConfig, ConfigError> {
    let mut file = ProxyConfigFile::parse(yaml)?;
    // Absent means served (this is iamwire's own file); written and false means what it says.
    if !file.db_service.enabled && super::report::enabled_is_written(yaml) {
        return Err(ConfigError::Disabled);
    }
    adjust(&mut file);
    let base = path.parent().unwrap_or_else(|| Path::new(""));
    build(file, path, base)
}

fn build(mut file: ProxyConfigFile, path: &Path, base: &Path) -> Result<LoadedConfig, ConfigError> {
    file.db_service
        .validate()
        .map_err(|source| ConfigError::DbService { source })?;
    let proxy = file.proxy;
    let (timeouts, limits) = timeouts_and_limits(&proxy)?;
    check_identities(&proxy.identities)?;
    let databases: HashMap<&str, &Database> = file
        .db_service
        .databases
        .iter()
        .map(|db| (db.name.as_str(), db))
        .collect();
    let mut listeners = Vec::with_capacity(proxy.listeners.len());
    let mut seen_databases = HashSet::new();
    let mut seen_addrs = HashSet::new();
    for entry in &proxy.listeners {
        let database = *databases.get(entry.database.as_str()).ok_or_else(|| {
            ConfigError::UnknownDatabase {
                database: entry.database.clone(),
            }
        })?;
        if !seen_databases.insert(entry.database.as_str()) {
            return Err(ConfigError::DuplicateListener {
                database: entry.database.clone(),
            });
        }
        let listen = listen_addr(entry, base)?;
        // Port 0 asks the OS for a free port, so it may repeat.
        let repeatable = matches!(listen, ListenAddr::Tcp(addr) if addr.port() == 0);
        if !repeatable && !seen_addrs.insert(listen.clone()) {
            return Err(ConfigError::DuplicateListenAddress {
                addr: listen.to_string(),
            });
        }
        let (reauth_interval, password) = redis_settings(entry, database, base)?;
        let cluster = super::cluster::cluster_config(
            entry.cluster.as_ref(),
            &entry.database,
            database.protocol,
            &listen,
        )?;
        listeners.push(Listener {
            database: database.clone(),
            listen,
            upstream_tls: upstream_tls(database, base)?,
            reauth_interval,
            password,
            cluster,
        });
    }
    let (server_tls, tls_summary) = server_tls(&proxy.tls, base)?;
    let aws = aws_settings(file.aws.unwrap_or_default(), base)?;
    let http = http_settings(&proxy, base)?;
    let admin = proxy
        .admin
        .as_ref()
        .map(|section| admin_settings(section, &proxy.tls, base))
        .transpose()?;
    Ok(LoadedConfig {
        path: path.to_path_buf(),
        db_service: file.db_service,
        listeners,
        server_tls,
        tls_summary,
        allow_list: Arc::new(AllowList::new(proxy.identities.clone())),
        identities: proxy.identities,
        aws,
        timeouts,
        limits,
        http,
        catalog: file.catalog,
        admin,
    })
}

/// `proxy.access_keys` (the master key read from its file) and the HTTP bounds.
fn http_settings(
    proxy: &super::ProxySection,
    base: &Path,
) -> Result<super::HttpSettings, ConfigError> {
    let access_keys = match &proxy.access_keys {
        None => None,
        Some(section) => {
            let path = resolve(base, &section.master_key_file);
            let master = crate::keys_cmd::read_master_key(&path)?;
            let mut keys = iamwire_http::keys::AccessKeys::new(master).map_err(|p| {
                ConfigError::AccessKeys {
                    problem: p.to_string(),
                }
            })?;
            for entry in &section.keys {
                keys.insert(&entry.id, &entry.identity, &entry.role)
                    .map_err(|p| ConfigError::AccessKeys {
                        problem: p.to_string(),
                    })?;
            }
            Some(keys)
        }
    };
    let request_timeout = match &proxy.request_timeout {
        None => None,
        Some(text) => Some(parse_duration(text).ok_or_else(|| ConfigError::Duration {
            field: "proxy.request_timeout",
            value: text.clone(),
        })?),
    };
    let idle_timeout = match &proxy.http_idle_timeout {
        None => None,
        Some(text) => Some(parse_duration(text).ok_or_else(|| ConfigError::Duration {
            field: "proxy.http_idle_timeout",
            value: text.clone(),
        })?),
    };
    if proxy.max_request_body == Some(0) {
        return Err(ConfigError::Zero {
            field: "proxy.max_request_body",
        });
    }
    if proxy.max_concurrent_requests == Some(0) {
        return Err(ConfigError::Zero {
            field: "proxy.max_concurrent_requests",
        });
    }
    Ok(super::HttpSettings {
        access_keys,
        max_body: proxy.max_request_body,
        max_in_flight: proxy.max_concurrent_requests,
        request_timeout,
        idle_timeout,
    })
}

/// The `proxy` section's timeouts and bounds, defaults where absent.
fn timeouts_and_limits(proxy: &super::ProxySection) -> Result<(Timeouts, Limits), ConfigError> {
    let duration = |value: &Option<String>, field: &'static str, default| match value {
        None => Ok(default),
        Some(text) => parse_duration(text).ok_or_else(|| ConfigError::Duration {
            field,
            value: text.clone(),
        }),
    };
    let mut timeouts = Timeouts::default();
    timeouts.handshake = duration(
        &proxy.handshake_timeout,
        "proxy.handshake_timeout",
        timeouts.handshake,
    )?;
    timeouts.credentials = duration(
        &proxy.credential_timeout,
        "proxy.credential_timeout",
        timeouts.credentials,
    )?;
    timeouts.connect = duration(
        &proxy.connect_timeout,
        "proxy.connect_timeout",
        timeouts.connect,
    )?;
    timeouts.login = duration(&proxy.login_timeout, "proxy.login_timeout", timeouts.login)?;
    let mut limits = Limits::default();
    limits.listener.shutdown_timeout = duration(
        &proxy.shutdown_timeout,
        "proxy.shutdown_timeout",
        limits.listener.shutdown_timeout,
    )?;
    let count = |value: Option<usize>, field: &'static str, default: usize| match value {
        Some(0) => Err(ConfigError::Zero { field }),
        Some(n) => Ok(n),
        None => Ok(default),
    };
    limits.max_connections = count(
        proxy.max_connections,
        "proxy.max_connections",
        limits.max_connections,
    )?;
    limits.listener.max_handshakes = count(
        proxy.max_handshakes,
        "proxy.max_handshakes",
        limits.listener.max_handshakes,
    )?;
    limits.listener.max_per_peer = proxy
        .max_connections_per_client
        .map(|n| count(Some(n), "proxy.max_connections_per_client", n))
        .transpose()?;
    Ok((timeouts, limits))
}

/// A listener's Redis settings: the re-AUTH interval and the static password, refused for other
/// protocols.
fn redis_settings(
    entry: &ListenerSection,
    database: &Database,
    base: &Path,
) -> Result<(Option<std::time::Duration>, Option<iamwire_core::Secret>), ConfigError> {
    let not_for = |field| ConfigError::NotForProtocol {
        database: entry.database.clone(),
        field,
        protocol: database.protocol,
    };
    let redis = database.protocol == iamwire_core::Protocol::Redis;
    let interval = match &entry.reauth_interval {
        None => None,
        Some(_) if !redis => return Err(not_for("reauth_interval")),
        Some(text) => Some(parse_duration(text).ok_or_else(|| ConfigError::Duration {
            field: "proxy.listeners[].reauth_interval",
            value: text.clone(),
        })?),
    };
    let password = match &entry.password_file {
        None => None,
        Some(_) if !redis => return Err(not_for("password_file")),
        Some(file) => {
            let path = resolve(base, file);
            let text = read(&path)?;
            let first = text.split(|b| *b == b'\n').next().unwrap_or_default();
            let first = first.strip_suffix(b"\r").unwrap_or(first);
            if first.is_empty() {
                return Err(ConfigError::EmptyPassword { path });
            }
            Some(iamwire_core::Secret::new(first.to_vec()))
        }
    };
    Ok((interval, password))
}

/// Reads a file, naming it in the error.
fn read(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// `path` as written when absolute, else relative to the config file's directory.
fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

fn check_identities(identities: &[IdentityRules]) -> Result<(), ConfigError> {
    let mut names = HashSet::new();
    for (index, rule) in identities.iter().enumerate() {
        if rule.name.trim().is_empty() {
            return Err(ConfigError::EmptyIdentityName { index });
        }
        if !names.insert(rule.name.as_str()) {
            return Err(ConfigError::DuplicateIdentity {
                name: rule.name.clone(),
            });
        }
    }
    Ok(())
}

fn listen_addr(entry: &ListenerSection, base: &Path) -> Result<ListenAddr, ConfigError> {
    let bad = || ConfigError::ListenAddress {
        database: entry.database.clone(),
        value: entry.listen.clone(),
    };
    let listen = entry.listen.trim();
    if let Some(path) = listen.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(bad());
        }
        let mode = match &entry.socket_mode {
            None => DEFAULT_SOCKET_MODE,
            Some(mode) => u32::from_str_radix(mode.trim(), 8)
                .ok()
                .filter(|m| *m <= 0o777)
                .ok_or_else(|| ConfigError::SocketMode {
                    database: entry.database.clone(),
                    value: mode.clone(),
                })?,
        };
        return Ok(ListenAddr::Unix {
            path: resolve(base, Path::new(path)),
            mode,
        });
    }
    if entry.socket_mode.is_some() {
        return Err(ConfigError::SocketMode {
            database: entry.database.clone(),
            value: "(only for unix: listeners)".into(),
        });
    }
    listen.parse().map(ListenAddr::Tcp).map_err(|_| bad())
}

/// A unix socket's permission bits when the listener sets none: the proxy's own user only.
const DEFAULT_SOCKET_MODE: u32 = 0o600;

/// `proxy.admin`: its address, and a TLS configuration with the listener's certificate that asks for
/// client certificates (from the client CA) without requiring them.
fn admin_settings(
    section: &super::AdminSection,
    tls_section: &TlsSection,
    base: &Path,
) -> Result<AdminSettings, ConfigError> {
    let listen = section
        .listen
        .trim()
        .parse()
        .map_err(|_| ConfigError::ListenAddress {
            database: "proxy.admin".into(),
            value: section.listen.clone(),
        })?;
    let ca_file = tls_section
        .client_ca_file
        .as_deref()
        .map(|p| resolve(base, p));
    if !section.identities.is_empty() && ca_file.is_none() {
        return Err(ConfigError::AdminNeedsCa);
    }
    let cert_file = resolve(base, &tls_section.cert_file);
    let key_file = resolve(base, &tls_section.key_file);
    let cert = read_certs(&cert_file)?;
    let key = read_key(&key_file)?;
    let ca = ca_file.as_deref().map(read_certs).transpose()?;
    let auth = if ca.is_some() {
        ClientAuth::Optional
    } else {
        ClientAuth::None
    };
    let tls = tls::server_config(&cert, &key, ca.as_deref(), auth).map_err(|source| {
        ConfigError::ServerTls {
            cert_file,
            key_file,
            source: Box::new(source),
        }
    })?;
    Ok(AdminSettings {
        listen,
        identities: section.identities.clone(),
        tls,
    })
}

/// Reads a PEM file that must hold at least one certificate.
fn read_certs(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let pem = read(path)?;
    let problem = |problem: String| ConfigError::Pem {
        path: path.to_path_buf(),
        what: "certificate",
        problem,
    };
    let count = CertificateDer::pem_slice_iter(&pem)
        .try_fold(0_usize, |n, cert| cert.map(|_| n.saturating_add(1)))
        .map_err(|e| problem(e.to_string()))?;
    if count == 0 {
        return Err(problem("no CERTIFICATE block found".into()));
    }
    Ok(pem)
}

/// Reads a PEM file that must hold a private key. The bytes are handed straight to rustls.
fn read_key(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| ConfigError::Pem {
        path: path.to_path_buf(),
        what: "private key",
        problem: e.to_string(),
    })?;
    Ok(pem)
}

fn server_tls(
    section: &TlsSection,
    base: &Path,
) -> Result<(Arc<rustls::ServerConfig>, TlsSummary), ConfigError> {
    let client_auth = match (section.client_auth, &section.client_ca_file) {
        (Some(ClientAuthSetting::Required), None) => {
            return Err(ConfigError::ClientAuthNeedsCa { mode: "required" });
        }
        (Some(ClientAuthSetting::Optional), None) => {
            return Err(ConfigError::ClientAuthNeedsCa { mode: "optional" });
        }
        (Some(ClientAuthSetting::None) | None, None) => ClientAuth::None,
        (Some(ClientAuthSetting::None), Some(_)) => ClientAuth::None,
        (Some(ClientAuthSetting::Optional), Some(_)) => ClientAuth::Optional,
        (Some(ClientAuthSetting::Required) | None, Some(_)) => ClientAuth::Required,
    };
    let cert_file = resolve(base, &section.cert_file);
    let key_file = resolve(base, &section.key_file);
    // With `client_auth: none` the CA file is not used, so it is neither read nor reported.
    let client_ca_file = section
        .client_ca_file
        .as_deref()
        .filter(|_| client_auth != ClientAuth::None)
        .map(|p| resolve(base, p));
    let cert = read_certs(&cert_file)?;
    let key = read_key(&key_file)?;
    let client_ca = client_ca_file.as_deref().map(read_certs).transpose()?;
    let config =
        tls::server_config(&cert, &key, client_ca.as_deref(), client_auth).map_err(|source| {
            ConfigError::ServerTls {
                cert_file: cert_file.clone(),
                key_file: key_file.clone(),
                source: Box::new(source),
            }
        })?;
    let summary = TlsSummary {
        cert_file,
        key_file,
        client_ca_file,
        client_auth,
    };
    Ok((config, summary))
}

/// How the proxy verifies `db` (a catalog database's own `tls` settings; files relative to the
/// config file at `config`).
///
/// # Errors
///
/// The settings are unusable (a CA file missing or unreadable, a mode that needs one).
pub(crate) fn upstream_tls_for(
    db: &Database,
    config: &Path,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let base = config.parent().unwrap_or_else(|| Path::new(""));
    upstream_tls(db, base).map_err(|e| {
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text = format!("{text}: {c}");
            cause = c.source();
        }
        text
    })
}

fn upstream_tls(db: &Database, base: &Path) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
    let ca = match (&db.tls.ca_cert_file, db.tls.mode) {
        (Some(file), _) => Some(read_certs(&resolve(base, Path::new(file)))?),
        (None, TlsMode::Insecure) => None,
        (None, mode) => {
            return Err(ConfigError::UpstreamCaRequired {
                database: db.name.clone(),
                mode,
            });
        }
    };
    tls::upstream_config(db.tls.mode, ca.as_deref(), None).map_err(|source| {
        ConfigError::UpstreamTls {
            database: db.name.clone(),
            source: Box::new(source),
        }
    })
}

fn aws_settings(section: super::AwsSection, base: &Path) -> Result<AwsSettings, ConfigError> {
    if let Some(region) = &section.region
        && !is_valid_region(region)
    {
        return Err(ConfigError::Region {
            region: region.clone(),
        });
    }
    Ok(AwsSettings {
        region: section.region,
        env_file: section.env_file.map(|p| resolve(base, &p)),
    })
}
