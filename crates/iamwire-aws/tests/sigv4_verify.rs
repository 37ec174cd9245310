//! Verification of client signatures: what our signer and botocore sign verifies; every tampered part is
//! rejected with the error that names it.

// Test helpers outside #[test] fns: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use http::{HeaderMap, HeaderValue, Method, Uri};
use iamwire_aws::sigv4::{
    Authorization, HttpRequest, Payload, Scope, SigV4Error, SigningOptions, Verified,
    VerifyOptions, sign_request, verify_request,
};

const AKID: &str = "ASIAPROXYISSUED0001";
const SECRET: &str = "proxy/issued+secret=key";
const TOKEN: &str = "proxy-session-token/+=";
const BODY: &[u8] = br#"{"TableName":"orders"}"#;

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn issued(token: Option<&str>) -> Credentials {
    Credentials::new(AKID, SECRET, token.map(str::to_owned), None, "proxy")
}

/// A DynamoDB request as a client would send it, signed by our signer.
struct Signed {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Vec<u8>,
    auth: Authorization,
}

fn signed(token: Option<&str>) -> Signed {
    let uri: Uri = "/?a=1&b=two%20words".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "host",
        HeaderValue::from_static("dynamodb.us-east-1.amazonaws.com"),
    );
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    headers.insert(
        "x-amz-target",
        HeaderValue::from_static("DynamoDB_20120810.GetItem"),
    );
    let request = HttpRequest::new(&Method::POST, &uri, &headers, Payload::Bytes(BODY));
    let sig = sign_request(
        &request,
        &issued(token),
        Scope::new("us-east-1", "dynamodb"),
        t0(),
        SigningOptions::default(),
    )
    .unwrap();
    let auth = Authorization::parse(sig.authorization().as_bytes()).unwrap();
    let mut headers = headers.clone();
    sig.apply_to(&mut headers);
    Signed {
        method: Method::POST,
        uri,
        headers,
        body: BODY.to_vec(),
        auth,
    }
}

fn keys(token: Option<&str>) -> HashMap<String, Credentials> {
    HashMap::from([(AKID.to_owned(), issued(token))])
}

impl Signed {
    fn verify_at(
        &self,
        keys: &HashMap<String, Credentials>,
        now: SystemTime,
    ) -> Result<Verified, SigV4Error> {
        let request = HttpRequest::new(
            &self.method,
            &self.uri,
            &self.headers,
            Payload::Bytes(&self.body),
        );
        verify_request(&self.auth, &request, keys, now, VerifyOptions::default())
    }

    fn verify(&self, keys: &HashMap<String, Credentials>) -> Result<Verified, SigV4Error> {
        self.verify_at(keys, t0() + Duration::from_secs(30))
    }

    fn with_auth(mut self, edit: impl Fn(String) -> String) -> Self {
        self.auth = Authorization::parse(edit(self.auth.to_string()).as_bytes()).unwrap();
        self
    }
}

#[test]
fn what_we_sign_verifies_with_and_without_a_session_token() {
    for token in [None, Some(TOKEN)] {
        let ok = signed(token).verify(&keys(token)).unwrap();
        assert_eq!(ok.access_key_id, AKID);
        assert_eq!(
            (ok.region.as_str(), ok.service.as_str()),
            ("us-east-1", "dynamodb")
        );
        assert_eq!(ok.time, t0());
    }
    // A closure works as the key lookup too.
    let s = signed(None);
    let lookup = |akid: &str| (akid == AKID).then(|| issued(None));
    let request = HttpRequest::new(&s.method, &s.uri, &s.headers, Payload::Bytes(&s.body));
    assert!(verify_request(&s.auth, &request, &lookup, t0(), VerifyOptions::default()).is_ok());
}

#[test]
fn tampering_with_the_request_is_a_signature_mismatch() {
    let k = keys(None);
    let mut s = signed(None);
    s.body = br#"{"TableName":"salaries"}"#.to_vec();
    assert!(matches!(s.verify(&k), Err(SigV4Error::SignatureMismatch)));

    let mut s = signed(None);
    s.method = Method::PUT;
    assert!(matches!(s.verify(&k), Err(SigV4Error::SignatureMismatch)));

    let mut s = signed(None);
    s.uri = "/?a=1&b=other".parse().unwrap();
    assert!(matches!(s.verify(&k), Err(SigV4Error::SignatureMismatch)));

    let mut s = signed(None);
    s.uri = "/admin?a=1&b=two%20words".parse().unwrap();
    assert!(matches!(s.verify(&k), Err(SigV4Error::SignatureMismatch)));

    for (name, value) in [
        ("x-amz-target", "DynamoDB_20120810.DeleteTable"),
        ("host", "evil.example.com"),
    ] {
        let mut s = signed(None);
        s.headers.insert(name, HeaderValue::from_static(value));
        assert!(
            matches!(s.verify(&k), Err(SigV4Error::SignatureMismatch)),
            "{name}"
        );
    }

    // An extra unsigned header does not matter; an extra value for a signed one does.
    let mut s = signed(None);
    s.headers
        .insert("user-agent", HeaderValue::from_static("anything"));
    assert!(s.verify(&k).is_ok());
    let mut s = signed(None);
    s.headers
        .append("x-amz-target", HeaderValue::from_static("again"));
    assert!(matches!(s.verify(&k), Err(SigV4Error::SignatureMismatch)));
}

#[test]
fn tampering_with_the_authorization_header_is_caught() {
    let k = keys(None);
    let s = signed(None).with_auth(|a| a.replace("us-east-1", "us-west-2"));
    assert!(matches!(s.verify(&k), Err(SigV4Error::SignatureMismatch)));
    let s = signed(None).with_auth(|a| a.replace("/dynamodb/", "/es/"));
    assert!(matches!(s.verify(&k), Err(SigV4Error::SignatureMismatch)));
    let s = signed(None).with_auth(|a| a.replace("content-type;", ""));
    assert!(matches!(s.verify(&k), Err(SigV4Error::SignatureMismatch)));
    let s = signed(None).with_auth(|a| a.replace(AKID, "ASIAOTHERKEY0000002"));
    assert!(matches!(s.verify(&k), Err(SigV4Error::UnknownAccessKey)));
    let s = signed(None).with_auth(|a| a.replace("/20231114/", "/20231115/"));
    assert!(matches!(
        s.verify(&k),
        Err(SigV4Error::CredentialDateMismatch)
    ));
    let s = signed(None).with_auth(|a| a.replace(";host;", ";"));
    assert!(matches!(
        s.verify(&k),
        Err(SigV4Error::UnsignedRequiredHeader { header: "host" })
    ));
    let s = signed(None).with_auth(|a| a.replace(";x-amz-date", ""));
    assert!(matches!(
        s.verify(&k),
        Err(SigV4Error::UnsignedRequiredHeader {
            header: "x-amz-date"
        })
    ));
    let s = signed(None).with_auth(|a| a.replace("x-amz-target", "x-amz-target;x-missing"));
    assert!(
        matches!(s.verify(&k), Err(SigV4Error::SignedHeaderAbsent { ref header }) if header == "x-missing")
    );
}

#[test]
fn the_clock_must_agree_within_five_minutes() {
    let k = keys(None);
    let s = signed(None);
    assert!(s.verify_at(&k, t0() + Duration::from_secs(300)).is_ok());
    assert!(s.verify_at(&k, t0() - Duration::from_secs(300)).is_ok());
    for now in [
        t0() + Duration::from_secs(301),
        t0() - Duration::from_secs(301),
    ] {
        let err = s.verify_at(&k, now).unwrap_err();
        assert!(
            matches!(err, SigV4Error::ClockSkew { skew, limit } if skew == Duration::from_secs(301) && limit == Duration::from_secs(300)),
            "{err:?}"
        );
    }
    let mut s = signed(None);
    s.headers
        .insert("x-amz-date", HeaderValue::from_static("20231114T221320"));
    assert!(matches!(s.verify(&k), Err(SigV4Error::MalformedDate)));
    let mut s = signed(None);
    s.headers.remove("x-amz-date");
    assert!(matches!(
        s.verify(&k),
        Err(SigV4Error::SignedHeaderAbsent { .. })
    ));
}

#[test]
fn session_tokens_must_match_the_issued_key() {
    // Signed with a token the proxy did not issue for this key.
    let s = signed(Some("forged-token"));
    assert!(matches!(
        s.verify(&keys(Some(TOKEN))),
        Err(SigV4Error::SecurityTokenMismatch)
    ));
    // A token on a key issued without one, and no token on a key issued with one.
    assert!(matches!(
        signed(Some(TOKEN)).verify(&keys(None)),
        Err(SigV4Error::SecurityTokenMismatch)
    ));
    assert!(matches!(
        signed(None).verify(&keys(Some(TOKEN))),
        Err(SigV4Error::SecurityTokenMismatch)
    ));
}

#[test]
fn a_request_signed_by_botocore_verifies() {
    // botocore's SigV4Auth signs a DynamoDB request at a frozen time; we verify what it produced.
    let script = r#"
import datetime, json, sys
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
fixed = datetime.datetime(2023, 11, 14, 22, 13, 20)
botocore.auth.get_current_datetime = lambda remove_tzinfo=True: fixed
req = AWSRequest(method="POST", url="https://dynamodb.us-east-1.amazonaws.com/?a=1&b=two%20words",
                 data=sys.stdin.buffer.read(),
                 headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.GetItem"})
botocore.auth.SigV4Auth(Credentials(sys.argv[1], sys.argv[2], sys.argv[3]), "dynamodb", "us-east-1").add_auth(req)
json.dump(dict(req.headers.items()), sys.stdout)
"#;
    let mut child = Command::new(iamwire_testkit::python())
        .args(["-c", script, AKID, SECRET, TOKEN])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the venv's python");
    child.stdin.take().unwrap().write_all(BODY).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: HashMap<String, String> = serde_json::from_slice(&out.stdout).unwrap();

    let mut headers = HeaderMap::new();
    headers.insert(
        "host",
        HeaderValue::from_static("dynamodb.us-east-1.amazonaws.com"),
    );
    for (name, value) in &sent {
        let name = http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
    }
    let auth = Authorization::parse(headers["authorization"].as_bytes()).unwrap();
    assert!(auth.signs("x-amz-security-token"), "{auth}");
    let uri: Uri = "/?a=1&b=two%20words".parse().unwrap();
    let request = HttpRequest::new(&Method::POST, &uri, &headers, Payload::Bytes(BODY));
    let ok = verify_request(
        &auth,
        &request,
        &keys(Some(TOKEN)),
        t0(),
        VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(ok.access_key_id, AKID);

    let tampered = HttpRequest::new(&Method::POST, &uri, &headers, Payload::Bytes(b"{}"));
    let err = verify_request(
        &auth,
        &tampered,
        &keys(Some(TOKEN)),
        t0(),
        VerifyOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, SigV4Error::SignatureMismatch), "{err:?}");
}
