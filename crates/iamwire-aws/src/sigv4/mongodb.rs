//! MongoDB's `MONGODB-AWS` SASL mechanism (Amazon DocumentDB IAM authentication), the part that needs
//! credentials: the signed STS `GetCallerIdentity` request the client hands the server, which the server
//! sends to STS to learn who the client is.
//!
//! The request is `POST /` to the STS host the server named, body
//! `Action=GetCallerIdentity&Version=2011-06-15`, with the headers `Content-Type`, `Content-Length`,
//! `Host`, `X-Amz-Date`, `X-Amz-Security-Token` (temporary credentials), `X-MongoDB-Server-Nonce` (the
//! server's nonce, base64) and `X-MongoDB-GS2-CB-Flag`, all of them signed (SigV4, service `sts`, the
//! region derived from the host as the drivers do). The client sends back only what the server cannot
//! rebuild: `Authorization`, `X-Amz-Date` and the session token. This is what MongoDB's drivers
//! (`pymongo-auth-aws`, the Go and Rust drivers) send; the signing itself is [`sign_request`]'s.
//!
//! [`MongoDbAwsSigner`] wraps it as the [`ChallengeSigner`] the MongoDB protocol crate drives with
//! [`Challenge::StsGetCallerIdentity`] without knowing any of this.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use aws_credential_types::Credentials;
//! use iamwire_aws::sigv4::mongodb::get_caller_identity;
//!
//! let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "doc");
//! let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let signed = get_caller_identity(&creds, &[7; 64], "sts.amazonaws.com", b'n', at)?;
//! assert_eq!(signed.date(), "20231114T221320Z");
//! assert!(signed.authorization().starts_with(
//!     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/sts/aws4_request, \
//!      SignedHeaders=content-length;content-type;host;x-amz-date;x-mongodb-gs2-cb-flag;\
//!      x-mongodb-server-nonce, Signature="));
//! # Ok::<(), iamwire_aws::sigv4::SigV4Error>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use http::{HeaderMap, HeaderName, HeaderValue};
use iamwire_core::{
    Answer, Challenge, ChallengeSigner, Clock, InjectError, InjectErrorKind, Secret,
};

use super::{HttpRequest, Payload, Scope, SigV4Error, SigningOptions, sign_request};

/// The body of the signed request.
pub const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
/// The signing name of STS.
pub const SERVICE: &str = "sts";
/// The longest STS host accepted (the drivers' limit).
pub const MAX_HOST_LEN: usize = 255;
/// The length of a server nonce in `MONGODB-AWS` (32 bytes of the client's, 32 of the server's).
pub const SERVER_NONCE_LEN: usize = 64;

/// The region an STS host is signed for, as MongoDB's drivers derive it: `us-east-1` for
/// `sts.amazonaws.com` and for a host of one label, else the host's second label
/// (`sts.eu-west-1.amazonaws.com` → `eu-west-1`).
///
/// # Errors
/// [`SigV4Error::InvalidInput`] (`field: "host"`) for an empty host, one longer than
/// [`MAX_HOST_LEN`], or one with an empty label.
pub fn region_for_host(host: &str) -> Result<&str, SigV4Error> {
    let bad = |reason| SigV4Error::InvalidInput {
        field: "host",
        reason,
    };
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return Err(bad("the STS host must be 1 to 255 characters"));
    }
    let mut labels = host.split('.');
    if host.split('.').any(str::is_empty) {
        return Err(bad("the STS host has an empty label"));
    }
    if host == "sts.amazonaws.com" {
        return Ok("us-east-1");
    }
    let _first = labels.next();
    Ok(labels.next().unwrap_or("us-east-1"))
}

/// Whether `host` is an AWS STS endpoint the proxy will sign for: `sts.amazonaws.com`,
/// `sts.<region>.amazonaws.com` (or `sts-fips.`), or the same under `amazonaws.com.cn`. A database that
/// names any other host gets no signature: a signed `GetCallerIdentity` proves who the role is to
/// whoever holds it.
pub fn is_sts_host(host: &str) -> bool {
    let Some(rest) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let region_ok = |r: &str| {
        !r.is_empty()
            && r.len() <= 32
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    match rest.split_once('.') {
        None => rest == "sts",
        Some((service, region)) => matches!(service, "sts" | "sts-fips") && region_ok(region),
    }
}

/// What the client sends back: the `Authorization` and `X-Amz-Date` values and the session token, if
/// any. `Debug` shows the date only.
#[derive(Clone)]
pub struct SignedIdentity {
    authorization: String,
    date: String,
    session_token: Option<String>,
}

impl SignedIdentity {
    /// The `Authorization` header value (`a` in the SASL payload).
    pub fn authorization(&self) -> &str {
        &self.authorization
    }

    /// The `X-Amz-Date` header value (`d`).
    pub fn date(&self) -> &str {
        &self.date
    }

    /// The session token (`t`), for temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
}

impl fmt::Debug for SignedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedIdentity")
            .field("date", &self.date)
            .finish_non_exhaustive()
    }
}

/// Sign `GetCallerIdentity` for `host` carrying `server_nonce` and `gs2_cb_flag`, with `credentials`
/// at `time`.
///
/// # Errors
/// [`SigV4Error::InvalidInput`] for an invalid host (see [`region_for_host`]), a host that is not
/// STS ([`is_sts_host`]), a nonce that is not [`SERVER_NONCE_LEN`] bytes, a GS2 flag other than
/// `n`, `y` or `p`, or a time outside 1970–9999; [`SigV4Error::Signing`] if aws-sigv4 refuses.
pub fn get_caller_identity(
    credentials: &Credentials,
    server_nonce: &[u8],
    host: &str,
    gs2_cb_flag: u8,
    time: SystemTime,
) -> Result<SignedIdentity, SigV4Error> {
    let region = region_for_host(host)?;
    if !is_sts_host(host) {
        return Err(SigV4Error::InvalidInput {
            field: "host",
            reason: "the database named a host that is not an AWS STS endpoint",
        });
    }
    if server_nonce.len() != SERVER_NONCE_LEN {
        return Err(SigV4Error::InvalidInput {
            field: "nonce",
            reason: "the server nonce must be 64 bytes",
        });
    }
    if !matches!(gs2_cb_flag, b'n' | b'y' | b'p') {
        return Err(SigV4Error::InvalidInput {
            field: "gs2_cb_flag",
            reason: "must be n, y or p",
        });
    }
    let nonce = aws_smithy_types::base64::encode(server_nonce);
    let mut headers = HeaderMap::with_capacity(5);
    let value = |v: &str| {
        HeaderValue::from_str(v).map_err(|_| SigV4Error::InvalidInput {
            field: "host",
            reason: "not a valid header value",
        })
    };
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(BODY.len()));
    headers.insert(http::header::HOST, value(host)?);
    headers.insert(
        HeaderName::from_static("x-mongodb-server-nonce"),
        value(&nonce)?,
    );
    headers.insert(
        HeaderName::from_static("x-mongodb-gs2-cb-flag"),
        value(&char::from(gs2_cb_flag).to_string())?,
    );
    let uri = http::Uri::from_static("/");
    let request = HttpRequest::new(
        &http::Method::POST,
        &uri,
        &headers,
        Payload::Bytes(BODY.as_bytes()),
    );
    let signed = sign_request(
        &request,
        credentials,
        Scope::new(region, SERVICE),
        time,
        SigningOptions::default(),
    )?;
    let date = signed
        .iter()
        .find(|(name, _)| name.as_str() == "x-amz-date")
        .and_then(|(_, v)| v.to_str().ok())
        .map(str::to_owned)
        .ok_or(SigV4Error::InvalidInput {
            field: "time",
            reason: "no X-Amz-Date was signed",
        })?;
    Ok(SignedIdentity {
        authorization: signed.authorization().to_owned(),
        date,
        session_token: credentials.session_token().map(str::to_owned),
    })
}

/// The [`ChallengeSigner`] for `MONGODB-AWS`: answers [`Challenge::StsGetCallerIdentity`] with
/// [`Answer::Headers`] (`authorization`, `x-amz-date`, and `x-amz-security-token` for temporary
/// credentials), signed with one session's credentials at the clock's time. `Debug` shows nothing of
/// the credentials.
#[derive(Clone)]
pub struct MongoDbAwsSigner {
    credentials: Credentials,
    clock: Arc<dyn Clock>,
}

impl MongoDbAwsSigner {
    /// A signer with `credentials` (those of the database-user role), reading `clock`.
    pub fn new(credentials: Credentials, clock: Arc<dyn Clock>) -> Self {
        Self { credentials, clock }
    }
}

impl fmt::Debug for MongoDbAwsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MongoDbAwsSigner").finish_non_exhaustive()
    }
}

impl ChallengeSigner for MongoDbAwsSigner {
    fn mechanism(&self) -> &'static str {
        "mongodb-aws"
    }

    fn answer(&self, challenge: Challenge<'_>) -> Result<Answer, InjectError> {
        let Challenge::StsGetCallerIdentity {
            server_nonce,
            host,
            gs2_cb_flag,
        } = challenge
        else {
            return Err(InjectError::new(
                InjectErrorKind::Internal,
                "the MONGODB-AWS signer was given a kind of challenge it does not answer",
            ));
        };
        let signed = super::quietly(|| {
            get_caller_identity(
                &self.credentials,
                server_nonce,
                host,
                gs2_cb_flag,
                self.clock.now(),
            )
        })
        .map_err(|source| {
            let message = match &source {
                SigV4Error::InvalidInput { field: "host", .. } => format!(
                    "the database asked for a GetCallerIdentity signature for host {:?}, which is \
                     not an AWS STS endpoint",
                    host.chars().take(MAX_HOST_LEN).collect::<String>()
                ),
                _ => "could not sign the MONGODB-AWS GetCallerIdentity request".to_owned(),
            };
            InjectError::new(InjectErrorKind::Internal, message).with_source(source)
        })?;
        let mut headers = vec![
            (
                "authorization".to_owned(),
                Secret::new(signed.authorization.into_bytes()),
            ),
            (
                "x-amz-date".to_owned(),
                Secret::new(signed.date.into_bytes()),
            ),
        ];
        if let Some(token) = signed.session_token {
            headers.push((
                "x-amz-security-token".to_owned(),
                Secret::new(token.into_bytes()),
            ));
        }
        Ok(Answer::Headers(headers))
    }
}

#[cfg(test)]
mod tests;
