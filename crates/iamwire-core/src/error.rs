//! The error type of `iamwire-core`.

use std::fmt;

use crate::resource::Partition;

/// Everything that can go wrong while reading or validating database configuration.
///
/// Match on the variant (and on [`Problem`] / [`ArnError`] inside it), never on the text.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The YAML input is larger than [`YamlLimits::max_bytes`](crate::YamlLimits::max_bytes).
    #[error("YAML input is {len} bytes, more than the limit of {max} bytes")]
    InputTooLarge {
        /// Size of the input in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The YAML input trips a parser limit (nesting depth, node count, alias expansion, ...).
    #[error("YAML input exceeds a parser limit: {message}")]
    LimitExceeded {
        /// Which limit, in words.
        message: String,
    },
    /// A mapping holds a key that the schema does not know (typo, or a Teleport option iamwire
    /// does not support).
    #[error("unknown field `{field}`{}{}", LocationSuffix(*.location), Suggestion(field, expected))]
    UnknownField {
        /// The key as written.
        field: String,
        /// Where it is, when known.
        location: Option<Location>,
        /// The keys valid at that place (empty when the parser did not say); `Display` suggests the
        /// nearest one for a typo, else lists them.
        expected: Vec<String>,
    },
    /// The input is not YAML, or does not have the expected shape.
    #[error("invalid YAML{}: {message}", LocationSuffix(*.location))]
    Yaml {
        /// What the parser said.
        message: String,
        /// Where, when known.
        location: Option<Location>,
    },
    /// A dynamic resource whose `kind` is not `db`.
    #[error("resource kind {kind:?} is not supported here; expected \"db\"")]
    UnsupportedKind {
        /// The kind as written.
        kind: String,
    },
    /// A `kind: db` resource whose `version` is not `v3`.
    #[error("version {version:?} of resource kind \"db\" is not supported; expected \"v3\"")]
    UnsupportedVersion {
        /// The version as written.
        version: String,
    },
    /// A database entry failed validation.
    #[error("database {database:?}: `{field}`: {problem}")]
    Database {
        /// The database's name (as written, possibly itself invalid).
        database: String,
        /// Dotted path of the offending field, e.g. `aws.assume_role_arn`.
        field: &'static str,
        /// What is wrong with it.
        problem: Problem,
    },
    /// A discovery matcher (`db_service.aws[index]`) failed validation.
    #[error("discovery matcher db_service.aws[{index}]: `{field}`: {problem}")]
    Matcher {
        /// Position of the matcher in `db_service.aws`.
        index: usize,
        /// The offending field, e.g. `regions`.
        field: &'static str,
        /// What is wrong with it.
        problem: Problem,
    },
    /// A resource matcher (`db_service.resources[index]`) failed validation.
    #[error("resource matcher db_service.resources[{index}]: `{field}`: {problem}")]
    ResourceMatcher {
        /// Position of the matcher in `db_service.resources`.
        index: usize,
        /// The offending field, e.g. `aws.assume_role_arn`.
        field: &'static str,
        /// What is wrong with it.
        problem: Problem,
    },
}

/// What is wrong with one field of a database or discovery matcher.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The name does not match `^[a-z]([-a-z0-9]*[a-z0-9])?$`.
    #[error("must start with a lowercase letter and hold only lowercase letters, digits and '-'")]
    BadName,
    /// The name is longer than 63 characters.
    #[error("is {len} characters long; at most 63 are allowed")]
    NameTooLong {
        /// Its length.
        len: usize,
    },
    /// Another database in the same configuration has this name.
    #[error("is used by more than one database")]
    DuplicateName,
    /// `uri` is empty or missing.
    #[error("is required")]
    MissingUri,
    /// `uri` is neither `host:port` nor (for HTTP protocols) an `https://` URL.
    #[error("must be host:port (or an https:// URL for HTTP protocols)")]
    BadUri,
    /// The port of `uri` is not a number in 1..=65535.
    #[error("has a port that is not a number between 1 and 65535")]
    BadPort,
    /// A region that is not of the form `us-west-1`.
    #[error("{region:?} is not an AWS region name")]
    BadRegion {
        /// The region as written.
        region: String,
    },
    /// An account id that is not exactly 12 ASCII digits.
    #[error("{account_id:?} is not an AWS account id (12 digits)")]
    BadAccountId {
        /// The account id as written.
        account_id: String,
    },
    /// `assume_role_arn` is not an IAM role ARN.
    #[error("{0}")]
    Arn(ArnError),
    /// The region belongs to a different AWS partition than the role.
    #[error(
        "region {region:?} is in partition {region_partition} but the role is in {role_partition}"
    )]
    PartitionMismatch {
        /// The region.
        region: String,
        /// The partition the region belongs to.
        region_partition: Partition,
        /// The partition of `assume_role_arn`.
        role_partition: Partition,
    },
    /// `account_id` names a different account than `assume_role_arn`.
    #[error(
        "account_id {account_id:?} differs from account {role_account_id:?} of assume_role_arn; \
         both must name the same AWS account"
    )]
    AccountMismatch {
        /// The `account_id` field.
        account_id: String,
        /// The account in `assume_role_arn`.
        role_account_id: String,
    },
    /// A dynamic resource with `assume_role_arn` but no `account_id`.
    #[error("is required on a dynamic resource that sets assume_role_arn")]
    MissingAccountId,
    /// `external_id` is set, but there is no role to send it with.
    #[error("needs assume_role_arn (only databases that log in as an IAM role may omit it)")]
    ExternalIdWithoutRole,
    /// `external_id` is not 2 to 1224 characters of `[A-Za-z0-9_+=,.@:/-]`.
    #[error("must be 2 to 1224 characters of letters, digits and _+=,.@:/-")]
    BadExternalId,
    /// A session tag whose key or value breaks STS limits.
    #[error("tag {key:?}: keys are 1 to 128 characters, values at most 256")]
    BadSessionTag {
        /// The tag key.
        key: String,
    },
    /// More session tags than STS accepts (50).
    #[error("{count} tags; STS accepts at most 50")]
    TooManySessionTags {
        /// How many there are.
        count: usize,
    },
    /// A field that its section requires is missing.
    #[error("is required")]
    Missing,
    /// A discovery matcher without `types`.
    #[error("must list at least one type")]
    NoTypes,
    /// A discovery type iamwire does not know.
    #[error("{value:?} is not a known discovery type")]
    UnknownType {
        /// The type as written.
        value: String,
    },
    /// A discovery matcher without `regions`.
    #[error("must list at least one region")]
    NoRegions,
}

/// Why a string is not an IAM role ARN.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    /// Not of the form `arn:partition:service:region:account:resource`.
    #[error("is not an ARN (arn:<partition>:iam::<account>:role/<name>)")]
    NotAnArn,
    /// Longer than the 2048 characters IAM allows.
    #[error("is {len} characters long; at most 2048 are allowed")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A partition other than aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b.
    #[error("partition {partition:?} is not one of aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b")]
    UnknownPartition {
        /// The partition as written.
        partition: String,
    },
    /// An STS assumed-role session ARN, which cannot be assumed.
    #[error(
        "is an STS assumed-role session, not an IAM role; use arn:<partition>:iam::<account>:role/<name>"
    )]
    AssumedRole,
    /// The ARN of another service than IAM.
    #[error("names service {service:?}; an IAM role ARN is required")]
    NotIam {
        /// The service as written.
        service: String,
    },
    /// IAM ARNs have an empty region field.
    #[error("has region {region:?}; IAM ARNs have none")]
    UnexpectedRegion {
        /// The region as written.
        region: String,
    },
    /// The account is not 12 ASCII digits.
    #[error("account {account_id:?} is not 12 digits")]
    BadAccountId {
        /// The account as written.
        account_id: String,
    },
    /// An IAM resource other than a role (user, group, policy, ...).
    #[error("names an IAM {resource_type:?}, not a role")]
    NotRole {
        /// The resource type as written.
        resource_type: String,
    },
    /// The role name is empty.
    #[error("has an empty role name")]
    EmptyName,
    /// The role name is longer than 64 characters.
    #[error("has a role name of {len} characters; at most 64 are allowed")]
    NameTooLong {
        /// Its length.
        len: usize,
    },
    /// The role name holds a character outside `[A-Za-z0-9+=,.@_-]`.
    #[error("has character {ch:?} in the role name; only letters, digits and +=,.@_- are allowed")]
    BadNameChar {
        /// The first offending character.
        ch: char,
    },
    /// The role path is longer than 512 characters or holds a non-printable or non-ASCII
    /// character.
    #[error("has a role path that is not 1 to 512 printable ASCII characters")]
    BadPath,
}

/// A position in YAML input (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Renders " at line L, column C" when a location is known, nothing otherwise.
struct LocationSuffix(Option<Location>);

/// `; did you mean `x`?` for a key within two edits of a valid one, else `; valid keys here: ...`.
struct Suggestion<'a>(&'a str, &'a [String]);

impl fmt::Display for Suggestion<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(field, expected) = *self;
        if expected.is_empty() {
            return Ok(());
        }
        let nearest = expected
            .iter()
            .map(|key| (edit_distance(field, key), key))
            .min_by_key(|(distance, _)| *distance);
        match nearest {
            Some((distance, key)) if distance <= 2.max(field.chars().count() / 4) => {
                write!(f, "; did you mean `{key}`?")
            }
            _ => write!(f, "; valid keys here: {}", expected.join(", ")),
        }
    }
}

/// Levenshtein distance between `a` and `b`, by characters (case-insensitive).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i.saturating_add(1)];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j].saturating_add(usize::from(ca != cb));
            let insert = current[j].saturating_add(1);
            let delete = previous[j.saturating_add(1)].saturating_add(1);
            current.push(substitute.min(insert).min(delete));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

impl fmt::Display for LocationSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(location) => write!(f, " at {location}"),
            None => Ok(()),
        }
    }
}
