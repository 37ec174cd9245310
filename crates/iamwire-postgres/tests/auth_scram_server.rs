#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The proxy's SCRAM-SHA-256(-PLUS) server: RFC 7677's test vector, round trips against
//! postgres-protocol's SCRAM client, and every way a client can get it wrong.

use std::num::NonZeroU32;

use iamwire_postgres::auth::{
    AuthError, AuthMethod, DEFAULT_ITERATIONS, MockKey, Nonce, SCRAM_SHA_256, SCRAM_SHA_256_PLUS,
    SaslClientMessage, ScramMessage, ScramSecret, ScramServer, ScramServerError, ServerAction,
    TlsServerEndPoint,
};
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

const RFC_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const RFC_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const RFC_CLIENT_FIRST: &[u8] = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const RFC_SERVER_FIRST: &[u8] = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
    s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC_CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
    p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
/// StoredKey/ServerKey of `pencil` with the RFC salt, in Postgres' stored form.
const RFC_SECRET: &str = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$\
    WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

fn rfc_secret() -> ScramSecret {
    RFC_SECRET.parse().unwrap()
}

fn server(cert: Option<&[u8]>) -> ScramServer {
    ScramServer::new(
        rfc_secret(),
        Nonce::new(RFC_SERVER_NONCE).unwrap(),
        cert.map(TlsServerEndPoint::from_hash),
    )
}

fn initial<'a>(mechanism: &'a str, data: &'a [u8]) -> SaslClientMessage<'a> {
    SaslClientMessage::Initial { mechanism, data }
}

fn response(data: &[u8]) -> SaslClientMessage<'_> {
    SaslClientMessage::Response { data }
}

fn continue_data(action: ServerAction) -> Vec<u8> {
    match action {
        ServerAction::Continue(data) => data,
        other => panic!("expected Continue, got {other:?}"),
    }
}

#[test]
fn rfc_7677_test_vector() {
    // Derived from the password, the secret matches the stored form.
    let derived = ScramSecret::from_password(
        b"pencil",
        &base64_decode(RFC_SALT),
        NonZeroU32::new(4096).unwrap(),
    );
    assert_eq!(derived.to_postgres_format(), RFC_SECRET);

    let mut server = ScramServer::new(derived, Nonce::new(RFC_SERVER_NONCE).unwrap(), None);
    assert_eq!(server.mechanisms(), [SCRAM_SHA_256]);
    let first = server
        .step(initial(SCRAM_SHA_256, RFC_CLIENT_FIRST))
        .unwrap();
    assert_eq!(first, ServerAction::Continue(RFC_SERVER_FIRST.to_vec()));
    let last = server.step(response(RFC_CLIENT_FINAL)).unwrap();
    assert_eq!(last, ServerAction::Final(RFC_SERVER_FINAL.to_vec()));
    assert!(server.is_done());
}

fn base64_decode(s: &str) -> Vec<u8> {
    // The salt of the RFC, decoded by hand to keep base64 out of the dev-dependencies.
    assert_eq!(s, RFC_SALT);
    vec![
        0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa,
        0x81,
    ]
}

/// Run postgres-protocol's client against our server; returns the client's verdict on
/// the server-final message.
fn round_trip(
    server: &mut ScramServer,
    password: &[u8],
    mechanism: &str,
    binding: ChannelBinding,
) -> Result<(), AuthError> {
    let mut client = ScramSha256::new(password, binding);
    let first = continue_data(server.step(initial(mechanism, client.message()))?);
    client.update(&first).unwrap();
    match server.step(response(client.message()))? {
        ServerAction::Final(data) => {
            client
                .finish(&data)
                .expect("client accepts the server signature");
            Ok(())
        }
        other => panic!("expected Final, got {other:?}"),
    }
}

#[test]
fn postgres_protocol_client_without_channel_binding() {
    // `n`: the client does not support channel binding.
    round_trip(
        &mut server(None),
        b"pencil",
        SCRAM_SHA_256,
        ChannelBinding::unsupported(),
    )
    .unwrap();
    // `y`: the client supports it, the server did not offer PLUS: fine.
    round_trip(
        &mut server(None),
        b"pencil",
        SCRAM_SHA_256,
        ChannelBinding::unrequested(),
    )
    .unwrap();
    // `n` with PLUS offered: allowed (the client cannot bind).
    round_trip(
        &mut server(Some(&[7; 32])),
        b"pencil",
        SCRAM_SHA_256,
        ChannelBinding::unsupported(),
    )
    .unwrap();
}

#[test]
fn postgres_protocol_client_with_channel_binding() {
    let cert_hash = vec![0xab; 32];
    let mut server = server(Some(&cert_hash));
    assert_eq!(server.mechanisms(), [SCRAM_SHA_256_PLUS, SCRAM_SHA_256]);
    round_trip(
        &mut server,
        b"pencil",
        SCRAM_SHA_256_PLUS,
        ChannelBinding::tls_server_end_point(cert_hash),
    )
    .unwrap();
    assert!(server.is_done());
}

#[test]
fn channel_binding_data_of_another_connection_is_rejected() {
    // A man in the middle terminates TLS with its own certificate.
    let err = round_trip(
        &mut server(Some(&[0xab; 32])),
        b"pencil",
        SCRAM_SHA_256_PLUS,
        ChannelBinding::tls_server_end_point(vec![0xcd; 32]),
    )
    .unwrap_err();
    assert_eq!(
        err,
        AuthError::ChannelBindingMismatch {
            method: AuthMethod::ScramSha256Plus
        }
    );
    assert_eq!(
        err.scram_server_error(),
        Some(ScramServerError::ChannelBindingsDontMatch)
    );
}

#[test]
fn downgrade_from_plus_is_rejected() {
    // The client could bind but thinks the server cannot: PLUS was stripped on the way.
    let err = round_trip(
        &mut server(Some(&[1; 32])),
        b"pencil",
        SCRAM_SHA_256,
        ChannelBinding::unrequested(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        AuthError::ChannelBindingDowngrade {
            method: AuthMethod::ScramSha256
        }
    );
    assert_eq!(err.sqlstate(), "08P01");
}

#[test]
fn inconsistent_channel_binding_choices_are_rejected() {
    let p_first = b"p=tls-server-end-point,,n=,r=abc";
    // Binding data without PLUS offered.
    assert!(matches!(
        server(None).step(initial(SCRAM_SHA_256, p_first)),
        Err(AuthError::ChannelBindingNegotiation { .. })
    ));
    // PLUS was not offered, so choosing it is choosing an unknown mechanism.
    assert_eq!(
        server(None).step(initial(SCRAM_SHA_256_PLUS, p_first)),
        Err(AuthError::UnsupportedMechanism)
    );
    // Binding data with plain SCRAM-SHA-256.
    assert!(matches!(
        server(Some(&[1; 32])).step(initial(SCRAM_SHA_256, p_first)),
        Err(AuthError::ChannelBindingNegotiation {
            method: AuthMethod::ScramSha256,
            ..
        })
    ));
    // PLUS without binding data.
    for flag in ["n", "y"] {
        let first = format!("{flag},,n=,r=abc");
        assert!(matches!(
            server(Some(&[1; 32])).step(initial(SCRAM_SHA_256_PLUS, first.as_bytes())),
            Err(AuthError::ChannelBindingNegotiation {
                method: AuthMethod::ScramSha256Plus,
                ..
            })
        ));
    }
    // Another binding type.
    assert_eq!(
        server(Some(&[1; 32])).step(initial(SCRAM_SHA_256_PLUS, b"p=tls-unique,,n=,r=abc")),
        Err(AuthError::UnsupportedChannelBindingType {
            method: AuthMethod::ScramSha256Plus
        })
    );
}

/// The client-final message of the RFC with one attribute replaced.
fn client_final_with(c: &str, r: &str, p: &str) -> Vec<u8> {
    format!("c={c},r={r},p={p}").into_bytes()
}

const RFC_NONCE: &str = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const RFC_PROOF: &str = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

fn after_rfc_client_first() -> ScramServer {
    let mut server = server(None);
    server
        .step(initial(SCRAM_SHA_256, RFC_CLIENT_FIRST))
        .unwrap();
    server
}

#[test]
fn wrong_password_fails_at_the_proof() {
    let err = round_trip(
        &mut server(None),
        b"pencil2",
        SCRAM_SHA_256,
        ChannelBinding::unsupported(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        AuthError::InvalidProof {
            method: AuthMethod::ScramSha256
        }
    );
    assert_eq!(err.sqlstate(), "28P01");
    assert_eq!(
        err.scram_server_error(),
        Some(ScramServerError::InvalidProof)
    );
}

#[test]
fn tampered_proof_fails() {
    let mut proof = RFC_PROOF.to_owned();
    proof.replace_range(0..1, "e");
    let err = after_rfc_client_first()
        .step(response(&client_final_with("biws", RFC_NONCE, &proof)))
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::InvalidProof {
            method: AuthMethod::ScramSha256
        }
    );
}

#[test]
fn nonce_mismatch_fails() {
    let err = after_rfc_client_first()
        .step(response(&client_final_with(
            "biws",
            "rOprNGfwEbeRWgbNEkqOother",
            RFC_PROOF,
        )))
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::NonceMismatch {
            method: AuthMethod::ScramSha256,
            message: ScramMessage::ClientFinal
        }
    );
}

#[test]
fn changed_gs2_header_fails_the_binding_check() {
    // `eSws` = "y,,", but the client-first said "n,,".
    let err = after_rfc_client_first()
        .step(response(&client_final_with("eSws", RFC_NONCE, RFC_PROOF)))
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::ChannelBindingMismatch {
            method: AuthMethod::ScramSha256
        }
    );
}

#[test]
fn malformed_client_first_messages() {
    type Check = fn(&AuthError) -> bool;
    let cases: &[(&[u8], Check)] = &[
        (b"", |e| {
            matches!(
                e,
                AuthError::Malformed {
                    message: ScramMessage::ClientFirst,
                    ..
                }
            )
        }),
        (b"n,,", |e| matches!(e, AuthError::Malformed { .. })),
        (b"n,,r=abc", |e| matches!(e, AuthError::Malformed { .. })),
        (b"n,,n=,r=", |e| matches!(e, AuthError::Malformed { .. })),
        (b"n,,n=,r=a b", |e| matches!(e, AuthError::Malformed { .. })),
        (b"n,,n=,r=\xff", |e| {
            matches!(e, AuthError::Malformed { .. })
        }),
        (b"x,,n=,r=abc", |e| matches!(e, AuthError::Malformed { .. })),
        (b"n,a=admin,n=,r=abc", |e| {
            matches!(e, AuthError::AuthzidNotSupported { .. })
        }),
        (b"n,,m=ext,n=,r=abc", |e| {
            matches!(e, AuthError::UnsupportedExtension { .. })
        }),
    ];
    for (data, expected) in cases {
        let err = server(None).step(initial(SCRAM_SHA_256, data)).unwrap_err();
        assert!(
            expected(&err),
            "{:?} -> {err:?}",
            String::from_utf8_lossy(data)
        );
    }
    assert_eq!(
        server(None).step(initial("SCRAM-SHA-1", b"n,,n=,r=abc")),
        Err(AuthError::UnsupportedMechanism)
    );
}

#[test]
fn malformed_client_final_messages() {
    for data in [
        &b""[..],
        b"c=biws",
        b"c=biws,r=x",
        b"r=x,c=biws,p=AAAA",
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!!",
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        b"c=**,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,,p=AAAA",
        b"c=biws,r=x,p=\xff",
    ] {
        let err = after_rfc_client_first().step(response(data)).unwrap_err();
        assert!(
            matches!(
                err,
                AuthError::Malformed {
                    message: ScramMessage::ClientFinal,
                    ..
                }
            ),
            "{:?} -> {err:?}",
            String::from_utf8_lossy(data)
        );
        assert_eq!(err.sqlstate(), "08P01");
    }
}

#[test]
fn messages_out_of_order_are_rejected() {
    let mut server = server(None);
    assert!(matches!(
        server.step(response(RFC_CLIENT_FINAL)),
        Err(AuthError::UnexpectedMessage { .. })
    ));
    // The failed exchange stays failed.
    assert!(matches!(
        server.step(initial(SCRAM_SHA_256, RFC_CLIENT_FIRST)),
        Err(AuthError::UnexpectedMessage { .. })
    ));

    let mut server = after_rfc_client_first();
    assert!(matches!(
        server.step(initial(SCRAM_SHA_256, RFC_CLIENT_FIRST)),
        Err(AuthError::UnexpectedMessage { .. })
    ));

    let mut server = after_rfc_client_first();
    server.step(response(RFC_CLIENT_FINAL)).unwrap();
    assert!(matches!(
        server.step(response(RFC_CLIENT_FINAL)),
        Err(AuthError::UnexpectedMessage { .. })
    ));
}

#[test]
fn unknown_user_fails_like_a_wrong_password() {
    let key = MockKey::from_random_bytes([3; 32]);
    let mock = || {
        ScramServer::mock(
            &key,
            "nobody",
            DEFAULT_ITERATIONS,
            Nonce::new(RFC_SERVER_NONCE).unwrap(),
            None,
        )
    };
    // Same shape of server-first as a real user with the same iteration count ...
    let real_first = continue_data(
        server(None)
            .step(initial(SCRAM_SHA_256, RFC_CLIENT_FIRST))
            .unwrap(),
    );
    let mock_first = continue_data(
        mock()
            .step(initial(SCRAM_SHA_256, RFC_CLIENT_FIRST))
            .unwrap(),
    );
    assert_eq!(real_first.len(), mock_first.len());
    assert!(
        String::from_utf8(mock_first.clone())
            .unwrap()
            .ends_with(",i=4096")
    );
    // ... a stable salt per user name ...
    assert_eq!(
        mock_first,
        continue_data(
            mock()
                .step(initial(SCRAM_SHA_256, RFC_CLIENT_FIRST))
                .unwrap()
        )
    );
    // ... and the same failure, whatever the password.
    for password in [&b"pencil"[..], b"", b"guess"] {
        let err = round_trip(
            &mut mock(),
            password,
            SCRAM_SHA_256,
            ChannelBinding::unsupported(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            AuthError::InvalidProof {
                method: AuthMethod::ScramSha256
            }
        );
    }
    // Debug does not tell them apart either.
    let debug = format!("{:?}", mock());
    assert_eq!(debug, format!("{:?}", server(None)));
}

#[test]
fn secret_from_password_round_trips_with_saslprep() {
    // Postgres SASLprep's the password: U+00A0 (no-break space) is mapped to a space.
    let secret =
        ScramSecret::from_password("a\u{a0}b".as_bytes(), b"salt", NonZeroU32::new(16).unwrap());
    let mut server = ScramServer::new(secret, Nonce::new("srv").unwrap(), None);
    round_trip(
        &mut server,
        b"a b",
        SCRAM_SHA_256,
        ChannelBinding::unsupported(),
    )
    .unwrap();
}

#[test]
fn debug_of_secret_and_server_redacts_keys() {
    let secret = rfc_secret();
    let debug = format!("{secret:?} {:?}", server(None));
    assert!(
        !debug.contains("WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="),
        "{debug}"
    );
    assert!(
        !debug.contains("wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="),
        "{debug}"
    );
    assert!(debug.contains("** redacted **"), "{debug}");
}
