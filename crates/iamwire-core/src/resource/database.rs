//! The database model: what to reach, over which protocol, and how to log in to it on AWS.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use crate::error::Error;
use crate::resource::{Aws, validate};

/// A database iamwire proxies to.
///
/// Deserializes from a static entry of `db_service.databases` (Teleport's file format, with
/// `static_labels`; `labels` is accepted too). Dynamic `kind: db` resources convert into it
/// through [`DatabaseResource`](crate::DatabaseResource).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// Unique name, DNS-label-like (`^[a-z]([-a-z0-9]*[a-z0-9])?$`, at most 63 characters).
    pub name: String,
    /// Free-form description.
    #[serde(default)]
    pub description: String,
    /// The wire protocol spoken by the database.
    pub protocol: Protocol,
    /// Where the database listens: `host:port`, or an `https://` URL for HTTP protocols.
    #[serde(default)]
    pub uri: String,
    /// Labels that authorization rules can match on.
    #[serde(default, rename = "static_labels", alias = "labels")]
    pub labels: BTreeMap<String, String>,
    /// How to verify the database's TLS certificate.
    #[serde(default)]
    pub tls: Tls,
    /// AWS settings: account, role to assume, service identifiers.
    #[serde(default)]
    pub aws: Aws,
}

impl Database {
    /// A database with the given name, protocol and URI, and everything else defaulted.
    pub fn new(name: impl Into<String>, protocol: Protocol, uri: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            protocol,
            uri: uri.into(),
            labels: BTreeMap::new(),
            tls: Tls::default(),
            aws: Aws::default(),
        }
    }

    /// Whether the proxy logs in to this database *as an IAM role* (the database user is a
    /// role, assumed as a second hop): DynamoDB, OpenSearch, Keyspaces (`cassandra`), DocumentDB
    /// (`mongodb`, MONGODB-AWS) and Redshift Serverless.
    pub fn logs_in_as_iam_role(&self) -> bool {
        matches!(
            self.protocol,
            Protocol::DynamoDb | Protocol::OpenSearch | Protocol::Cassandra | Protocol::MongoDb
        ) || self.aws.redshift_serverless.is_some()
    }

    /// The host and port the database listens on, from its URI (`host:port`, `[v6]:port`, a bare host
    /// meaning the protocol's default port, or a URL whose authority is one of those).
    pub fn host_port(&self) -> Option<(&str, u16)> {
        host_port(&self.uri, self.protocol.default_port())
    }

    /// Validates an entry of static configuration, and fills `aws.account_id` from
    /// `aws.assume_role_arn` when it is not given.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] naming the field and the [`Problem`](crate::Problem).
    pub fn validate_static(&mut self) -> Result<(), Error> {
        if let Some(account_id) = validate::database(self, validate::Origin::Static)? {
            self.aws.account_id = Some(account_id);
        }
        Ok(())
    }

    /// Validates a database built from a dynamic `kind: db` resource. Nothing is derived:
    /// a resource that sets `aws.assume_role_arn` must carry a matching `aws.account_id`.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] naming the field and the [`Problem`](crate::Problem).
    pub fn validate_dynamic(&self) -> Result<(), Error> {
        validate::database(self, validate::Origin::Dynamic).map(drop)
    }
}

/// The wire protocol of a database, named as in Teleport.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Protocol {
    /// PostgreSQL: RDS, Aurora, RDS Proxy, Redshift, Redshift Serverless.
    #[serde(rename = "postgres")]
    Postgres,
    /// MySQL / MariaDB: RDS, Aurora, RDS Proxy (`mariadb` is accepted as another name for it).
    #[serde(rename = "mysql", alias = "mariadb")]
    MySql,
    /// Redis / Valkey: ElastiCache, MemoryDB.
    #[serde(rename = "redis")]
    Redis,
    /// MongoDB wire protocol: Amazon DocumentDB.
    #[serde(rename = "mongodb")]
    MongoDb,
    /// Cassandra CQL: Amazon Keyspaces.
    #[serde(rename = "cassandra")]
    Cassandra,
    /// DynamoDB's HTTP API (SigV4).
    #[serde(rename = "dynamodb")]
    DynamoDb,
    /// OpenSearch's HTTP API (SigV4).
    #[serde(rename = "opensearch")]
    OpenSearch,
}

impl Protocol {
    /// The protocol's name in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
            Self::Redis => "redis",
            Self::MongoDb => "mongodb",
            Self::Cassandra => "cassandra",
            Self::DynamoDb => "dynamodb",
            Self::OpenSearch => "opensearch",
        }
    }

    /// Whether the protocol is HTTP, so that its URI may be an `https://` URL.
    pub fn is_http(self) -> bool {
        matches!(self, Self::DynamoDb | Self::OpenSearch)
    }

    /// The port a URI without one means.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Postgres => 5432,
            Self::MySql => 3306,
            Self::Redis => 6379,
            Self::MongoDb => 27017,
            Self::Cassandra => 9142,
            Self::DynamoDb | Self::OpenSearch => 443,
        }
    }
}

/// `host:port` (or `[v6]:port`, or a bare host meaning `default_port`) from a database URI, which may be
/// a URL (`scheme://authority/path`); `None` if it is none of those.
pub fn host_port(uri: &str, default_port: u16) -> Option<(&str, u16)> {
    let uri = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let uri = uri.split(['/', '?']).next()?;
    if let Some(rest) = uri.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return (!host.is_empty()).then_some((host, port));
    }
    match uri.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !host.contains(':') => {
            Some((host, port.parse().ok()?))
        }
        None if !uri.is_empty() => Some((uri, default_port)),
        _ => None,
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// TLS settings for the connection to the database.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// How strictly to verify the server certificate; `verify-full` by default.
    #[serde(default)]
    pub mode: TlsMode,
    /// Name to verify the certificate against instead of the URI's host.
    pub server_name: Option<String>,
    /// PEM file with the CA to trust instead of the system roots.
    pub ca_cert_file: Option<String>,
}

/// How strictly the proxy verifies the database's TLS certificate.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Verify the chain and that the certificate names the host (the default).
    #[default]
    VerifyFull,
    /// Verify the chain only.
    VerifyCa,
    /// Verify nothing; for tests only.
    Insecure,
}
