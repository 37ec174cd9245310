//! Criterion bench of the HTTP proxy's per-request work that needs no network: read the head, verify the
//! client's SigV4 signature with the key it was issued, filter the headers, and re-sign as the role.
//! Run: `cargo bench --bench http_resign`.

#![allow(clippy::unwrap_used)] // a bench: fixed inputs that always parse

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use iamwire_aws::sigv4::{HttpRequest, Payload, Scope, SigningOptions, sign_request};
use iamwire_core::Secret;
use iamwire_http::Service;
use iamwire_http::head::{inspect, upstream_headers, verify};
use iamwire_http::keys::AccessKeys;

const BODY_SHA256: &str = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

fn resign(c: &mut Criterion) {
    let mut keys = AccessKeys::new(Secret::from(vec![5u8; 32])).unwrap();
    let id = "AKIWAAAAAAAAAAAAAAAA";
    keys.insert(id, "alice", "orders-rw").unwrap();
    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let (mut parts, ()) = Request::builder()
        .method("POST")
        .uri("/")
        .header("host", "localhost:8443")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.GetItem")
        .header("user-agent", "Boto3/1.44.8 md/Botocore#1.44.8")
        .header("content-length", "2")
        .body(())
        .unwrap()
        .into_parts();
    let client = keys.credentials(id).unwrap();
    let request = HttpRequest::new(
        &parts.method,
        &parts.uri,
        &parts.headers,
        Payload::Sha256Hex(BODY_SHA256),
    );
    let sig = sign_request(
        &request,
        &client,
        Scope::new("us-east-1", "dynamodb"),
        at,
        SigningOptions::default(),
    )
    .unwrap();
    sig.apply_to(&mut parts.headers);
    let role = Credentials::new(
        "ASIAEXAMPLE",
        "secret",
        Some("FQoGZXIvYXdzEBYaD".repeat(40)),
        None,
        "bench",
    );
    let upstream_uri: http::Uri = "https://dynamodb.us-east-1.amazonaws.com/".parse().unwrap();
    c.bench_function("http/verify_and_resign", |b| {
        b.iter(|| {
            let head = inspect(black_box(&parts), Service::DynamoDb, 1 << 20).unwrap();
            let auth = head.authorization.as_ref().unwrap();
            verify(auth, &parts, &keys, BODY_SHA256, at).unwrap();
            let mut headers = upstream_headers(&parts.headers, Some(auth));
            headers.insert(
                "host",
                http::HeaderValue::from_static("dynamodb.us-east-1.amazonaws.com"),
            );
            let out = HttpRequest::new(
                &parts.method,
                &upstream_uri,
                &headers,
                Payload::Sha256Hex(BODY_SHA256),
            );
            let sig = sign_request(
                &out,
                &role,
                Scope::new("us-east-1", "dynamodb"),
                at,
                SigningOptions::default(),
            )
            .unwrap();
            sig.apply_to(&mut headers);
            headers
        })
    });
}

criterion_group!(benches, resign);
criterion_main!(benches);
