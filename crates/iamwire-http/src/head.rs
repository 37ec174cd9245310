//! The request head, read before anything else happens: which API it is for, the client's SigV4
//! `Authorization` (parsed strictly), the payload hash it declared, its length against the cap; the
//! verification of its signature; and the headers that may go upstream. Pure functions, fuzzed.

use std::time::SystemTime;

use http::header::{self, HeaderName};
use http::request::Parts;
use http::{HeaderMap, HeaderValue};
use iamwire_aws::sigv4::{
    Authorization, HttpRequest, Payload, SigV4Error, VerifyOptions, verify_request,
};

use crate::HttpError;
use crate::keys::{AccessKeys, KeyGrant};
use crate::route::{Api, Service};

/// What the proxy reads from a request head before it decides anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHead {
    /// The API the request is for.
    pub api: Api,
    /// The client's signature header, parsed; `None` if it sent none.
    pub authorization: Option<Authorization>,
    /// The body's SHA-256 the client declared in `x-amz-content-sha256` (64 lowercase hex digits).
    pub declared_sha256: Option<String>,
    /// The `Content-Length`, if given.
    pub content_length: Option<u64>,
    /// `X-Amz-Security-Token`: for a client identified by its certificate, the role to act as.
    pub session_token: Option<String>,
}

/// The query parameters of a presigned URL (SigV4 in the query string): a client's signature, key,
/// date or session token there would otherwise go upstream with the request target.
const PRESIGNED_PARAMETERS: &[&str] = &[
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-signedheaders",
];

/// The methods the databases served here implement. Any other (an extension method, `TRACE`, which
/// echoes the request — the proxy's signature and the role's session token — back, or `CONNECT`) is
/// refused before it is signed.
const IMPLEMENTED_METHODS: &[http::Method] = &[
    http::Method::GET,
    http::Method::HEAD,
    http::Method::POST,
    http::Method::PUT,
    http::Method::DELETE,
    http::Method::PATCH,
    http::Method::OPTIONS,
];

/// Read `parts` for `service`, refusing a body declared larger than `max_body`.
///
/// # Errors
/// [`HttpError::MethodNotImplemented`] for a method the databases do not implement,
/// [`HttpError::BodyTooLarge`], [`HttpError::MalformedAuthorization`], or [`HttpError::BadRequest`] for a
/// repeated or unreadable header, a DynamoDB request without a known `X-Amz-Target`, or a query string
/// carrying presigned-URL parameters (`X-Amz-Signature`, `X-Amz-Credential`, ...: the proxy signs
/// every request itself, in the `Authorization` header, and never forwards a client's signature).
pub fn inspect(parts: &Parts, service: Service, max_body: u64) -> Result<ClientHead, HttpError> {
    let headers = &parts.headers;
    if !IMPLEMENTED_METHODS.contains(&parts.method) {
        let method = parts.method.as_str();
        return Err(HttpError::MethodNotImplemented {
            method: method.chars().take(32).collect(),
        });
    }
    if let Some(name) = parts.uri.query().and_then(presigned_parameter) {
        return Err(bad(&format!(
            "the query string carries the presigned-URL parameter {name}: sign requests in the \
             Authorization header (or present a client certificate)"
        )));
    }
    let content_length = match single(headers, &header::CONTENT_LENGTH)? {
        None => None,
        Some(v) => Some(
            std::str::from_utf8(v.as_bytes())
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| bad("Content-Length is not a number"))?,
        ),
    };
    if content_length.is_some_and(|len| len > max_body) {
        return Err(HttpError::BodyTooLarge { limit: max_body });
    }
    let authorization = single(headers, &header::AUTHORIZATION)?
        .map(|v| Authorization::parse(v.as_bytes()))
        .transpose()
        .map_err(|source| HttpError::MalformedAuthorization { source })?;
    let api = match service {
        Service::OpenSearch => Api::OpenSearch,
        Service::DynamoDb => {
            let target = single(headers, &HeaderName::from_static("x-amz-target"))?
                .ok_or_else(|| bad("DynamoDB requests need an X-Amz-Target header"))?;
            Api::from_target(target.as_bytes()).ok_or_else(|| {
                bad("X-Amz-Target is not a DynamoDB, DynamoDB Streams or DAX operation")
            })?
        }
    };
    let declared_sha256 = single(headers, &HeaderName::from_static("x-amz-content-sha256"))?
        .map(HeaderValue::as_bytes)
        .filter(|v| v.len() == 64 && v.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .and_then(|v| String::from_utf8(v.to_vec()).ok());
    let session_token = single(headers, &HeaderName::from_static("x-amz-security-token"))?
        .map(|v| {
            v.to_str()
                .ok()
                .filter(|s| {
                    !s.is_empty() && s.len() <= 2048 && s.bytes().all(|b| b.is_ascii_graphic())
                })
                .map(str::to_owned)
                .ok_or_else(|| bad("X-Amz-Security-Token is not printable ASCII"))
        })
        .transpose()?;
    Ok(ClientHead {
        api,
        authorization,
        declared_sha256,
        content_length,
        session_token,
    })
}

/// Check the client's signature over `parts` and a body hashing to `payload_sha256`, with the keys the
/// proxy issued, at `now`; the key's grant if it verifies.
///
/// # Errors
/// [`HttpError::UnknownAccessKey`] for a key the proxy never issued, [`HttpError::BadSignature`] otherwise.
pub fn verify(
    authorization: &Authorization,
    parts: &Parts,
    keys: &AccessKeys,
    payload_sha256: &str,
    now: SystemTime,
) -> Result<KeyGrant, HttpError> {
    let grant =
        keys.grant(authorization.access_key_id())
            .ok_or_else(|| HttpError::UnknownAccessKey {
                access_key_id: authorization.access_key_id().to_owned(),
            })?;
    // HTTP/2 carries the host as :authority, which the client signed as `host`.
    let mut with_host;
    let headers = if parts.headers.contains_key(header::HOST) {
        &parts.headers
    } else {
        with_host = parts.headers.clone();
        if let Some(authority) = parts.uri.authority()
            && let Ok(value) = HeaderValue::from_str(authority.as_str())
        {
            with_host.insert(header::HOST, value);
        }
        &with_host
    };
    let lookup = |id: &str| keys.credentials(id);
    let request = HttpRequest::new(
        &parts.method,
        &parts.uri,
        headers,
        Payload::Sha256Hex(payload_sha256),
    );
    match verify_request(
        authorization,
        &request,
        &lookup,
        now,
        VerifyOptions::default(),
    ) {
        Ok(_) => Ok(grant.clone()),
        Err(SigV4Error::UnknownAccessKey) => Err(HttpError::UnknownAccessKey {
            access_key_id: authorization.access_key_id().to_owned(),
        }),
        Err(source) => Err(HttpError::BadSignature { source }),
    }
}

/// Headers that never go upstream as the client sent them: the client's own signature, what the proxy
/// sets itself, and hop-by-hop headers.
const NEVER_FORWARDED: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

/// The headers of `client` that go upstream, given `signed`, the client's signature the proxy
/// verified (`None` for a client identified by its certificate, whose TLS session vouches for the whole
/// request).
///
/// The rule:
/// - never the ones in [`NEVER_FORWARDED`] — the client's `Authorization`, `X-Amz-Date`,
///   `X-Amz-Security-Token` and `X-Amz-Content-Sha256` (the proxy sets its own from the role's
///   credentials, its clock and the body it hashed), `Host`, the framing and hop-by-hop headers — nor
///   any the `Connection` header names;
/// - for a client that signed with a proxy key, only the headers its verified signature covers: a
///   header it added after signing (or one a party between it and the proxy added) never reaches the
///   database, whatever else the request carries. A session token does not change this: a proxy key
///   has none, so a client's `X-Amz-Security-Token` is neither an identity nor forwarded;
/// - for a client identified by its certificate, every other end-to-end header.
///
/// Whatever goes upstream is then covered by the proxy's own signature as the role, which signs every
/// header it is given except `User-Agent` and `X-Amzn-Trace-Id` (left unsigned by every AWS SDK, as
/// proxies rewrite them; AWS does not require them signed), so the database never sees an `x-amz-*`
/// header (or any other) that the role's signature does not vouch for.
pub fn upstream_headers(client: &HeaderMap, signed: Option<&Authorization>) -> HeaderMap {
    let named_by_connection: Vec<String> = client
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(client.len());
    for (name, value) in client {
        let name_str = name.as_str();
        if NEVER_FORWARDED.contains(&name_str)
            || named_by_connection.iter().any(|n| n == name_str)
            || signed.is_some_and(|a| !a.signs(name_str))
        {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// Hop-by-hop headers to drop from a response before it goes back to the client.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

/// The first presigned-URL parameter named in `query` (in any case, percent-encoded or not).
fn presigned_parameter(query: &str) -> Option<&'static str> {
    query.split('&').find_map(|pair| {
        let name = pair.split('=').next().unwrap_or_default();
        let decoded = percent_decode(name).to_ascii_lowercase();
        PRESIGNED_PARAMETERS.iter().copied().find(|p| *p == decoded)
    })
}

/// `%XX` sequences decoded (others kept as they are); `+` stays `+`.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn single<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h HeaderValue>, HttpError> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => Ok(Some(v)),
        (Some(_), Some(_)) => Err(bad(&format!("the {name} header is repeated"))),
    }
}

fn bad(reason: &str) -> HttpError {
    HttpError::BadRequest {
        reason: reason.to_owned(),
    }
}

/// Fuzz entry point: arbitrary bytes as a request head (`name: value` lines; the first line is the
/// Authorization value) through [`inspect`], [`verify`] and [`upstream_headers`]; nothing may panic, and
/// nothing unsigned may go upstream.
pub(crate) fn fuzz_head(data: &[u8]) {
    let mut lines = data.split(|b| *b == b'\n');
    let mut builder = http::Request::builder().method("POST").uri("/");
    if let Some(first) = lines.next()
        && let Ok(value) = HeaderValue::from_bytes(first)
    {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(value.get(1..).unwrap_or_default()),
        ) {
            builder = builder.header(name, value);
        }
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();
    let Ok(keys) = AccessKeys::new(iamwire_core::Secret::from(vec![1u8; 32])) else {
        return;
    };
    let mut keys = keys;
    let _ = keys.insert("AKIWAAAAAAAAAAAAAAAA", "fuzz", "role");
    for service in [Service::DynamoDb, Service::OpenSearch] {
        if let Ok(head) = inspect(&parts, service, 1 << 20) {
            let forwarded = upstream_headers(&parts.headers, head.authorization.as_ref());
            if let Some(auth) = &head.authorization {
                assert!(forwarded.keys().all(|n| auth.signs(n.as_str())));
                let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
                let _ = verify(
                    auth,
                    &parts,
                    &keys,
                    iamwire_aws::sigv4::EMPTY_PAYLOAD_SHA256,
                    now,
                );
            }
            assert!(!forwarded.contains_key(header::AUTHORIZATION));
        }
    }
}

/// Fuzz entry point: arbitrary bytes as the `Authorization` of a DynamoDB request; whatever verifies must
/// be the signature made with the key's own secret.
pub(crate) fn fuzz_authorization(data: &[u8]) {
    use iamwire_aws::sigv4::{EMPTY_PAYLOAD_SHA256, Scope, SigningOptions, sign_request};
    let Ok(mut keys) = AccessKeys::new(iamwire_core::Secret::from(vec![1u8; 32])) else {
        return;
    };
    let id = "AKIWAAAAAAAAAAAAAAAA";
    let _ = keys.insert(id, "fuzz", "role");
    let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let Ok(request) = http::Request::builder()
        .method("POST")
        .uri("/")
        .header(header::HOST, "127.0.0.1:8000")
        .header("x-amz-date", "20231114T221320Z")
        .header("x-amz-target", "DynamoDB_20120810.ListTables")
        .body(())
    else {
        return;
    };
    let (mut parts, ()) = request.into_parts();
    let Some(credentials) = keys.credentials(id) else {
        return;
    };
    let genuine = sign_request(
        &HttpRequest::new(
            &parts.method,
            &parts.uri,
            &parts.headers,
            Payload::Sha256Hex(EMPTY_PAYLOAD_SHA256),
        ),
        &credentials,
        Scope::new("us-east-1", "dynamodb"),
        now,
        SigningOptions::default(),
    );
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    parts.headers.insert(header::AUTHORIZATION, value);
    let Ok(head) = inspect(&parts, Service::DynamoDb, 1 << 20) else {
        return;
    };
    let Some(auth) = head.authorization else {
        return;
    };
    if verify(&auth, &parts, &keys, EMPTY_PAYLOAD_SHA256, now).is_ok() {
        let genuine = genuine
            .map(|g| g.signature().to_owned())
            .unwrap_or_default();
        assert_eq!(
            auth.signature(),
            genuine,
            "a signature verified that the key did not make"
        );
    }
}

#[cfg(test)]
mod tests;
