//! A strict parser for the SigV4 `Authorization` header a client sends.
//!
//! The header comes from the network, so every rule is checked and every failure is an
//! [`AuthorizationDefect`]; nothing here panics or allocates before the length check.

use std::fmt;
use std::str::FromStr;

use super::date::is_valid_yyyymmdd;
use super::error::{AuthorizationDefect as D, Component, SigV4Error};

/// The longest `Authorization` value accepted, in bytes.
pub const MAX_AUTHORIZATION_LEN: usize = 4096;
/// The most header names `SignedHeaders` may list.
pub const MAX_SIGNED_HEADERS: usize = 64;

const ALGORITHM_PREFIX: &str = "AWS4-HMAC-SHA256 ";
const TERMINATOR: &str = "aws4_request";
const MAX_ACCESS_KEY_ID_LEN: usize = 128;
const MAX_REGION_LEN: usize = 32;
const MAX_SERVICE_LEN: usize = 64;
const MAX_HEADER_NAME_LEN: usize = 128;

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..` value.
///
/// Produced by [`Authorization::parse`]; `Display` writes the canonical form back, which parses to an
/// equal value.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
}

impl Authorization {
    /// Parse a header value exactly as received, applying every rule of the format strictly.
    pub fn parse(value: &[u8]) -> Result<Self, SigV4Error> {
        parse(value).map_err(SigV4Error::MalformedAuthorization)
    }

    /// The access key id from the credential scope.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The credential scope date, `YYYYMMDD`.
    pub fn date(&self) -> &str {
        &self.date
    }

    /// The region from the credential scope.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service (signing name) from the credential scope.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The signed header names: lowercase, strictly ascending.
    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }

    /// Whether `name` (lowercase) is among the signed headers.
    pub fn signs(&self, name: &str) -> bool {
        self.signed_headers
            .binary_search_by(|h| h.as_str().cmp(name))
            .is_ok()
    }

    /// The signature: 64 lowercase hex digits.
    pub fn signature(&self) -> &str {
        &self.signature
    }
}

impl FromStr for Authorization {
    type Err = SigV4Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.as_bytes())
    }
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ALGORITHM_PREFIX}Credential={}/{}/{}/{}/{TERMINATOR}, SignedHeaders={}, Signature={}",
            self.access_key_id,
            self.date,
            self.region,
            self.service,
            self.signed_headers.join(";"),
            self.signature
        )
    }
}

impl fmt::Debug for Authorization {
    // The signature is not a secret, but it is a replayable credential for a few minutes: keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("access_key_id", &self.access_key_id)
            .field("date", &self.date)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"** redacted **")
            .finish()
    }
}

fn parse(value: &[u8]) -> Result<Authorization, D> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(D::TooLong);
    }
    let value = std::str::from_utf8(value).map_err(|_| D::NotAscii)?;
    if !value.is_ascii() {
        return Err(D::NotAscii);
    }
    let rest = value
        .strip_prefix(ALGORITHM_PREFIX)
        .ok_or(D::UnsupportedAlgorithm)?;

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for (i, part) in rest.split(',').enumerate() {
        // Components after the first may be preceded by spaces (", " is what the SDKs send).
        let part = if i == 0 {
            part
        } else {
            part.trim_start_matches(' ')
        };
        if part.is_empty() || part.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(D::BadSeparator);
        }
        let (name, val) = part.split_once('=').ok_or(D::UnknownComponent)?;
        let (slot, component) = match name {
            "Credential" => (&mut credential, Component::Credential),
            "SignedHeaders" => (&mut signed_headers, Component::SignedHeaders),
            "Signature" => (&mut signature, Component::Signature),
            _ => return Err(D::UnknownComponent),
        };
        if slot.replace(val).is_some() {
            return Err(D::Duplicate(component));
        }
    }
    let credential = credential.ok_or(D::Missing(Component::Credential))?;
    let signed_headers = signed_headers.ok_or(D::Missing(Component::SignedHeaders))?;
    let signature = signature.ok_or(D::Missing(Component::Signature))?;

    let mut scope = credential.split('/');
    let (Some(akid), Some(date), Some(region), Some(service), Some(term), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(D::BadCredentialScope);
    };
    check(akid, MAX_ACCESS_KEY_ID_LEN, |b| b.is_ascii_alphanumeric()).ok_or(D::BadAccessKeyId)?;
    if !is_valid_yyyymmdd(date) {
        return Err(D::BadDate);
    }
    check(region, MAX_REGION_LEN, is_lower_alnum_dash).ok_or(D::BadRegion)?;
    check(service, MAX_SERVICE_LEN, is_lower_alnum_dash).ok_or(D::BadService)?;
    if term != TERMINATOR {
        return Err(D::BadTerminator);
    }

    let signed_headers = parse_signed_headers(signed_headers)?;
    if signature.len() != 64
        || !signature
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(D::BadSignature);
    }

    Ok(Authorization {
        access_key_id: akid.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers,
        signature: signature.to_owned(),
    })
}

fn parse_signed_headers(list: &str) -> Result<Vec<String>, D> {
    let mut out: Vec<String> = Vec::new();
    for name in list.split(';') {
        if out.len() == MAX_SIGNED_HEADERS {
            return Err(D::TooManySignedHeaders);
        }
        check(name, MAX_HEADER_NAME_LEN, is_lower_tchar).ok_or(D::BadSignedHeader)?;
        if out.last().is_some_and(|prev| prev.as_str() >= name) {
            return Err(D::SignedHeadersNotSorted);
        }
        out.push(name.to_owned());
    }
    Ok(out)
}

/// `Some(())` if `s` is non-empty, at most `max` bytes, and every byte passes `ok`.
fn check(s: &str, max: usize, ok: impl Fn(u8) -> bool) -> Option<()> {
    (!s.is_empty() && s.len() <= max && s.bytes().all(ok)).then_some(())
}

fn is_lower_alnum_dash(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
}

/// An RFC 9110 `tchar`, excluding uppercase letters (SigV4 signs lowercase names).
fn is_lower_tchar(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests;
