//! The `db_service` configuration section (Teleport style) and a file-level wrapper.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::error::{Error, Problem};
use crate::resource::{AwsMatcher, Database, ResourceMatcher, validate};
use crate::yaml::{YamlLimits, parse_yaml};

/// A configuration file holding a `db_service` section.
///
/// The other top-level sections of Teleport's `teleport.yaml` (`version`, `teleport`, `auth_service`,
/// `proxy_service`, ...) are accepted and ignored, so a Teleport operator's file works as it is (see
/// [`Config::ignored_sections`]); any other unknown top-level key is rejected so that typos do not pass
/// silently. The demo proxy owns its own top-level type and embeds [`DbService`].
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Static databases and discovery matchers. Absent means disabled and empty.
    #[serde(default)]
    pub db_service: DbService,
    #[serde(default)]
    version: Option<TeleportSection>,
    #[serde(default)]
    teleport: Option<TeleportSection>,
    #[serde(default)]
    auth_service: Option<TeleportSection>,
    #[serde(default)]
    proxy_service: Option<TeleportSection>,
    #[serde(default)]
    ssh_service: Option<TeleportSection>,
    #[serde(default)]
    app_service: Option<TeleportSection>,
    #[serde(default)]
    kubernetes_service: Option<TeleportSection>,
    #[serde(default)]
    windows_desktop_service: Option<TeleportSection>,
    #[serde(default)]
    discovery_service: Option<TeleportSection>,
}

/// A top-level section of Teleport's `teleport.yaml` other than `db_service`: accepted (so an existing
/// Teleport file can be used as it is) and ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TeleportSection;

impl<'de> Deserialize<'de> for TeleportSection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        de::IgnoredAny::deserialize(deserializer).map(|_| Self)
    }
}

impl Config {
    /// Parses a configuration file without validating it.
    ///
    /// # Errors
    ///
    /// YAML errors (see [`parse_yaml`]); an unknown key is [`Error::UnknownField`].
    pub fn parse(yaml: &[u8]) -> Result<Self, Error> {
        parse_yaml(yaml, &YamlLimits::default())
    }

    /// Parses and validates a configuration file (see [`Config::validate`]).
    ///
    /// # Errors
    ///
    /// Whatever [`Config::parse`] or [`Config::validate`] returns.
    pub fn from_yaml(yaml: &[u8]) -> Result<Self, Error> {
        let mut config = Self::parse(yaml)?;
        config.validate()?;
        Ok(config)
    }

    /// The Teleport top-level sections present besides `db_service` (`teleport`, `auth_service`, ...),
    /// which are ignored.
    pub fn ignored_sections(&self) -> Vec<&'static str> {
        [
            ("version", self.version),
            ("teleport", self.teleport),
            ("auth_service", self.auth_service),
            ("proxy_service", self.proxy_service),
            ("ssh_service", self.ssh_service),
            ("app_service", self.app_service),
            ("kubernetes_service", self.kubernetes_service),
            ("windows_desktop_service", self.windows_desktop_service),
            ("discovery_service", self.discovery_service),
        ]
        .into_iter()
        .filter_map(|(name, section)| section.map(|_| name))
        .collect()
    }

    /// Validates every section (see [`DbService::validate`]).
    ///
    /// # Errors
    ///
    /// The first problem found, as [`Error::Database`] or [`Error::Matcher`].
    pub fn validate(&mut self) -> Result<(), Error> {
        self.db_service.validate()
    }
}

/// Teleport's `db_service` section: static databases and AWS discovery matchers.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbService {
    /// Whether the service runs. Accepts booleans and the strings Teleport accepts
    /// (`"yes"`/`"no"`, `"true"`/`"false"`, `"on"`/`"off"`, ...); absent means disabled.
    #[serde(default, deserialize_with = "deserialize_enabled")]
    pub enabled: bool,
    /// Statically configured databases.
    #[serde(default)]
    pub databases: Vec<Database>,
    /// Discovery matchers for AWS databases.
    #[serde(default)]
    pub aws: Vec<AwsMatcher>,
    /// Which dynamic `kind: db` resources are served (label selectors), and with which role.
    #[serde(default)]
    pub resources: Vec<ResourceMatcher>,
}

impl DbService {
    /// Validates every database ([`Database::validate_static`], which fills `account_id`
    /// from `assume_role_arn`), rejects duplicate names, and validates every discovery and resource
    /// matcher.
    ///
    /// # Errors
    ///
    /// The first problem found, as [`Error::Database`] or [`Error::Matcher`].
    pub fn validate(&mut self) -> Result<(), Error> {
        let mut names = HashSet::new();
        for db in &mut self.databases {
            db.validate_static()?;
            if !names.insert(db.name.as_str()) {
                return Err(Error::Database {
                    database: db.name.clone(),
                    field: "name",
                    problem: Problem::DuplicateName,
                });
            }
        }
        for (index, matcher) in self.aws.iter().enumerate() {
            validate::matcher(index, matcher)?;
        }
        for (index, matcher) in self.resources.iter().enumerate() {
            validate::resource_matcher(index, matcher)?;
        }
        Ok(())
    }
}

/// Teleport's lenient boolean: YAML booleans, and yes/no, true/false, on/off, y/n, 1/0 as
/// strings (any case).
fn deserialize_enabled<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    struct Lenient;
    impl Visitor<'_> for Lenient {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("yes/no, true/false or on/off")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
            match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
            }
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
            match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
            }
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v.to_ascii_lowercase().as_str() {
                "yes" | "y" | "true" | "on" | "1" => Ok(true),
                "no" | "n" | "false" | "off" | "0" => Ok(false),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }
    }
    deserializer.deserialize_any(Lenient)
}
