//! Errors of role chains: building one ([`ChainError`]) and getting its credentials ([`RoleError`]).

use std::fmt;
use std::time::{Duration, SystemTime};

use iamwire_core::{ArnError, Partition, RoleArn};

use super::chain::{Hop, HopKind};

/// Why a [`RoleChain`](super::RoleChain) could not be built. Match on the variant, not the text.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// `assume_role_arn` is not an IAM role ARN.
    #[error("assume_role_arn is not an IAM role ARN")]
    BadAssumeRole {
        /// What is wrong with it.
        #[source]
        source: ArnError,
    },
    /// The database-user role is neither a valid role name nor a valid role ARN.
    #[error("database user `{user}` is not a valid IAM role name or role ARN")]
    BadUserRole {
        /// The database user as given.
        user: String,
        /// What is wrong with it.
        #[source]
        source: ArnError,
    },
    /// A user-role ARN names another account or partition than the database's.
    #[error(
        "database-user role {user_role} must be in account {account_id} (partition {partition}), \
         the database's; use a role name or an ARN in that account"
    )]
    UserRoleOutsideAccount {
        /// The user role as given.
        user_role: RoleArn,
        /// The database's account.
        account_id: String,
        /// The database's partition.
        partition: Partition,
    },
    /// `assume_role_arn` and the database's account id disagree.
    #[error(
        "assume_role_arn {role_arn} is not in the database's account {account_id} (partition {partition}); \
         make account_id match the role's account"
    )]
    AccountMismatch {
        /// The database's role.
        role_arn: RoleArn,
        /// The database's account.
        account_id: String,
        /// The database's partition.
        partition: Partition,
    },
    /// A user-role name was given without an account to resolve it in.
    #[error(
        "database-user role `{user}` needs an account: set assume_role_arn or account_id, or use a full role ARN"
    )]
    NoAccount {
        /// The database user as given.
        user: String,
    },
    /// The session duration is outside STS's 15 minutes to 12 hours.
    #[error("session duration {duration:?} must be between 15 minutes and 12 hours")]
    BadDuration {
        /// The duration asked for.
        duration: Duration,
    },
    /// A two-hop chain asked for more than STS's one-hour limit on chained sessions.
    #[error(
        "session duration {duration:?} exceeds the 1 hour STS allows for a chained role session"
    )]
    ChainedDurationTooLong {
        /// The duration asked for.
        duration: Duration,
    },
    /// More session tags than STS accepts (50).
    #[error("{count} session tags given; STS accepts at most 50")]
    TooManyTags {
        /// How many were given.
        count: usize,
    },
    /// A session tag key is empty or longer than 128 characters.
    #[error("session tag key `{key}` must be 1 to 128 characters")]
    BadTagKey {
        /// The key.
        key: String,
    },
    /// A session tag value is longer than 256 characters.
    #[error("session tag `{key}` has a {len}-character value; STS accepts at most 256")]
    TagValueTooLong {
        /// The tag's key.
        key: String,
        /// The value's length in characters.
        len: usize,
    },
    /// A transitive tag key names no session tag.
    #[error("transitive tag key `{key}` is not one of the session tags")]
    TransitiveKeyNotTagged {
        /// The key.
        key: String,
    },
    /// A per-role setting was given for a chain without any role to assume.
    #[error(
        "{setting} is set but there is no role to assume: set assume_role_arn or log in as a role"
    )]
    NoRole {
        /// The setting that needs a role (`external_id`, `session_tags`, `duration`).
        setting: &'static str,
    },
}

/// Why the credentials at the end of a chain could not be had.
///
/// Carries the hop, the role ARN and the AWS error code so callers and logs can tell a trust-policy
/// problem from throttling; `Display` says what to fix. Never carries the external ID or a secret:
/// [`RoleError::assume_role`] scrubs the external ID out of AWS's message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// STS refused or failed an AssumeRole call (boxed: it is the largest variant by far).
    #[error("{0}")]
    AssumeRole(Box<AssumeRoleFailure>),
    /// The base credentials (the start of every chain) could not be loaded.
    #[error(
        "could not load the proxy's base AWS credentials: {message}; \
         check the environment, profile, web identity or instance role the proxy runs with"
    )]
    BaseCredentials {
        /// What the credentials provider said.
        message: String,
        /// Whether trying again later may succeed.
        retryable: bool,
    },
    /// Credentials arrived already expired (or within the safety margin of expiring).
    #[error(
        "credentials for {} expire at {expiry:?}, too soon to use; \
         check the proxy's clock and the requested session duration",
        role_arn.as_ref().map_or_else(|| "the base identity".to_owned(), ToString::to_string)
    )]
    Expired {
        /// The role they are for; `None` for the base credentials.
        role_arn: Option<RoleArn>,
        /// When they expire.
        expiry: SystemTime,
    },
    /// Credentials were asked for outside a Tokio runtime, which the cache's refresh tasks need.
    #[error("the credential cache needs a Tokio runtime to refresh in")]
    NoRuntime,
    /// The fetch of credentials did not finish within the cache's fetch timeout (STS or the base
    /// credential source did not answer); the next caller tries again.
    #[error("no credentials for {} within {after:?}: AWS did not answer in time",
        role_arn.as_ref().map_or_else(|| "the base identity".to_owned(), ToString::to_string))]
    Timeout {
        /// The role they were for; `None` for the base credentials.
        role_arn: Option<RoleArn>,
        /// How long the fetch was given.
        after: Duration,
    },
    /// The fetch of credentials ended without a result (its task panicked or was cancelled).
    #[error("the credential fetch for {} was interrupted; it will be retried",
        role_arn.as_ref().map_or_else(|| "the base identity".to_owned(), ToString::to_string))]
    Interrupted {
        /// The role they were for; `None` for the base credentials.
        role_arn: Option<RoleArn>,
    },
}

impl RoleError {
    /// The error for a failed AssumeRole of `hop`, for [`AssumeRoleApi`](super::AssumeRoleApi)
    /// implementations. The external ID is scrubbed out of `message` (STS echoes invalid values back).
    pub fn assume_role(
        hop: &Hop,
        code: Option<&str>,
        message: impl Into<String>,
        retryable: bool,
    ) -> Self {
        let mut message = message.into();
        if let Some(id) = hop.external_id().map(|e| e.expose()) {
            message = scrub(&message, id);
        }
        Self::AssumeRole(Box::new(AssumeRoleFailure {
            hop: hop.kind(),
            role_arn: hop.role_arn().clone(),
            code: code.map(str::to_owned),
            message,
            retryable,
            external_id_sent: hop.external_id().is_some(),
            tags_sent: !hop.session_tags().is_empty(),
        }))
    }

    /// The role concerned, if any.
    pub fn role_arn(&self) -> Option<&RoleArn> {
        match self {
            Self::AssumeRole(failure) => Some(&failure.role_arn),
            Self::Expired { role_arn, .. }
            | Self::Interrupted { role_arn }
            | Self::Timeout { role_arn, .. } => role_arn.as_ref(),
            Self::BaseCredentials { .. } | Self::NoRuntime => None,
        }
    }

    /// The AWS error code, if AWS sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::AssumeRole(failure) => failure.code.as_deref(),
            _ => None,
        }
    }

    /// Whether trying again later, unchanged, may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::AssumeRole(failure) => failure.retryable,
            Self::BaseCredentials { retryable, .. } => *retryable,
            Self::Expired { .. } | Self::NoRuntime => false,
            Self::Interrupted { .. } | Self::Timeout { .. } => true,
        }
    }
}

/// The shortest external ID STS accepts; shorter values are never sent, so there is nothing to scrub.
const MIN_EXTERNAL_ID_LEN: usize = 2;

/// `message` with every whole occurrence of `secret` replaced by `** redacted **`: an occurrence counts
/// only where it is not part of a longer run of the characters an external ID may contain
/// (`[A-Za-z0-9_+=,.@:/-]`), so a short ID such as `ro` is scrubbed where STS echoes it (`'ro'`) and
/// never turns "error" into "er** redacted **r".
pub(super) fn scrub(message: &str, secret: &str) -> String {
    if secret.len() < MIN_EXTERNAL_ID_LEN {
        return message.to_owned();
    }
    let id_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c);
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(secret) {
        let end = at.saturating_add(secret.len());
        let before = rest[..at].chars().next_back();
        let after = rest[end..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(id_char) || after.is_some_and(id_char) {
            // Part of a longer word: keep one character and look again after it.
            let step = rest[at..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[at..at.saturating_add(step)]);
            rest = &rest[at.saturating_add(step)..];
        } else {
            out.push_str("** redacted **");
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// A failed `sts:AssumeRole` call, as [`RoleError::AssumeRole`] carries it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleFailure {
    /// Which role of the chain failed.
    pub hop: HopKind,
    /// The role that could not be assumed.
    pub role_arn: RoleArn,
    /// The AWS error code (`AccessDenied`, `Throttling`, ...), if AWS sent one.
    pub code: Option<String>,
    /// AWS's message (or the transport's), with the external ID removed.
    pub message: String,
    /// Whether trying again later may succeed without changing anything.
    pub retryable: bool,
    /// Whether this hop carried the external ID.
    pub external_id_sent: bool,
    /// Whether this hop carried session tags (which need `sts:TagSession`).
    pub tags_sent: bool,
}

/// What failed, then what to do about it, by error code.
impl fmt::Display for AssumeRoleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            hop,
            role_arn,
            code,
            message,
            retryable,
            external_id_sent,
            tags_sent,
        } = self;
        let code_str = code.as_deref().unwrap_or("no error code");
        write!(
            f,
            "sts:AssumeRole of {role_arn} ({hop}) failed ({code_str}): {message}; "
        )?;
        match code.as_deref() {
            Some("AccessDenied") => {
                write!(
                    f,
                    "the trust policy of {role_arn} must allow the calling principal to sts:AssumeRole"
                )?;
                if *external_id_sent {
                    f.write_str(" with this database's external ID (condition sts:ExternalId)")?;
                }
                if *tags_sent {
                    f.write_str(" and to sts:TagSession")?;
                }
                if *hop == HopKind::UserRole {
                    f.write_str(" (the calling principal is the database role's session when assume_role_arn is set)")?;
                }
                write!(
                    f,
                    ", and the caller's own policy must allow sts:AssumeRole on {role_arn}"
                )
            }
            Some("ExpiredToken" | "InvalidClientTokenId" | "SignatureDoesNotMatch") => f.write_str(
                "the source credentials of this hop were rejected; check the base credentials and the proxy's clock",
            ),
            Some("RegionDisabledException") => {
                f.write_str("activate STS in this region for the account, or use another STS endpoint")
            }
            Some("PackedPolicyTooLarge") => {
                f.write_str("send fewer or shorter session tags")
            }
            Some("ValidationError") => f.write_str(
                "check the session duration (it must not exceed the role's maximum session duration, \
                 nor 1 hour for a chained role), the session name and the session tags",
            ),
            _ if *retryable => f.write_str(
                "STS may be unreachable or busy: check the network path to STS (AWS_ENDPOINT_URL_STS, proxies, \
                 VPC endpoints) and try again",
            ),
            _ => f.write_str("check the role and the STS endpoint"),
        }
    }
}
