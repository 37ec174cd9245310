//! The error type shared by SigV4 signing, token minting, `Authorization` parsing and verification.

use std::fmt;
use std::time::Duration;

/// Why signing, minting a token, parsing an `Authorization` header or verifying a request failed.
///
/// Variants carry structured data so callers can map them to a protocol error (an HTTP status and an
/// AWS-style error code) without matching on text. No variant ever carries a secret, a token or a signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// A caller-supplied input (host name, user name, region, time, ...) cannot be signed.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which input was rejected.
        field: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The AWS SigV4 implementation refused to sign the request.
    #[error("SigV4 signing failed")]
    Signing(#[source] aws_sigv4::http_request::SigningError),
    /// The `Authorization` header is not a well-formed `AWS4-HMAC-SHA256` header.
    #[error("malformed Authorization header: {0}")]
    MalformedAuthorization(AuthorizationDefect),
    /// The header list named in `SignedHeaders` lacks a header that must be signed.
    #[error("the request must sign the `{header}` header")]
    UnsignedRequiredHeader {
        /// The header that must be signed (`host` or `x-amz-date`).
        header: &'static str,
    },
    /// A header named in `SignedHeaders` is not present in the request.
    #[error("signed header `{header}` is missing from the request")]
    SignedHeaderAbsent {
        /// The lowercase name of the missing header.
        header: String,
    },
    /// A signed header's value is not visible ASCII, so it cannot be canonicalised.
    #[error("signed header `{header}` has a value that is not visible ASCII")]
    InvalidHeaderValue {
        /// The lowercase name of the offending header.
        header: String,
    },
    /// The `X-Amz-Date` header is not of the form `YYYYMMDD'T'HHMMSS'Z'`.
    #[error("X-Amz-Date is not of the form YYYYMMDDTHHMMSSZ")]
    MalformedDate,
    /// The date in the credential scope differs from the date in `X-Amz-Date`.
    #[error("the credential scope date does not match X-Amz-Date")]
    CredentialDateMismatch,
    /// The request was signed too far from the verifier's clock.
    #[error("request time is {skew:?} away from the server clock (the limit is {limit:?})")]
    ClockSkew {
        /// How far the request time is from now, in either direction.
        skew: Duration,
        /// The largest skew the verifier accepts.
        limit: Duration,
    },
    /// The access key id is not one the verifier knows.
    #[error("unknown access key id")]
    UnknownAccessKey,
    /// The request's `X-Amz-Security-Token` does not belong to the access key (or is missing / unexpected).
    #[error("security token does not match the access key")]
    SecurityTokenMismatch,
    /// The signature does not match the one computed from the request and the key's secret.
    #[error("signature does not match")]
    SignatureMismatch,
}

/// What exactly is wrong with an `Authorization` header (see [`SigV4Error::MalformedAuthorization`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizationDefect {
    /// The value is longer than [`MAX_AUTHORIZATION_LEN`](crate::sigv4::MAX_AUTHORIZATION_LEN).
    TooLong,
    /// The value is not ASCII text.
    NotAscii,
    /// The value does not start with `AWS4-HMAC-SHA256 `.
    UnsupportedAlgorithm,
    /// A component is not `Name=value` with a known name.
    UnknownComponent,
    /// The separator between components is not `,` followed by optional spaces, or there is stray whitespace.
    BadSeparator,
    /// A component is missing.
    Missing(Component),
    /// A component appears more than once.
    Duplicate(Component),
    /// The credential is not `AKID/YYYYMMDD/region/service/aws4_request`.
    BadCredentialScope,
    /// The access key id is empty, too long, or not alphanumeric.
    BadAccessKeyId,
    /// The credential date is not a valid `YYYYMMDD` date.
    BadDate,
    /// The region is empty, too long, or not `[a-z0-9-]`.
    BadRegion,
    /// The service is empty, too long, or not `[a-z0-9-]`.
    BadService,
    /// The credential scope does not end in `aws4_request`.
    BadTerminator,
    /// A signed header name is empty, too long, or not a lowercase HTTP token.
    BadSignedHeader,
    /// The signed header names are not strictly ascending (sorted, no duplicates).
    SignedHeadersNotSorted,
    /// More signed headers than [`MAX_SIGNED_HEADERS`](crate::sigv4::MAX_SIGNED_HEADERS).
    TooManySignedHeaders,
    /// The signature is not 64 lowercase hex digits.
    BadSignature,
}

/// A component of the `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Component {
    /// `Credential=`.
    Credential,
    /// `SignedHeaders=`.
    SignedHeaders,
    /// `Signature=`.
    Signature,
}

impl fmt::Display for AuthorizationDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::TooLong => "too long",
            Self::NotAscii => "not ASCII",
            Self::UnsupportedAlgorithm => "algorithm is not AWS4-HMAC-SHA256",
            Self::UnknownComponent => "unknown component",
            Self::BadSeparator => "bad separator or stray whitespace",
            Self::Missing(c) => return write!(f, "missing {c}"),
            Self::Duplicate(c) => return write!(f, "duplicate {c}"),
            Self::BadCredentialScope => "credential is not AKID/date/region/service/aws4_request",
            Self::BadAccessKeyId => "bad access key id",
            Self::BadDate => "bad credential date",
            Self::BadRegion => "bad region",
            Self::BadService => "bad service",
            Self::BadTerminator => "credential scope does not end in aws4_request",
            Self::BadSignedHeader => "bad signed header name",
            Self::SignedHeadersNotSorted => "signed headers are not sorted and unique",
            Self::TooManySignedHeaders => "too many signed headers",
            Self::BadSignature => "signature is not 64 lowercase hex digits",
        };
        f.write_str(text)
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Credential => "Credential",
            Self::SignedHeaders => "SignedHeaders",
            Self::Signature => "Signature",
        })
    }
}

impl From<aws_sigv4::http_request::SigningError> for SigV4Error {
    fn from(e: aws_sigv4::http_request::SigningError) -> Self {
        Self::Signing(e)
    }
}

impl From<AuthorizationDefect> for SigV4Error {
    fn from(d: AuthorizationDefect) -> Self {
        Self::MalformedAuthorization(d)
    }
}
