//! The stand-in Keyspaces endpoint is as strict as the real one: the SigV4 response iamwire's Keyspaces signer
//! makes from credentials the AWS emulator issued is accepted, and the same response with any one byte
//! changed (signature, access key, amzdate, session token) is refused with a bad-credentials ERROR. Without
//! this, the end-to-end test could pass against a stand-in that accepts anything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use bytes::{Bytes, BytesMut};
use iamwire_aws::sigv4::keyspaces::KeyspacesSigner;
use iamwire_core::{Answer, Challenge, ChallengeSigner, SystemClock, TlsMode};
use iamwire_cql::codec::{FrameDecoder, Limits, Request, Response, error_code};
use iamwire_testkit::TestCa;
use iamwire_testkit::keyspaces::KeyspacesStandIn;
use iamwire_testkit::moto::Moto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const REGION: &str = "us-west-2";

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

async fn connect(standin: &KeyspacesStandIn) -> Tls {
    let ca = std::fs::read(&standin.tls().ca).unwrap();
    let config = iamwire_core::tls::upstream_config(TlsMode::VerifyFull, Some(&ca), None).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", standin.port()))
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

async fn exchange(tls: &mut Tls, buf: &mut BytesMut, request: Request) -> Response {
    let wire = request.to_frame(4, 7).to_bytes().unwrap();
    tls.write_all(&wire).await.unwrap();
    let decoder = FrameDecoder::new(Limits::default());
    loop {
        if let Some(frame) = decoder.decode(buf).unwrap() {
            assert_eq!(frame.stream, 7);
            return Response::decode(&frame, &Limits::default()).unwrap();
        }
        assert_ne!(tls.read_buf(buf).await.unwrap(), 0, "the stand-in closed");
    }
}

/// One login with `signer`, its response changed by `tamper`; the stand-in's final answer.
async fn login(
    standin: &KeyspacesStandIn,
    signer: &dyn ChallengeSigner,
    tamper: impl Fn(&mut Vec<u8>),
) -> Response {
    let mut tls = connect(standin).await;
    let mut buf = BytesMut::new();
    let startup = Request::Startup(vec![("CQL_VERSION".into(), "3.0.0".into())]);
    assert!(matches!(
        exchange(&mut tls, &mut buf, startup).await,
        Response::Authenticate(_)
    ));
    let Answer::Token(first) = signer.answer(Challenge::Start).unwrap() else {
        panic!("a token")
    };
    let first = Request::AuthResponse(Some(Bytes::copy_from_slice(first.expose())));
    let Response::AuthChallenge(Some(challenge)) = exchange(&mut tls, &mut buf, first).await else {
        panic!("a challenge")
    };
    let Answer::Token(reply) = signer.answer(Challenge::Token(&challenge)).unwrap() else {
        panic!("a token")
    };
    let mut reply = reply.expose().to_vec();
    tamper(&mut reply);
    exchange(
        &mut tls,
        &mut buf,
        Request::AuthResponse(Some(reply.into())),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_off_by_one_byte_is_refused() {
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let cross = moto
        .cross_account("keyspaces-strict", "ext-strict")
        .unwrap();
    let creds = moto
        .assume_role(&cross.proxy, &cross.role_arn, Some("ext-strict"))
        .unwrap()
        .unwrap();
    let standin = KeyspacesStandIn::start(&ca, &moto, REGION).unwrap();
    let credentials = Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        creds.session_token.clone(),
        None::<SystemTime>,
        "moto",
    );
    let signer = KeyspacesSigner::new(credentials, REGION, Arc::new(SystemClock));

    let answer = login(&standin, &signer, |_| {}).await;
    assert!(
        matches!(answer, Response::AuthSuccess(_)),
        "{answer:?}\n{}",
        standin.log()
    );

    // One byte off: in the signature (first and last hex digit), the access key, amzdate's
    // milliseconds, and the session token; and one byte cut off the end.
    let field = |reply: &[u8], name: &[u8]| {
        reply.windows(name.len()).position(|w| w == name).unwrap() + name.len()
    };
    type Tamper = Box<dyn Fn(&mut Vec<u8>)>;
    let tampers: Vec<(&str, Tamper)> = vec![
        ("signature start", Box::new(|r| r[10] ^= 0x01)),
        ("signature end", Box::new(|r| r[73] ^= 0x01)),
        (
            "access key",
            Box::new(move |r| {
                let i = field(r, b"access_key=") + 5;
                r[i] ^= 0x01;
            }),
        ),
        (
            "amzdate",
            Box::new(move |r| {
                let i = field(r, b"amzdate=") + 21;
                r[i] = if r[i] == b'9' { b'8' } else { r[i] + 1 };
            }),
        ),
        (
            "session token",
            Box::new(|r| {
                let last = r.len() - 1;
                r[last] ^= 0x01;
            }),
        ),
        (
            "truncated",
            Box::new(|r| {
                r.pop();
            }),
        ),
    ];
    for (what, tamper) in tampers {
        let answer = login(&standin, &signer, tamper).await;
        let Response::Error(error) = answer else {
            panic!("{what}: accepted: {answer:?}")
        };
        assert_eq!(error.code, error_code::BAD_CREDENTIALS, "{what}: {error:?}");
    }
    let auths = standin.auths().unwrap();
    assert_eq!(auths.iter().filter(|a| a.ok).count(), 1, "{auths:?}");
    assert_eq!(auths.len(), 7);
}
