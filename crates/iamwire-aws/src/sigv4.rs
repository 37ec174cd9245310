//! AWS Signature Version 4 for HTTP: signing requests, parsing a client's `Authorization` header, and
//! verifying a client's signature.
//!
//! Everything here is a pure function in the aws-sigv4 style: the time and the credentials are inputs, nothing
//! reads a clock, the environment or the network. The canonicalisation and HMAC chain are the official
//! [`aws_sigv4`] crate's; this module adds the request shapes the proxy needs, a strict parser for
//! peer-supplied headers, and verification with a constant-time comparison.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use aws_credential_types::Credentials;
//! use iamwire_aws::sigv4::{sign_request, HttpRequest, Payload, Scope, SigningOptions};
//!
//! let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
//! let uri: http::Uri = "https://dynamodb.us-east-1.amazonaws.com/".parse()?;
//! let headers = http::HeaderMap::new();
//! let request = HttpRequest::new(&http::Method::POST, &uri, &headers, Payload::Bytes(b"{}"));
//! let time = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
//! let signed = sign_request(&request, &creds, Scope::new("us-east-1", "dynamodb"), time, SigningOptions::default())?;
//! assert!(signed.authorization().starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use http::{HeaderMap, HeaderName, HeaderValue};

mod authorization;
mod date;
mod error;
pub mod keyspaces;
pub mod mongodb;
mod verify;

pub use authorization::{Authorization, MAX_AUTHORIZATION_LEN, MAX_SIGNED_HEADERS};
pub use error::{AuthorizationDefect, Component, SigV4Error};
pub use verify::{DEFAULT_MAX_CLOCK_SKEW, KeyLookup, Verified, VerifyOptions, verify_request};

/// Run `f` with no tracing subscriber on this thread. aws-sigv4 traces every canonical request it
/// signs, and for a presigned request (an RDS or ElastiCache token) that is the session token in the
/// query string: whatever subscriber and filter an embedder installs, signing must not hand it secrets.
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> T {
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), f)
}

/// The hex SHA-256 of an empty body, which SigV4 uses as the payload hash of a request without one.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The region and service a signature is scoped to (`.../us-east-1/dynamodb/aws4_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope<'a> {
    /// The AWS region, e.g. `us-east-1`.
    pub region: &'a str,
    /// The signing name of the service, e.g. `dynamodb`, `es`, `rds-db`.
    pub service: &'a str,
}

impl<'a> Scope<'a> {
    /// A scope for `service` in `region`.
    pub const fn new(region: &'a str, service: &'a str) -> Self {
        Self { region, service }
    }
}

/// The request body as SigV4 sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// The whole body; its SHA-256 is computed.
    Bytes(&'a [u8]),
    /// The lowercase hex SHA-256 of the body, already computed (e.g. while streaming it).
    Sha256Hex(&'a str),
    /// The literal `UNSIGNED-PAYLOAD`, for services that allow it (S3 over TLS).
    Unsigned,
}

impl fmt::Debug for Payload<'_> {
    // A body can hold anything, including secrets: show its size, never its content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::Sha256Hex(h) => f.debug_tuple("Sha256Hex").field(h).finish(),
            Self::Unsigned => f.write_str("Unsigned"),
        }
    }
}

impl<'a> Payload<'a> {
    fn signable(self) -> SignableBody<'a> {
        match self {
            Self::Bytes(b) => SignableBody::Bytes(b),
            Self::Sha256Hex(h) => SignableBody::Precomputed(h.to_owned()),
            Self::Unsigned => SignableBody::UnsignedPayload,
        }
    }
}

/// The parts of an HTTP request that SigV4 covers, borrowed from wherever the caller keeps them.
///
/// For signing, the host comes from a `host` header if there is one, else from the URI's authority. For
/// verification, the URI is usually origin-form (`/path?query`) and the `host` header must be present.
#[derive(Clone, Copy)]
pub struct HttpRequest<'a> {
    method: &'a http::Method,
    uri: &'a http::Uri,
    headers: &'a HeaderMap,
    payload: Payload<'a>,
}

impl<'a> HttpRequest<'a> {
    /// Borrow a request's method, URI, headers and payload.
    pub fn new(
        method: &'a http::Method,
        uri: &'a http::Uri,
        headers: &'a HeaderMap,
        payload: Payload<'a>,
    ) -> Self {
        Self {
            method,
            uri,
            headers,
            payload,
        }
    }
}

impl fmt::Debug for HttpRequest<'_> {
    // Header values (Authorization, X-Amz-Security-Token, cookies) stay out of logs; names are enough.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", self.method)
            .field("uri", self.uri)
            .field("header_names", &self.headers.keys().collect::<Vec<_>>())
            .field("payload", &self.payload)
            .finish()
    }
}

/// How a service wants its requests canonicalised. The default suits every service except S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SigningOptions {
    /// Add `x-amz-content-sha256` (S3, and services fronted like it) and sign it.
    pub content_sha256_header: bool,
    /// Remove `.`/`..` segments and duplicate slashes from the path before signing (all services but S3).
    pub normalize_path: bool,
    /// Percent-encode the (already encoded) path again (all services but S3).
    pub double_encode_path: bool,
}

impl Default for SigningOptions {
    fn default() -> Self {
        Self {
            content_sha256_header: false,
            normalize_path: true,
            double_encode_path: true,
        }
    }
}

impl SigningOptions {
    /// S3's rules: single-encoded, unnormalised path, and an `x-amz-content-sha256` header.
    pub const fn s3() -> Self {
        Self {
            content_sha256_header: true,
            normalize_path: false,
            double_encode_path: false,
        }
    }

    /// These options with `x-amz-content-sha256` added (or not).
    pub const fn with_content_sha256_header(mut self, on: bool) -> Self {
        self.content_sha256_header = on;
        self
    }

    /// These options with path normalisation switched on or off.
    pub const fn with_normalize_path(mut self, on: bool) -> Self {
        self.normalize_path = on;
        self
    }

    /// These options with double path encoding switched on or off.
    pub const fn with_double_encode_path(mut self, on: bool) -> Self {
        self.double_encode_path = on;
        self
    }

    fn settings(self) -> SigningSettings {
        let mut s = SigningSettings::default();
        s.payload_checksum_kind = if self.content_sha256_header {
            PayloadChecksumKind::XAmzSha256
        } else {
            PayloadChecksumKind::NoHeader
        };
        s.uri_path_normalization_mode = if self.normalize_path {
            UriPathNormalizationMode::Enabled
        } else {
            UriPathNormalizationMode::Disabled
        };
        s.percent_encoding_mode = if self.double_encode_path {
            PercentEncodingMode::Double
        } else {
            PercentEncodingMode::Single
        };
        s
    }
}

/// The headers a signature adds to a request: `x-amz-date`, `authorization`, and, when they apply,
/// `x-amz-content-sha256` and `x-amz-security-token` (marked sensitive, redacted in `Debug`).
#[derive(Clone)]
pub struct SignatureHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
    authorization: String,
    signature: String,
}

impl SignatureHeaders {
    /// The `Authorization` header value.
    pub fn authorization(&self) -> &str {
        &self.authorization
    }

    /// The signature alone, 64 lowercase hex digits.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// Every header to add, in the order aws-sigv4 produced them.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.headers.iter().map(|(n, v)| (n, v))
    }

    /// Set these headers on `headers`, replacing any earlier values of the same names.
    pub fn apply_to(self, headers: &mut HeaderMap) {
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
    }
}

impl fmt::Debug for SignatureHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        for (name, value) in &self.headers {
            if value.is_sensitive() {
                list.entry(name, &"** redacted **");
            } else {
                list.entry(name, value);
            }
        }
        list.finish()
    }
}

/// Sign `request` for `scope` at `time` with `credentials`, returning the headers to add.
///
/// Headers already on the request are signed, except the ones AWS SDKs never sign (`authorization`,
/// `user-agent`, `x-amzn-trace-id`, `transfer-encoding`).
pub fn sign_request(
    request: &HttpRequest<'_>,
    credentials: &Credentials,
    scope: Scope<'_>,
    time: SystemTime,
    options: SigningOptions,
) -> Result<SignatureHeaders, SigV4Error> {
    check_time(time)?;
    if request.uri.authority().is_none() && !request.headers.contains_key(http::header::HOST) {
        return Err(SigV4Error::InvalidInput {
            field: "request",
            reason: "needs a host header or an absolute URI",
        });
    }
    let headers = header_pairs(request.headers, |_| true)?;
    let signable = SignableRequest::new(
        request.method.as_str(),
        request.uri.to_string(),
        headers.into_iter(),
        request.payload.signable(),
    )?;
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(scope.region)
        .name(scope.service)
        .time(time)
        .settings(options.settings())
        .build()
        .map_err(|_| SigV4Error::InvalidInput {
            field: "scope",
            reason: "incomplete signing parameters",
        })?
        .into();
    let (instructions, signature) =
        quietly(|| aws_sigv4::http_request::sign(signable, &params))?.into_parts();
    let (new_headers, _) = instructions.into_parts();
    let mut out = Vec::with_capacity(new_headers.len());
    let mut authorization = String::new();
    for header in new_headers {
        let name = HeaderName::from_static(header.name());
        let mut value =
            HeaderValue::from_str(header.value()).map_err(|_| SigV4Error::InvalidInput {
                field: "credentials",
                reason: "session token is not a valid header value",
            })?;
        value.set_sensitive(header.sensitive());
        if name == http::header::AUTHORIZATION {
            authorization = header.value().to_owned();
        }
        out.push((name, value));
    }
    Ok(SignatureHeaders {
        headers: out,
        authorization,
        signature,
    })
}

/// Reject times the date formatting in aws-sigv4 cannot represent (it would panic past year 9999).
pub(crate) fn check_time(time: SystemTime) -> Result<(), SigV4Error> {
    // 9999-12-31T23:59:59Z
    const MAX_SECS: u64 = 253_402_300_799;
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) if d.as_secs() <= MAX_SECS => Ok(()),
        _ => Err(SigV4Error::InvalidInput {
            field: "time",
            reason: "must be between 1970 and 9999",
        }),
    }
}

/// A region name as signed into a credential scope: 1 to 32 lowercase letters, digits and `-`.
pub(crate) fn check_region(region: &str) -> Result<(), SigV4Error> {
    const MAX_REGION_LEN: usize = 32;
    let region_ok = !region.is_empty()
        && region.len() <= MAX_REGION_LEN
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if region_ok {
        Ok(())
    } else {
        Err(SigV4Error::InvalidInput {
            field: "region",
            reason: "must be lowercase letters, digits and '-'",
        })
    }
}

/// The request's headers as `(&str, &str)` pairs, for names `keep` accepts; non-ASCII values are an error.
fn header_pairs(
    headers: &HeaderMap,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<(&str, &str)>, SigV4Error> {
    let mut out = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        if !keep(name.as_str()) {
            continue;
        }
        let value = value.to_str().map_err(|_| SigV4Error::InvalidHeaderValue {
            header: name.as_str().to_owned(),
        })?;
        out.push((name.as_str(), value));
    }
    Ok(out)
}

/// Fuzz entry point: parse arbitrary bytes as an `Authorization` value; what parses must re-encode to
/// something that parses to the same value.
pub(crate) fn fuzz_authorization(data: &[u8]) {
    if let Ok(parsed) = Authorization::parse(data) {
        let again = Authorization::parse(parsed.to_string().as_bytes());
        assert!(
            matches!(again, Ok(ref a) if *a == parsed),
            "round trip changed the value"
        );
    }
}

#[cfg(test)]
mod tests;
