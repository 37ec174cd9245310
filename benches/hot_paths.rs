//! Criterion benches for the per-connection hot paths that need no network: minting an RDS IAM token,
//! parsing a client's SigV4 `Authorization` header, parsing an AWS endpoint, parsing + validating a
//! config, and what the MySQL relay does per command. Run: `cargo bench --bench hot_paths`.

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

/// What the MySQL relay does to pass on 64 point selects (sysbench's `oltp_point_select`) and their
/// answers: find each command and look at its statement, follow each reply packet by packet.
fn mysql_relay(c: &mut Criterion) {
    use iamwire_mysql::codec::{CommandSplitter, ResponseScanner, Split, classify, put_packet};
    let mut commands = bytes::BytesMut::new();
    for id in 0..64 {
        put_packet(
            &mut commands,
            0,
            format!("\x03SELECT c FROM sbtest1 WHERE id={id}").as_bytes(),
        );
    }
    // Column count, one column definition, one row, and the OK that ends it (CLIENT_DEPRECATE_EOF).
    let mut replies = bytes::BytesMut::new();
    for _ in 0..64 {
        put_packet(&mut replies, 1, &[1]);
        put_packet(&mut replies, 2, b"\x03def\x03app\x07sbtest1\x07sbtest1\x01c\x01c\x0c\x08\x00\xe0\x01\x00\x00\xfe\x00\x00\x00\x00\x00");
        put_packet(&mut replies, 3, &[120; 121]);
        put_packet(&mut replies, 4, &[0xfe, 0, 0, 2, 0, 0, 0]);
    }
    c.bench_function("mysql/relay_64_point_selects", |b| {
        b.iter(|| {
            let mut splitter = CommandSplitter::new(16 * 1024);
            let mut rest = black_box(&commands[..]);
            loop {
                match splitter.next(rest) {
                    Split::Command { len, .. } => {
                        black_box(classify(&rest[5..4 + len]));
                        splitter.pass(len);
                    }
                    Split::Forward(n) | Split::Discard(n) => rest = &rest[n..],
                    Split::NeedMore => break,
                }
            }
            let mut scanner = ResponseScanner::default();
            black_box(scanner.advance(black_box(&replies)));
        })
    });
}

criterion_group!(benches, tokens, parsers, mysql_relay);
criterion_main!(benches);
