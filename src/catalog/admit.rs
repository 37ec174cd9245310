//! Whether a dynamic `kind: db` document becomes a served database: it must pass what
//! `iamwire check-resource` checks, a `db_service.resources` selector must match its labels, and the
//! selector's role and external ID apply when it names none — after which `aws.account_id` must be the
//! role's account, or it is refused naming both.

use iamwire_aws::discovery::tags_match;
use iamwire_core::{Database, DatabaseResource, ResourceMatcher};

/// A document that passed validation, and what the selectors made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admitted {
    /// Served, with the selector (index into `db_service.resources`) that matched.
    Served {
        /// The database, with the selector's role applied where it named none.
        database: Database,
        /// The selector.
        selector: usize,
    },
    /// Valid, but no selector of this service matches its labels: kept in the store, not served here.
    NotSelected {
        /// The database as written.
        database: Database,
    },
}

impl Admitted {
    /// The database (served or not).
    pub(crate) fn database(&self) -> &Database {
        match self {
            Self::Served { database, .. } | Self::NotSelected { database } => database,
        }
    }
}

/// Parse and validate `document` (YAML or JSON) exactly as `check-resource` does, then apply
/// `selectors`.
///
/// # Errors
///
/// The [`iamwire_core::Error`] of the document, or of the database once a selector's role applies
/// ([`iamwire_core::Problem::AccountMismatch`] names both accounts).
pub(crate) fn admit(
    document: &[u8],
    selectors: &[ResourceMatcher],
) -> Result<Admitted, iamwire_core::Error> {
    let database = DatabaseResource::parse(document)?.into_database()?;
    let labels: Vec<(String, String)> = database
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let Some((selector, matcher)) = selectors
        .iter()
        .enumerate()
        .find(|(_, m)| !m.labels.is_empty() && tags_match(&m.labels, &labels))
    else {
        return Ok(Admitted::NotSelected { database });
    };
    let mut database = database;
    if database.aws.assume_role_arn.is_none()
        && let Some(role) = &matcher.aws.assume_role_arn
    {
        database.aws.assume_role_arn = Some(role.clone());
        if database.aws.external_id.is_none() {
            database.aws.external_id = matcher.aws.external_id.clone();
        }
        if database.aws.account_id.is_none() {
            // The operator's selector names the account; a document that names one must agree.
            database.aws.account_id = database
                .aws
                .assume_role()
                .ok()
                .flatten()
                .map(|arn| arn.account_id().to_owned());
        }
        database.validate_dynamic()?;
    }
    Ok(Admitted::Served { database, selector })
}
