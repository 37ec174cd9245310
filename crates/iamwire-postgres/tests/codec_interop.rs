//! Interoperability with an independent implementation: what `postgres-protocol` (the codec of
//! tokio-postgres) writes, we decode; what we write, it parses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use iamwire_postgres::codec::{
    AuthResponseKind, Authentication, BackendKeyData, BackendMessage, CancelKey, ErrorFields,
    FrontendDecoder, FrontendMessage, FrontendPhase, ParameterStatus, Secret, Severity,
    TransactionStatus,
};
use postgres_protocol::message::{backend, frontend};

fn decode(phase: FrontendPhase, buf: &mut BytesMut) -> FrontendMessage {
    let mut decoder = FrontendDecoder::default();
    decoder.set_phase(phase);
    let message = decoder.decode(buf).unwrap().unwrap();
    assert!(buf.is_empty());
    message
}

#[test]
fn we_decode_what_postgres_protocol_writes() {
    let mut buf = BytesMut::new();
    frontend::ssl_request(&mut buf);
    assert_eq!(
        decode(FrontendPhase::Startup, &mut buf),
        FrontendMessage::SslRequest
    );

    frontend::startup_message(
        [
            ("user", "alice"),
            ("database", "db"),
            ("client_encoding", "UTF8"),
        ],
        &mut buf,
    )
    .unwrap();
    let FrontendMessage::Startup(startup) = decode(FrontendPhase::Startup, &mut buf) else {
        panic!()
    };
    assert_eq!(startup.user(), "alice");
    assert_eq!(startup.get("client_encoding"), Some("UTF8"));

    frontend::cancel_request(42, -7, &mut buf);
    let FrontendMessage::CancelRequest(cancel) = decode(FrontendPhase::Startup, &mut buf) else {
        panic!()
    };
    assert_eq!(
        (cancel.process_id, cancel.secret_key.to_i32()),
        (42, Some(-7))
    );

    let auth = |kind| FrontendPhase::Authentication(kind);
    frontend::password_message(b"md5abc", &mut buf).unwrap();
    let FrontendMessage::Password(password) = decode(auth(AuthResponseKind::Password), &mut buf)
    else {
        panic!()
    };
    assert_eq!(password.password.expose(), b"md5abc");

    frontend::sasl_initial_response("SCRAM-SHA-256", b"n,,n=,r=x", &mut buf).unwrap();
    let FrontendMessage::SaslInitialResponse(initial) =
        decode(auth(AuthResponseKind::SaslInitialResponse), &mut buf)
    else {
        panic!()
    };
    assert_eq!(initial.mechanism, "SCRAM-SHA-256");
    assert_eq!(initial.data, Some(Secret::new(&b"n,,n=,r=x"[..])));

    frontend::sasl_response(b"c=biws", &mut buf).unwrap();
    let FrontendMessage::SaslResponse(response) =
        decode(auth(AuthResponseKind::SaslResponse), &mut buf)
    else {
        panic!()
    };
    assert_eq!(response.data.expose(), b"c=biws");

    frontend::terminate(&mut buf);
    assert_eq!(
        decode(auth(AuthResponseKind::Password), &mut buf),
        FrontendMessage::Terminate
    );
}

fn parse(message: impl Into<BackendMessage>) -> backend::Message {
    let mut buf = BytesMut::new();
    message.into().encode(&mut buf).unwrap();
    let parsed = backend::Message::parse(&mut buf).unwrap().unwrap();
    assert!(buf.is_empty());
    parsed
}

#[test]
fn postgres_protocol_parses_what_we_write() {
    assert!(matches!(
        parse(Authentication::Ok),
        backend::Message::AuthenticationOk
    ));
    assert!(matches!(
        parse(Authentication::CleartextPassword),
        backend::Message::AuthenticationCleartextPassword
    ));
    let backend::Message::AuthenticationMd5Password(md5) =
        parse(Authentication::Md5Password { salt: [9, 8, 7, 6] })
    else {
        panic!()
    };
    assert_eq!(md5.salt(), [9, 8, 7, 6]);
    let sasl = Authentication::Sasl {
        mechanisms: vec!["SCRAM-SHA-256".into()],
    };
    assert!(matches!(
        parse(sasl),
        backend::Message::AuthenticationSasl(_)
    ));
    let backend::Message::AuthenticationSaslContinue(next) = parse(Authentication::SaslContinue(
        Secret::new(&b"r=1,s=2,i=4096"[..]),
    )) else {
        panic!()
    };
    assert_eq!(next.data(), b"r=1,s=2,i=4096");
    let backend::Message::AuthenticationSaslFinal(last) =
        parse(Authentication::SaslFinal(Secret::new(&b"v=x"[..])))
    else {
        panic!()
    };
    assert_eq!(last.data(), b"v=x");

    let backend::Message::ParameterStatus(status) = parse(ParameterStatus {
        name: "TimeZone".into(),
        value: "UTC".into(),
    }) else {
        panic!()
    };
    assert_eq!(
        (status.name().unwrap(), status.value().unwrap()),
        ("TimeZone", "UTC")
    );

    let backend::Message::BackendKeyData(key) = parse(BackendKeyData {
        process_id: 77,
        secret_key: CancelKey::from_i32(-3),
    }) else {
        panic!()
    };
    assert_eq!((key.process_id(), key.secret_key()), (77, -3));

    let backend::Message::ReadyForQuery(ready) = parse(BackendMessage::ReadyForQuery(
        TransactionStatus::InTransaction,
    )) else {
        panic!()
    };
    assert_eq!(ready.status(), b'T');

    let error = ErrorFields::new(Severity::Fatal, "28P01", "login refused").hint("check the role");
    assert!(matches!(
        parse(BackendMessage::ErrorResponse(error.clone())),
        backend::Message::ErrorResponse(_)
    ));
    assert!(matches!(
        parse(BackendMessage::NoticeResponse(error)),
        backend::Message::NoticeResponse(_)
    ));
}
