//! The seed corpus in `fuzz/corpus/pg_auth/`, generated here and replayed as a test.

use std::path::PathBuf;

use super::*;
use crate::auth::{ScramServer, ServerAction, UpstreamAction};

const RFC_CLIENT_FIRST: &[u8] = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const RFC_CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
    p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/pg_auth")
}

/// Run a real exchange between the fuzz upstream (for `flags`) and a SCRAM server, and
/// return the server's two messages.
fn upstream_exchange(flags: u8, mechanisms: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let (_, mut upstream) = machines(flags);
    let secret = ScramSecret::from_password(b"pencil", b"fuzz-salt", NonZeroU32::new(16).unwrap());
    let end_point = (flags & 1 != 0).then(|| TlsServerEndPoint::from_hash(FUZZ_CERT_HASH));
    let mut server = ScramServer::new(secret, Nonce::new("fuzzservernonce").unwrap(), end_point);
    let UpstreamAction::SendSaslInitialResponse { mechanism, data } =
        upstream.step(AuthRequest::Sasl { mechanisms }).unwrap()
    else {
        panic!("expected SASLInitialResponse")
    };
    let ServerAction::Continue(server_first) = server
        .step(SaslClientMessage::Initial {
            mechanism,
            data: &data,
        })
        .unwrap()
    else {
        panic!("expected server-first")
    };
    let UpstreamAction::SendSaslResponse { data } = upstream
        .step(AuthRequest::SaslContinue {
            data: &server_first,
        })
        .unwrap()
    else {
        panic!("expected SASLResponse")
    };
    let ServerAction::Final(server_final) = server
        .step(SaslClientMessage::Response { data: &data })
        .unwrap()
    else {
        panic!("expected server-final")
    };
    (server_first, server_final)
}

/// The server side of a PLUS exchange: the fuzz upstream's client messages.
fn server_plus_messages() -> Vec<u8> {
    let flags = 0b11;
    let (_, mut upstream) = machines(flags);
    let (mut server, _) = machines(flags);
    let UpstreamAction::SendSaslInitialResponse { data: first, .. } = upstream
        .step(AuthRequest::Sasl {
            mechanisms: server.mechanisms(),
        })
        .unwrap()
    else {
        panic!("expected SASLInitialResponse")
    };
    let ServerAction::Continue(server_first) = server
        .step(SaslClientMessage::Initial {
            mechanism: SCRAM_SHA_256_PLUS,
            data: &first,
        })
        .unwrap()
    else {
        panic!("expected server-first")
    };
    // The RFC secret has 4096 iterations; this test-only upstream may compute them.
    let (_, upstream) = machines(flags);
    let mut upstream = upstream.max_iterations(NonZeroU32::new(4096).unwrap());
    upstream
        .step(AuthRequest::Sasl {
            mechanisms: server.mechanisms(),
        })
        .unwrap();
    let UpstreamAction::SendSaslResponse { data: fin } = upstream
        .step(AuthRequest::SaslContinue {
            data: &server_first,
        })
        .unwrap()
    else {
        panic!("expected SASLResponse")
    };
    encode(flags, &[(0x10, &first), (0x30, &fin)])
}

/// Every seed, with how far each machine must get on it.
fn seeds() -> Vec<(&'static str, Vec<u8>, Outcome)> {
    let server_done = Outcome {
        server_done: true,
        upstream_done: false,
    };
    let upstream_done = Outcome {
        server_done: false,
        upstream_done: true,
    };
    let (tls_first, tls_final) = upstream_exchange(0b10, &[SCRAM_SHA_256]);
    let (plus_first, plus_final) = upstream_exchange(0b11, &[SCRAM_SHA_256_PLUS, SCRAM_SHA_256]);
    vec![
        (
            "seed-server-rfc7677",
            encode(0, &[(0x00, RFC_CLIENT_FIRST), (0x30, RFC_CLIENT_FINAL)]),
            server_done,
        ),
        (
            "seed-server-plus",
            server_plus_messages(),
            Outcome {
                server_done: true,
                upstream_done: false,
            },
        ),
        (
            "seed-upstream-scram",
            encode(
                0b10,
                &[
                    (3, b"SCRAM-SHA-256\0"),
                    (4, &tls_first),
                    (5, &tls_final),
                    (0x37, b""),
                ],
            ),
            Outcome {
                server_done: false,
                upstream_done: true,
            },
        ),
        (
            "seed-upstream-scram-plus",
            encode(
                0b11,
                &[
                    (3, b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0"),
                    (4, &plus_first),
                    (5, &plus_final),
                    (0x37, b""),
                ],
            ),
            Outcome {
                server_done: false,
                upstream_done: true,
            },
        ),
        (
            "seed-upstream-md5",
            encode(0, &[(2, b"\x2a\x3d\x8f\xe0"), (0x37, b"")]),
            upstream_done,
        ),
        (
            "seed-upstream-cleartext-tls",
            encode(0b10, &[(1, b""), (0x37, b"")]),
            Outcome {
                server_done: false,
                upstream_done: true,
            },
        ),
    ]
}

#[test]
fn seeds_reach_the_end_of_their_exchange() {
    for (name, bytes, expected) in seeds() {
        assert_eq!(run(&bytes), expected, "{name}");
    }
}

#[test]
fn corpus_files_are_current() {
    for (name, bytes, _) in seeds() {
        let on_disk = std::fs::read(corpus_dir().join(name)).unwrap_or_else(|e| {
            panic!(
                "{name}: {e}; run `cargo test -p iamwire-postgres --lib -- --ignored write_seeds`"
            )
        });
        assert_eq!(
            on_disk, bytes,
            "{name} is stale; rerun the ignored test write_seeds"
        );
    }
}

#[test]
#[ignore = "writes fuzz/corpus/pg_auth; run by hand after changing the seeds"]
fn write_seeds() {
    std::fs::create_dir_all(corpus_dir()).unwrap();
    for (name, bytes, _) in seeds() {
        std::fs::write(corpus_dir().join(name), bytes).unwrap();
    }
}

#[test]
fn cleartext_over_plain_is_refused_and_truncated_input_is_fine() {
    assert_eq!(
        run(&encode(0, &[(1, b""), (0x37, b"")])),
        Outcome::default()
    );
    assert_eq!(run(&[]), Outcome::default());
    assert_eq!(run(&[0xff, 0x05]), Outcome::default());
    assert_eq!(run(&[0xff, 0x05, 0xff, 0xff, b'x']), Outcome::default());
}
