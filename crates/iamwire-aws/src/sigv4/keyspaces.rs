//! The Amazon Keyspaces SigV4 exchange inside the CQL handshake, sans-IO: the client's opening token
//! ([`INITIAL_RESPONSE`], `SigV4\0\0`), the server's `nonce=<hex>` challenge ([`extract_nonce`]), and the
//! response ([`auth_response`]):
//!
//! ```text
//! signature=<hex>,access_key=<id>,amzdate=<YYYY-MM-DDTHH:MM:SS.mmmZ>[,session_token=<token>]
//! ```
//!
//! The signature is SigV4 for service `cassandra` over the canonical request `PUT /authenticate` with the
//! sorted presign query (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires=900`), the
//! one header `host:cassandra`, and the SHA-256 of the nonce as the payload hash; the string to sign
//! carries the millisecond timestamp. The session token is appended, not signed. This is byte for byte
//! what AWS's own plugins (`cassandra-sigv4` for Python, `aws-sigv4-auth-cassandra-java-driver-plugin`)
//! send; the signing key's HMAC chain is `aws-sigv4`'s.
//!
//! [`KeyspacesSigner`] wraps it as the [`ChallengeSigner`] a CQL protocol crate drives without knowing
//! any of this.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use aws_credential_types::Credentials;
//! use iamwire_aws::sigv4::keyspaces::auth_response;
//!
//! let creds = Credentials::new("UserID-1", "UserSecretKey-1", None, None, "doc");
//! let at = UNIX_EPOCH + Duration::from_secs(1_591_742_511);
//! let response = auth_response(&creds, "us-west-2", b"91703fdc2ef562e19fbdab0f58e42fe5", at)?;
//! assert_eq!(
//!     response.expose_str(),
//!     Some("signature=7f3691c18a81b8ce7457699effbfae5b09b4e0714ab38c1292dbdf082c9ddd87,\
//!           access_key=UserID-1,amzdate=2020-06-09T22:41:51.000Z")
//! );
//! # Ok::<(), iamwire_aws::sigv4::SigV4Error>(())
//! ```

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use iamwire_core::{
    Answer, Challenge, ChallengeSigner, Clock, InjectError, InjectErrorKind, Secret,
};
use sha2::{Digest, Sha256};

use super::date::iso8601_millis;
use super::{SigV4Error, check_region, check_time};
use crate::token::presign_encode as encode;

/// The client's first `AUTH_RESPONSE` token: it asks the Keyspaces authenticator for a SigV4 challenge.
pub const INITIAL_RESPONSE: &[u8] = b"SigV4\0\0";
/// The signing name of the Keyspaces service.
pub const SERVICE: &str = "cassandra";
/// How long a challenge response is valid (`X-Amz-Expires`), as the plugins sign it.
const EXPIRES: &str = "900";
/// What precedes the nonce in the server's challenge.
const NONCE_KEY: &[u8] = b"nonce=";
/// The nonce is the 32 bytes after `nonce=` (fewer if the challenge ends first), as the plugins
/// read it.
pub const NONCE_LEN: usize = 32;
/// The longest challenge accepted: a real one is `nonce=` and 32 hex digits.
pub const MAX_CHALLENGE_LEN: usize = 1024;

/// The nonce in a server challenge: the (up to) 32 bytes after the first `nonce=`, which must be
/// visible ASCII.
///
/// # Errors
/// [`SigV4Error::InvalidInput`] (`field: "nonce"`) for a challenge that is too long, has no `nonce=`,
/// or an empty or non-printable nonce.
pub fn extract_nonce(challenge: &[u8]) -> Result<&[u8], SigV4Error> {
    let bad = |reason| SigV4Error::InvalidInput {
        field: "nonce",
        reason,
    };
    if challenge.len() > MAX_CHALLENGE_LEN {
        return Err(bad("the challenge is longer than 1024 bytes"));
    }
    let start = challenge
        .windows(NONCE_KEY.len())
        .position(|w| w == NONCE_KEY)
        .ok_or_else(|| bad("the challenge has no nonce="))?
        + NONCE_KEY.len();
    let rest = challenge.get(start..).unwrap_or_default();
    let nonce = rest.get(..NONCE_LEN).unwrap_or(rest);
    if nonce.is_empty() || !nonce.iter().all(u8::is_ascii_graphic) {
        return Err(bad("the nonce is empty or not printable ASCII"));
    }
    Ok(nonce)
}

/// The `AUTH_RESPONSE` token answering `nonce` with `credentials` in `region` at `time` (a secret: it
/// carries the session token, if any).
///
/// # Errors
/// [`SigV4Error::InvalidInput`] for an empty or malformed region, an empty nonce, a time outside
/// 1970–9999, or an access key or session token that would break the comma-separated response.
pub fn auth_response(
    credentials: &Credentials,
    region: &str,
    nonce: &[u8],
    time: SystemTime,
) -> Result<Secret, SigV4Error> {
    check_time(time)?;
    check_region(region)?;
    if nonce.is_empty() {
        return Err(SigV4Error::InvalidInput {
            field: "nonce",
            reason: "must not be empty",
        });
    }
    let fits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b',');
    let access_key = credentials.access_key_id();
    if !fits(access_key) || !credentials.session_token().is_none_or(fits) {
        return Err(SigV4Error::InvalidInput {
            field: "credentials",
            reason: "the access key id and session token must be printable ASCII without commas",
        });
    }
    let (timestamp, date) = iso8601_millis(time).ok_or(SigV4Error::InvalidInput {
        field: "time",
        reason: "must be between 1970 and 9999",
    })?;
    let scope = format!("{date}/{region}/{SERVICE}/aws4_request");
    // Sorted: X-Amz-Algorithm < X-Amz-Credential < X-Amz-Date < X-Amz-Expires.
    let query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={access_key}%2F{}&X-Amz-Date={}\
         &X-Amz-Expires={EXPIRES}",
        encode(&scope),
        encode(&timestamp),
    );
    let canonical = format!(
        "PUT\n/authenticate\n{query}\nhost:{SERVICE}\n\nhost\n{}",
        sha256_hex(nonce)
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let key = generate_signing_key(credentials.secret_access_key(), time, region, SERVICE);
    let signature = calculate_signature(key, string_to_sign.as_bytes());
    let mut response = format!("signature={signature},access_key={access_key},amzdate={timestamp}");
    if let Some(token) = credentials.session_token() {
        let _ = write!(response, ",session_token={token}");
    }
    Ok(Secret::new(response.into_bytes()))
}

fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The [`ChallengeSigner`] for Keyspaces: answers [`Challenge::Start`] with [`INITIAL_RESPONSE`] and a
/// `nonce=` challenge with [`auth_response`], signed with one session's credentials at the clock's time.
/// `Debug` shows the region only.
#[derive(Clone)]
pub struct KeyspacesSigner {
    credentials: Credentials,
    region: String,
    clock: Arc<dyn Clock>,
}

impl KeyspacesSigner {
    /// A signer with `credentials` (those of the database-user role) for `region`, reading `clock`.
    pub fn new(credentials: Credentials, region: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            credentials,
            region: region.into(),
            clock,
        }
    }
}

impl fmt::Debug for KeyspacesSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyspacesSigner")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl ChallengeSigner for KeyspacesSigner {
    fn mechanism(&self) -> &'static str {
        "keyspaces-sigv4"
    }

    fn answer(&self, challenge: Challenge<'_>) -> Result<Answer, InjectError> {
        let failed = |what: &str, source: SigV4Error| {
            InjectError::new(
                InjectErrorKind::Internal,
                format!("could not answer the Keyspaces SigV4 challenge: {what}"),
            )
            .with_source(source)
        };
        match challenge {
            Challenge::Start => Ok(Answer::Token(Secret::new(INITIAL_RESPONSE.to_vec()))),
            Challenge::Token(token) => {
                let nonce = extract_nonce(token)
                    .map_err(|e| failed("the server's challenge is invalid", e))?;
                crate::sigv4::quietly(|| {
                    auth_response(&self.credentials, &self.region, nonce, self.clock.now())
                })
                .map(Answer::Token)
                .map_err(|e| failed("signing failed", e))
            }
            _ => Err(InjectError::new(
                InjectErrorKind::Internal,
                "the Keyspaces SigV4 signer was given a kind of challenge it does not answer",
            )),
        }
    }
}

#[cfg(test)]
mod tests;
