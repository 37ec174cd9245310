//! Criterion benches for what the proxies do per message on the wire: the Postgres handshake decoders
//! (a libpq client's startup, a server's login answer), the relay's Postgres framing over pgbench's
//! answers, and the Redis relay's command decoder and reply scanner over a pipelined GET/SET burst.
//! Run: `cargo bench --bench codecs`. (CQL, MySQL, tokens and SigV4 are in `hot_paths`.)

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A Postgres message: `tag`, length counting itself, `body`.
fn pg(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    out.extend_from_slice(body);
}

fn postgres(c: &mut Criterion) {
    use iamwire_postgres::codec::{
        BackendDecoder, BackendPhase, FrontendDecoder, FrontendMessage, StartupMessage,
    };
    // What libpq sends: SSLRequest, then (inside TLS) its StartupMessage.
    let mut startup = BytesMut::new();
    FrontendMessage::SslRequest
        .encode(&mut startup)
        .unwrap_or_default();
    if let Ok(m) = StartupMessage::new("bench").and_then(|m| {
        m.with("database", "app")?
            .with("application_name", "pgbench")?
            .with("client_encoding", "UTF8")
    }) {
        FrontendMessage::Startup(m)
            .encode(&mut startup)
            .unwrap_or_default();
    }
    c.bench_function("postgres/decode_client_startup", |b| {
        b.iter(|| {
            let mut decoder = FrontendDecoder::default();
            let mut buf = black_box(startup.clone());
            while let Ok(Some(m)) = decoder.decode(&mut buf) {
                black_box(m);
            }
        })
    });

    // What Postgres 15 answers a trusted login with: AuthenticationOk, 13 ParameterStatus,
    // BackendKeyData, ReadyForQuery.
    let mut login = Vec::new();
    pg(&mut login, b'R', &0u32.to_be_bytes());
    for (k, v) in [
        ("application_name", "pgbench"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("default_transaction_read_only", "off"),
        ("in_hot_standby", "off"),
        ("integer_datetimes", "on"),
        ("IntervalStyle", "postgres"),
        ("is_superuser", "off"),
        ("server_encoding", "UTF8"),
        ("server_version", "15.14 (Debian 15.14-0+deb12u1)"),
        ("session_authorization", "bench"),
        ("standard_conforming_strings", "on"),
        ("TimeZone", "Etc/UTC"),
    ] {
        pg(&mut login, b'S', format!("{k}\0{v}\0").as_bytes());
    }
    pg(&mut login, b'K', &[0, 0, 0x30, 0x39, 1, 2, 3, 4]);
    pg(&mut login, b'Z', b"I");
    c.bench_function("postgres/decode_server_login", |b| {
        b.iter(|| {
            let mut decoder = BackendDecoder::default();
            decoder.set_phase(BackendPhase::Messages);
            let mut buf = BytesMut::from(black_box(&login[..]));
            while let Ok(Some(m)) = decoder.decode(&mut buf) {
                black_box(m);
            }
        })
    });

    // pgbench -S's answer, 64 times over: RowDescription, DataRow, CommandComplete, ReadyForQuery
    // (what the relay's framing follows when it must stop between messages).
    let mut answers = Vec::new();
    for i in 0..64u32 {
        pg(
            &mut answers,
            b'T',
            b"\0\x01abalance\0\0\0@\x04\0\x03\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0",
        );
        pg(
            &mut answers,
            b'D',
            &[
                &[0, 1, 0, 0, 0, 4][..],
                format!("{:04}", i % 10_000).as_bytes(),
            ]
            .concat(),
        );
        pg(&mut answers, b'C', b"SELECT 1\0");
        pg(&mut answers, b'Z', b"I");
    }
    let mut group = c.benchmark_group("relay");
    group.throughput(Throughput::Bytes(answers.len() as u64));
    group.bench_function("postgres_framing_64_answers", |b| {
        use iamwire_proxy::relay::{Framing, LengthPrefixed};
        b.iter(|| {
            let mut f = LengthPrefixed::postgres();
            // In 1 KiB reads, as a busy socket hands them over.
            for chunk in black_box(&answers[..]).chunks(1024) {
                f.advance(chunk);
            }
            black_box(f.rest_of_message(&[]))
        })
    });
    group.finish();
}

fn redis(c: &mut Criterion) {
    use iamwire_redis::codec::{
        CommandDecoder, FrameScanner, Limits, Profile, Scan, encode_command,
    };
    // redis-benchmark -P 64: alternating SET key:N value(64 B) and GET key:N.
    let mut commands = BytesMut::new();
    let value = [b'x'; 64];
    for i in 0..32 {
        let key = format!("key:{i:012}");
        encode_command(&[b"SET", key.as_bytes(), &value], &mut commands);
        encode_command(&[b"GET", key.as_bytes()], &mut commands);
    }
    let mut group = c.benchmark_group("redis");
    group.throughput(Throughput::Elements(64));
    group.bench_function("decode_64_pipelined_get_set", |b| {
        b.iter(|| {
            let mut decoder = CommandDecoder::new(Limits::default());
            let mut buf = black_box(commands.clone());
            while let Ok(Some(cmd)) = decoder.decode(&mut buf) {
                black_box(cmd.is("AUTH"));
            }
        })
    });
    let mut replies = Vec::new();
    for _ in 0..32 {
        replies.extend_from_slice(b"+OK\r\n$64\r\n");
        replies.extend_from_slice(&value);
        replies.extend_from_slice(b"\r\n");
    }
    group.bench_function("scan_64_replies", |b| {
        b.iter(|| {
            let mut scanner = FrameScanner::new(Profile::Reply, Limits::default());
            let mut rest = black_box(&replies[..]);
            let mut frames = 0;
            while let Ok(Scan::Complete(n)) = scanner.scan(rest) {
                rest = &rest[n..];
                frames += 1;
                if rest.is_empty() {
                    break;
                }
            }
            black_box(frames)
        })
    });
    group.finish();
}

criterion_group!(benches, postgres, redis);
criterion_main!(benches);
