//! The presigned-URL construction shared by every token kind, in botocore's exact byte layout.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;

use super::{AuthToken, MAX_USER_LEN, TOKEN_LIFETIME};
use crate::sigv4::{SigV4Error, check_region, check_time};

const MAX_HOST_LEN: usize = 253;

/// The auth parameters in the order botocore's `SigV4QueryAuth` writes them, signature last.
const AUTH_PARAM_ORDER: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
];

/// Presign `GET https://host[:port]/?<params>` for `service` and return it without the scheme.
pub(super) fn presign(
    credentials: &Credentials,
    host: &str,
    port: Option<u16>,
    params: &[(&str, &str)],
    service: &str,
    region: &str,
    time: SystemTime,
) -> Result<AuthToken, SigV4Error> {
    check_inputs(host, params, region)?;
    check_time(time)?;
    let authority = match port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let mut operation = String::new();
    for (key, value) in params {
        let sep = if operation.is_empty() { "" } else { "&" };
        let _ = write!(operation, "{sep}{}={}", encode(key), encode(value));
    }
    // botocore signs the lowercased host (urlsplit's `hostname`) but keeps the URL as given.
    let signing_uri = format!("https://{}/?{operation}", authority.to_ascii_lowercase());
    let request = SignableRequest::new(
        "GET",
        signing_uri,
        std::iter::empty(),
        SignableBody::Bytes(&[]),
    )?;
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let identity = credentials.clone().into();
    let signing_params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|_| SigV4Error::InvalidInput {
            field: "region",
            reason: "incomplete signing parameters",
        })?
        .into();
    let (instructions, _signature) =
        crate::sigv4::quietly(|| aws_sigv4::http_request::sign(request, &signing_params))?
            .into_parts();
    let (_, auth_params) = instructions.into_parts();

    let mut token = format!("{authority}/?{operation}");
    for name in AUTH_PARAM_ORDER {
        if let Some((_, value)) = auth_params.iter().find(|(n, _)| *n == name) {
            let _ = write!(token, "&{name}={}", encode(value));
        }
    }
    Ok(AuthToken {
        value: token,
        issued_at: time,
    })
}

fn check_inputs(host: &str, params: &[(&str, &str)], region: &str) -> Result<(), SigV4Error> {
    let host_ok = !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !host_ok {
        return Err(SigV4Error::InvalidInput {
            field: "host",
            reason: "must be a DNS name of letters, digits, '-', '.' and '_'",
        });
    }
    check_region(region)?;
    if params
        .iter()
        .any(|(_, v)| v.is_empty() || v.len() > MAX_USER_LEN)
    {
        return Err(SigV4Error::InvalidInput {
            field: "user",
            reason: "must be 1 to 1024 bytes",
        });
    }
    Ok(())
}

/// Percent-encode everything but RFC 3986 unreserved characters, as Python's `quote(s, safe='-_.~')` does.
pub(crate) fn encode(s: &str) -> Cow<'_, str> {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
    if s.bytes().all(unreserved) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Cow::Owned(out)
}
