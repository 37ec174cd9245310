//! Criterion benches for the per-connection hot paths that need no network: minting an RDS IAM token,
//! answering a Keyspaces SigV4 challenge, decoding a CQL handshake (v4 frames and v5 segments), parsing a
//! client's SigV4 `Authorization` header, parsing an AWS endpoint, parsing + validating a config, and what
//! the MySQL relay does per command. Run: `cargo bench --bench hot_paths`.

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

fn keyspaces_and_cql(c: &mut Criterion) {
    use bytes::BytesMut;
    use iamwire_cql::codec::segment::{self, SegmentedFrames};
    use iamwire_cql::codec::{FrameDecoder, Limits, Request};

    let at = UNIX_EPOCH + Duration::from_secs(1_591_742_511);
    let session = Credentials::new(
        "ASIAEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("FQoGZXIvYXdzEBYaD".repeat(40)),
        None,
        "bench",
    );
    c.bench_function("keyspaces/sigv4_response", |b| {
        b.iter(|| {
            iamwire_aws::sigv4::keyspaces::auth_response(
                black_box(&session),
                "us-west-2",
                b"91703fdc2ef562e19fbdab0f58e42fe5",
                at,
            )
        })
    });
    let mut handshake = BytesMut::new();
    let startup = Request::Startup(vec![
        ("CQL_VERSION".into(), "3.4.4".into()),
        ("DRIVER_NAME".into(), "DataStax Python Driver".into()),
        ("DRIVER_VERSION".into(), "3.30.1".into()),
    ]);
    let auth = Request::AuthResponse(Some(bytes::Bytes::from_static(b"\0keyspaces-app\0pw")));
    for (i, m) in [Request::Options, startup, auth].iter().enumerate() {
        m.to_frame(4, i as i16)
            .encode(&mut handshake)
            .unwrap_or_default();
    }
    let limits = Limits::default();
    let decoder = FrameDecoder::new(limits);
    c.bench_function("cql/decode_handshake_v4", |b| {
        b.iter(|| {
            let mut buf = black_box(handshake.clone());
            while let Ok(Some(frame)) = decoder.decode(&mut buf) {
                black_box(Request::decode(&frame, &limits).ok());
            }
        })
    });
    let mut segmented = BytesMut::new();
    segment::encode(&handshake, &mut segmented);
    c.bench_function("cql/decode_handshake_v5_segment", |b| {
        b.iter(|| {
            let mut buf = black_box(segmented.clone());
            let mut frames = SegmentedFrames::default();
            while let Ok(Some(frame)) = frames.decode(&decoder, &mut buf) {
                black_box(frame);
            }
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

criterion_group!(benches, tokens, keyspaces_and_cql, parsers, mysql_relay);
criterion_main!(benches);
