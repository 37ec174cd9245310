//! Dynamic `kind: db`, `version: v3` resources (Teleport's database resource).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::Error;
use crate::resource::{Aws, Database, Protocol, Tls};
use crate::yaml::{YamlLimits, parse_yaml};

/// A dynamic database resource as written:
///
/// ```yaml
/// kind: db
/// version: v3
/// metadata: { name: ..., description: ..., labels: { ... } }
/// spec: { protocol: ..., uri: ..., tls: { ... }, aws: { ... } }
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseResource {
    /// Resource kind; must be [`DatabaseResource::KIND`].
    pub kind: String,
    /// Resource version; must be [`DatabaseResource::VERSION`].
    pub version: String,
    /// Name, description, labels.
    pub metadata: ResourceMetadata,
    /// The database itself.
    pub spec: DatabaseSpec,
}

/// `metadata` of a dynamic resource.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceMetadata {
    /// The database's name.
    pub name: String,
    /// Free-form description.
    #[serde(default)]
    pub description: String,
    /// Labels that authorization rules can match on.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `spec` of a dynamic `kind: db` resource.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    /// The wire protocol.
    pub protocol: Protocol,
    /// Where the database listens.
    #[serde(default)]
    pub uri: String,
    /// TLS settings.
    #[serde(default)]
    pub tls: Tls,
    /// AWS settings; `account_id` is required with `assume_role_arn` and must match it.
    #[serde(default)]
    pub aws: Aws,
}

/// Just enough of a resource to say whether it is one we read, before the strict parse.
#[derive(Deserialize)]
struct KindVersion {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    version: String,
}

impl DatabaseResource {
    /// The only resource kind this type reads.
    pub const KIND: &'static str = "db";
    /// The only resource version this type reads.
    pub const VERSION: &'static str = "v3";

    /// Parses a dynamic resource without validating the database in it. Other kinds and
    /// versions are rejected before their fields are looked at.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedKind`], [`Error::UnsupportedVersion`], or a YAML error.
    pub fn parse(yaml: &[u8]) -> Result<Self, Error> {
        let limits = YamlLimits::default();
        let probe: KindVersion = parse_yaml(yaml, &limits)?;
        check_kind_version(&probe.kind, &probe.version)?;
        parse_yaml(yaml, &limits)
    }

    /// The database this resource describes, validated as a dynamic resource
    /// ([`Database::validate_dynamic`]).
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedKind`], [`Error::UnsupportedVersion`] or [`Error::Database`].
    pub fn into_database(self) -> Result<Database, Error> {
        check_kind_version(&self.kind, &self.version)?;
        let db = Database {
            name: self.metadata.name,
            description: self.metadata.description,
            protocol: self.spec.protocol,
            uri: self.spec.uri,
            labels: self.metadata.labels,
            tls: self.spec.tls,
            aws: self.spec.aws,
        };
        db.validate_dynamic()?;
        Ok(db)
    }
}

impl Database {
    /// Parses and validates a dynamic `kind: db`, `version: v3` resource.
    ///
    /// # Errors
    ///
    /// See [`DatabaseResource::parse`] and [`DatabaseResource::into_database`].
    pub fn from_resource_yaml(yaml: &[u8]) -> Result<Self, Error> {
        DatabaseResource::parse(yaml)?.into_database()
    }
}

fn check_kind_version(kind: &str, version: &str) -> Result<(), Error> {
    if kind != DatabaseResource::KIND {
        return Err(Error::UnsupportedKind {
            kind: kind.to_owned(),
        });
    }
    if version != DatabaseResource::VERSION {
        return Err(Error::UnsupportedVersion {
            version: version.to_owned(),
        });
    }
    Ok(())
}
