use std::time::{Duration, UNIX_EPOCH};

use super::*;

fn creds(token: Option<&str>) -> Credentials {
    Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        token.map(str::to_owned),
        None,
        "test",
    )
}

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_440_938_160) // 2015-08-30T12:36:00Z
}

#[test]
fn credentials_debug_redacts_secret_and_token() {
    let dbg = format!("{:?}", creds(Some("SESSIONTOKENVALUE")));
    assert!(dbg.contains("** redacted **"), "{dbg}");
    assert!(!dbg.contains("wJalrXUtnFEMI"), "{dbg}");
    assert!(!dbg.contains("SESSIONTOKENVALUE"), "{dbg}");
}

#[test]
fn signature_headers_debug_redacts_the_session_token() {
    let uri: http::Uri = "https://example.amazonaws.com/".parse().unwrap();
    let headers = HeaderMap::new();
    let req = HttpRequest::new(&http::Method::GET, &uri, &headers, Payload::Bytes(b""));
    let signed = sign_request(
        &req,
        &creds(Some("SESSIONTOKENVALUE")),
        Scope::new("us-east-1", "service"),
        t0(),
        SigningOptions::default(),
    )
    .unwrap();
    let names: Vec<&str> = signed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["x-amz-date", "authorization", "x-amz-security-token"]
    );
    let dbg = format!("{signed:?}");
    assert!(dbg.contains("** redacted **"), "{dbg}");
    assert!(!dbg.contains("SESSIONTOKENVALUE"), "{dbg}");
    assert!(signed.authorization().ends_with(signed.signature()));
    assert!(
        signed
            .authorization()
            .contains("SignedHeaders=host;x-amz-date;x-amz-security-token,")
    );
}

#[test]
fn s3_options_add_the_content_sha256_header() {
    let uri: http::Uri = "https://bucket.s3.amazonaws.com/key".parse().unwrap();
    let headers = HeaderMap::new();
    let req = HttpRequest::new(&http::Method::GET, &uri, &headers, Payload::Bytes(b""));
    let signed = sign_request(
        &req,
        &creds(None),
        Scope::new("us-east-1", "s3"),
        t0(),
        SigningOptions::s3(),
    )
    .unwrap();
    let mut map = HeaderMap::new();
    signed.apply_to(&mut map);
    assert_eq!(map["x-amz-content-sha256"], EMPTY_PAYLOAD_SHA256);
    assert_eq!(map["x-amz-date"], "20150830T123600Z");
    assert!(map.get("x-amz-security-token").is_none());
}

#[test]
fn refuses_requests_it_cannot_sign_instead_of_panicking() {
    let uri: http::Uri = "/no-host".parse().unwrap();
    let headers = HeaderMap::new();
    let req = HttpRequest::new(&http::Method::GET, &uri, &headers, Payload::Unsigned);
    let scope = Scope::new("us-east-1", "service");
    let err = sign_request(&req, &creds(None), scope, t0(), SigningOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            SigV4Error::InvalidInput {
                field: "request",
                ..
            }
        ),
        "{err:?}"
    );

    let uri: http::Uri = "https://example.com/".parse().unwrap();
    let req = HttpRequest::new(&http::Method::GET, &uri, &headers, Payload::Unsigned);
    let far = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
    let err = sign_request(&req, &creds(None), scope, far, SigningOptions::default()).unwrap_err();
    assert!(
        matches!(err, SigV4Error::InvalidInput { field: "time", .. }),
        "{err:?}"
    );

    let mut bad = HeaderMap::new();
    bad.insert("x-odd", HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap());
    let req = HttpRequest::new(&http::Method::GET, &uri, &bad, Payload::Unsigned);
    let err = sign_request(&req, &creds(None), scope, t0(), SigningOptions::default()).unwrap_err();
    assert!(
        matches!(err, SigV4Error::InvalidHeaderValue { ref header } if header == "x-odd"),
        "{err:?}"
    );
}

#[test]
fn request_and_payload_debug_hide_values() {
    let uri: http::Uri = "https://example.com/".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_static("AWS4-HMAC-SHA256 secretish"),
    );
    let req = HttpRequest::new(
        &http::Method::GET,
        &uri,
        &headers,
        Payload::Bytes(b"password=hunter2"),
    );
    let dbg = format!("{req:?}");
    assert!(
        dbg.contains("authorization") && dbg.contains("16 bytes"),
        "{dbg}"
    );
    assert!(
        !dbg.contains("secretish") && !dbg.contains("hunter2"),
        "{dbg}"
    );
}
