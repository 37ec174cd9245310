//! Split reads: a real handshake, captured between psql 15 and PostgreSQL 15.18 (SCRAM-SHA-256,
//! `sslmode=prefer` against a server without TLS), fed to the decoders in two chunks at every
//! split offset and one byte at a time. The same messages must come out every time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use iamwire_postgres::codec::{
    AuthResponseKind, Authentication, BackendDecoder, BackendMessage, BackendPhase, CodecError,
    FrontendDecoder, FrontendMessage, FrontendPhase, ProtocolVersion, Severity, TransactionStatus,
};

const CLIENT_HEX: &str = concat!(
    "0000000804d2162f0000003c000300007573657200616c69636500646174616261736500706f73746772657300617070",
    "6c69636174696f6e5f6e616d65007073716c00007000000036534352414d2d5348412d32353600000000206e2c2c6e3d",
    "2c723d51554d697a6b4e5a794971792f54345058646f3868397772700000006c633d626977732c723d51554d697a6b4e",
    "5a794971792f54345058646f38683977726d56633264714d7a6d75663067782b37626d2b62324d64682c703d3068592b",
    "4564635773746a782f7a4746556e4e5a3078532b6c56703534657a6d2b7371364e7961783534493d",
);
const SERVER_HEX: &str = concat!(
    "4e52000000170000000a534352414d2d5348412d3235360000520000005c0000000b723d51554d697a6b4e5a79497179",
    "2f54345058646f38683977726d56633264714d7a6d75663067782b37626d2b62324d64682c733d624f714f436b514d4f",
    "706e736e416a523273736657773d3d2c693d3430393652000000360000000c763d756f74767954745639523977653667",
    "32565a44484c4d6c51752f754534765277784b3363766b6c436f42673d520000000800000000530000001a6170706c69",
    "636174696f6e5f6e616d65007073716c005300000019636c69656e745f656e636f64696e670055544638005300000017",
    "446174655374796c650049534f2c204d445900530000002664656661756c745f7472616e73616374696f6e5f72656164",
    "5f6f6e6c79006f6666005300000017696e5f686f745f7374616e646279006f6666005300000019696e74656765725f64",
    "61746574696d6573006f6e00530000001b496e74657276616c5374796c6500706f73746772657300530000001469735f",
    "737570657275736572006f6e0053000000197365727665725f656e636f64696e67005554463800530000003273657276",
    "65725f76657273696f6e0031352e3138202844656269616e2031352e31382d302b646562313275312900530000002073",
    "657373696f6e5f617574686f72697a6174696f6e00616c6963650053000000237374616e646172645f636f6e666f726d",
    "696e675f737472696e6773006f6e00530000001554696d655a6f6e65004574632f555443004b0000000c0000081c1dfd",
    "adc35a0000000549540000002100013f636f6c756d6e3f00000000000000000000170004ffffffff0000440000000b00",
    "010000000131430000000d53454c4543542031005a0000000549",
);
const BAD_PASSWORD_SERVER_HEX: &str = concat!(
    "52000000170000000a534352414d2d5348412d3235360000520000005c0000000b723d44745a684c2f52695962352f34",
    "5a2b625234545042567a7a6e414c6b447a62696c2f2b77556170443133684e4d2b49412c733d624f714f436b514d4f70",
    "6e736e416a523273736657773d3d2c693d34303936450000006553464154414c0056464154414c00433238503031004d",
    "70617373776f72642061757468656e7469636174696f6e206661696c656420666f7220757365722022616c6963652200",
    "46617574682e63004c3333340052617574685f6661696c65640000",
);

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Decodes `chunks` in order as the proxy would read them from a client, moving the phase the
/// way the handshake does.
fn decode_client(chunks: &[&[u8]]) -> Vec<FrontendMessage> {
    let mut decoder = FrontendDecoder::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(message) = decoder.decode(&mut buf).unwrap() {
            let next = match &message {
                FrontendMessage::Startup(_) => {
                    FrontendPhase::Authentication(AuthResponseKind::SaslInitialResponse)
                }
                FrontendMessage::SaslInitialResponse(_) => {
                    FrontendPhase::Authentication(AuthResponseKind::SaslResponse)
                }
                _ => decoder.phase(),
            };
            decoder.set_phase(next);
            out.push(message);
        }
    }
    assert!(buf.is_empty(), "left over: {buf:?}");
    out
}

/// Decodes `chunks` in order as the proxy would read them from an upstream, after sending an
/// SSLRequest.
fn decode_server(chunks: &[&[u8]]) -> Result<Vec<BackendMessage>, CodecError> {
    let mut decoder = BackendDecoder::default();
    decoder.set_phase(BackendPhase::SslResponse);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(message) = decoder.decode(&mut buf)? {
            decoder.set_phase(BackendPhase::Messages);
            out.push(message);
        }
    }
    assert!(buf.is_empty(), "left over: {buf:?}");
    Ok(out)
}

/// Every way to cut `bytes` into two chunks, and into single bytes.
fn splits(bytes: &[u8]) -> impl Iterator<Item = Vec<&[u8]>> {
    (0..=bytes.len())
        .map(move |at| vec![&bytes[..at], &bytes[at..]])
        .chain(std::iter::once(bytes.chunks(1).collect()))
}

#[test]
fn client_side_of_a_real_handshake() {
    let bytes = hex(CLIENT_HEX);
    let messages = decode_client(&[&bytes]);
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[0], FrontendMessage::SslRequest);
    let FrontendMessage::Startup(startup) = &messages[1] else {
        panic!("{:?}", messages[1])
    };
    assert_eq!(startup.version(), ProtocolVersion::V3_0);
    assert_eq!(
        startup.parameters().collect::<Vec<_>>(),
        [
            ("user", "alice"),
            ("database", "postgres"),
            ("application_name", "psql")
        ]
    );
    let FrontendMessage::SaslInitialResponse(initial) = &messages[2] else {
        panic!()
    };
    assert_eq!(initial.mechanism, "SCRAM-SHA-256");
    assert_eq!(
        initial.data.as_ref().unwrap().expose(),
        b"n,,n=,r=QUMizkNZyIqy/T4PXdo8h9wr"
    );
    let FrontendMessage::SaslResponse(response) = &messages[3] else {
        panic!()
    };
    assert!(
        response
            .data
            .expose()
            .starts_with(b"c=biws,r=QUMizkNZyIqy/T4PXdo8h9wr")
    );

    for chunks in splits(&bytes) {
        assert_eq!(
            decode_client(&chunks),
            messages,
            "split {:?}",
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
        );
    }
    // Re-encoding gives back the captured bytes.
    let mut encoded = BytesMut::new();
    for message in &messages {
        message.encode(&mut encoded).unwrap();
    }
    assert_eq!(&encoded[..], &bytes[..]);
}

#[test]
fn server_side_of_a_real_handshake() {
    let bytes = hex(SERVER_HEX);
    let messages = decode_server(&[&bytes]).unwrap();
    assert_eq!(messages[0], BackendMessage::SslResponse { accepted: false });
    assert_eq!(
        messages[1],
        BackendMessage::Authentication(Authentication::Sasl {
            mechanisms: vec!["SCRAM-SHA-256".into()]
        })
    );
    assert!(
        matches!(&messages[2], BackendMessage::Authentication(Authentication::SaslContinue(d))
        if d.expose().ends_with(b",s=bOqOCkQMOpnsnAjR2ssfWw==,i=4096"))
    );
    assert!(
        matches!(&messages[3], BackendMessage::Authentication(Authentication::SaslFinal(d))
        if d.expose().starts_with(b"v="))
    );
    assert_eq!(
        messages[4],
        BackendMessage::Authentication(Authentication::Ok)
    );
    let statuses: Vec<_> = messages
        .iter()
        .filter_map(|m| match m {
            BackendMessage::ParameterStatus(s) => Some((s.name.as_str(), s.value.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(statuses.len(), 13);
    assert!(statuses.contains(&("server_encoding", "UTF8")));
    assert!(statuses.contains(&("session_authorization", "alice")));
    let BackendMessage::BackendKeyData(key) = &messages[18] else {
        panic!("{:?}", messages[18])
    };
    assert_eq!(key.process_id, 0x081c);
    assert_eq!(key.secret_key.to_i32(), Some(0x1dfd_adc3));
    assert_eq!(
        messages[19],
        BackendMessage::ReadyForQuery(TransactionStatus::Idle)
    );
    // The query that follows: RowDescription, DataRow, CommandComplete stay opaque.
    let tags: Vec<u8> = messages[20..]
        .iter()
        .map(|m| match m {
            BackendMessage::Other { tag, .. } => *tag,
            BackendMessage::ReadyForQuery(_) => b'Z',
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(tags, b"TDCZ");

    for chunks in splits(&bytes) {
        assert_eq!(decode_server(&chunks).unwrap(), messages);
    }
    let mut encoded = BytesMut::new();
    for message in &messages {
        message.encode(&mut encoded).unwrap();
    }
    assert_eq!(&encoded[..], &bytes[..]);
}

#[test]
fn server_refusing_a_password() {
    let bytes = hex(BAD_PASSWORD_SERVER_HEX);
    let mut decoder = BackendDecoder::default();
    for chunks in splits(&bytes) {
        let mut buf = BytesMut::new();
        let mut messages = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(message) = decoder.decode(&mut buf).unwrap() {
                messages.push(message);
            }
        }
        assert_eq!(messages.len(), 3);
        let BackendMessage::ErrorResponse(error) = &messages[2] else {
            panic!("{:?}", messages[2])
        };
        assert_eq!(error.severity_kind(), Some(Severity::Fatal));
        assert_eq!(error.code, "28P01");
        assert_eq!(error.file.as_deref(), Some("auth.c"));
        assert_eq!(error.routine.as_deref(), Some("auth_failed"));
    }
}
