//! Property tests: `decode(encode(m)) == m` for every message kind, and arbitrary bytes never
//! make a decoder panic, in any phase.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use iamwire_postgres::codec::{
    AuthResponseKind, Authentication, BackendDecoder, BackendKeyData, BackendMessage, BackendPhase,
    CancelKey, CancelRequest, ErrorFields, FrontendDecoder, FrontendMessage, FrontendPhase, Limits,
    NegotiateProtocolVersion, ParameterStatus, PasswordMessage, ProtocolVersion,
    SaslInitialResponse, SaslResponse, Secret, Severity, StartupMessage, TransactionStatus,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

/// Text without NUL bytes (what C strings on the wire can carry).
fn text() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,24}"
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_.][a-zA-Z0-9_.]{0,15}"
}

fn secret() -> impl Strategy<Value = Secret> {
    vec(any::<u8>(), 0..96).prop_map(Secret::new)
}

fn cstr_secret() -> impl Strategy<Value = Secret> {
    vec(1u8..=255, 0..96).prop_map(Secret::new)
}

fn cancel_key() -> impl Strategy<Value = CancelKey> {
    vec(any::<u8>(), 4..=256).prop_map(|k| CancelKey::new(k).unwrap())
}

fn startup() -> impl Strategy<Value = StartupMessage> {
    (
        "[^\u{0}]{1,16}",
        any::<u16>(),
        btree_map(name(), text(), 0..8),
    )
        .prop_map(|(user, minor, parameters)| {
            let mut message = StartupMessage::new(user).unwrap();
            message.set_version(ProtocolVersion::new(3, minor)).unwrap();
            for (name, value) in parameters.into_iter().filter(|(n, _)| n != "user") {
                message.set(&name, value).unwrap();
            }
            message
        })
}

fn frontend_message() -> impl Strategy<Value = (FrontendPhase, FrontendMessage)> {
    use AuthResponseKind as K;
    use FrontendPhase::{Authentication as Auth, Startup};
    prop_oneof![
        Just((Startup, FrontendMessage::SslRequest)),
        Just((Startup, FrontendMessage::GssEncRequest)),
        (any::<i32>(), cancel_key()).prop_map(|(process_id, secret_key)| {
            (
                Startup,
                CancelRequest {
                    process_id,
                    secret_key,
                }
                .into(),
            )
        }),
        startup().prop_map(|s| (Startup, s.into())),
        cstr_secret().prop_map(|password| (Auth(K::Password), PasswordMessage { password }.into())),
        (text(), proptest::option::of(secret())).prop_map(|(mechanism, data)| {
            (
                Auth(K::SaslInitialResponse),
                SaslInitialResponse { mechanism, data }.into(),
            )
        }),
        secret().prop_map(|data| (Auth(K::SaslResponse), SaslResponse { data }.into())),
        prop_oneof![
            Just(K::Password),
            Just(K::SaslInitialResponse),
            Just(K::SaslResponse)
        ]
        .prop_map(|k| (Auth(k), FrontendMessage::Terminate)),
    ]
}

fn severity() -> impl Strategy<Value = Severity> {
    prop_oneof![
        Just(Severity::Error),
        Just(Severity::Fatal),
        Just(Severity::Panic),
        Just(Severity::Warning),
        Just(Severity::Notice),
        Just(Severity::Debug),
        Just(Severity::Info),
        Just(Severity::Log),
    ]
}

fn error_fields() -> impl Strategy<Value = ErrorFields> {
    let optional = vec(proptest::option::of(text()), 15);
    let unknown = btree_map(
        any::<u8>().prop_filter("unknown field type", |b| {
            *b != 0 && !b"SVCMDHPpqWstcdnFLR".contains(b)
        }),
        text(),
        0..3,
    );
    (
        severity(),
        "[0-9A-Z]{5}",
        text(),
        optional,
        unknown,
        any::<bool>(),
    )
        .prop_map(|(severity, code, message, optional, unknown, localized)| {
            let mut f = if localized {
                ErrorFields::with_severity("FEHLER", code, message)
            } else {
                ErrorFields::new(severity, code, message)
            };
            let mut o = optional.into_iter();
            let mut next = || o.next().flatten();
            f.detail = next();
            f.hint = next();
            f.position = next();
            f.internal_position = next();
            f.internal_query = next();
            f.context = next();
            f.schema = next();
            f.table = next();
            f.column = next();
            f.data_type = next();
            f.constraint = next();
            f.file = next();
            f.line = next();
            f.routine = next();
            if localized {
                f.severity_nonlocalized = next();
            }
            f.unknown = unknown.into_iter().collect();
            f
        })
}

fn authentication() -> impl Strategy<Value = Authentication> {
    prop_oneof![
        Just(Authentication::Ok),
        Just(Authentication::CleartextPassword),
        any::<[u8; 4]>().prop_map(|salt| Authentication::Md5Password { salt }),
        vec("[^\u{0}]{1,20}", 0..5).prop_map(|mechanisms| Authentication::Sasl { mechanisms }),
        secret().prop_map(Authentication::SaslContinue),
        secret().prop_map(Authentication::SaslFinal),
        (
            any::<i32>().prop_filter("opaque code", |c| ![0, 3, 5, 10, 11, 12].contains(c)),
            vec(any::<u8>(), 0..32)
        )
            .prop_map(|(code, data)| Authentication::Other {
                code,
                data: Bytes::from(data)
            }),
    ]
}

fn backend_message() -> impl Strategy<Value = (BackendPhase, BackendMessage)> {
    use BackendPhase::{GssEncResponse, Messages, SslResponse};
    let status = prop_oneof![
        Just(TransactionStatus::Idle),
        Just(TransactionStatus::InTransaction),
        Just(TransactionStatus::Failed),
    ];
    prop_oneof![
        any::<bool>().prop_map(|accepted| (SslResponse, BackendMessage::SslResponse { accepted })),
        any::<bool>()
            .prop_map(|accepted| (GssEncResponse, BackendMessage::GssEncResponse { accepted })),
        authentication().prop_map(|a| (Messages, a.into())),
        (text(), text())
            .prop_map(|(name, value)| (Messages, ParameterStatus { name, value }.into())),
        (any::<i32>(), cancel_key()).prop_map(|(process_id, secret_key)| {
            (
                Messages,
                BackendKeyData {
                    process_id,
                    secret_key,
                }
                .into(),
            )
        }),
        status.prop_map(|s| (Messages, BackendMessage::ReadyForQuery(s))),
        error_fields().prop_map(|f| (Messages, BackendMessage::ErrorResponse(f))),
        error_fields().prop_map(|f| (SslResponse, BackendMessage::ErrorResponse(f))),
        error_fields().prop_map(|f| (Messages, BackendMessage::NoticeResponse(f))),
        (any::<u16>(), vec(text(), 0..5)).prop_map(|(minor, unrecognized_options)| {
            (
                Messages,
                NegotiateProtocolVersion {
                    newest: ProtocolVersion::new(3, minor),
                    unrecognized_options,
                }
                .into(),
            )
        }),
        (
            any::<u8>().prop_filter("opaque tag", |t| !b"RSKZENv".contains(t)),
            vec(any::<u8>(), 0..64)
        )
            .prop_map(|(tag, body)| (
                Messages,
                BackendMessage::Other {
                    tag,
                    body: body.into()
                }
            )),
    ]
}

const FRONTEND_PHASES: [FrontendPhase; 4] = [
    FrontendPhase::Startup,
    FrontendPhase::Authentication(AuthResponseKind::Password),
    FrontendPhase::Authentication(AuthResponseKind::SaslInitialResponse),
    FrontendPhase::Authentication(AuthResponseKind::SaslResponse),
];
const BACKEND_PHASES: [BackendPhase; 3] = [
    BackendPhase::Messages,
    BackendPhase::SslResponse,
    BackendPhase::GssEncResponse,
];

fn tiny_limits(n: usize) -> Limits {
    let mut limits = Limits::default();
    limits.max_startup_len = 8 + n;
    limits.max_message_len = 4 + n;
    limits.max_parameters = n % 4;
    limits.max_error_fields = n % 5;
    limits.max_sasl_mechanisms = n % 3;
    limits
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn frontend_round_trip((phase, message) in frontend_message(), split in any::<prop::sample::Index>()) {
        let mut buf = BytesMut::new();
        message.encode(&mut buf).unwrap();
        let bytes = buf.clone();
        let mut decoder = FrontendDecoder::default();
        decoder.set_phase(phase);
        // Any proper prefix needs more bytes and consumes nothing.
        let mut prefix = BytesMut::from(&bytes[..split.index(bytes.len())]);
        let before = prefix.clone();
        prop_assert_eq!(decoder.decode(&mut prefix), Ok(None));
        prop_assert_eq!(prefix, before);
        prop_assert_eq!(decoder.decode(&mut buf), Ok(Some(message)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn backend_round_trip((phase, message) in backend_message(), split in any::<prop::sample::Index>()) {
        let mut buf = BytesMut::new();
        message.encode(&mut buf).unwrap();
        let bytes = buf.clone();
        let mut decoder = BackendDecoder::default();
        decoder.set_phase(phase);
        let mut prefix = BytesMut::from(&bytes[..split.index(bytes.len())]);
        let before = prefix.clone();
        prop_assert_eq!(decoder.decode(&mut prefix), Ok(None));
        prop_assert_eq!(prefix, before);
        prop_assert_eq!(decoder.decode(&mut buf), Ok(Some(message)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..512)) {
        // The fuzz entry points decode in every phase and check decode(encode(m)) == m.
        iamwire_postgres::fuzzing::frontend(&data);
        iamwire_postgres::fuzzing::backend(&data);
    }

    #[test]
    fn arbitrary_bytes_with_tight_limits(data in vec(any::<u8>(), 0..256), n in 0usize..64) {
        for phase in FRONTEND_PHASES {
            let mut decoder = FrontendDecoder::new(tiny_limits(n));
            decoder.set_phase(phase);
            let mut buf = BytesMut::from(&data[..]);
            loop {
                let before = buf.clone();
                match decoder.decode(&mut buf) {
                    Ok(Some(_)) => prop_assert!(buf.len() < before.len()),
                    Ok(None) => { prop_assert_eq!(&buf, &before); break }
                    Err(_) => break,
                }
            }
        }
        for phase in BACKEND_PHASES {
            let mut decoder = BackendDecoder::new(tiny_limits(n));
            decoder.set_phase(phase);
            let mut buf = BytesMut::from(&data[..]);
            loop {
                let before = buf.clone();
                match decoder.decode(&mut buf) {
                    Ok(Some(_)) => prop_assert!(buf.len() < before.len()),
                    Ok(None) => { prop_assert_eq!(&buf, &before); break }
                    Err(_) => break,
                }
            }
        }
    }

    #[test]
    fn mutated_handshake_messages_never_panic(
        (phase, message) in frontend_message(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut buf = BytesMut::new();
        message.encode(&mut buf).unwrap();
        for (at, byte) in flips {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        let _ = phase;
        iamwire_postgres::fuzzing::frontend(&buf);
        iamwire_postgres::fuzzing::backend(&buf);
    }
}

/// The fuzz seed corpora decode without a finding (and are not empty).
#[test]
fn seed_corpora_pass_the_fuzz_entry_points() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (dir, entry) in [
        (
            "pg_frontend",
            iamwire_postgres::fuzzing::frontend as fn(&[u8]),
        ),
        ("pg_backend", iamwire_postgres::fuzzing::backend),
    ] {
        let mut seeds = 0;
        for file in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = file.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seed-")
            {
                entry(&std::fs::read(&path).unwrap());
                seeds += 1;
            }
        }
        assert!((4..=8).contains(&seeds), "{dir}: {seeds} seeds");
    }
}
