use std::time::{Duration, UNIX_EPOCH};

use iamwire_core::FixedClock;

use super::*;

const NONCE: &[u8] = b"91703fdc2ef562e19fbdab0f58e42fe5";

fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_591_742_511) // 2020-06-09T22:41:51Z
}

fn creds(token: Option<&str>) -> Credentials {
    Credentials::new(
        "UserID-1",
        "UserSecretKey-1",
        token.map(str::to_owned),
        None,
        "t",
    )
}

#[test]
fn the_known_answer_vector_passes_byte_for_byte() {
    let response = auth_response(&creds(None), "us-west-2", NONCE, at()).unwrap();
    assert_eq!(
        response.expose(),
        b"signature=7f3691c18a81b8ce7457699effbfae5b09b4e0714ab38c1292dbdf082c9ddd87,\
          access_key=UserID-1,amzdate=2020-06-09T22:41:51.000Z"
    );
}

#[test]
fn the_session_token_is_appended_not_signed() {
    let plain = auth_response(&creds(None), "us-west-2", NONCE, at()).unwrap();
    let with = auth_response(&creds(Some("FQoG/token+x=")), "us-west-2", NONCE, at()).unwrap();
    let mut expected = plain.expose().to_vec();
    expected.extend_from_slice(b",session_token=FQoG/token+x=");
    assert_eq!(with.expose(), &expected[..]);
}

#[test]
fn every_input_changes_the_signature() {
    let base = auth_response(&creds(None), "us-west-2", NONCE, at()).unwrap();
    let signature = |r: &Secret| r.expose()[10..74].to_vec();
    let mut other_nonce = NONCE.to_vec();
    other_nonce[31] ^= 1;
    let variants = [
        auth_response(&creds(None), "us-east-1", NONCE, at()).unwrap(),
        auth_response(&creds(None), "us-west-2", &other_nonce, at()).unwrap(),
        auth_response(
            &creds(None),
            "us-west-2",
            NONCE,
            at() + Duration::from_millis(1),
        )
        .unwrap(),
        auth_response(
            &Credentials::new("UserID-1", "UserSecretKey-2", None, None, "t"),
            "us-west-2",
            NONCE,
            at(),
        )
        .unwrap(),
    ];
    for v in &variants {
        assert_ne!(signature(v), signature(&base));
    }
    // Milliseconds show in amzdate.
    let ms = &variants[2];
    assert!(ms.expose().ends_with(b"amzdate=2020-06-09T22:41:51.001Z"));
}

#[test]
fn nonces_are_read_as_the_plugins_read_them() {
    assert_eq!(extract_nonce(b"nonce=abc").unwrap(), b"abc");
    let long = [b"nonce=".as_slice(), NONCE, b"tail"].concat();
    assert_eq!(extract_nonce(&long).unwrap(), NONCE);
    assert_eq!(
        extract_nonce(&[b"x,nonce=".as_slice(), NONCE].concat()).unwrap(),
        NONCE
    );
    for bad in [
        &b""[..],
        b"nonce=",
        b"none=abc",
        b"nonce=\x00abc",
        b"nonce= abc",
    ] {
        assert!(
            matches!(
                extract_nonce(bad),
                Err(SigV4Error::InvalidInput { field: "nonce", .. })
            ),
            "{bad:?}"
        );
    }
    assert!(extract_nonce(&vec![b'n'; MAX_CHALLENGE_LEN + 1]).is_err());
}

#[test]
fn inputs_that_would_break_the_response_are_refused() {
    let comma = Credentials::new("AK,ID", "s", None, None, "t");
    assert!(auth_response(&comma, "us-west-2", NONCE, at()).is_err());
    let token = Credentials::new("AKID", "s", Some("a,b".into()), None, "t");
    assert!(auth_response(&token, "us-west-2", NONCE, at()).is_err());
    assert!(auth_response(&creds(None), "US-WEST-2", NONCE, at()).is_err());
    assert!(auth_response(&creds(None), "", NONCE, at()).is_err());
    assert!(auth_response(&creds(None), "us-west-2", b"", at()).is_err());
}

#[test]
fn the_signer_opens_answers_and_never_shows_credentials() {
    let signer = KeyspacesSigner::new(
        creds(Some("SESSION-TOKEN-SECRET")),
        "us-west-2",
        Arc::new(FixedClock(at())),
    );
    let Answer::Token(first) = signer.answer(Challenge::Start).unwrap() else {
        panic!("a token")
    };
    assert_eq!(first.expose(), b"SigV4\0\0");
    let challenge = [b"nonce=".as_slice(), NONCE].concat();
    let Answer::Token(reply) = signer.answer(Challenge::Token(&challenge)).unwrap() else {
        panic!("a token")
    };
    assert!(reply.expose().starts_with(
        b"signature=7f3691c18a81b8ce7457699effbfae5b09b4e0714ab38c1292dbdf082c9ddd87,"
    ));
    let error = signer.answer(Challenge::Token(b"garbage")).unwrap_err();
    assert_eq!(error.kind(), InjectErrorKind::Internal);
    let shown = format!("{signer:?} {error:?} {error} {reply:?}");
    for secret in ["UserSecretKey-1", "SESSION-TOKEN-SECRET", "UserID-1"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}
