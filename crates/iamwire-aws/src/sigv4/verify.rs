//! Verification of a client's SigV4 signature against keys the proxy issued.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SessionTokenMode, SignableRequest};
use aws_sigv4::sign::v4;
use subtle::ConstantTimeEq;

use super::date::parse_amz_date;
use super::{Authorization, HttpRequest, SigV4Error, SigningOptions, header_pairs};

/// The largest difference between a request's `X-Amz-Date` and the verifier's clock that AWS accepts.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

const HOST: &str = "host";
const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";

/// Where the verifier finds the secret of an access key the proxy issued.
///
/// Implemented for closures `Fn(&str) -> Option<Credentials>` and for `HashMap<String, Credentials>`. If the
/// returned credentials carry a session token, requests must present exactly that `X-Amz-Security-Token`;
/// if they carry none, requests must present none.
pub trait KeyLookup {
    /// The credentials issued under `access_key_id`, or `None` if the proxy never issued it.
    fn credentials(&self, access_key_id: &str) -> Option<Credentials>;
}

impl<F: Fn(&str) -> Option<Credentials>> KeyLookup for F {
    fn credentials(&self, access_key_id: &str) -> Option<Credentials> {
        self(access_key_id)
    }
}

impl<S: std::hash::BuildHasher> KeyLookup for HashMap<String, Credentials, S> {
    fn credentials(&self, access_key_id: &str) -> Option<Credentials> {
        self.get(access_key_id).cloned()
    }
}

/// Knobs for [`verify_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// Reject requests whose `X-Amz-Date` is further than this from `now`.
    pub max_clock_skew: Duration,
    /// How the service canonicalises requests (must match what the client's SDK did).
    pub signing: SigningOptions,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            signing: SigningOptions::default(),
        }
    }
}

impl VerifyOptions {
    /// These options with a different clock-skew limit.
    pub const fn with_max_clock_skew(mut self, limit: Duration) -> Self {
        self.max_clock_skew = limit;
        self
    }

    /// These options with different canonicalisation rules.
    pub const fn with_signing(mut self, signing: SigningOptions) -> Self {
        self.signing = signing;
        self
    }
}

/// Who signed a request that verified, and for what scope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The access key id that signed the request; it names the identity the proxy issued it to.
    pub access_key_id: String,
    /// The region the client signed for.
    pub region: String,
    /// The service the client signed for.
    pub service: String,
    /// The request time, from `X-Amz-Date`.
    pub time: SystemTime,
}

/// Check that `request` carries a valid signature `authorization` by a key in `keys`, at time `now`.
///
/// `host` and `x-amz-date` must be signed; every signed header must be present; the request time must be
/// within [`VerifyOptions::max_clock_skew`] of `now`; the signature is compared in constant time. The payload
/// given in `request` is what the signature is checked against, so pass [`Payload::Bytes`](super::Payload)
/// or its hash unless the service allows `UNSIGNED-PAYLOAD`.
pub fn verify_request(
    authorization: &Authorization,
    request: &HttpRequest<'_>,
    keys: &dyn KeyLookup,
    now: SystemTime,
    options: VerifyOptions,
) -> Result<Verified, SigV4Error> {
    for required in [HOST, X_AMZ_DATE] {
        if !authorization.signs(required) {
            return Err(SigV4Error::UnsignedRequiredHeader { header: required });
        }
    }
    let date_value = single_header(request, X_AMZ_DATE)?;
    let time = parse_amz_date(date_value).ok_or(SigV4Error::MalformedDate)?;
    if date_value.get(..8) != Some(authorization.date()) {
        return Err(SigV4Error::CredentialDateMismatch);
    }
    let skew = now
        .duration_since(time)
        .or_else(|_| time.duration_since(now))
        .unwrap_or(Duration::MAX);
    if skew > options.max_clock_skew {
        return Err(SigV4Error::ClockSkew {
            skew,
            limit: options.max_clock_skew,
        });
    }
    for name in authorization.signed_headers() {
        if !request.headers.contains_key(name.as_str()) {
            return Err(SigV4Error::SignedHeaderAbsent {
                header: name.clone(),
            });
        }
    }

    let credentials = keys
        .credentials(authorization.access_key_id())
        .ok_or(SigV4Error::UnknownAccessKey)?;
    check_security_token(request, &credentials)?;

    let signs_token = authorization.signs(X_AMZ_SECURITY_TOKEN);
    // aws-sigv4 adds x-amz-date and x-amz-security-token itself (from the time and the credentials).
    let headers = header_pairs(request.headers, |name| {
        name != X_AMZ_DATE && name != X_AMZ_SECURITY_TOKEN && authorization.signs(name)
    })?;
    let path_and_query = request
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let signable = SignableRequest::new(
        request.method.as_str(),
        path_and_query,
        headers.into_iter(),
        request.payload.signable(),
    )?;
    let mut settings = options.signing.settings();
    // Sign exactly what the client listed: nothing excluded, no x-amz-content-sha256 of our own.
    settings.excluded_headers = None;
    settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::NoHeader;
    settings.session_token_mode = if signs_token {
        SessionTokenMode::Include
    } else {
        SessionTokenMode::Exclude
    };
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(authorization.region())
        .name(authorization.service())
        .time(time)
        .settings(settings)
        .build()
        .map_err(|_| SigV4Error::InvalidInput {
            field: "authorization",
            reason: "incomplete signing parameters",
        })?
        .into();
    let (instructions, expected) =
        super::quietly(|| aws_sigv4::http_request::sign(signable, &params))?.into_parts();
    // Both signatures are 64 ASCII hex digits; compare without an early exit.
    let same_signature: bool = expected
        .as_bytes()
        .ct_eq(authorization.signature().as_bytes())
        .into();
    // The recomputed header list must be exactly the client's (it can differ only if, say, the client signed
    // x-amz-security-token but the key has no token; the signature then differs too).
    let same_list = instructions
        .headers()
        .find(|(name, _)| *name == "authorization")
        .and_then(|(_, value)| Authorization::parse(value.as_bytes()).ok())
        .is_some_and(|ours| ours.signed_headers() == authorization.signed_headers());
    if !(same_signature && same_list) {
        return Err(SigV4Error::SignatureMismatch);
    }
    Ok(Verified {
        access_key_id: authorization.access_key_id().to_owned(),
        region: authorization.region().to_owned(),
        service: authorization.service().to_owned(),
        time,
    })
}

/// The one value of header `name`; absent, repeated or non-ASCII is an error.
fn single_header<'r>(
    request: &'r HttpRequest<'_>,
    name: &'static str,
) -> Result<&'r str, SigV4Error> {
    let mut values = request.headers.get_all(name).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(SigV4Error::SignedHeaderAbsent {
            header: name.to_owned(),
        });
    };
    value.to_str().map_err(|_| SigV4Error::InvalidHeaderValue {
        header: name.to_owned(),
    })
}

fn check_security_token(
    request: &HttpRequest<'_>,
    credentials: &Credentials,
) -> Result<(), SigV4Error> {
    let mut sent = request.headers.get_all(X_AMZ_SECURITY_TOKEN).iter();
    let ok = match (credentials.session_token(), sent.next(), sent.next()) {
        (None, None, _) => true,
        (Some(issued), Some(sent), None) => bool::from(issued.as_bytes().ct_eq(sent.as_bytes())),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(SigV4Error::SecurityTokenMismatch)
    }
}
