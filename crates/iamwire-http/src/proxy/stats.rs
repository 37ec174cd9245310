//! What an [`HttpProxy`](super::HttpProxy) counts, and whether it is paused: plain atomics, shared by a
//! proxy and its successors after a configuration reload.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::HttpError;

/// The refusal codes counted one by one (every [`HttpError::code`]); anything else is `other`.
const CODES: [&str; 16] = [
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "AccessDeniedException",
    "RequestEntityTooLarge",
    "XAmzContentSHA256Mismatch",
    "ValidationException",
    "CredentialsUnavailable",
    "ThrottlingException",
    "ServiceUnavailable",
    "BadGateway",
    "GatewayTimeout",
    "IncompleteBody",
    "InternalFailure",
    "other",
];

/// Counters of one database's HTTP proxy.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    forwarded: AtomicU64,
    refused: [AtomicU64; CODES.len()],
    pub(crate) paused: AtomicBool,
}

impl Stats {
    /// A request was verified, re-signed and forwarded.
    pub(crate) fn forwarded(&self) {
        self.forwarded.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was refused with `error`.
    pub(crate) fn refused(&self, error: &HttpError) {
        let code = error.code();
        let i = CODES
            .iter()
            .position(|c| *c == code)
            .or_else(|| CODES.iter().position(|c| *c == "other"))
            .unwrap_or(0);
        self.refused[i].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    pub(crate) fn snapshot(&self) -> HttpMetrics {
        HttpMetrics {
            forwarded: self.forwarded.load(Ordering::Relaxed),
            refused: CODES
                .iter()
                .zip(&self.refused)
                .map(|(code, n)| (*code, n.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        }
    }
}

/// What an HTTP proxy has counted so far.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpMetrics {
    /// Requests verified, re-signed as the database-user role and forwarded.
    pub forwarded: u64,
    /// Requests refused, by the error code the client got (only codes seen).
    pub refused: Vec<(&'static str, u64)>,
}
