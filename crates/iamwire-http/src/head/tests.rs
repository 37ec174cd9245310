use std::time::{Duration, UNIX_EPOCH};

use http::Request;
use iamwire_aws::sigv4::{EMPTY_PAYLOAD_SHA256, Scope, SigningOptions, sign_request};
use iamwire_core::Secret;

use super::*;

const KEY: &str = "AKIWAAAAAAAAAAAAAAAA";

fn keys() -> AccessKeys {
    let mut keys = AccessKeys::new(Secret::from(vec![9u8; 32])).unwrap();
    keys.insert(KEY, "alice", "orders-rw").unwrap();
    keys
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// A DynamoDB request signed as an SDK would, with `secret_of` the key's secret (or another).
fn signed(keys: &AccessKeys, extra: &[(&str, &str)]) -> Parts {
    let mut builder = Request::builder()
        .method("POST")
        .uri("/")
        .header("host", "127.0.0.1:8000")
        .header("x-amz-target", "DynamoDB_20120810.GetItem")
        .header("content-type", "application/x-amz-json-1.0");
    for (n, v) in extra {
        builder = builder.header(*n, *v);
    }
    let (mut parts, ()) = builder.body(()).unwrap().into_parts();
    let creds = keys.credentials(KEY).unwrap();
    let sig = sign_request(
        &HttpRequest::new(
            &parts.method,
            &parts.uri,
            &parts.headers,
            Payload::Sha256Hex(EMPTY_PAYLOAD_SHA256),
        ),
        &creds,
        Scope::new("us-east-1", "dynamodb"),
        now(),
        SigningOptions::default(),
    )
    .unwrap();
    sig.apply_to(&mut parts.headers);
    parts
}

#[test]
fn a_signed_request_verifies_and_names_its_grant() {
    let keys = keys();
    let parts = signed(&keys, &[]);
    let head = inspect(&parts, Service::DynamoDb, 100).unwrap();
    assert_eq!(head.api, Api::DynamoDb);
    let auth = head.authorization.unwrap();
    let grant = verify(&auth, &parts, &keys, EMPTY_PAYLOAD_SHA256, now()).unwrap();
    assert_eq!(
        (grant.identity.as_str(), grant.role.as_str()),
        ("alice", "orders-rw")
    );
    // Another body, another hash: refused.
    let other = "0".repeat(64);
    assert!(matches!(
        verify(&auth, &parts, &keys, &other, now()),
        Err(HttpError::BadSignature { .. })
    ));
    // Far from the clock: refused.
    assert!(matches!(
        verify(
            &auth,
            &parts,
            &keys,
            EMPTY_PAYLOAD_SHA256,
            now() + Duration::from_secs(3600)
        ),
        Err(HttpError::BadSignature { .. })
    ));
}

#[test]
fn a_wrong_secret_or_unknown_key_is_refused() {
    let keys = keys();
    let mut impostor = AccessKeys::new(Secret::from(vec![1u8; 32])).unwrap();
    impostor.insert(KEY, "alice", "orders-rw").unwrap();
    let parts = signed(&impostor, &[]);
    let auth = inspect(&parts, Service::DynamoDb, 100)
        .unwrap()
        .authorization
        .unwrap();
    assert!(matches!(
        verify(&auth, &parts, &keys, EMPTY_PAYLOAD_SHA256, now()),
        Err(HttpError::BadSignature { .. })
    ));
    let empty = AccessKeys::new(Secret::from(vec![9u8; 32])).unwrap();
    assert!(matches!(
        verify(&auth, &parts, &empty, EMPTY_PAYLOAD_SHA256, now()),
        Err(HttpError::UnknownAccessKey { .. })
    ));
}

#[test]
fn heads_are_checked_before_anything_else() {
    let keys = keys();
    let too_long = signed(&keys, &[("content-length", "101")]);
    assert!(matches!(
        inspect(&too_long, Service::DynamoDb, 100),
        Err(HttpError::BodyTooLarge { limit: 100 })
    ));
    let (no_target, ()) = Request::builder().uri("/").body(()).unwrap().into_parts();
    assert!(matches!(
        inspect(&no_target, Service::DynamoDb, 100),
        Err(HttpError::BadRequest { .. })
    ));
    assert_eq!(
        inspect(&no_target, Service::OpenSearch, 100).unwrap().api,
        Api::OpenSearch
    );
    let (bad_auth, ()) = Request::builder()
        .uri("/")
        .header("authorization", "AWS4-HMAC-SHA256 Credential=x")
        .body(())
        .unwrap()
        .into_parts();
    assert!(matches!(
        inspect(&bad_auth, Service::OpenSearch, 100),
        Err(HttpError::MalformedAuthorization { .. })
    ));
    let hash = "a".repeat(64);
    let (declared, ()) = Request::builder()
        .uri("/")
        .header("x-amz-content-sha256", &hash)
        .header("x-amz-security-token", "orders-rw")
        .body(())
        .unwrap()
        .into_parts();
    let head = inspect(&declared, Service::OpenSearch, 100).unwrap();
    assert_eq!(head.declared_sha256.as_deref(), Some(hash.as_str()));
    assert_eq!(head.session_token.as_deref(), Some("orders-rw"));
}

/// An extension method, `TRACE` or `CONNECT` was signed as the role and sent to the database (the
/// hostile suite's `BREW` reached moto, which answered 405; a `TRACE` would echo the proxy's
/// signature and the role's session token): refused with 501 before anything else.
#[test]
fn methods_the_databases_do_not_implement_are_refused() {
    for method in ["BREW", "TRACE", "CONNECT", "PROPFIND"] {
        let (parts, ()) = Request::builder()
            .method(method)
            .uri("/")
            .header("x-amz-target", "DynamoDB_20120810.ListTables")
            .body(())
            .unwrap()
            .into_parts();
        for service in [Service::DynamoDb, Service::OpenSearch] {
            let refused = inspect(&parts, service, 100).unwrap_err();
            assert!(
                matches!(refused, HttpError::MethodNotImplemented { .. }),
                "{method}: {refused:?}"
            );
            assert_eq!(refused.status(), http::StatusCode::NOT_IMPLEMENTED);
        }
    }
    for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let (parts, ()) = Request::builder()
            .method(method)
            .uri("/")
            .body(())
            .unwrap()
            .into_parts();
        assert!(
            inspect(&parts, Service::OpenSearch, 100).is_ok(),
            "{method}"
        );
    }
}

/// A presigned URL's parameters would go upstream in the request target (the hostile suite found a
/// client's `X-Amz-Signature` and `X-Amz-Security-Token` forwarded that way): refused, in any case,
/// percent-encoded or not; other query strings pass.
#[test]
fn presigned_url_parameters_are_refused() {
    for query in [
        "X-Amz-Signature=abc",
        "a=1&X-Amz-Credential=AKIA%2F20240101",
        "x-amz-security-token=t",
        "X-Amz-Date=19991231T235959Z&b=2",
        "X%2DAmz%2DSignedHeaders=host",
        "X-AMZ-ALGORITHM=AWS4-HMAC-SHA256",
        "X-Amz-Expires",
    ] {
        let (parts, ()) = Request::builder()
            .uri(format!("/_search?{query}"))
            .body(())
            .unwrap()
            .into_parts();
        let refused = inspect(&parts, Service::OpenSearch, 100);
        assert!(
            matches!(refused, Err(HttpError::BadRequest { .. })),
            "{query}: {refused:?}"
        );
        assert_eq!(refused.unwrap_err().status(), http::StatusCode::BAD_REQUEST);
    }
    for query in [
        "q=x-amz-signature",
        "X-Amz-Signaturex=1",
        "x-amz-meta=1",
        "size=10&from=0",
    ] {
        let (parts, ()) = Request::builder()
            .uri(format!("/_search?{query}"))
            .body(())
            .unwrap()
            .into_parts();
        assert!(inspect(&parts, Service::OpenSearch, 100).is_ok(), "{query}");
    }
}

#[test]
fn only_signed_end_to_end_headers_go_upstream() {
    let keys = keys();
    let mut parts = signed(&keys, &[("x-custom", "signed")]);
    parts
        .headers
        .insert("x-unsigned", HeaderValue::from_static("smuggled"));
    parts
        .headers
        .insert("connection", HeaderValue::from_static("x-custom"));
    let auth = inspect(&parts, Service::DynamoDb, 100)
        .unwrap()
        .authorization
        .unwrap();
    let out = upstream_headers(&parts.headers, Some(&auth));
    let mut names: Vec<_> = out.keys().map(|n| n.as_str().to_owned()).collect();
    names.sort();
    // x-custom is named by Connection: hop-by-hop even though signed.
    assert_eq!(names, ["content-type", "x-amz-target"]);
    let all = upstream_headers(&parts.headers, None);
    assert!(all.contains_key("x-unsigned") && !all.contains_key("authorization"));
    assert!(!all.contains_key("x-amz-date") && !all.contains_key("host"));
}

#[test]
fn fuzz_entry_points_survive_samples() {
    fuzz_head(b"AWS4-HMAC-SHA256 Credential=AKIWAAAAAAAAAAAAAAAA/20231114/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000\nhost: a\nx-amz-date: 20231114T221320Z\nx-amz-target: DynamoDB_20120810.GetItem");
    fuzz_head(b"\xff\n:\n::\ncontent-length: 99999999999999999999999");
    fuzz_authorization(b"AWS4-HMAC-SHA256 Credential=AKIWAAAAAAAAAAAAAAAA/20231114/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000");
}
