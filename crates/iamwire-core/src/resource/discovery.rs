//! Discovery matchers: which AWS databases to find, where, and through which role.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::resource::ExternalId;

/// One entry of `db_service.aws`: discover databases of `types` in `regions`, optionally
/// through a role in another account.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsMatcher {
    /// Kinds of databases to discover, as written (see [`DiscoveryType`]); validation rejects
    /// unknown ones.
    #[serde(default)]
    pub types: Vec<String>,
    /// Regions to search.
    #[serde(default)]
    pub regions: Vec<String>,
    /// AWS resource tags to match; a key maps to one value or a list. `"*": "*"` (and an
    /// empty map) match everything.
    #[serde(default, deserialize_with = "deserialize_tags")]
    pub tags: BTreeMap<String, Vec<String>>,
    /// Role to assume for discovery (and, by default, for the databases found).
    pub assume_role_arn: Option<String>,
    /// External ID for that AssumeRole call; redacted in `Debug`.
    pub external_id: Option<ExternalId>,
    /// Turn IAM database authentication on for RDS instances and Aurora clusters found with it
    /// off (`ModifyDBInstance` / `ModifyDBCluster` through the matcher's role, applied at once).
    /// An iamwire addition to Teleport's matcher; off when absent.
    #[serde(default)]
    pub enable_iam_auth: bool,
}

impl AwsMatcher {
    /// The matcher's types, parsed; unknown names are skipped (validation rejects them).
    pub fn discovery_types(&self) -> impl Iterator<Item = DiscoveryType> + '_ {
        self.types
            .iter()
            .filter_map(|t| DiscoveryType::from_name(t))
    }
}

/// One entry of `db_service.resources`: which dynamic `kind: db` resources this service serves, by
/// their labels, and the role those that name none log in through (Teleport's resource matcher).
///
/// ```yaml
/// db_service:
///   resources:
///     - labels: { env: [prod, staging] }
///       aws:
///         assume_role_arn: arn:aws:iam::222222222222:role/db-access
///         external_id: example-external-id
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceMatcher {
    /// Labels a resource must carry; a key maps to one value or a list (globs with `*`). `"*": "*"`
    /// matches every resource; an empty map matches none.
    #[serde(default, deserialize_with = "deserialize_tags")]
    pub labels: BTreeMap<String, Vec<String>>,
    /// The role (and external ID) for matching resources that set no `aws.assume_role_arn`.
    #[serde(default)]
    pub aws: ResourceMatcherAws,
}

/// `aws` of a [`ResourceMatcher`].
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceMatcherAws {
    /// Role to assume for matching resources that name none.
    pub assume_role_arn: Option<String>,
    /// External ID for that AssumeRole call; redacted in `Debug`.
    pub external_id: Option<ExternalId>,
}

/// A kind of AWS database that discovery can find, named as in Teleport.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscoveryType {
    /// `rds`: RDS instances and Aurora clusters.
    Rds,
    /// `rdsproxy`: RDS Proxy endpoints.
    RdsProxy,
    /// `redshift`: provisioned Redshift clusters.
    Redshift,
    /// `redshift-serverless`: Redshift Serverless workgroups and endpoints.
    RedshiftServerless,
    /// `elasticache`: ElastiCache replication groups.
    ElastiCache,
    /// `memorydb`: MemoryDB clusters.
    MemoryDb,
    /// `opensearch`: OpenSearch domains.
    OpenSearch,
    /// `docdb`: DocumentDB clusters.
    DocDb,
}

impl DiscoveryType {
    /// Every discovery type, in the order they are documented.
    pub const ALL: [Self; 8] = [
        Self::Rds,
        Self::RdsProxy,
        Self::Redshift,
        Self::RedshiftServerless,
        Self::ElastiCache,
        Self::MemoryDb,
        Self::OpenSearch,
        Self::DocDb,
    ];

    /// The type's name in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rds => "rds",
            Self::RdsProxy => "rdsproxy",
            Self::Redshift => "redshift",
            Self::RedshiftServerless => "redshift-serverless",
            Self::ElastiCache => "elasticache",
            Self::MemoryDb => "memorydb",
            Self::OpenSearch => "opensearch",
            Self::DocDb => "docdb",
        }
    }

    /// The type called `name` in configuration, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for DiscoveryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tag value: one string or a list of strings (as Teleport's `apiutils.Strings`).
struct TagValues(Vec<String>);

impl<'de> Deserialize<'de> for TagValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrMany;
        impl<'de> Visitor<'de> for OneOrMany {
            type Value = TagValues;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<TagValues, E> {
                Ok(TagValues(vec![v.to_owned()]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TagValues, A::Error> {
                let mut values = Vec::new();
                while let Some(v) = seq.next_element::<String>()? {
                    values.push(v);
                }
                Ok(TagValues(values))
            }
        }
        deserializer.deserialize_any(OneOrMany)
    }
}

fn deserialize_tags<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    let tags = BTreeMap::<String, TagValues>::deserialize(deserializer)?;
    Ok(tags.into_iter().map(|(k, v)| (k, v.0)).collect())
}
