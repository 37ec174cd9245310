//! [`RoleChain`], its [`Hop`]s and the cache key of each chain prefix.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use iamwire_core::{ExternalId, RoleArn};

use super::builder::RoleChainBuilder;
use super::session_name::SessionName;

/// Which role of a database a [`Hop`] assumes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HopKind {
    /// The database's `assume_role_arn`: always the first hop when it is set.
    DatabaseRole,
    /// The database-user role of a database that logs in as an IAM role (DynamoDB, OpenSearch,
    /// Keyspaces, Redshift Serverless, ...): the last hop.
    UserRole,
}

impl fmt::Display for HopKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DatabaseRole => "the database's assume_role_arn",
            Self::UserRole => "the database-user role",
        })
    }
}

/// One `sts:AssumeRole` call of a [`RoleChain`]: everything STS is sent for it.
///
/// Two hops are equal (and hash alike) when STS would be sent the same request: the role ARN, the
/// external ID, the session name, the session tags, the transitive tag keys and the duration. `Debug`
/// never shows the external ID.
#[derive(Clone)]
pub struct Hop {
    pub(super) kind: HopKind,
    pub(super) role_arn: RoleArn,
    pub(super) external_id: Option<ExternalId>,
    pub(super) session_name: SessionName,
    pub(super) session_tags: BTreeMap<String, String>,
    pub(super) transitive_tag_keys: BTreeSet<String>,
    pub(super) duration: Option<Duration>,
}

impl Hop {
    /// Which role of the database this hop assumes.
    pub fn kind(&self) -> HopKind {
        self.kind
    }

    /// The role to assume (`RoleArn`).
    pub fn role_arn(&self) -> &RoleArn {
        &self.role_arn
    }

    /// The external ID to send (`ExternalId`); set on exactly one hop of a chain, if any.
    pub fn external_id(&self) -> Option<&ExternalId> {
        self.external_id.as_ref()
    }

    /// The session name to send (`RoleSessionName`).
    pub fn session_name(&self) -> &SessionName {
        &self.session_name
    }

    /// The session tags to send (`Tags`), by key.
    pub fn session_tags(&self) -> &BTreeMap<String, String> {
        &self.session_tags
    }

    /// The tag keys to mark transitive (`TransitiveTagKeys`), so they pass on to a chained session.
    pub fn transitive_tag_keys(&self) -> &BTreeSet<String> {
        &self.transitive_tag_keys
    }

    /// The session duration to request (`DurationSeconds`); `None` leaves STS's default (1 hour).
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }

    fn key_fields(&self) -> impl Eq + Hash + '_ {
        (
            &self.role_arn,
            self.external_id.as_ref().map(ExternalId::expose),
            &self.session_name,
            &self.session_tags,
            &self.transitive_tag_keys,
            self.duration,
        )
    }
}

impl PartialEq for Hop {
    fn eq(&self, other: &Self) -> bool {
        self.key_fields() == other.key_fields()
    }
}

impl Eq for Hop {}

impl Hash for Hop {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key_fields().hash(state);
    }
}

impl fmt::Debug for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hop")
            .field("kind", &self.kind)
            .field("role_arn", &format_args!("{}", self.role_arn))
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "** redacted **"),
            )
            .field("session_name", &self.session_name.as_str())
            .field("session_tags", &self.session_tags)
            .field("transitive_tag_keys", &self.transitive_tag_keys)
            .field("duration", &self.duration)
            .finish()
    }
}

/// The roles to assume, in order, to reach a database: at most two [`Hop`]s.
///
/// An empty chain means "the base credentials themselves" (a database in the proxy's own account).
/// Build one with [`RoleChain::builder`] or [`RoleChain::for_database`]. Cheap to clone.
///
/// ```
/// use iamwire_aws::role::RoleChain;
/// use iamwire_core::{ExternalId, RoleArn};
///
/// let arn: RoleArn = "arn:aws:iam::123456789012:role/db-access".parse()?;
/// let chain = RoleChain::builder()
///     .assume_role(arn)
///     .external_id(ExternalId::new("tenant-42"))
///     .session_name("alice@example.com")
///     .then_user_role("reader")
///     .build()?;
/// assert_eq!(chain.hops()[1].role_arn().to_string(), "arn:aws:iam::123456789012:role/reader");
/// assert!(chain.hops()[1].external_id().is_none()); // sent once, on hop 1
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleChain {
    hops: Arc<[Hop]>,
}

impl RoleChain {
    /// A builder for a chain; see [`RoleChainBuilder`].
    pub fn builder() -> RoleChainBuilder {
        RoleChainBuilder::default()
    }

    /// The empty chain: the base credentials, no AssumeRole.
    pub fn base() -> Self {
        Self {
            hops: Arc::from(Vec::new()),
        }
    }

    pub(super) fn from_hops(hops: Vec<Hop>) -> Self {
        Self {
            hops: Arc::from(hops),
        }
    }

    /// The hops, first to last.
    pub fn hops(&self) -> &[Hop] {
        &self.hops
    }

    /// The chain of the first `len` hops (all of them if `len` is larger).
    pub fn prefix(&self, len: usize) -> Self {
        match self.hops.get(..len) {
            Some(hops) if len < self.hops.len() => Self {
                hops: Arc::from(hops),
            },
            _ => self.clone(),
        }
    }

    /// The number of hops (0, 1 or 2).
    pub fn len(&self) -> usize {
        self.hops.len()
    }

    /// Whether this is the [base](Self::base) chain.
    pub fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }

    /// The role the chain ends in, if it has any hop.
    pub fn last_role_arn(&self) -> Option<&RoleArn> {
        self.hops.last().map(Hop::role_arn)
    }

    /// The cache key of the whole chain.
    pub fn key(&self) -> ChainKey {
        ChainKey {
            hops: Arc::clone(&self.hops),
        }
    }

    /// The cache key of the first `len` hops (`len == 0`: the base credentials), or `None` if the
    /// chain is shorter.
    pub fn prefix_key(&self, len: usize) -> Option<ChainKey> {
        let hops = self.hops.get(..len)?;
        Some(ChainKey {
            hops: Arc::from(hops),
        })
    }
}

/// The credential cache key of a chain prefix: every hop up to and including the last one, with every
/// field STS is sent (role ARN, external ID, session name, tags, transitive keys, duration).
///
/// Two prefixes that differ in any of them never share cached credentials. `Debug` never shows the
/// external ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChainKey {
    hops: Arc<[Hop]>,
}

impl ChainKey {
    /// The key of the base credentials (no hop).
    pub fn base() -> Self {
        RoleChain::base().key()
    }

    /// The hops of this prefix, first to last.
    pub fn hops(&self) -> &[Hop] {
        &self.hops
    }

    /// The role this prefix ends in, or `None` for the base credentials.
    pub fn last_role_arn(&self) -> Option<&RoleArn> {
        self.hops.last().map(Hop::role_arn)
    }
}
