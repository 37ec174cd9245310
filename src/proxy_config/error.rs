//! Why a proxy config file could not be loaded. Each variant names the file, listener or identity at fault.

use std::path::PathBuf;

use iamwire_core::TlsMode;
use iamwire_core::tls::TlsError;

/// A config file problem; match on the variant, not on the text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ConfigError {
    /// The access-key master key file is not one `iamwire keys init` wrote, or a key entry is malformed.
    #[error("proxy.access_keys: {problem}")]
    AccessKeys {
        /// What is wrong (never the key itself).
        problem: String,
    },
    /// A file (the config itself or one it names) could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file, resolved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed, has an unknown key, or trips a limit.
    #[error("invalid config file")]
    Parse {
        /// The parser's error.
        #[source]
        source: iamwire_core::Error,
    },
    /// The `db_service` section failed the foundation's validation.
    #[error("invalid db_service section")]
    DbService {
        /// The validation error.
        #[source]
        source: iamwire_core::Error,
    },
    /// A listener names a database that is not a static database of `db_service`.
    #[error("listener for {database:?}: no such database in db_service.databases")]
    UnknownDatabase {
        /// The name as written.
        database: String,
    },
    /// Two listeners for one database.
    #[error("database {database:?} has more than one listener")]
    DuplicateListener {
        /// The database.
        database: String,
    },
    /// A listen address that is not `ip:port`.
    #[error("listener for {database:?}: {value:?} is not an ip:port address or unix:/path")]
    ListenAddress {
        /// The database of the listener.
        database: String,
        /// The address as written.
        value: String,
    },
    /// Two listeners on one address.
    #[error("listen address {addr} is used by more than one listener")]
    DuplicateListenAddress {
        /// The address.
        addr: String,
    },
    /// A unix socket mode that is not octal permission bits, or one on a TCP listener.
    #[error(
        "listener for {database:?}: socket_mode {value:?} is not octal permission bits like \"0660\" for a unix: listener"
    )]
    SocketMode {
        /// The database of the listener.
        database: String,
        /// The mode as written.
        value: String,
    },
    /// Admin identities without a client CA to verify them.
    #[error(
        "proxy.admin.identities needs proxy.tls.client_ca_file: admin identities are client certificates"
    )]
    AdminNeedsCa,
    /// A duration that is not `<number><ms|s|m|h>`, or is zero.
    #[error("{field}: {value:?} is not a duration (like 30s, 1m or 500ms)")]
    Duration {
        /// The key (e.g. `proxy.handshake_timeout`).
        field: &'static str,
        /// The value as written.
        value: String,
    },
    /// A count that must be at least 1.
    #[error("{field} must be at least 1")]
    Zero {
        /// The key (e.g. `proxy.max_connections`).
        field: &'static str,
    },
    /// An identity with an empty name.
    #[error("proxy.identities[{index}]: the name is empty")]
    EmptyIdentityName {
        /// Its position in the list.
        index: usize,
    },
    /// Two identities with one name.
    #[error("identity {name:?} is listed more than once")]
    DuplicateIdentity {
        /// The name.
        name: String,
    },
    /// `client_auth` asks for client certificates but no `client_ca_file` says who issues them.
    #[error("proxy.tls.client_auth: {mode} needs proxy.tls.client_ca_file")]
    ClientAuthNeedsCa {
        /// `required` or `optional`.
        mode: &'static str,
    },
    /// A PEM file holds no certificate / no private key, or cannot be parsed.
    #[error("{}: {what}: {problem}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What it should hold ("certificate", "private key").
        what: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The listener's TLS configuration was refused (e.g. the key does not belong to the certificate).
    #[error("proxy.tls ({} and {})", cert_file.display(), key_file.display())]
    ServerTls {
        /// The certificate file.
        cert_file: PathBuf,
        /// The key file.
        key_file: PathBuf,
        /// Why (boxed: rustls errors are large).
        #[source]
        source: Box<TlsError>,
    },
    /// A listened-for database verifies its upstream but names no CA to verify it with.
    #[error(
        "database {database:?}: tls.mode {mode:?} needs tls.ca_cert_file (e.g. the RDS global bundle)"
    )]
    UpstreamCaRequired {
        /// The database.
        database: String,
        /// Its TLS mode.
        mode: TlsMode,
    },
    /// A database's upstream TLS configuration was refused.
    #[error("database {database:?}: upstream TLS")]
    UpstreamTls {
        /// The database.
        database: String,
        /// Why (boxed: rustls errors are large).
        #[source]
        source: Box<TlsError>,
    },
    /// A listener setting that the database's protocol does not use.
    #[error("listener for {database:?}: {field} is not used by protocol {protocol}")]
    NotForProtocol {
        /// The database of the listener.
        database: String,
        /// The key.
        field: &'static str,
        /// The database's protocol.
        protocol: iamwire_core::Protocol,
    },
    /// A password file that holds no password.
    #[error("{}: the password file is empty", path.display())]
    EmptyPassword {
        /// The file.
        path: PathBuf,
    },
    /// `aws.region` is not a region name.
    #[error("aws.region: {region:?} is not a region name")]
    Region {
        /// The value as written.
        region: String,
    },
}

/// The error and its causes on one line (`Display` of each, joined by `: `), for the command line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
