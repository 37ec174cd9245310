//! Property tests: documents and messages decode to what was encoded; arbitrary bytes never panic the
//! BSON reader, the message decoders or the relay's guard.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use iamwire_mongodb::bson::{DEFAULT_MAX_DEPTH, DocBuf, Document};
use iamwire_mongodb::codec::{
    BackendMessage, FrontendMessage, Limits, MessageDecoder, OpMsg, OpQuery, OpReply, RawDocument,
    Sequence,
};
use iamwire_mongodb::guard::Guard;
use proptest::prelude::*;

/// A BSON value tree, written with `DocBuf`.
#[derive(Debug, Clone)]
enum V {
    Str(String),
    I32(i32),
    I64(i64),
    F64(f64),
    Bool(bool),
    Bin(u8, Vec<u8>),
    Null,
    Doc(Vec<(String, V)>),
}

fn value() -> impl Strategy<Value = V> {
    let leaf = prop_oneof![
        ".{0,12}".prop_map(V::Str),
        any::<i32>().prop_map(V::I32),
        any::<i64>().prop_map(V::I64),
        any::<f64>()
            .prop_filter("NaN != NaN", |f| !f.is_nan())
            .prop_map(V::F64),
        any::<bool>().prop_map(V::Bool),
        (
            prop_oneof![Just(0u8), Just(4), Just(0x80)],
            prop::collection::vec(any::<u8>(), 0..16)
        )
            .prop_map(|(t, b)| V::Bin(t, b)),
        Just(V::Null),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop::collection::vec(("[a-z$]{1,6}", inner), 0..6).prop_map(V::Doc)
    })
}

fn write(fields: &[(String, V)]) -> Vec<u8> {
    let mut d = DocBuf::new();
    for (k, v) in fields {
        match v {
            V::Str(s) => d.str(k, s),
            V::I32(n) => d.i32(k, *n),
            V::I64(n) => d.i64(k, *n),
            V::F64(n) => d.f64(k, *n),
            V::Bool(b) => d.bool(k, *b),
            V::Bin(t, b) => d.binary(k, *t, b),
            V::Null => d.value(k, &iamwire_mongodb::bson::Value::Null),
            V::Doc(inner) => d.document(k, &write(inner)),
        };
    }
    d.finish()
}

fn document() -> impl Strategy<Value = Vec<(String, V)>> {
    prop::collection::vec(("[a-zA-Z$]{1,8}", value()), 0..8)
}

fn decode(wire: &[u8]) -> iamwire_mongodb::codec::RawMessage {
    let mut buf = BytesMut::from(wire);
    MessageDecoder::new(Limits::default().max_message_len)
        .decode(&mut buf)
        .unwrap()
        .unwrap()
}

proptest! {
    #[test]
    fn documents_read_back_as_written(fields in document()) {
        let bytes = write(&fields);
        let doc = Document::parse(&bytes, DEFAULT_MAX_DEPTH).unwrap();
        let keys: Vec<_> = doc.iter().map(|(k, _)| k.to_owned()).collect();
        let want: Vec<_> = fields.iter().map(|(k, _)| k.clone()).collect();
        prop_assert_eq!(keys, want);
        let mut again = DocBuf::new();
        again.extend(&doc);
        prop_assert_eq!(again.finish(), bytes);
    }

    #[test]
    fn op_msg_round_trips(body in document(), seqs in prop::collection::vec(("[a-z]{1,8}", prop::collection::vec(document(), 0..3)), 0..3), checksum in any::<bool>(), id in any::<i32>(), to in any::<i32>()) {
        let mut msg = OpMsg::new(RawDocument::from(write(&body)));
        msg.flags = u32::from(checksum);
        msg.sequences = seqs.iter().map(|(name, docs)| Sequence {
            identifier: name.clone(),
            documents: docs.iter().map(|d| RawDocument::from(write(d))).collect(),
        }).collect();
        let mut wire = BytesMut::new();
        msg.encode(id, to, &mut wire);
        let raw = decode(&wire);
        prop_assert_eq!((raw.header.request_id, raw.header.response_to), (id, to));
        prop_assert_eq!(FrontendMessage::decode(&raw, &Limits::default()).unwrap(), FrontendMessage::Msg(msg.clone()));
        prop_assert_eq!(BackendMessage::decode(&raw, &Limits::default()).unwrap(), BackendMessage::Msg(msg));
    }

    #[test]
    fn legacy_messages_round_trip(query in document(), fields in proptest::option::of(document()), docs in prop::collection::vec(document(), 0..4), collection in "[a-z]{1,8}\\.[a-z$]{1,8}", cursor in any::<i64>()) {
        let q = OpQuery { flags: 0, collection, skip: 1, limit: -1, query: RawDocument::from(write(&query)), fields: fields.map(|f| RawDocument::from(write(&f))) };
        let mut wire = BytesMut::new();
        q.encode(9, &mut wire);
        prop_assert_eq!(FrontendMessage::decode(&decode(&wire), &Limits::default()).unwrap(), FrontendMessage::Query(q));
        let r = OpReply { flags: 8, cursor_id: cursor, starting_from: 0, documents: docs.iter().map(|d| RawDocument::from(write(d))).collect() };
        let mut wire = BytesMut::new();
        r.encode(10, 9, &mut wire);
        prop_assert_eq!(BackendMessage::decode(&decode(&wire), &Limits::default()).unwrap(), BackendMessage::Reply(r));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), split in any::<u16>()) {
        let _ = Document::parse(&bytes, DEFAULT_MAX_DEPTH);
        let limits = Limits::default();
        let mut buf = BytesMut::from(&bytes[..]);
        let decoder = MessageDecoder::new(limits.max_message_len);
        while let Ok(Some(raw)) = decoder.decode(&mut buf) {
            let _ = FrontendMessage::decode(&raw, &limits);
            let _ = BackendMessage::decode(&raw, &limits);
        }
        iamwire_mongodb::fuzzing::client_messages(&[&split.to_le_bytes()[..1], &bytes].concat());
        iamwire_mongodb::fuzzing::server_messages(&bytes);
    }

    #[test]
    fn messages_with_a_valid_header_and_random_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..256), op in prop_oneof![Just(1i32), Just(2004), Just(2013), Just(2012)]) {
        let mut wire = Vec::new();
        wire.extend_from_slice(&u32::try_from(16 + body.len()).unwrap().to_le_bytes());
        wire.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        wire.extend_from_slice(&op.to_le_bytes());
        wire.extend_from_slice(&body);
        let raw = decode(&wire);
        let _ = FrontendMessage::decode(&raw, &Limits::default());
        let _ = BackendMessage::decode(&raw, &Limits::default());
        let mut guard = Guard::new(iamwire_mongodb::MAX_MESSAGE_LEN);
        let (mut forward, mut refused, mut requests) = (BytesMut::new(), Vec::new(), Vec::new());
        guard.feed(&wire, &mut forward, &mut refused, &mut requests).unwrap();
        // Every byte is either passed on or belongs to a refused message; the guard is between messages.
        prop_assert!(guard.at_boundary());
        prop_assert!(forward.len() == wire.len() || (forward.is_empty() && refused.len() == 1));
    }
}
