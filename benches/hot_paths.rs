//! Criterion benches for the per-connection hot paths that need no network: minting an RDS IAM token,
//! parsing a client's SigV4 `Authorization` header, parsing an AWS endpoint, and parsing + validating a
//! config. Run: `cargo bench --bench hot_paths`.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use criterion::{Criterion, criterion_group, criterion_main};

fn tokens(c: &mut Criterion) {
    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let plain = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "bench",
    );
    let session = Credentials::new(
        "ASIAEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("FQoGZXIvYXdzEBYaD".repeat(40)),
        None,
        "bench",
    );
    let host = "rds-postgres.abcdef012345.us-west-1.rds.amazonaws.com";
    c.bench_function("rds_token/static_key", |b| {
        b.iter(|| {
            iamwire_aws::token::rds_auth_token(
                black_box(&plain),
                host,
                5432,
                "app",
                "us-west-1",
                at,
            )
        })
    });
    c.bench_function("rds_token/session_token", |b| {
        b.iter(|| {
            iamwire_aws::token::rds_auth_token(
                black_box(&session),
                host,
                5432,
                "app",
                "us-west-1",
                at,
            )
        })
    });
}

fn parsers(c: &mut Criterion) {
    let header =
        b"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request, \
        SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
        Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
    c.bench_function("sigv4/parse_authorization", |b| {
        b.iter(|| iamwire_aws::sigv4::Authorization::parse(black_box(header)))
    });
    c.bench_function("endpoint/parse_rds", |b| {
        b.iter(|| {
            iamwire_aws::endpoint::parse(black_box(
                "mydb.cluster-ro-abcdef012345.us-west-2.rds.amazonaws.com:5432",
            ))
        })
    });
    let yaml = include_bytes!("../tests/data/static.yaml");
    c.bench_function("config/parse_and_validate", |b| {
        b.iter(|| iamwire_core::Config::from_yaml(black_box(yaml)))
    });
}

criterion_group!(benches, tokens, parsers);
criterion_main!(benches);
