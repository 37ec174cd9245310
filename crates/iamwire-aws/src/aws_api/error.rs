//! Errors of AWS API calls.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::sigv4::SigV4Error;

/// An AWS error answer: what was asked, the code, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service} {operation} for {resource} was refused with {code} (HTTP {status}): {message}{}", Hint(hint.as_deref()))]
#[non_exhaustive]
pub struct ServiceError {
    /// The service, e.g. `Redshift`.
    pub service: &'static str,
    /// The operation, e.g. `GetClusterCredentials`.
    pub operation: &'static str,
    /// What the call was about: `cluster <id>`, `workgroup <name>`, `user <id>`.
    pub resource: String,
    /// The AWS error code.
    pub code: String,
    /// The HTTP status of the answer.
    pub status: u16,
    /// AWS's message (trimmed), for humans.
    pub message: String,
    /// The AWS request id, for support cases.
    pub request_id: Option<String>,
    /// What to do about it, when we know.
    pub hint: Option<String>,
}

/// Why an AWS API call failed. Never carries a credential, password or token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The service answered with an AWS error (`AccessDenied`, `ClusterNotFound`, `SignatureDoesNotMatch`..).
    #[error(transparent)]
    Service(Box<ServiceError>),
    /// The endpoint could not be reached, or the connection broke.
    #[error(
        "could not reach {service} at {endpoint} for {operation}: check the endpoint, DNS and network"
    )]
    Transport {
        /// The service.
        service: &'static str,
        /// The operation.
        operation: &'static str,
        /// The endpoint URL.
        endpoint: String,
        /// The underlying failure.
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The call took longer than the client's timeout.
    #[error(
        "{service} {operation} at {endpoint} took longer than {after:?}: check the endpoint and network"
    )]
    Timeout {
        /// The service.
        service: &'static str,
        /// The operation.
        operation: &'static str,
        /// The endpoint URL.
        endpoint: String,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The endpoint override is not usable.
    #[error("endpoint {endpoint:?} is not usable: {reason}")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An argument is out of range or malformed; nothing was sent.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The argument.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The service's answer could not be understood.
    #[error("{service} {operation} answered with something unexpected: {what}")]
    Malformed {
        /// The service.
        service: &'static str,
        /// The operation.
        operation: &'static str,
        /// What was missing or wrong.
        what: &'static str,
    },
    /// The request could not be signed.
    #[error("could not sign the request")]
    Signing(#[from] SigV4Error),
}

impl ApiError {
    /// The AWS error code, for [`ApiError::Service`].
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service(e) => Some(&e.code),
            _ => None,
        }
    }

    /// Whether trying again later may succeed (throttling, 5xx, timeouts, broken connections).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Service(e) => {
                e.status >= 500
                    || matches!(
                        e.code.as_str(),
                        "Throttling" | "ThrottlingException" | "RequestLimitExceeded"
                    )
            }
            Self::Transport { .. } | Self::Timeout { .. } => true,
            _ => false,
        }
    }

    /// This error with `what_to_do` as its hint, if it is a [`ApiError::Service`].
    pub(crate) fn with_hint(mut self, what_to_do: Option<String>) -> Self {
        if let Self::Service(e) = &mut self {
            e.hint = what_to_do;
        }
        self
    }

    pub(crate) fn transport(
        service: &'static str,
        operation: &'static str,
        endpoint: &http::Uri,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self::Transport {
            service,
            operation,
            endpoint: endpoint.to_string(),
            source: Box::new(source),
        }
    }
}

struct Hint<'a>(Option<&'a str>);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(h) => write!(f, "; {h}"),
            None => Ok(()),
        }
    }
}
