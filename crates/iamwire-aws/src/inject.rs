//! The AWS [`AuthInjector`]s every protocol shares: RDS IAM tokens (Postgres, MySQL, Aurora, RDS Proxy),
//! Redshift temporary credentials (`GetClusterCredentials`, `GetClusterCredentialsWithIAM`), Redshift
//! Serverless `GetCredentials`, ElastiCache / MemoryDB IAM tokens (Redis), Amazon Keyspaces' SigV4
//! challenge signer and Amazon DocumentDB's `MONGODB-AWS` signer, with [`injector_for`] to pick the one a
//! database needs, one token-reuse map ([`TokenMap`]), the translation of AWS failures into
//! [`InjectError`]s classified by kind, and [`GuardedInjector`], which confirms a discovered or dynamic
//! database's endpoint ([`crate::endpoint_check`]) before any of them runs.

mod cache;
mod documentdb;
mod guard;
mod keyspaces;
mod rds;
mod redshift;
mod token_core;
mod tokens;
mod user_role;

use iamwire_core::{InjectError, InjectErrorKind, RoleArn};

pub use cache::CacheIamInjector;
pub use documentdb::DocumentDbInjector;
pub use guard::{GuardedInjector, refusal as endpoint_refusal};
pub use iamwire_core::{AuthInjector, LoginFuture, StaticPasswordInjector, UpstreamLogin};
pub use keyspaces::KeyspacesInjector;
pub use rds::RdsIamInjector;
pub use redshift::{RedshiftApi, RedshiftInjector, RedshiftServerlessInjector, injector_for};
pub use tokens::{TokenKey, TokenKind, TokenMap};

use crate::aws_api::ApiError;
use crate::role::{ChainError, RoleError};

/// AWS error codes that mean "this identity may not do that".
pub(crate) fn is_denied(code: &str) -> bool {
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
            | "SignatureDoesNotMatch"
    )
}

/// What to do when STS cannot be reached or does not answer.
const STS_UNREACHABLE_HINT: &str = "check the proxy's network path to AWS STS (and \
    AWS_ENDPOINT_URL_STS if set); nothing in IAM needs to change, new sessions retry";

/// What a client is told when the role chain of its database could not be walked: refusals name the role
/// and the trust policy; an STS that cannot be reached says so (nothing in IAM needs to change); the
/// cause stays in `source()`.
pub fn role_error(error: RoleError) -> InjectError {
    let arn = error.role_arn().cloned();
    let role = arn.as_ref().map_or_else(
        || "the proxy's base identity".to_owned(),
        ToString::to_string,
    );
    let code = error.code().map(str::to_owned);
    let (kind, message, hint) = match (&error, code.as_deref()) {
        (RoleError::AssumeRole(_), Some(code)) if is_denied(code) => (
            InjectErrorKind::AccessDenied,
            format!("access denied: the proxy could not assume role {role} ({code})"),
            arn.as_ref().map(trust_hint),
        ),
        (RoleError::AssumeRole(_), code) if error.is_retryable() => (
            InjectErrorKind::Unavailable,
            match code {
                Some(code) => format!("AWS STS could not issue credentials for role {role} now ({code})"),
                None => format!("the proxy could not reach AWS STS to assume role {role}"),
            },
            Some(STS_UNREACHABLE_HINT.to_owned()),
        ),
        (RoleError::AssumeRole(_), code) => (
            InjectErrorKind::Misconfigured,
            format!(
                "AWS STS refused to assume role {role} ({})",
                code.unwrap_or("no error code")
            ),
            None,
        ),
        (RoleError::BaseCredentials { retryable: true, .. }, _) => (
            InjectErrorKind::Unavailable,
            "the proxy could not load its own AWS credentials right now".to_owned(),
            Some("check the credential source the proxy runs with (instance role, container, web identity)".to_owned()),
        ),
        (RoleError::BaseCredentials { .. }, _) => (
            InjectErrorKind::Misconfigured,
            "the proxy has no AWS credentials of its own".to_owned(),
            Some("give the proxy AWS credentials: environment, profile, web identity or instance role".to_owned()),
        ),
        (RoleError::Timeout { after, .. }, _) => (
            InjectErrorKind::Unavailable,
            format!("AWS STS did not answer within {after:?} for role {role}"),
            Some(STS_UNREACHABLE_HINT.to_owned()),
        ),
        (RoleError::Interrupted { .. }, _) => (
            InjectErrorKind::Unavailable,
            format!("AWS STS did not answer in time for role {role}"),
            Some(STS_UNREACHABLE_HINT.to_owned()),
        ),
        (RoleError::Expired { .. }, _) => (
            InjectErrorKind::Misconfigured,
            format!("the credentials STS issued for {role} expire too soon to use"),
            Some("check the proxy's clock and the role's session duration".to_owned()),
        ),
        _ => (
            InjectErrorKind::Internal,
            format!("could not get AWS credentials for {role}"),
            None,
        ),
    };
    let mut out = InjectError::new(kind, message).with_source(error);
    if let Some(hint) = hint {
        out = out.with_hint(hint);
    }
    out
}

fn trust_hint(arn: &RoleArn) -> String {
    format!(
        "the trust policy of {arn} must allow this proxy's AWS identity to call sts:AssumeRole \
         with this database's external ID"
    )
}

/// The database's `aws` settings do not make a valid role chain.
pub(crate) fn chain_error(database: &str, error: ChainError) -> InjectError {
    InjectError::new(
        InjectErrorKind::Misconfigured,
        format!("the AWS settings of database \"{database}\" are invalid: {error}"),
    )
}

/// A database setting the injector needs is missing.
pub(crate) fn missing(database: &str, setting: &str) -> InjectError {
    InjectError::new(
        InjectErrorKind::Misconfigured,
        format!("database \"{database}\" has no {setting}; set it to log in through AWS"),
    )
}

/// An AWS API call (Redshift, ElastiCache, ...) failed: refusals are access denied, transport failures
/// and timeouts unavailable; the cause stays in `source()`.
pub(crate) fn api_error(database: &str, error: ApiError, hint: Option<String>) -> InjectError {
    let (kind, message) = match &error {
        ApiError::Service(e) if is_denied(&e.code) => (
            InjectErrorKind::AccessDenied,
            format!(
                "access denied: {} {} for {} of database \"{database}\" was refused ({})",
                e.service, e.operation, e.resource, e.code
            ),
        ),
        ApiError::Service(e) => (
            if error.is_retryable() {
                InjectErrorKind::Unavailable
            } else {
                InjectErrorKind::Misconfigured
            },
            format!(
                "{} {} for {} of database \"{database}\" failed ({})",
                e.service, e.operation, e.resource, e.code
            ),
        ),
        ApiError::Transport {
            service, operation, ..
        }
        | ApiError::Timeout {
            service, operation, ..
        } => (
            InjectErrorKind::Unavailable,
            format!(
                "could not reach {service} for {operation} of database \"{database}\"; \
                 check the endpoint and network"
            ),
        ),
        _ => (
            InjectErrorKind::Internal,
            format!("could not get credentials from AWS for database \"{database}\""),
        ),
    };
    let hint = hint.or_else(|| match &error {
        ApiError::Service(e) => e.hint.clone(),
        _ => None,
    });
    let mut out = InjectError::new(kind, message).with_source(error);
    if let Some(hint) = hint {
        out = out.with_hint(hint);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::{Hop, RoleChain};

    fn hop() -> Hop {
        let chain = RoleChain::builder()
            .assume_role("arn:aws:iam::222222222222:role/db".parse().unwrap())
            .external_id(iamwire_core::ExternalId::new("secret-ext-id"))
            .build()
            .unwrap();
        chain.hops()[0].clone()
    }

    #[test]
    fn role_errors_are_classified_and_never_show_the_external_id() {
        let denied = role_error(RoleError::assume_role(
            &hop(),
            Some("AccessDenied"),
            "not authorized with secret-ext-id",
            false,
        ));
        assert_eq!(denied.kind(), InjectErrorKind::AccessDenied);
        assert!(
            denied
                .message()
                .contains("arn:aws:iam::222222222222:role/db")
        );
        assert!(denied.hint().unwrap().contains("trust policy"));
        let unreachable = role_error(RoleError::assume_role(
            &hop(),
            None,
            "dispatch failure: connection refused",
            true,
        ));
        assert_eq!(unreachable.kind(), InjectErrorKind::Unavailable);
        assert!(unreachable.message().contains("could not reach AWS STS"));
        assert!(!unreachable.hint().unwrap().contains("trust policy"));
        let timeout = role_error(RoleError::Timeout {
            role_arn: Some("arn:aws:iam::222222222222:role/db".parse().unwrap()),
            after: std::time::Duration::from_secs(5),
        });
        assert_eq!(timeout.kind(), InjectErrorKind::Unavailable);
        for e in [&denied, &unreachable, &timeout] {
            let all = format!("{e} {e:?} {:?}", e.hint());
            assert!(!all.contains("secret-ext-id"), "{all}");
        }
    }
}
