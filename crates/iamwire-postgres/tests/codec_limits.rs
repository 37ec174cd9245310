//! Length limits: a declared length is judged as soon as its header arrives, before the body is
//! buffered; short and negative lengths are refused; list lengths are capped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use iamwire_postgres::codec::{
    AuthResponseKind, BackendDecoder, CodecError, FrontendDecoder, FrontendMessage, FrontendPhase,
    Limits, StartupMessage,
};

const AUTH: FrontendPhase = FrontendPhase::Authentication(AuthResponseKind::SaslResponse);

fn frontend(
    phase: FrontendPhase,
    limits: Limits,
    bytes: &[u8],
) -> Result<Option<FrontendMessage>, CodecError> {
    let mut decoder = FrontendDecoder::new(limits);
    decoder.set_phase(phase);
    decoder.decode(&mut BytesMut::from(bytes))
}

#[test]
fn huge_startup_length_is_refused_from_the_header_alone() {
    // Only the four length bytes have arrived: no body is waited for, nothing is reserved.
    let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
    let capacity = buf.capacity();
    let result = FrontendDecoder::default().decode(&mut buf);
    assert_eq!(
        result,
        Err(CodecError::LengthOverLimit {
            message: "startup packet",
            len: 0x7fff_ffff,
            max: 10_000
        })
    );
    assert_eq!(buf.capacity(), capacity);
    // A TLS ClientHello sent without SSLRequest looks like a huge length, too.
    assert!(matches!(
        frontend(
            FrontendPhase::Startup,
            Limits::default(),
            &[0x16, 0x03, 0x01, 0x02]
        ),
        Err(CodecError::LengthOverLimit { .. })
    ));
}

#[test]
fn startup_length_bounds() {
    let default = Limits::default();
    assert_eq!(default.max_startup_len, 10_000);
    let startup = FrontendPhase::Startup;
    // Exactly the limit: wait for the body. One more: refuse.
    assert_eq!(
        frontend(startup, default, &10_000u32.to_be_bytes()),
        Ok(None)
    );
    assert_eq!(
        frontend(startup, default, &10_001u32.to_be_bytes()),
        Err(CodecError::LengthOverLimit {
            message: "startup packet",
            len: 10_001,
            max: 10_000
        })
    );
    // Shorter than length + request code, and negative.
    for (len, bytes) in [
        (7, 7i32.to_be_bytes()),
        (0, 0i32.to_be_bytes()),
        (-1, (-1i32).to_be_bytes()),
    ] {
        assert_eq!(
            frontend(startup, default, &bytes),
            Err(CodecError::LengthTooShort {
                message: "startup packet",
                len,
                min: 8
            })
        );
    }
}

#[test]
fn tagged_length_bounds() {
    let mut limits = Limits::default();
    limits.max_message_len = 100;
    let header = |len: i32| [&b"p"[..], &len.to_be_bytes()].concat();
    assert_eq!(frontend(AUTH, limits, &header(100)), Ok(None));
    assert_eq!(
        frontend(AUTH, limits, &header(101)),
        Err(CodecError::LengthOverLimit {
            message: "SASLResponse",
            len: 101,
            max: 100
        })
    );
    assert_eq!(
        frontend(AUTH, limits, &header(i32::MAX)),
        Err(CodecError::LengthOverLimit {
            message: "SASLResponse",
            len: i32::MAX as usize,
            max: 100
        })
    );
    for len in [3, 0, -1, i32::MIN] {
        assert_eq!(
            frontend(AUTH, limits, &header(len)),
            Err(CodecError::LengthTooShort {
                message: "SASLResponse",
                len: len.into(),
                min: 4
            })
        );
    }
    // The default for tagged messages is 1 MiB.
    let mut buf = BytesMut::from(&[&b"R"[..], &(1024 * 1024 + 1i32).to_be_bytes()].concat()[..]);
    assert!(matches!(
        BackendDecoder::default().decode(&mut buf),
        Err(CodecError::LengthOverLimit { .. })
    ));
}

#[test]
fn parameter_count_limit() {
    let mut limits = Limits::default();
    limits.max_parameters = 2;
    let mut startup = StartupMessage::new("u").unwrap().with("a", "1").unwrap();
    let mut buf = BytesMut::new();
    FrontendMessage::from(startup.clone())
        .encode(&mut buf)
        .unwrap();
    assert!(
        frontend(FrontendPhase::Startup, limits, &buf)
            .unwrap()
            .is_some()
    );
    startup.set("b", "2").unwrap();
    buf.clear();
    FrontendMessage::from(startup).encode(&mut buf).unwrap();
    assert_eq!(
        frontend(FrontendPhase::Startup, limits, &buf),
        Err(CodecError::TooManyItems {
            message: "StartupMessage",
            what: "parameters",
            max: 2
        })
    );
}

#[test]
fn list_limits_of_backend_messages() {
    let mut limits = Limits::default();
    limits.max_error_fields = 3;
    limits.max_sasl_mechanisms = 1;
    limits.max_parameters = 4;
    let decode = |bytes: &[u8]| BackendDecoder::new(limits).decode(&mut BytesMut::from(bytes));
    assert!(
        decode(b"E\0\0\0\x16SFATAL\0C28000\0Mx\0\0")
            .unwrap()
            .is_some()
    );
    assert_eq!(
        decode(b"E\0\0\0\x19SFATAL\0C28000\0Mx\0Dy\0\0"),
        Err(CodecError::TooManyItems {
            message: "ErrorResponse",
            what: "fields",
            max: 3
        })
    );
    assert_eq!(
        decode(b"R\0\0\0\x0d\0\0\0\x0aA\0B\0\0"),
        Err(CodecError::TooManyItems {
            message: "AuthenticationSASL",
            what: "mechanisms",
            max: 1
        })
    );
    // A huge option count is refused before anything is allocated for it.
    assert_eq!(
        decode(b"v\0\0\0\x0c\0\x03\0\0\x7f\xff\xff\xff"),
        Err(CodecError::TooManyItems {
            message: "NegotiateProtocolVersion",
            what: "options",
            max: 4
        })
    );
}
