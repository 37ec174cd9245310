//! Why a Redshift login could not be had, and what to tell the client about it.

use iamwire_aws::aws_api::ApiError;
use iamwire_core::{Database, Partition};

use crate::codec::sqlstate;

/// Why the Redshift injectors could not get temporary database credentials.
///
/// Never carries the temporary password, a token or the external ID.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RedshiftError {
    /// The database lacks the identifier the injector needs.
    #[error("database \"{database}\" has no {setting}; set it to log in through Redshift")]
    MissingSetting {
        /// The database resource.
        database: String,
        /// The missing setting, e.g. `aws.redshift.cluster_id`.
        setting: &'static str,
    },
    /// The credentials call failed or was refused by AWS.
    #[error("{}", api_message(database, source))]
    Api {
        /// The database resource.
        database: String,
        /// What to do about it, when known (the IAM permission to grant, on what).
        hint: Option<String>,
        /// The AWS API error (service, operation, AWS error code).
        #[source]
        source: ApiError,
    },
}

impl RedshiftError {
    /// The SQLSTATE for the client: `28000` when AWS refused access, `08001` otherwise.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Self::Api { source, .. } if source.code().is_some_and(is_denied) => {
                sqlstate::INVALID_AUTHORIZATION_SPECIFICATION
            }
            _ => sqlstate::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
        }
    }

    /// What to do about it, for the `ErrorResponse` hint.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Api { hint, .. } => hint.clone(),
            Self::MissingSetting { .. } => None,
        }
    }
}

/// A one-line summary of an AWS failure that does not repeat the source's text.
fn api_message(database: &str, error: &ApiError) -> String {
    match error {
        ApiError::Service(e) if is_denied(&e.code) => format!(
            "access denied: {} {} for {} of database \"{database}\" was refused ({})",
            e.service, e.operation, e.resource, e.code
        ),
        ApiError::Service(e) => format!(
            "{} {} for {} of database \"{database}\" failed ({})",
            e.service, e.operation, e.resource, e.code
        ),
        ApiError::Transport {
            service, operation, ..
        }
        | ApiError::Timeout {
            service, operation, ..
        } => format!(
            "could not reach {service} for {operation} of database \"{database}\"; \
             check the endpoint and network"
        ),
        _ => format!("could not get Redshift credentials for database \"{database}\""),
    }
}

/// AWS error codes that mean "this identity may not do that".
pub(super) fn is_denied(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied"
            | "AccessDeniedException"
            | "AccessDeniedFault"
            | "UnauthorizedOperation"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "ExpiredToken"
            | "ExpiredTokenException"
    )
}

/// The account and partition a database lives in, as far as its settings say.
pub(super) fn account_of(database: &Database) -> (String, &'static str) {
    let aws = &database.aws;
    let from_role = aws.assume_role().ok().flatten();
    let partition = from_role
        .as_ref()
        .map(|arn| arn.partition())
        .or_else(|| aws.region.as_deref().and_then(Partition::of_region))
        .unwrap_or(Partition::Aws)
        .as_str();
    let account = aws
        .account_id
        .clone()
        .or_else(|| from_role.as_ref().map(|arn| arn.account_id().to_owned()))
        .unwrap_or_else(|| "<account>".to_owned());
    (account, partition)
}
