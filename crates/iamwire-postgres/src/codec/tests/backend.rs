//! Backend messages, byte for byte.

use bytes::Bytes;

use super::*;

const MESSAGES: BackendPhase = BackendPhase::Messages;

fn auth(bytes: &[u8]) -> Result<Option<BackendMessage>, CodecError> {
    backend(MESSAGES, bytes)
}

/// Decodes and re-encodes `bytes`, which must come back identical.
fn assert_round_trip(phase: BackendPhase, bytes: &[u8], expected: &BackendMessage) {
    assert_eq!(backend(phase, bytes).as_ref(), Ok(&Some(expected.clone())));
    assert_eq!(encode_backend(expected.clone()), bytes);
}

#[test]
fn authentication_requests() {
    let cases: [(&[u8], Authentication); 6] = [
        (b"R\0\0\0\x08\0\0\0\0", Authentication::Ok),
        (b"R\0\0\0\x08\0\0\0\x03", Authentication::CleartextPassword),
        (
            b"R\0\0\0\x0c\0\0\0\x05\x01\x02\x03\x04",
            Authentication::Md5Password { salt: [1, 2, 3, 4] },
        ),
        (
            b"R\0\0\0\x2a\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0",
            Authentication::Sasl {
                mechanisms: vec!["SCRAM-SHA-256-PLUS".into(), "SCRAM-SHA-256".into()],
            },
        ),
        (
            b"R\0\0\0\x0d\0\0\0\x0br=abc",
            Authentication::SaslContinue(Secret::new(&b"r=abc"[..])),
        ),
        (
            b"R\0\0\0\x0d\0\0\0\x0cv=xyz",
            Authentication::SaslFinal(Secret::new(&b"v=xyz"[..])),
        ),
    ];
    for (bytes, expected) in cases {
        assert_round_trip(MESSAGES, bytes, &BackendMessage::Authentication(expected));
    }
    // GSS (7) is kept opaque.
    let gss = BackendMessage::Authentication(Authentication::Other {
        code: 7,
        data: Bytes::new(),
    });
    assert_round_trip(MESSAGES, b"R\0\0\0\x08\0\0\0\x07", &gss);
}

#[test]
fn authentication_rejections() {
    assert_eq!(
        auth(b"R\0\0\0\x09\0\0\0\0!"),
        Err(CodecError::TrailingBytes {
            message: "Authentication",
            extra: 1
        })
    );
    assert_eq!(
        auth(b"R\0\0\0\x0b\0\0\0\x05\x01\x02\x03"),
        Err(CodecError::Truncated {
            message: "Authentication",
            field: "salt"
        })
    );
    assert_eq!(
        auth(b"R\0\0\0\x16\0\0\0\x0aSCRAM-SHA-256\0"),
        Err(CodecError::Truncated {
            message: "Authentication",
            field: "SASL mechanism"
        })
    );
    let mut buf = BytesMut::new();
    let empty_name = BackendMessage::Authentication(Authentication::Sasl {
        mechanisms: vec![String::new()],
    });
    assert!(matches!(
        empty_name.encode(&mut buf),
        Err(CodecError::EmptyName { .. })
    ));
    let masquerade = BackendMessage::Authentication(Authentication::Other {
        code: 0,
        data: Bytes::new(),
    });
    assert!(matches!(
        masquerade.encode(&mut buf),
        Err(CodecError::InvalidValue { .. })
    ));
    assert!(buf.is_empty());
}

#[test]
fn parameter_status_key_data_ready_for_query() {
    let status = BackendMessage::ParameterStatus(ParameterStatus {
        name: "server_version".into(),
        value: "16.3".into(),
    });
    assert_round_trip(MESSAGES, b"S\0\0\0\x18server_version\x0016.3\0", &status);

    let key = BackendMessage::BackendKeyData(BackendKeyData {
        process_id: 0x0102,
        secret_key: CancelKey::from_i32(0x0a0b_0c0d),
    });
    assert_round_trip(MESSAGES, b"K\0\0\0\x0c\0\0\x01\x02\x0a\x0b\x0c\x0d", &key);
    assert_eq!(
        auth(b"K\0\0\0\x0b\0\0\x01\x02\x0a\x0b\x0c"),
        Err(CodecError::InvalidCancelKeyLength { len: 3 })
    );

    for (byte, status) in [
        (b'I', TransactionStatus::Idle),
        (b'T', TransactionStatus::InTransaction),
        (b'E', TransactionStatus::Failed),
    ] {
        assert_round_trip(
            MESSAGES,
            &[b'Z', 0, 0, 0, 5, byte],
            &BackendMessage::ReadyForQuery(status),
        );
    }
    assert_eq!(
        auth(b"Z\0\0\0\x05X"),
        Err(CodecError::InvalidValue {
            message: "ReadyForQuery",
            field: "transaction status",
            value: 88
        })
    );
}

/// Every field type from "Error and Notice Message Fields", in PostgreSQL's order.
const ALL_FIELDS: &[u8] = b"SERROR\0VERROR\0C23505\0Mduplicate key\0DKey (id)=(1) exists.\0\
Huse another id\0P12\0p3\0qselect 1\0WPL/pgSQL function f()\0spublic\0tusers\0cid\0\
dint4\0nusers_pkey\0Fnbtinsert.c\0L666\0R_bt_check_unique\0\0";

#[test]
fn error_response_with_every_field() {
    let mut bytes = vec![b'E'];
    bytes.extend_from_slice(&u32::try_from(ALL_FIELDS.len() + 4).unwrap().to_be_bytes());
    bytes.extend_from_slice(ALL_FIELDS);
    let expected = ErrorFields::new(Severity::Error, "23505", "duplicate key")
        .detail("Key (id)=(1) exists.")
        .hint("use another id")
        .position("12")
        .internal_position("3")
        .internal_query("select 1")
        .context("PL/pgSQL function f()")
        .schema("public")
        .table("users")
        .column("id")
        .data_type("int4")
        .constraint("users_pkey")
        .file("nbtinsert.c")
        .line("666")
        .routine("_bt_check_unique");
    assert_round_trip(
        MESSAGES,
        &bytes,
        &BackendMessage::ErrorResponse(expected.clone()),
    );
    assert_eq!(expected.severity_kind(), Some(Severity::Error));

    bytes[0] = b'N';
    assert_round_trip(MESSAGES, &bytes, &BackendMessage::NoticeResponse(expected));
}

#[test]
fn error_field_rules() {
    // Unknown field types are kept, in order.
    let Ok(Some(BackendMessage::NoticeResponse(notice))) =
        auth(b"N\0\0\0\x1eSNOTICE\0C00000\0Mhi\0Zz\0Yy\0\0")
    else {
        panic!("not decoded");
    };
    assert_eq!(
        notice.unknown,
        [(b'Z', "z".to_owned()), (b'Y', "y".to_owned())]
    );
    assert_eq!(notice.severity_kind(), Some(Severity::Notice));
    // Required fields, duplicates, terminator.
    assert_eq!(
        auth(b"E\0\0\0\x13SFATAL\0C28000\0\0"),
        Err(CodecError::MissingErrorField {
            message: "ErrorResponse",
            field: b'M'
        })
    );
    assert_eq!(
        auth(b"E\0\0\0\x19SFATAL\0C28000\0Ma\0Mb\0\0"),
        Err(CodecError::DuplicateErrorField {
            message: "ErrorResponse",
            field: b'M'
        })
    );
    assert_eq!(
        auth(b"E\0\0\0\x15SFATAL\0C28000\0Ma\0"),
        Err(CodecError::Truncated {
            message: "ErrorResponse",
            field: "field type"
        })
    );
    // Text in another encoding is replaced, not rejected.
    let Ok(Some(BackendMessage::ErrorResponse(error))) =
        auth(b"E\0\0\0\x18SFATAL\0C28000\0M\xe9t\xe9\0\0")
    else {
        panic!("not decoded");
    };
    assert_eq!(error.message, "\u{fffd}t\u{fffd}");
    // Encoding refuses what decoding would refuse.
    let mut buf = BytesMut::new();
    let mut fields = ErrorFields::new(Severity::Fatal, "28000", "no");
    fields.unknown.push((b'M', "again".into()));
    assert!(
        BackendMessage::ErrorResponse(fields.clone())
            .encode(&mut buf)
            .is_err()
    );
    fields.unknown = vec![(b'Z', "a".into()), (b'Z', "b".into())];
    assert!(
        BackendMessage::ErrorResponse(fields)
            .encode(&mut buf)
            .is_err()
    );
    assert!(buf.is_empty());
}

#[test]
fn negotiate_protocol_version() {
    // As PostgreSQL 15 sends it to a client asking for 3.2 with one `_pq_.` option: the whole
    // protocol code of 3.0 (196608), then the options it does not know.
    let expected = BackendMessage::NegotiateProtocolVersion(NegotiateProtocolVersion {
        newest: ProtocolVersion::V3_0,
        unrecognized_options: vec!["_pq_.foo".into()],
    });
    assert_round_trip(
        MESSAGES,
        b"v\0\0\0\x15\0\x03\0\0\0\0\0\x01_pq_.foo\0",
        &expected,
    );
    let newer = BackendMessage::NegotiateProtocolVersion(NegotiateProtocolVersion {
        newest: ProtocolVersion::new(3, 1),
        unrecognized_options: vec![],
    });
    assert_round_trip(MESSAGES, b"v\0\0\0\x0c\0\x03\0\x01\0\0\0\0", &newer);
    assert_eq!(
        auth(b"v\0\0\0\x0c\0\x03\0\0\xff\xff\xff\xff"),
        Err(CodecError::InvalidValue {
            message: "NegotiateProtocolVersion",
            field: "option count",
            value: -1
        })
    );
    assert_eq!(
        auth(b"v\0\0\0\x0c\xff\xff\xff\xff\0\0\0\0"),
        Err(CodecError::InvalidValue {
            message: "NegotiateProtocolVersion",
            field: "newest protocol version",
            value: -1
        })
    );
    // A bare minor number (what the documentation's wording suggests) is not what servers send.
    assert_eq!(
        auth(b"v\0\0\0\x0c\0\0\0\0\0\0\0\0"),
        Err(CodecError::InvalidValue {
            message: "NegotiateProtocolVersion",
            field: "newest protocol version",
            value: 0
        })
    );
}

#[test]
fn ssl_and_gssenc_answers() {
    let ssl = BackendPhase::SslResponse;
    let gss = BackendPhase::GssEncResponse;
    assert_round_trip(ssl, b"S", &BackendMessage::SslResponse { accepted: true });
    assert_round_trip(ssl, b"N", &BackendMessage::SslResponse { accepted: false });
    assert_round_trip(
        gss,
        b"G",
        &BackendMessage::GssEncResponse { accepted: true },
    );
    assert_round_trip(
        gss,
        b"N",
        &BackendMessage::GssEncResponse { accepted: false },
    );
    assert_eq!(backend(ssl, b""), Ok(None));
    assert_eq!(
        backend(ssl, b"G"),
        Err(CodecError::UnexpectedTag {
            tag: b'G',
            expected: "SSL response ('S' or 'N')"
        })
    );
    // A server that predates SSL negotiation answers with an ErrorResponse.
    let error = b"E\0\0\0\x1bSFATAL\0C08P01\0Mno ssl\0\0";
    assert!(matches!(
        backend(ssl, error),
        Ok(Some(BackendMessage::ErrorResponse(_)))
    ));
    assert_eq!(backend(ssl, &error[..10]), Ok(None));
    // The byte after 'S' stays in the buffer for the caller to see.
    let mut decoder = BackendDecoder::default();
    decoder.set_phase(ssl);
    let mut buf = BytesMut::from(&b"S\x16"[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(BackendMessage::SslResponse { accepted: true }))
    );
    assert_eq!(&buf[..], b"\x16");
}

#[test]
fn other_messages_are_kept_as_bytes() {
    let row = BackendMessage::Other {
        tag: b'D',
        body: Bytes::from_static(b"\0\x01\0\0\0\x011"),
    };
    assert_round_trip(MESSAGES, b"D\0\0\0\x0b\0\x01\0\0\0\x011", &row);
    let mut buf = BytesMut::new();
    let masquerade = BackendMessage::Other {
        tag: b'Z',
        body: Bytes::from_static(b"I"),
    };
    assert!(matches!(
        masquerade.encode(&mut buf),
        Err(CodecError::InvalidValue { .. })
    ));
}

#[test]
fn sasl_payload_debug_is_redacted() {
    let message =
        BackendMessage::Authentication(Authentication::SaslFinal(Secret::new(&b"v=proof"[..])));
    let debug = format!("{message:?}");
    assert!(!debug.contains("proof"), "{debug}");
    assert!(debug.contains("** redacted **"), "{debug}");
}

#[test]
fn error_sql_states() {
    assert_eq!(CodecError::MissingUser.sql_state(), "28000");
    assert_eq!(
        CodecError::UnsupportedProtocolVersion { major: 2, minor: 0 }.sql_state(),
        "0A000"
    );
    assert_eq!(
        CodecError::LengthOverLimit {
            message: "m",
            len: 9,
            max: 8
        }
        .sql_state(),
        "54000"
    );
    assert_eq!(
        CodecError::Truncated {
            message: "m",
            field: "f"
        }
        .sql_state(),
        "08P01"
    );
}
