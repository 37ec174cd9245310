//! The codec against a real driver: what pymongo 4.20 sent and what it accepted, captured once (a plain
//! connection to a recording server: `hello`, `saslStart` PLAIN, `insert` with its documents as a kind-1
//! sequence, `find`, `endSessions`), decoded whole and at every split offset.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use iamwire_mongodb::codec::{BackendMessage, FrontendMessage, Limits, MessageDecoder, RawMessage};

const CLIENT: &[u8] = include_bytes!("data/pymongo_client.bin");
const SERVER: &[u8] = include_bytes!("data/pymongo_server.bin");

fn decode_split(stream: &[u8], split: usize) -> Vec<RawMessage> {
    let decoder = MessageDecoder::new(Limits::default().max_message_len);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for part in [&stream[..split], &stream[split..]] {
        buf.extend_from_slice(part);
        while let Some(raw) = decoder.decode(&mut buf).unwrap() {
            out.push(raw);
        }
    }
    assert!(buf.is_empty());
    out
}

#[test]
fn pymongos_messages_decode_at_every_split() {
    let whole = decode_split(CLIENT, CLIENT.len());
    let names: Vec<String> = whole
        .iter()
        .map(
            |raw| match FrontendMessage::decode(raw, &Limits::default()).unwrap() {
                FrontendMessage::Msg(m) => m.body().first_key().unwrap().to_owned(),
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert_eq!(
        names,
        ["ismaster", "saslStart", "insert", "find", "endSessions"]
    );
    let FrontendMessage::Msg(insert) =
        FrontendMessage::decode(&whole[2], &Limits::default()).unwrap()
    else {
        panic!()
    };
    assert_eq!(insert.sequences.len(), 1);
    assert_eq!(insert.sequences[0].identifier, "documents");
    assert_eq!(
        insert.sequences[0].documents[0].view().get_str("k"),
        Some("v")
    );
    let FrontendMessage::Msg(sasl) =
        FrontendMessage::decode(&whole[1], &Limits::default()).unwrap()
    else {
        panic!()
    };
    assert_eq!(sasl.body().get_str("mechanism"), Some("PLAIN"));
    assert_eq!(sasl.body().get_str("$db"), Some("$external"));
    assert_eq!(
        sasl.body().get_binary("payload"),
        Some(&b"\0docs-reader\0proxy-pw"[..])
    );
    for split in 0..=CLIENT.len() {
        assert_eq!(decode_split(CLIENT, split), whole, "split at {split}");
    }
}

#[test]
fn replies_pymongo_accepted_decode_at_every_split() {
    let whole = decode_split(SERVER, SERVER.len());
    assert_eq!(whole.len(), 5);
    for raw in &whole {
        let reply = BackendMessage::decode(raw, &Limits::default()).unwrap();
        assert_eq!(reply.reply().unwrap().get_f64("ok"), Some(1.0));
    }
    for split in 0..=SERVER.len() {
        assert_eq!(decode_split(SERVER, split), whole, "split at {split}");
    }
}

#[test]
fn encoding_what_was_decoded_gives_pymongos_bytes_back() {
    let mut again = BytesMut::new();
    for raw in decode_split(CLIENT, CLIENT.len()) {
        let FrontendMessage::Msg(m) = FrontendMessage::decode(&raw, &Limits::default()).unwrap()
        else {
            panic!()
        };
        m.encode(raw.header.request_id, raw.header.response_to, &mut again);
    }
    assert_eq!(&again[..], CLIENT);
}

/// pymongo's `bson.encode` of one value of every BSON type (old binary subtype 2, UUID, regex, code
/// with scope, timestamp, decimal128, min/max key...).
const ALL_TYPES: &[u8] = include_bytes!("data/pymongo_all_types.bson");

#[test]
fn every_bson_type_pymongo_writes_is_read_and_written_back() {
    use iamwire_mongodb::bson::{DEFAULT_MAX_DEPTH, DocBuf, Document, Value};
    let doc = Document::parse(ALL_TYPES, DEFAULT_MAX_DEPTH).unwrap();
    assert_eq!(doc.iter().count(), 18);
    assert!(matches!(doc.get("b"), Some(Value::Binary { subtype: 2, bytes }) if bytes.len() == 6));
    assert!(matches!(
        doc.get("jsc"),
        Some(Value::JavaScriptWithScope { code: "g()", .. })
    ));
    assert!(matches!(
        doc.get("re"),
        Some(Value::Regex {
            pattern: "a.*",
            options: "i"
        })
    ));
    assert!(matches!(doc.get("min"), Some(Value::MinKey)));
    assert!(matches!(doc.get("dec"), Some(Value::Decimal128(_))));
    let mut again = DocBuf::new();
    again.extend(&doc);
    assert_eq!(again.finish(), ALL_TYPES);
}
