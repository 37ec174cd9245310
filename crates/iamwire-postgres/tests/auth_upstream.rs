#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The proxy's upstream login: cleartext (TLS only), MD5, SCRAM with and without channel
//! binding against a SCRAM server, and a server that misbehaves in every way.

use std::num::NonZeroU32;

use iamwire_postgres::auth::{
    AuthError, AuthMethod, AuthRequest, ChannelBindingPolicy, MutualAuthFailure, Nonce,
    SCRAM_SHA_256, SCRAM_SHA_256_PLUS, SaslClientMessage, ScramMessage, ScramSecret, ScramServer,
    ScramServerError, ServerAction, TlsServerEndPoint, UpstreamAction, UpstreamAuth, UpstreamLogin,
    UpstreamTransport,
};

const TOKEN: &str = "rds-iam-token-Action=connect&X-Amz-Signature=deadbeef";
const CERT_HASH: [u8; 32] = [0x11; 32];

fn tls(hash: Option<[u8; 32]>) -> UpstreamTransport {
    UpstreamTransport::Tls {
        server_end_point: hash.map(TlsServerEndPoint::from_hash),
    }
}

fn login(transport: UpstreamTransport) -> UpstreamAuth {
    UpstreamAuth::new(
        UpstreamLogin::new("iam_user", TOKEN),
        transport,
        Nonce::new("clientnonce").unwrap(),
    )
}

fn secret() -> ScramSecret {
    ScramSecret::from_password(TOKEN.as_bytes(), b"some-salt", NonZeroU32::new(64).unwrap())
}

fn sasl_initial(action: UpstreamAction) -> (&'static str, Vec<u8>) {
    match action {
        UpstreamAction::SendSaslInitialResponse { mechanism, data } => (mechanism, data),
        other => panic!("expected SASLInitialResponse, got {other:?}"),
    }
}

fn sasl_response(action: UpstreamAction) -> Vec<u8> {
    match action {
        UpstreamAction::SendSaslResponse { data } => data,
        other => panic!("expected SASLResponse, got {other:?}"),
    }
}

/// A full SCRAM exchange between `upstream` and `server`; returns the mechanism used and
/// the client-first message.
fn scram(
    upstream: &mut UpstreamAuth,
    server: &mut ScramServer,
    offered: &[&str],
) -> (&'static str, Vec<u8>) {
    let (mechanism, first) = sasl_initial(
        upstream
            .step(AuthRequest::Sasl {
                mechanisms: offered,
            })
            .unwrap(),
    );
    let ServerAction::Continue(server_first) = server
        .step(SaslClientMessage::Initial {
            mechanism,
            data: &first,
        })
        .unwrap()
    else {
        panic!("expected server-first")
    };
    let fin = sasl_response(
        upstream
            .step(AuthRequest::SaslContinue {
                data: &server_first,
            })
            .unwrap(),
    );
    let ServerAction::Final(server_final) = server
        .step(SaslClientMessage::Response { data: &fin })
        .unwrap()
    else {
        panic!("expected server-final")
    };
    assert!(matches!(
        upstream
            .step(AuthRequest::SaslFinal {
                data: &server_final
            })
            .unwrap(),
        UpstreamAction::AwaitNext
    ));
    assert!(matches!(
        upstream.step(AuthRequest::Ok).unwrap(),
        UpstreamAction::Done
    ));
    assert!(upstream.is_done());
    (mechanism, first)
}

#[test]
fn cleartext_is_sent_over_tls_only() {
    let mut up = login(tls(None));
    match up.step(AuthRequest::CleartextPassword).unwrap() {
        UpstreamAction::SendPassword(password) => assert_eq!(password.expose(), TOKEN.as_bytes()),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        up.step(AuthRequest::Ok).unwrap(),
        UpstreamAction::Done
    ));
    assert_eq!(up.method(), Some(AuthMethod::Cleartext));

    let mut up = login(UpstreamTransport::Plain);
    let err = up.step(AuthRequest::CleartextPassword).unwrap_err();
    assert_eq!(err, AuthError::CleartextWithoutTls);
    assert_eq!(err.method(), Some(AuthMethod::Cleartext));
    // And the exchange is over.
    assert!(matches!(
        up.step(AuthRequest::CleartextPassword),
        Err(AuthError::UnexpectedMessage { .. })
    ));
}

#[test]
fn md5_matches_postgres_protocol() {
    let salt = [1, 2, 3, 4];
    let mut up = login(UpstreamTransport::Plain);
    match up.step(AuthRequest::Md5Password { salt }).unwrap() {
        UpstreamAction::SendPassword(hash) => assert_eq!(
            hash.expose(),
            postgres_protocol::authentication::md5_hash(b"iam_user", TOKEN.as_bytes(), salt)
                .as_bytes()
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        up.step(AuthRequest::Ok).unwrap(),
        UpstreamAction::Done
    ));
}

#[test]
fn scram_without_tls_says_n() {
    let mut server = ScramServer::new(secret(), Nonce::new("srv").unwrap(), None);
    let (mechanism, first) = scram(
        &mut login(UpstreamTransport::Plain),
        &mut server,
        &[SCRAM_SHA_256],
    );
    assert_eq!(mechanism, SCRAM_SHA_256);
    assert_eq!(first, b"n,,n=,r=clientnonce");
}

#[test]
fn scram_over_tls_without_plus_offered_says_y() {
    let mut server = ScramServer::new(secret(), Nonce::new("srv").unwrap(), None);
    let (_, first) = scram(
        &mut login(tls(Some(CERT_HASH))),
        &mut server,
        &[SCRAM_SHA_256],
    );
    assert!(first.starts_with(b"y,,"));
}

#[test]
fn plus_is_preferred_when_offered_and_the_hash_is_known() {
    let mut server = ScramServer::new(
        secret(),
        Nonce::new("srv").unwrap(),
        Some(TlsServerEndPoint::from_hash(CERT_HASH)),
    );
    let mut up = login(tls(Some(CERT_HASH)));
    let (mechanism, first) = scram(&mut up, &mut server, &[SCRAM_SHA_256, SCRAM_SHA_256_PLUS]);
    assert_eq!(mechanism, SCRAM_SHA_256_PLUS);
    assert!(first.starts_with(b"p=tls-server-end-point,,"));
    assert_eq!(up.method(), Some(AuthMethod::ScramSha256Plus));
}

#[test]
fn plus_offered_but_hash_unknown_says_n_not_y() {
    // `y` would make a real server suspect a downgrade.
    let mut server = ScramServer::new(
        secret(),
        Nonce::new("srv").unwrap(),
        Some(TlsServerEndPoint::from_hash(CERT_HASH)),
    );
    let offered = server.mechanisms();
    let (mechanism, first) = scram(&mut login(tls(None)), &mut server, offered);
    assert_eq!(mechanism, SCRAM_SHA_256);
    assert!(first.starts_with(b"n,,"));
}

#[test]
fn channel_binding_to_the_wrong_certificate_is_caught_by_the_server() {
    // A man in the middle with its own certificate: our hash differs from the server's.
    let mut server = ScramServer::new(
        secret(),
        Nonce::new("srv").unwrap(),
        Some(TlsServerEndPoint::from_hash(CERT_HASH)),
    );
    let mut up = login(tls(Some([0x22; 32])));
    let (mechanism, first) = sasl_initial(
        up.step(AuthRequest::Sasl {
            mechanisms: server.mechanisms(),
        })
        .unwrap(),
    );
    let ServerAction::Continue(sf) = server
        .step(SaslClientMessage::Initial {
            mechanism,
            data: &first,
        })
        .unwrap()
    else {
        panic!()
    };
    let fin = sasl_response(up.step(AuthRequest::SaslContinue { data: &sf }).unwrap());
    assert_eq!(
        server.step(SaslClientMessage::Response { data: &fin }),
        Err(AuthError::ChannelBindingMismatch {
            method: AuthMethod::ScramSha256Plus
        })
    );
}

#[test]
fn channel_binding_policies() {
    let plus = [SCRAM_SHA_256_PLUS, SCRAM_SHA_256];
    // Disable: plain SCRAM with `n` even when PLUS would work.
    let mut up = login(tls(Some(CERT_HASH))).channel_binding(ChannelBindingPolicy::Disable);
    let (mechanism, first) =
        sasl_initial(up.step(AuthRequest::Sasl { mechanisms: &plus }).unwrap());
    assert_eq!((mechanism, &first[..3]), (SCRAM_SHA_256, &b"n,,"[..]));

    // Require: anything but PLUS fails.
    let require = |t| login(t).channel_binding(ChannelBindingPolicy::Require);
    for (transport, request) in [
        (
            tls(Some(CERT_HASH)),
            AuthRequest::Sasl {
                mechanisms: &[SCRAM_SHA_256],
            },
        ),
        (tls(None), AuthRequest::Sasl { mechanisms: &plus }),
        (
            UpstreamTransport::Plain,
            AuthRequest::Sasl { mechanisms: &plus },
        ),
        (tls(Some(CERT_HASH)), AuthRequest::CleartextPassword),
        (
            tls(Some(CERT_HASH)),
            AuthRequest::Md5Password { salt: [0; 4] },
        ),
        (tls(Some(CERT_HASH)), AuthRequest::Ok),
    ] {
        let err = require(transport).step(request).unwrap_err();
        assert!(
            matches!(err, AuthError::ChannelBindingRequired { .. }),
            "{request:?}: {err:?}"
        );
    }
    let (mechanism, _) = sasl_initial(
        require(tls(Some(CERT_HASH)))
            .step(AuthRequest::Sasl { mechanisms: &plus })
            .unwrap(),
    );
    assert_eq!(mechanism, SCRAM_SHA_256_PLUS);
}

#[test]
fn no_common_mechanism() {
    let err = login(tls(None))
        .step(AuthRequest::Sasl {
            mechanisms: &["SCRAM-SHA-1", "OAUTHBEARER"],
        })
        .unwrap_err();
    assert_eq!(err, AuthError::NoCommonMechanism);
    // Only PLUS offered, but no hash: nothing we can do.
    let err = login(tls(None))
        .step(AuthRequest::Sasl {
            mechanisms: &[SCRAM_SHA_256_PLUS],
        })
        .unwrap_err();
    assert_eq!(err, AuthError::NoCommonMechanism);
}

#[test]
fn unsupported_methods() {
    for code in [2, 6, 7, 8, 9, 42] {
        assert_eq!(
            login(tls(None))
                .step(AuthRequest::Unsupported { code })
                .unwrap_err(),
            AuthError::UnsupportedMethod { code }
        );
    }
}

/// Upstream after sending client-final to a server that holds the right secret; returns
/// the real server-final message.
fn before_server_final() -> (UpstreamAuth, Vec<u8>) {
    let mut server = ScramServer::new(secret(), Nonce::new("srv").unwrap(), None);
    let mut up = login(tls(None));
    let (mechanism, first) = sasl_initial(
        up.step(AuthRequest::Sasl {
            mechanisms: &[SCRAM_SHA_256],
        })
        .unwrap(),
    );
    let ServerAction::Continue(sf) = server
        .step(SaslClientMessage::Initial {
            mechanism,
            data: &first,
        })
        .unwrap()
    else {
        panic!()
    };
    let fin = sasl_response(up.step(AuthRequest::SaslContinue { data: &sf }).unwrap());
    let ServerAction::Final(server_final) = server
        .step(SaslClientMessage::Response { data: &fin })
        .unwrap()
    else {
        panic!()
    };
    (up, server_final)
}

#[test]
fn server_with_a_bad_signature_fails_mutual_auth() {
    let (mut up, mut server_final) = before_server_final();
    // Flip one base64 character of the signature.
    server_final[3] = if server_final[3] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        up.step(AuthRequest::SaslFinal {
            data: &server_final
        })
        .unwrap_err(),
        AuthError::MutualAuthFailed {
            method: AuthMethod::ScramSha256,
            reason: MutualAuthFailure::BadSignature
        }
    );
}

#[test]
fn server_that_does_not_know_the_password_fails_mutual_auth() {
    // An impostor that accepts anything: it cannot compute the right signature.
    let mut up = login(tls(None));
    up.step(AuthRequest::Sasl {
        mechanisms: &[SCRAM_SHA_256],
    })
    .unwrap();
    up.step(AuthRequest::SaslContinue {
        data: b"r=clientnonceXYZ,s=c2FsdA==,i=8",
    })
    .unwrap();
    let err = up
        .step(AuthRequest::SaslFinal {
            data: b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        })
        .unwrap_err();
    assert!(matches!(
        err,
        AuthError::MutualAuthFailed {
            reason: MutualAuthFailure::BadSignature,
            ..
        }
    ));
}

#[test]
fn server_that_skips_sasl_final_fails_mutual_auth() {
    let (mut up, _) = before_server_final();
    assert_eq!(
        up.step(AuthRequest::Ok).unwrap_err(),
        AuthError::MutualAuthFailed {
            method: AuthMethod::ScramSha256,
            reason: MutualAuthFailure::SkippedFinal
        }
    );
    // Also right after the client-first message.
    let mut up = login(tls(None));
    up.step(AuthRequest::Sasl {
        mechanisms: &[SCRAM_SHA_256],
    })
    .unwrap();
    assert!(matches!(
        up.step(AuthRequest::Ok).unwrap_err(),
        AuthError::MutualAuthFailed {
            reason: MutualAuthFailure::SkippedFinal,
            ..
        }
    ));
}

#[test]
fn server_error_attribute() {
    let (mut up, _) = before_server_final();
    assert_eq!(
        up.step(AuthRequest::SaslFinal {
            data: b"e=invalid-proof"
        })
        .unwrap_err(),
        AuthError::PeerRejected {
            method: AuthMethod::ScramSha256,
            error: ScramServerError::InvalidProof
        }
    );
    let (mut up, _) = before_server_final();
    let err = up
        .step(AuthRequest::SaslFinal {
            data: b"e=something the server made up",
        })
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::PeerRejected {
            method: AuthMethod::ScramSha256,
            error: ScramServerError::OtherError
        }
    );
    assert!(!err.to_string().contains("made up"));
}

fn after_client_first() -> UpstreamAuth {
    let mut up = login(tls(None));
    up.step(AuthRequest::Sasl {
        mechanisms: &[SCRAM_SHA_256],
    })
    .unwrap();
    up
}

#[test]
fn malformed_server_first_messages() {
    let nonce_mismatch = |e: &AuthError| {
        matches!(
            e,
            AuthError::NonceMismatch {
                message: ScramMessage::ServerFirst,
                ..
            }
        )
    };
    let malformed = |e: &AuthError| {
        matches!(
            e,
            AuthError::Malformed {
                message: ScramMessage::ServerFirst,
                ..
            }
        )
    };
    type Check<'a> = &'a dyn Fn(&AuthError) -> bool;
    let cases: &[(&[u8], Check<'_>)] = &[
        (b"r=othernonce123,s=c2FsdA==,i=8", &nonce_mismatch),
        (b"r=clientnonce,s=c2FsdA==,i=8", &nonce_mismatch),
        (b"r=client,s=c2FsdA==,i=8", &nonce_mismatch),
        (b"", &malformed),
        (b"r=clientnonceX", &malformed),
        (b"r=clientnonceX,s=c2FsdA==", &malformed),
        (b"r=clientnonceX,s=!!,i=8", &malformed),
        (b"r=clientnonceX,s=c2FsdA==,i=-1", &malformed),
        (b"r=clientnonceX,s=c2FsdA==,i=", &malformed),
        (b"r=clientnonceX,s=c2FsdA==,i=8,x=1", &malformed),
        (b"s=c2FsdA==,r=clientnonceX,i=8", &malformed),
        (b"r=clientnonce X,s=c2FsdA==,i=8", &malformed),
        (
            b"r=clientnonceX,s=c2FsdA==,i=99999999999999999999999",
            &malformed,
        ),
        (b"\xff", &malformed),
        (b"m=ext,r=clientnonceX,s=c2FsdA==,i=8", &|e| {
            matches!(e, AuthError::UnsupportedExtension { .. })
        }),
        (b"r=clientnonceX,s=c2FsdA==,i=0", &|e| {
            matches!(e, AuthError::IterationsOutOfRange { iterations: 0, .. })
        }),
        (b"r=clientnonceX,s=c2FsdA==,i=4294967296", &|e| {
            matches!(e, AuthError::IterationsOutOfRange { .. })
        }),
    ];
    for (data, expected) in cases {
        let err = after_client_first()
            .step(AuthRequest::SaslContinue { data })
            .unwrap_err();
        assert!(
            expected(&err),
            "{:?} -> {err:?}",
            String::from_utf8_lossy(data)
        );
    }
}

#[test]
fn iteration_count_is_capped() {
    let mut up = login(tls(None)).max_iterations(NonZeroU32::new(4096).unwrap());
    up.step(AuthRequest::Sasl {
        mechanisms: &[SCRAM_SHA_256],
    })
    .unwrap();
    assert_eq!(
        up.step(AuthRequest::SaslContinue {
            data: b"r=clientnonceX,s=c2FsdA==,i=4097"
        })
        .unwrap_err(),
        AuthError::IterationsOutOfRange {
            method: AuthMethod::ScramSha256,
            iterations: 4097,
            max: 4096
        }
    );
}

#[test]
fn malformed_server_final_messages() {
    for data in [&b""[..], b"v=", b"v=!!", b"x=abc", b"v=AAAA,x=1", b"\xff"] {
        let (mut up, _) = before_server_final();
        let err = up.step(AuthRequest::SaslFinal { data }).unwrap_err();
        assert!(
            matches!(
                err,
                AuthError::Malformed {
                    message: ScramMessage::ServerFinal,
                    ..
                }
            ) || matches!(
                err,
                AuthError::MutualAuthFailed {
                    reason: MutualAuthFailure::BadSignature,
                    ..
                }
            ),
            "{:?} -> {err:?}",
            String::from_utf8_lossy(data)
        );
    }
}

#[test]
fn requests_out_of_order() {
    let cases: Vec<(UpstreamAuth, AuthRequest<'_>)> = vec![
        (login(tls(None)), AuthRequest::SaslContinue { data: b"r=x" }),
        (login(tls(None)), AuthRequest::SaslFinal { data: b"v=x" }),
        (
            after_client_first(),
            AuthRequest::SaslFinal { data: b"v=x" },
        ),
        (after_client_first(), AuthRequest::CleartextPassword),
        (
            before_server_final().0,
            AuthRequest::SaslContinue { data: b"r=x" },
        ),
        (
            before_server_final().0,
            AuthRequest::Md5Password { salt: [0; 4] },
        ),
    ];
    for (mut up, request) in cases {
        assert!(
            matches!(up.step(request), Err(AuthError::UnexpectedMessage { .. })),
            "{request:?}"
        );
    }
    // A second request after cleartext was sent.
    let mut up = login(tls(None));
    up.step(AuthRequest::CleartextPassword).unwrap();
    assert!(matches!(
        up.step(AuthRequest::CleartextPassword),
        Err(AuthError::UnexpectedMessage { .. })
    ));
    // Trust: Ok straight away is a finished login, and nothing may follow.
    let mut up = login(tls(None));
    assert!(matches!(
        up.step(AuthRequest::Ok).unwrap(),
        UpstreamAction::Done
    ));
    assert!(matches!(
        up.step(AuthRequest::Ok),
        Err(AuthError::UnexpectedMessage { .. })
    ));
}

#[test]
fn debug_never_shows_the_secret() {
    let mut up = login(tls(None));
    let action = up.step(AuthRequest::CleartextPassword).unwrap();
    let debug = format!("{up:?} {action:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("iam_user"), "{debug}");
    assert!(debug.contains("** redacted **"), "{debug}");
}

// Certificates made with `openssl req -x509`, DER in base64.
const CERT_ECDSA_SHA384: &str = "MIIBbDCCAROgAwIBAgIUHj/lzhXizElhfODsICtUAsx/PRMwCgYIKoZIzj0EAwMwDDEKMAgGA1UEAwwBYTAeFw0yNjExMjUyMDUzNDBaFw0yNjExMjYyMDUzNDBaMAwxCjAIBgNVBAMMAWEwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAT1K9sUAIyX5+gXyBY92g3JZ0X38PS1LeaCA8Z/lc9657A0qNkCoYSi1WQIKIKyRY4gItCohflikkFv5cR4Kdulo1MwUTAdBgNVHQ4EFgQUTJ26zYEDw+vkGx9nwnKL/KJbo+wwHwYDVR0jBBgwFoAUTJ26zYEDw+vkGx9nwnKL/KJbo+wwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAwNHADBEAiAUrQIHXn6H693AvATzqs7sEPjgpbi7X4OVp39BiCdBXAIgO8yDgMumzhD7j4MPVYuZ7GbeMLZdJiQ1axLl3Qf/Dd8=";
const CERT_ECDSA_SHA1: &str = "MIIBbDCCARKgAwIBAgIUFYCmTDSy3+XbOOHaF6udsOX3n0gwCQYHKoZIzj0EATAMMQowCAYDVQQDDAFiMB4XDTI2MTEyNTIwNTM0MFoXDTI2MTEyNjIwNTM0MFowDDEKMAgGA1UEAwwBYjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABESIiA792qSqAd+XYlvHez6CfFmWn1SE4VecY1LN72ji9HGjP0TIZ+EhAMPELX5XoLB/0t7obJch4fJwbwR+VSijUzBRMB0GA1UdDgQWBBTmPi3+CqHiACOZ9eWwPesQXfz0BDAfBgNVHSMEGDAWgBTmPi3+CqHiACOZ9eWwPesQXfz0BDAPBgNVHRMBAf8EBTADAQH/MAkGByqGSM49BAEDSQAwRgIhAMbdxVE1gyRTdpDS9r47oIt3KRn04Q4WsrUf9CHrR9dHAiEAoaX269YWEPqmsYRRaOlcj28hZcTQCnIzVwy/2jp44j8=";
const CERT_ED25519: &str = "MIIBLDCB36ADAgECAhREoeB2w5Q+i2ZEoiaRxh4WCsd6UjAFBgMrZXAwDDEKMAgGA1UEAwwBYzAeFw0yNjExMjUyMDUzNDBaFw0yNjExMjYyMDUzNDBaMAwxCjAIBgNVBAMMAWMwKjAFBgMrZXADIQAOpR+hF8zzlYsUrC8/3ryOTHXzOLl7+gjEwxsAQgyl9qNTMFEwHQYDVR0OBBYEFFeCpT/RwyTKf0Zzx+yJtE3Ejm7yMB8GA1UdIwQYMBaAFFeCpT/RwyTKf0Zzx+yJtE3Ejm7yMA8GA1UdEwEB/wQFMAMBAf8wBQYDK2VwA0EA4YgjzNAtG/z1MvCKkNWAxqQeimZy9DS45TWAU6u/sVF1JwAiHp8tf28hn81zcyKdPDCmMFnTwZ+mjr92YT3ECw==";
const CERT_RSA_PSS_SHA512: &str = "MIICXDCCAZGgAwIBAgIUUGvYQ46nMs5gHdcGCRhVvMH+F80wQQYJKoZIhvcNAQEKMDSgDzANBglghkgBZQMEAgMFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgMFAKIDAgEgMAwxCjAIBgNVBAMMAWQwHhcNMjYxMTI1MjA1MzQwWhcNMjYxMTI2MjA1MzQwWjAMMQowCAYDVQQDDAFkMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDI0ZDfRwq2rgCcsitPznTBt80F4EwmG9HazPcyTZu1GHbjpeCJuKUOOCBRb/wCCzw/vOmuXhWNVrTj3YniVRKbxPvPUHxRUSaGbqYuWfFpIglbF1vESyYZvrU7J6NVz5PqgZkIyYT96kszSusRj2U4sWt1l8QJXeQAY+uHNiTDwQIDAQABo1MwUTAdBgNVHQ4EFgQUwVaA+j+F6S8nJGsA+S9ZuwpoiPkwHwYDVR0jBBgwFoAUwVaA+j+F6S8nJGsA+S9ZuwpoiPkwDwYDVR0TAQH/BAUwAwEB/zBBBgkqhkiG9w0BAQowNKAPMA0GCWCGSAFlAwQCAwUAoRwwGgYJKoZIhvcNAQEIMA0GCWCGSAFlAwQCAwUAogMCASADgYEAQIvfkYvv7UB/zsQuac0TRaDFi7HP1vPwJ8CP7HSsWXc/oxyEHK82nDJBEjSPofon6rzuddCNKN0rkkuPNzY9DY0O5n0+A9gY01qZ0XfVACTnsJCe93rt7qGMmuroiNdyQGtH0EV4apr3jBG7mS949kBXl4iuGsQkLdOPHohxfKE=";
const CERT_ECDSA_SHA256: &str = "MIIBbDCCAROgAwIBAgIUaKohysbV1pBT5kyHcm3Cyy2HfcwwCgYIKoZIzj0EAwIwDDEKMAgGA1UEAwwBZTAeFw0yNjExMjUyMDUzNDBaFw0yNjExMjYyMDUzNDBaMAwxCjAIBgNVBAMMAWUwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQdU5HrDJoBmm0YtWES9h5EF1uthE5Df3JUUXEz2vUUtEhehOZh1aCsJVpISYsI6a8iPKME+WiKpcQ144vaEzBDo1MwUTAdBgNVHQ4EFgQUSNtHhE62BMEgt3nc5mLGis4zCxowHwYDVR0jBBgwFoAUSNtHhE62BMEgt3nc5mLGis4zCxowDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBXdH3Zx9yZ5gz8hw9xf7cc+B62i/QManwUxCWssmBJpQIgSGJq/d+kU+gTfkIK1ujvWi6gnoNUIu5WU9dYmxftB58=";

fn der(b64: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn tls_server_end_point_uses_the_signature_hash() {
    // Expected values from `openssl dgst -sha256/-sha384/-sha512` of each DER file.
    let cases = [
        (
            CERT_ECDSA_SHA256,
            "0ee3efd06b4f6ed744e9dcdb3af4bddf45d0796ead9f1cd30f340ad1b8837fae",
        ),
        // SHA-1 signatures are hashed with SHA-256 (RFC 5929 section 4.1).
        (
            CERT_ECDSA_SHA1,
            "31ab221595aca53396976c2c560e6fdddb64886bdb7af829bcf05af83c285104",
        ),
        (
            CERT_ECDSA_SHA384,
            "4cdb4cd1e755a6f5b764ff21ff9cab58a10e894c158e68359e8a2c18028b330ae3284913c257a8e4dce3e1ebe53a8c42",
        ),
        (
            CERT_RSA_PSS_SHA512,
            "85f36f1c2aa593f1704b2f7a3397a24498e977bb44f433161bdf0cf04a9be0ae16203a78fd3b658b5e2fe04b7127866d69d7a439af2d1ce99940b08f466ca631",
        ),
    ];
    for (cert, expected) in cases {
        let binding = TlsServerEndPoint::from_certificate_der(&der(cert)).unwrap();
        assert_eq!(hex(binding.as_bytes()), expected);
    }
    assert!(matches!(
        TlsServerEndPoint::from_certificate_der(&der(CERT_ED25519)),
        Err(AuthError::CertificateHash { .. })
    ));
    // Truncated certificates are errors, never panics.
    let full = der(CERT_ECDSA_SHA256);
    for len in 0..full.len() {
        assert!(
            TlsServerEndPoint::from_certificate_der(&full[..len]).is_err(),
            "{len}"
        );
    }
}
