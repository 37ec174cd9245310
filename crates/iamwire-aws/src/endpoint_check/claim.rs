//! What a database claims (host, account, region, role), and small helpers of the check.

use std::net::IpAddr;

use iamwire_core::Database;

use super::cache::{Key, Verdict};
use super::error::{EndpointCheckError, Mismatch};
use crate::aws_api::ApiError;
use crate::role::RoleChain;

/// What a database claims, and the role chain to ask with.
pub(super) struct Claim {
    pub(super) key: Key,
    pub(super) chain: RoleChain,
}

impl Claim {
    pub(super) fn of(database: &Database, session_name: &str) -> Result<Self, EndpointCheckError> {
        let misconfigured = |reason, source| EndpointCheckError::Misconfigured {
            database: database.name.clone(),
            reason,
            source,
        };
        let (host, _) = database
            .host_port()
            .ok_or_else(|| misconfigured("its URI names no host", None))?;
        let aws = &database.aws;
        let region = aws
            .region
            .clone()
            .ok_or_else(|| misconfigured("it has no aws.region", None))?;
        let chain = RoleChain::for_database(aws, None, session_name).map_err(|e| {
            misconfigured(
                "its assume_role_arn / external_id are not usable",
                Some(Box::new(e)),
            )
        })?;
        let account = aws
            .account_id
            .clone()
            .or_else(|| chain.last_role_arn().map(|r| r.account_id().to_owned()));
        Ok(Self {
            key: Key {
                host: normalize(host),
                account,
                region,
                chain: chain.key(),
            },
            chain,
        })
    }
}

pub(super) fn verdict_result(verdict: Verdict) -> Result<(), Box<Mismatch>> {
    match verdict {
        Verdict::Confirmed => Ok(()),
        Verdict::Refused(m) => Err(m),
    }
}

/// Lower case, without a trailing dot: how DNS compares names.
pub(super) fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

pub(super) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(super) fn operation_of(error: &ApiError) -> &'static str {
    match error {
        ApiError::Service(e) => e.operation,
        ApiError::Transport { operation, .. }
        | ApiError::Timeout { operation, .. }
        | ApiError::Malformed { operation, .. } => operation,
        _ => "Describe",
    }
}
