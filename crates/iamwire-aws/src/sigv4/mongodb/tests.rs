use std::time::{Duration, UNIX_EPOCH};

use iamwire_core::FixedClock;

use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FQoGZXIvYXdzEXAMPLETOKEN/+=";

fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000) // 2023-11-14T22:13:20Z
}

fn creds(token: Option<&str>) -> Credentials {
    Credentials::new("AKIDEXAMPLE", SECRET, token.map(str::to_owned), None, "t")
}

fn nonce() -> Vec<u8> {
    (0..64).collect()
}

/// The vectors were computed by MongoDB's own client code, `pymongo_auth_aws.auth._aws_auth_header`
/// (botocore's SigV4Auth), with botocore's clock fixed at 2023-11-14T22:13:20Z.
#[test]
fn the_signature_is_what_pymongo_auth_aws_computes() {
    let cases = [
        (
            None,
            "sts.amazonaws.com",
            "us-east-1",
            "content-length;content-type;host;x-amz-date;x-mongodb-gs2-cb-flag;x-mongodb-server-nonce",
            "a03df2ee08a526cfdb318d2cb1f82b28a6832031252eb2df8f0e86b2cd39d6c1",
        ),
        (
            None,
            "sts.eu-west-1.amazonaws.com",
            "eu-west-1",
            "content-length;content-type;host;x-amz-date;x-mongodb-gs2-cb-flag;x-mongodb-server-nonce",
            "8c0abf0b5e03689da605cb5c5a6af483de259cf6d9753dd11c5e4bfe6a9faef7",
        ),
        (
            Some(TOKEN),
            "sts.amazonaws.com",
            "us-east-1",
            "content-length;content-type;host;x-amz-date;x-amz-security-token;x-mongodb-gs2-cb-flag;\
             x-mongodb-server-nonce",
            "b3079ad5e494cf0d07da37ae260f1b81a034b0613c97139be3eb668f42f8a848",
        ),
        (
            Some(TOKEN),
            "sts.eu-west-1.amazonaws.com",
            "eu-west-1",
            "content-length;content-type;host;x-amz-date;x-amz-security-token;x-mongodb-gs2-cb-flag;\
             x-mongodb-server-nonce",
            "5b59a334887e25c20d1bc2ce0326619da604ddfcebde22c13245c1737f07007a",
        ),
    ];
    for (token, host, region, signed_headers, signature) in cases {
        let signed = get_caller_identity(&creds(token), &nonce(), host, b'n', at()).unwrap();
        assert_eq!(
            signed.authorization(),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/{region}/sts/aws4_request, \
                 SignedHeaders={signed_headers}, Signature={signature}"
            ),
            "{host} with token {token:?}"
        );
        assert_eq!(signed.date(), "20231114T221320Z");
        assert_eq!(signed.session_token(), token);
    }
}

#[test]
fn regions_come_from_the_host_as_the_drivers_derive_them() {
    assert_eq!(region_for_host("sts.amazonaws.com").unwrap(), "us-east-1");
    assert_eq!(region_for_host("localhost").unwrap(), "us-east-1");
    assert_eq!(
        region_for_host("sts.ap-south-2.amazonaws.com").unwrap(),
        "ap-south-2"
    );
    let long = "a".repeat(256);
    for bad in [
        "",
        ".sts.amazonaws.com",
        "sts..amazonaws.com",
        "sts.",
        &long,
    ] {
        assert!(region_for_host(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn only_aws_sts_hosts_get_a_signature() {
    for good in [
        "sts.amazonaws.com",
        "sts.us-west-2.amazonaws.com",
        "sts-fips.us-east-1.amazonaws.com",
        "sts.cn-north-1.amazonaws.com.cn",
    ] {
        assert!(is_sts_host(good), "{good}");
    }
    for bad in [
        "evil.example.com",
        "sts.evil.example.com",
        "amazonaws.com",
        "s3.us-east-1.amazonaws.com",
        "sts.us-east-1.amazonaws.com.evil.net",
        "sts.US-EAST-1.amazonaws.com",
        "x.sts.us-east-1.amazonaws.com",
    ] {
        assert!(!is_sts_host(bad), "{bad}");
        assert!(get_caller_identity(&creds(None), &nonce(), bad, b'n', at()).is_err());
    }
}

#[test]
fn bad_nonces_and_flags_are_refused() {
    let short = [1u8; 32];
    assert!(get_caller_identity(&creds(None), &short, "sts.amazonaws.com", b'n', at()).is_err());
    assert!(get_caller_identity(&creds(None), &nonce(), "sts.amazonaws.com", b'x', at()).is_err());
}

#[test]
fn the_signer_answers_with_headers_and_never_shows_them() {
    let signer = MongoDbAwsSigner::new(creds(Some(TOKEN)), Arc::new(FixedClock(at())));
    assert_eq!(signer.mechanism(), "mongodb-aws");
    let nonce = nonce();
    let answer = signer
        .answer(Challenge::StsGetCallerIdentity {
            server_nonce: &nonce,
            host: "sts.amazonaws.com",
            gs2_cb_flag: b'n',
        })
        .unwrap();
    let Answer::Headers(headers) = answer else {
        panic!("headers");
    };
    let names: Vec<_> = headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["authorization", "x-amz-date", "x-amz-security-token"]
    );
    assert!(
        headers[0]
            .1
            .expose()
            .ends_with(b"b3079ad5e494cf0d07da37ae260f1b81a034b0613c97139be3eb668f42f8a848")
    );
    assert_eq!(headers[2].1.expose(), TOKEN.as_bytes());
    let shown = format!("{headers:?} {signer:?}");
    for secret in [SECRET, TOKEN, "b3079ad5"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    // Keyspaces' challenges are not this signer's.
    let error = signer.answer(Challenge::Token(b"nonce=1")).unwrap_err();
    assert_eq!(error.kind(), InjectErrorKind::Internal);
    // A database that names another host is told no, and the host is in the message.
    let error = signer
        .answer(Challenge::StsGetCallerIdentity {
            server_nonce: &nonce,
            host: "collector.example.net",
            gs2_cb_flag: b'n',
        })
        .unwrap_err();
    assert!(error.message().contains("collector.example.net"));
}
