use std::time::Duration;

use iamwire_core::Denied;
use iamwire_proxy::Phase;

use super::*;
use crate::bson::{DEFAULT_MAX_DEPTH, Document};

fn reply(error: &SessionError<MongoError>) -> (i32, String, String) {
    let bytes = error_reply(error).expect("a reply");
    let doc = Document::parse(&bytes, DEFAULT_MAX_DEPTH).unwrap();
    assert_eq!(doc.get_f64("ok"), Some(0.0));
    let code = doc.get("code").and_then(|v| v.as_f64()).unwrap() as i32;
    (
        code,
        doc.get_str("codeName").unwrap().to_owned(),
        doc.get_str("errmsg").unwrap().to_owned(),
    )
}

#[test]
fn each_failure_gets_its_mongodb_code() {
    let credentials = |kind| SessionError::<MongoError>::Credentials {
        source: InjectError::new(
            kind,
            "access denied: the proxy could not assume role arn:aws:iam::2:role/r",
        )
        .with_hint("fix the trust policy"),
    };
    let protocol = |error| SessionError::Protocol {
        phase: Phase::Login,
        error,
        hint: Some("create a $external user for the role".to_owned()),
    };
    let cases = [
        (credentials(InjectErrorKind::AccessDenied), 18),
        (credentials(InjectErrorKind::Misconfigured), 18),
        (credentials(InjectErrorKind::Unavailable), 6),
        (credentials(InjectErrorKind::Internal), 1),
        (SessionError::NoClientIdentity, 18),
        (
            SessionError::Denied {
                reason: Denied::UnknownIdentity {
                    identity: "mallory".into(),
                },
            },
            13,
        ),
        (
            SessionError::ConnectTimeout {
                addr: "db:27017".into(),
                timeout: Duration::from_secs(10),
            },
            89,
        ),
        (SessionError::TooManyConnections { limit: 3 }, 6),
        (SessionError::Paused, 6),
        (SessionError::ShuttingDown, 91),
        (SessionError::Killed, 11601),
        (protocol(MongoError::BadPassword { user: "r".into() }), 18),
        (
            protocol(MongoError::UnsupportedMechanism {
                mechanism: "SCRAM-SHA-256".into(),
            }),
            334,
        ),
        (
            protocol(MongoError::CommandRefused {
                command: "saslStart".into(),
            }),
            13,
        ),
        (
            protocol(MongoError::UpstreamRejected {
                code: 18,
                message: "Authentication failed.".into(),
            }),
            18,
        ),
        (
            protocol(MongoError::UpstreamProtocol {
                cause: Malformed::Checksum,
            }),
            6,
        ),
        (
            protocol(MongoError::ClientProtocol {
                cause: Malformed::Checksum,
            }),
            17,
        ),
    ];
    for (error, expected) in &cases {
        let (code, name, _) = reply(error);
        assert_eq!(code, *expected, "{error}");
        assert_eq!(name, code::name(code));
        assert_ne!(name, "UnknownError");
    }
    let (_, _, denied) = reply(&cases[0].0);
    assert!(denied.contains("arn:aws:iam::2:role/r") && denied.contains("trust policy"));
    let (_, _, rejected) = reply(&cases[14].0);
    assert!(rejected.contains("$external user"), "{rejected}");
    let (_, _, mechanism) = reply(&cases[12].0);
    assert!(mechanism.contains("authMechanism=PLAIN"), "{mechanism}");
    let (_, _, no_identity) = reply(&cases[4].0);
    assert!(
        no_identity.contains("authSource=$external"),
        "{no_identity}"
    );
}

#[test]
fn nobody_is_told_without_tls() {
    for error in [
        SessionError::<MongoError>::ClientTls {
            source: std::io::Error::other("bad cert"),
        },
        SessionError::DataBeforeTls,
        SessionError::ClientIo {
            source: std::io::ErrorKind::UnexpectedEof.into(),
        },
    ] {
        assert!(error_reply(&error).is_none());
    }
}

#[test]
fn a_bad_password_names_no_user_and_no_password() {
    let error = SessionError::from(MongoError::BadPassword {
        user: "secret-role".into(),
    });
    let (code, _, message) = reply(&error);
    assert_eq!(code, 18);
    assert!(!message.contains("secret-role"));
}
