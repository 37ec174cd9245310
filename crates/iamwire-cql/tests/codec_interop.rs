//! The handshake codec against the DataStax Python driver's own (from the rig's venv): the frames the driver
//! writes (OPTIONS, STARTUP, AUTH_RESPONSE with PLAIN and SigV4 tokens, in v3, v4 and v5) decode here at every
//! split offset, and the frames the proxy writes (SUPPORTED, AUTHENTICATE, AUTH_CHALLENGE, AUTH_SUCCESS,
//! ERROR with Unavailable's fields) decode there to the same values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use bytes::{Bytes, BytesMut};
use iamwire_cql::codec::{ErrorBody, FrameDecoder, Limits, Request, Response, error_code};

const SCRIPT: &str = r#"
import sys
from cassandra.protocol import (ProtocolHandler, OptionsMessage, StartupMessage, AuthResponseMessage)
mode = sys.argv[1]
if mode == "encode":
    for v in (3, 4, 5):
        msgs = [OptionsMessage(), StartupMessage(cqlversion="3.4.4", options={"DRIVER_NAME": "py", "DRIVER_VERSION": "3.30.1"}),
                AuthResponseMessage(b"\x00reader\x00pw"), AuthResponseMessage(b"SigV4\x00\x00")]
        print(b"".join(ProtocolHandler.encode_message(m, i, v, None, False) for i, m in enumerate(msgs)).hex())
else:
    data = bytes.fromhex(sys.stdin.read().strip())
    while data:
        version, flags, stream, opcode = data[0] & 0x7f, data[1], int.from_bytes(data[2:4], "big", signed=True), data[4]
        length = int.from_bytes(data[5:9], "big")
        body, data = data[9:9 + length], data[9 + length:]
        m = ProtocolHandler.decode_message(version, {}, stream, flags, opcode, body, None, None)
        print(stream, type(m).__name__, repr(getattr(m, "options", None) or getattr(m, "authenticator", None)
              or getattr(m, "challenge", None) or getattr(m, "token", None) or getattr(m, "summary", None)),
              getattr(m, "code", None), getattr(m, "message", None), repr(getattr(m, "info", None)),
              getattr(m, "cql_versions", None))
"#;

fn python(args: &[&str], input: &str) -> String {
    let mut child = Command::new(iamwire_testkit::python())
        .args(["-c", SCRIPT])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn driver_requests_decode_at_every_split() {
    let out = python(&["encode"], "");
    let limits = Limits::default();
    let decoder = FrameDecoder::new(limits);
    for (line, version) in out.lines().zip(3u8..) {
        let bytes = unhex(line.trim());
        let expected = vec![
            Request::Options,
            Request::Startup(vec![
                ("CQL_VERSION".into(), "3.4.4".into()),
                ("DRIVER_NAME".into(), "py".into()),
                ("DRIVER_VERSION".into(), "3.30.1".into()),
            ]),
            Request::AuthResponse(Some(Bytes::from_static(b"\0reader\0pw"))),
            Request::AuthResponse(Some(Bytes::from_static(b"SigV4\0\0"))),
        ];
        for split in 0..=bytes.len() {
            let mut buf = BytesMut::from(&bytes[..split]);
            let mut got = Vec::new();
            while let Some(f) = decoder.decode(&mut buf).unwrap() {
                got.push(f);
            }
            buf.extend_from_slice(&bytes[split..]);
            while let Some(f) = decoder.decode(&mut buf).unwrap() {
                got.push(f);
            }
            let messages: Vec<_> = got
                .iter()
                .map(|f| {
                    assert_eq!(f.version, version);
                    let mut m = Request::decode(f, &limits).unwrap();
                    if let Request::Startup(options) = &mut m {
                        options.sort();
                    }
                    m
                })
                .collect();
            assert_eq!(messages, expected, "v{version} split at {split}");
            assert_eq!(
                got.iter().map(|f| f.stream).collect::<Vec<_>>(),
                [0, 1, 2, 3]
            );
        }
    }
}

#[test]
fn proxy_responses_decode_in_the_driver() {
    let responses = [
        Response::Supported(vec![
            ("CQL_VERSION".into(), vec!["3.4.4".into()]),
            ("COMPRESSION".into(), vec![]),
        ]),
        Response::Authenticate("org.apache.cassandra.auth.PasswordAuthenticator".into()),
        Response::AuthChallenge(Some(Bytes::from_static(b"nonce=0123"))),
        Response::AuthSuccess(None),
        Response::Error(ErrorBody {
            code: error_code::BAD_CREDENTIALS,
            message: "access denied: role arn:aws:iam::2:role/r".into(),
            rest: Bytes::new(),
        }),
        Response::Error(ErrorBody {
            code: error_code::UNAVAILABLE,
            message: "cannot reach the database".into(),
            rest: Bytes::from_static(&[0, 1, 0, 0, 0, 1, 0, 0, 0, 0]),
        }),
    ];
    let mut wire = BytesMut::new();
    for (i, r) in responses.iter().enumerate() {
        r.to_frame(4, i16::try_from(i).unwrap() + 10)
            .encode(&mut wire)
            .unwrap();
    }
    let hex: String = wire.iter().map(|b| format!("{b:02x}")).collect();
    let out = python(&["decode"], &hex);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), responses.len(), "{out}");
    assert!(
        lines[0].starts_with("10 SupportedMessage {'COMPRESSION': []}")
            && lines[0].ends_with("['3.4.4']"),
        "{out}"
    );
    assert!(
        lines[1].starts_with(
            "11 AuthenticateMessage 'org.apache.cassandra.auth.PasswordAuthenticator'"
        ),
        "{out}"
    );
    assert!(
        lines[2].starts_with("12 AuthChallengeMessage b'nonce=0123'"),
        "{out}"
    );
    assert!(lines[3].starts_with("13 AuthSuccessMessage"), "{out}");
    assert!(
        lines[4].starts_with("14 BadCredentials")
            && lines[4].contains(" 256 access denied: role arn:aws:iam::2:role/r"),
        "{out}"
    );
    assert!(
        lines[5].starts_with("15 UnavailableErrorMessage")
            && lines[5].contains("'required_replicas': 1, 'alive_replicas': 0"),
        "{out}"
    );
}
