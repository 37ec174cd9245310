//! Frontend messages, byte for byte.

use super::*;

const SSL_REQUEST: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
const GSSENC_REQUEST: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];
const CANCEL_REQUEST: &[u8] = &[
    0, 0, 0, 16, // length
    0x04, 0xd2, 0x16, 0x2e, // 1234.5678
    0, 0, 0x30, 0x39, // process id 12345
    0xde, 0xad, 0xbe, 0xef, // secret key
];
const STARTUP: &[u8] = b"\0\0\0\x24\0\x03\0\0user\0alice\0database\0orders\0\0";

#[test]
fn ssl_and_gssenc_requests() {
    let startup = FrontendPhase::Startup;
    assert_eq!(
        frontend(startup, SSL_REQUEST),
        Ok(Some(FrontendMessage::SslRequest))
    );
    assert_eq!(
        frontend(startup, GSSENC_REQUEST),
        Ok(Some(FrontendMessage::GssEncRequest))
    );
    assert_eq!(encode_frontend(FrontendMessage::SslRequest), SSL_REQUEST);
    assert_eq!(
        encode_frontend(FrontendMessage::GssEncRequest),
        GSSENC_REQUEST
    );
    assert_needs_more(startup, SSL_REQUEST);
    // An SSLRequest with a body is malformed.
    let long = [&[0, 0, 0, 9][..], &SSL_REQUEST[4..], &[0]].concat();
    assert_eq!(
        frontend(startup, &long),
        Err(CodecError::TrailingBytes {
            message: "SSLRequest",
            extra: 1
        })
    );
}

#[test]
fn cancel_request() {
    let expected = FrontendMessage::CancelRequest(CancelRequest {
        process_id: 12345,
        secret_key: CancelKey::from_i32(0xdead_beef_u32 as i32),
    });
    assert_eq!(
        frontend(FrontendPhase::Startup, CANCEL_REQUEST),
        Ok(Some(expected.clone()))
    );
    assert_eq!(encode_frontend(expected), CANCEL_REQUEST);

    // Protocol 3.2: a 32-byte key.
    let mut long_key = vec![0, 0, 0, 44, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 7];
    long_key.extend_from_slice(&[0xab; 32]);
    let Ok(Some(FrontendMessage::CancelRequest(cancel))) =
        frontend(FrontendPhase::Startup, &long_key)
    else {
        panic!("long key not decoded");
    };
    assert_eq!(cancel.secret_key.expose(), &[0xab; 32]);

    let short_key = [0, 0, 0, 15, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 7, 1, 2, 3];
    assert_eq!(
        frontend(FrontendPhase::Startup, &short_key),
        Err(CodecError::InvalidCancelKeyLength { len: 3 })
    );
}

#[test]
fn startup_message() {
    let Ok(Some(FrontendMessage::Startup(startup))) = frontend(FrontendPhase::Startup, STARTUP)
    else {
        panic!("not decoded");
    };
    assert_eq!(startup.version(), ProtocolVersion::V3_0);
    assert_eq!(startup.user(), "alice");
    assert_eq!(startup.database(), Some("orders"));
    assert_eq!(
        startup.parameters().collect::<Vec<_>>(),
        [("user", "alice"), ("database", "orders")]
    );
    assert_eq!(encode_frontend(startup), STARTUP);
    assert_needs_more(FrontendPhase::Startup, STARTUP);
}

#[test]
fn startup_keeps_newer_minor_version_and_collects_pq_options() {
    let bytes = b"\0\0\0\x29\0\x03\0\x02_pq_.foo\0on\0user\0bob\0_pq_.bar\0x\0\0";
    let Ok(Some(FrontendMessage::Startup(startup))) = frontend(FrontendPhase::Startup, bytes)
    else {
        panic!("not decoded");
    };
    assert_eq!(startup.version(), ProtocolVersion::new(3, 2));
    assert_eq!(startup.version().code(), 196_610);
    assert_eq!(
        startup.protocol_options().collect::<Vec<_>>(),
        [("_pq_.foo", "on"), ("_pq_.bar", "x")]
    );
    assert_eq!(encode_frontend(startup), bytes);
}

#[test]
fn startup_rejections() {
    let startup = FrontendPhase::Startup;
    // Protocol 2.0 and 4.0.
    assert_eq!(
        frontend(startup, b"\0\0\0\x12\0\x02\0\0user\0bob\0\0"),
        Err(CodecError::UnsupportedProtocolVersion { major: 2, minor: 0 })
    );
    assert_eq!(
        frontend(startup, b"\0\0\0\x12\0\x04\0\x01user\0bob\0\0"),
        Err(CodecError::UnsupportedProtocolVersion { major: 4, minor: 1 })
    );
    // 1234.5681 is not a request code.
    assert_eq!(
        frontend(startup, &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x31]),
        Err(CodecError::UnknownRequestCode { code: 80_877_105 })
    );
    // No user, and an empty user.
    assert_eq!(
        frontend(startup, b"\0\0\0\x15\0\x03\0\0database\0db\0\0"),
        Err(CodecError::MissingUser)
    );
    assert_eq!(
        frontend(startup, b"\0\0\0\x0f\0\x03\0\0user\0\0\0"),
        Err(CodecError::MissingUser)
    );
    // The same key twice.
    assert_eq!(
        frontend(startup, b"\0\0\0\x17\0\x03\0\0user\0a\0user\0b\0\0"),
        Err(CodecError::DuplicateParameter {
            name: "user".into()
        })
    );
    // No terminator, and bytes after it.
    assert_eq!(
        frontend(startup, b"\0\0\0\x11\0\x03\0\0user\0bob\0"),
        Err(CodecError::Truncated {
            message: "StartupMessage",
            field: "parameter name"
        })
    );
    assert_eq!(
        frontend(startup, b"\0\0\0\x13\0\x03\0\0user\0bob\0\0x"),
        Err(CodecError::TrailingBytes {
            message: "StartupMessage",
            extra: 1
        })
    );
    // A name without its value.
    assert_eq!(
        frontend(startup, b"\0\0\0\x0d\0\x03\0\0user\0"),
        Err(CodecError::Truncated {
            message: "StartupMessage",
            field: "parameter value"
        })
    );
    // Not UTF-8.
    assert_eq!(
        frontend(startup, b"\0\0\0\x12\0\x03\0\0user\0b\xffb\0\0"),
        Err(CodecError::InvalidUtf8 {
            message: "StartupMessage",
            field: "parameter value"
        })
    );
}

#[test]
fn startup_builder() {
    let mut startup = StartupMessage::new("alice")
        .unwrap()
        .with("database", "db")
        .unwrap();
    assert_eq!(
        startup.set("user", "IAM:alice"),
        Ok(Some("alice".to_owned()))
    );
    assert_eq!(startup.user(), "IAM:alice");
    assert_eq!(startup.set("user", ""), Err(CodecError::MissingUser));
    assert_eq!(startup.remove("user"), Err(CodecError::MissingUser));
    assert_eq!(startup.remove("database"), Ok(Some("db".to_owned())));
    assert_eq!(startup.remove("database"), Ok(None));
    assert!(matches!(
        startup.set("", "x"),
        Err(CodecError::EmptyName { .. })
    ));
    assert!(matches!(
        startup.set("a\0b", "x"),
        Err(CodecError::NulInString { .. })
    ));
    assert!(matches!(
        startup.set("a", "x\0"),
        Err(CodecError::NulInString { .. })
    ));
    assert_eq!(
        startup.set_version(ProtocolVersion::new(2, 0)),
        Err(CodecError::UnsupportedProtocolVersion { major: 2, minor: 0 })
    );
    assert_eq!(StartupMessage::new("").err(), Some(CodecError::MissingUser));
}

#[test]
fn startup_debug_hides_password_only() {
    let startup = StartupMessage::new("alice")
        .and_then(|s| s.with("password", "hunter2"))
        .and_then(|s| s.with("application_name", "psql"))
        .unwrap();
    let debug = format!("{startup:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("\"password\": ** redacted **"), "{debug}");
    assert!(debug.contains("\"user\": \"alice\""), "{debug}");
    assert!(debug.contains("\"application_name\": \"psql\""), "{debug}");
}

#[test]
fn password_message() {
    let bytes = b"p\0\0\0\x0chunter2\0";
    let expected = FrontendMessage::Password(PasswordMessage {
        password: Secret::new(&b"hunter2"[..]),
    });
    assert_eq!(frontend(AUTH_PASSWORD, bytes), Ok(Some(expected.clone())));
    assert_eq!(encode_frontend(expected.clone()), bytes);
    assert_needs_more(AUTH_PASSWORD, bytes);
    assert!(!format!("{expected:?}").contains("hunter2"));
    assert!(format!("{expected:?}").contains("** redacted **"));

    assert_eq!(
        frontend(AUTH_PASSWORD, b"p\0\0\0\x0chunter2x"),
        Err(CodecError::Truncated {
            message: "PasswordMessage",
            field: "password"
        })
    );
    assert_eq!(
        frontend(AUTH_PASSWORD, b"p\0\0\0\x0chunt\0r2\0"),
        Err(CodecError::TrailingBytes {
            message: "PasswordMessage",
            extra: 3
        })
    );
    let mut buf = BytesMut::from(&b"keep"[..]);
    let bad = FrontendMessage::Password(PasswordMessage {
        password: Secret::new(&b"a\0b"[..]),
    });
    assert!(matches!(
        bad.encode(&mut buf),
        Err(CodecError::NulInString { .. })
    ));
    assert_eq!(&buf[..], b"keep", "a failed encode leaves the buffer alone");
}

#[test]
fn sasl_initial_response() {
    let bytes = b"p\0\0\0\x28SCRAM-SHA-256\0\0\0\0\x12n,,n=,r=abcdefghij";
    let expected = FrontendMessage::SaslInitialResponse(SaslInitialResponse {
        mechanism: "SCRAM-SHA-256".into(),
        data: Some(Secret::new(&b"n,,n=,r=abcdefghij"[..])),
    });
    assert_eq!(
        frontend(AUTH_SASL_INITIAL, bytes),
        Ok(Some(expected.clone()))
    );
    assert_eq!(encode_frontend(expected), bytes);
    assert_needs_more(AUTH_SASL_INITIAL, bytes);

    // Length -1: no initial response, which is not the same as an empty one.
    let none = b"p\0\0\0\x16SCRAM-SHA-256\0\xff\xff\xff\xff";
    let empty = b"p\0\0\0\x16SCRAM-SHA-256\0\0\0\0\0";
    let decoded_none = frontend(AUTH_SASL_INITIAL, none);
    let decoded_empty = frontend(AUTH_SASL_INITIAL, empty);
    assert!(
        matches!(&decoded_none, Ok(Some(FrontendMessage::SaslInitialResponse(r))) if r.data.is_none())
    );
    assert!(
        matches!(&decoded_empty, Ok(Some(FrontendMessage::SaslInitialResponse(r))) if r.data == Some(Secret::default()))
    );

    let negative = b"p\0\0\0\x16SCRAM-SHA-256\0\xff\xff\xff\xfe";
    assert_eq!(
        frontend(AUTH_SASL_INITIAL, negative),
        Err(CodecError::InvalidValue {
            message: "SASLInitialResponse",
            field: "response length",
            value: -2
        })
    );
    let too_long = b"p\0\0\0\x17SCRAM-SHA-256\0\0\0\0\x02x";
    assert_eq!(
        frontend(AUTH_SASL_INITIAL, too_long),
        Err(CodecError::Truncated {
            message: "SASLInitialResponse",
            field: "initial response"
        })
    );
    let too_short = b"p\0\0\0\x18SCRAM-SHA-256\0\0\0\0\x01xy";
    assert_eq!(
        frontend(AUTH_SASL_INITIAL, too_short),
        Err(CodecError::TrailingBytes {
            message: "SASLInitialResponse",
            extra: 1
        })
    );
}

#[test]
fn sasl_response_and_terminate() {
    let bytes = b"p\0\0\0\x0bc=biws!";
    let expected = FrontendMessage::SaslResponse(SaslResponse {
        data: Secret::new(&b"c=biws!"[..]),
    });
    assert_eq!(frontend(AUTH_SASL, bytes), Ok(Some(expected.clone())));
    assert_eq!(encode_frontend(expected), bytes);

    let terminate = b"X\0\0\0\x04";
    for phase in [AUTH_PASSWORD, AUTH_SASL_INITIAL, AUTH_SASL] {
        assert_eq!(
            frontend(phase, terminate),
            Ok(Some(FrontendMessage::Terminate))
        );
        assert_eq!(
            frontend(phase, b"X\0\0\0\x05!"),
            Err(CodecError::TrailingBytes {
                message: "Terminate",
                extra: 1
            })
        );
    }
    assert_eq!(encode_frontend(FrontendMessage::Terminate), terminate);
}

#[test]
fn unexpected_tag_during_authentication() {
    assert_eq!(
        frontend(AUTH_PASSWORD, b"Q\0\0\0\x0dselect 1\0"),
        Err(CodecError::UnexpectedTag {
            tag: b'Q',
            expected: "PasswordMessage"
        })
    );
}
