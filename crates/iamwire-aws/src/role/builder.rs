//! [`RoleChainBuilder`]: the pleasant way to a valid [`RoleChain`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use iamwire_core::{Aws, ExternalId, Partition, RoleArn};

use super::chain::{Hop, HopKind, RoleChain};
use super::error::ChainError;
use super::session_name::SessionName;

/// The shortest session STS grants (`DurationSeconds` minimum).
pub const MIN_SESSION_DURATION: Duration = Duration::from_secs(900);
/// The longest session STS grants for a role whose maximum session duration allows it.
pub const MAX_SESSION_DURATION: Duration = Duration::from_secs(43_200);
/// The longest session STS grants when the source is itself an assumed role (role chaining).
pub const MAX_CHAINED_SESSION_DURATION: Duration = Duration::from_secs(3_600);
/// The most session tags one AssumeRole may carry.
pub const MAX_SESSION_TAGS: usize = 50;
/// The longest session tag key, in characters.
pub const MAX_TAG_KEY_LEN: usize = 128;
/// The longest session tag value, in characters.
pub const MAX_TAG_VALUE_LEN: usize = 256;

/// Builds a [`RoleChain`] from a database's settings; see [`RoleChain::builder`].
///
/// The session name and duration apply to every hop. The external ID and the session tags go on the
/// *first* hop only (the database role if set, else the user role): the external ID must be sent
/// exactly once, and tags marked [transitive](Self::transitive_tag_key) reach the second session
/// through STS itself.
#[derive(Debug, Clone, Default)]
pub struct RoleChainBuilder {
    assume_role: Option<RoleArn>,
    account: Option<(Partition, String)>,
    external_id: Option<ExternalId>,
    session_name: Option<SessionName>,
    session_tags: BTreeMap<String, String>,
    transitive_tag_keys: BTreeSet<String>,
    duration: Option<Duration>,
    user_role: Option<String>,
}

impl RoleChainBuilder {
    /// Assume `role_arn` first (the database's `assume_role_arn`).
    pub fn assume_role(mut self, role_arn: RoleArn) -> Self {
        self.assume_role = Some(role_arn);
        self
    }

    /// The database's partition and account, which a short user-role name resolves in when there is
    /// no [`assume_role`](Self::assume_role). With one, they must match its ARN.
    pub fn account(mut self, partition: Partition, account_id: impl Into<String>) -> Self {
        self.account = Some((partition, account_id.into()));
        self
    }

    /// The external ID to send (once, on the first hop).
    pub fn external_id(mut self, external_id: ExternalId) -> Self {
        self.external_id = Some(external_id);
        self
    }

    /// The session name of every hop, made STS-safe by [`SessionName::new`]. Default: `iamwire`.
    pub fn session_name(mut self, name: &str) -> Self {
        self.session_name = Some(SessionName::new(name));
        self
    }

    /// Add one session tag (sent on the first hop).
    pub fn session_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.session_tags.insert(key.into(), value.into());
        self
    }

    /// Add session tags (sent on the first hop).
    pub fn session_tags<K, V>(mut self, tags: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.session_tags
            .extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Mark the session tag `key` transitive, so it carries over to the second hop's session.
    pub fn transitive_tag_key(mut self, key: impl Into<String>) -> Self {
        self.transitive_tag_keys.insert(key.into());
        self
    }

    /// The session duration of every hop (STS default, 1 hour, when unset).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// Then assume the database-user role `user`: a role name resolved in the first hop's account and
    /// partition (else the [`account`](Self::account)), or a full role ARN, which must be in that account
    /// and partition.
    pub fn then_user_role(mut self, user: impl Into<String>) -> Self {
        self.user_role = Some(user.into());
        self
    }

    /// The chain, checked against STS's limits.
    ///
    /// # Errors
    ///
    /// A [`ChainError`] naming the setting that STS would reject or that contradicts another.
    pub fn build(self) -> Result<RoleChain, ChainError> {
        self.check_tags()?;
        self.check_duration()?;
        if let (Some(arn), Some((partition, account_id))) = (&self.assume_role, &self.account)
            && (arn.account_id() != account_id || arn.partition() != *partition)
        {
            return Err(ChainError::AccountMismatch {
                role_arn: arn.clone(),
                account_id: account_id.clone(),
                partition: *partition,
            });
        }
        let session_name = self.session_name.clone().unwrap_or_default();
        let user_arn = self
            .user_role
            .as_deref()
            .map(|u| self.user_role_arn(u))
            .transpose()?;
        let mut first_settings = Some((
            self.external_id,
            self.session_tags,
            self.transitive_tag_keys,
        ));
        let mut hops = Vec::with_capacity(2);
        for (kind, role_arn) in [
            (HopKind::DatabaseRole, self.assume_role),
            (HopKind::UserRole, user_arn),
        ] {
            let Some(role_arn) = role_arn else { continue };
            let (external_id, session_tags, transitive_tag_keys) =
                first_settings.take().unwrap_or_default();
            hops.push(Hop {
                kind,
                role_arn,
                external_id,
                session_name: session_name.clone(),
                session_tags,
                transitive_tag_keys,
                duration: self.duration,
            });
        }
        if let Some((external_id, tags, _)) = first_settings {
            let setting = if external_id.is_some() {
                Some("external_id")
            } else if !tags.is_empty() {
                Some("session_tags")
            } else if self.duration.is_some() {
                Some("duration")
            } else {
                None
            };
            if let Some(setting) = setting {
                return Err(ChainError::NoRole { setting });
            }
        }
        Ok(RoleChain::from_hops(hops))
    }

    fn user_role_arn(&self, user: &str) -> Result<RoleArn, ChainError> {
        let (partition, account_id) = match (&self.assume_role, &self.account) {
            (Some(arn), _) => (arn.partition(), arn.account_id().to_owned()),
            (None, Some((partition, account_id))) => (*partition, account_id.clone()),
            (None, None) if user.starts_with("arn:") => {
                return user.parse().map_err(|source| ChainError::BadUserRole {
                    user: user.to_owned(),
                    source,
                });
            }
            (None, None) => {
                return Err(ChainError::NoAccount {
                    user: user.to_owned(),
                });
            }
        };
        let arn = if user.starts_with("arn:") {
            user.parse::<RoleArn>()
        } else {
            RoleArn::new(partition, &account_id, "/", user)
        }
        .map_err(|source| ChainError::BadUserRole {
            user: user.to_owned(),
            source,
        })?;
        if arn.account_id() != account_id || arn.partition() != partition {
            return Err(ChainError::UserRoleOutsideAccount {
                user_role: arn,
                account_id,
                partition,
            });
        }
        Ok(arn)
    }

    fn check_tags(&self) -> Result<(), ChainError> {
        if self.session_tags.len() > MAX_SESSION_TAGS {
            return Err(ChainError::TooManyTags {
                count: self.session_tags.len(),
            });
        }
        for (key, value) in &self.session_tags {
            let key_len = key.chars().count();
            if key_len == 0 || key_len > MAX_TAG_KEY_LEN {
                return Err(ChainError::BadTagKey { key: key.clone() });
            }
            let len = value.chars().count();
            if len > MAX_TAG_VALUE_LEN {
                return Err(ChainError::TagValueTooLong {
                    key: key.clone(),
                    len,
                });
            }
        }
        match self
            .transitive_tag_keys
            .iter()
            .find(|k| !self.session_tags.contains_key(*k))
        {
            Some(key) => Err(ChainError::TransitiveKeyNotTagged { key: key.clone() }),
            None => Ok(()),
        }
    }

    fn check_duration(&self) -> Result<(), ChainError> {
        let Some(duration) = self.duration else {
            return Ok(());
        };
        if !(MIN_SESSION_DURATION..=MAX_SESSION_DURATION).contains(&duration) {
            return Err(ChainError::BadDuration { duration });
        }
        let chained = self.assume_role.is_some() && self.user_role.is_some();
        if chained && duration > MAX_CHAINED_SESSION_DURATION {
            return Err(ChainError::ChainedDurationTooLong { duration });
        }
        Ok(())
    }
}

impl RoleChain {
    /// The chain for a database's `aws` settings, logging in as the database-user role `user_role` when
    /// the database logs in as an IAM role, with `session_name` (usually the client's identity).
    ///
    /// The partition comes from `assume_role_arn`, else from the region, else `aws`.
    ///
    /// # Errors
    ///
    /// A [`ChainError`] if `assume_role_arn` is not a role ARN or the settings contradict each other.
    pub fn for_database(
        aws: &Aws,
        user_role: Option<&str>,
        session_name: &str,
    ) -> Result<Self, ChainError> {
        let assume_role = aws
            .assume_role()
            .map_err(|source| ChainError::BadAssumeRole { source })?;
        let mut builder = Self::builder()
            .session_name(session_name)
            .session_tags(aws.session_tags.clone());
        let partition = match &assume_role {
            Some(arn) => arn.partition(),
            None => aws
                .region
                .as_deref()
                .and_then(Partition::of_region)
                .unwrap_or(Partition::Aws),
        };
        if let Some(account_id) = &aws.account_id {
            builder = builder.account(partition, account_id.clone());
        }
        if let Some(arn) = assume_role {
            builder = builder.assume_role(arn);
        }
        if let Some(external_id) = &aws.external_id {
            builder = builder.external_id(external_id.clone());
        }
        if let Some(user) = user_role {
            builder = builder.then_user_role(user);
        }
        builder.build()
    }
}
