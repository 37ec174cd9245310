use iamwire_proxy::Protocol as _;

use super::*;
use crate::bson::{DEFAULT_MAX_DEPTH, Document};
use crate::codec::{BackendMessage, MessageDecoder};

fn decode(bytes: &[u8]) -> (crate::codec::Header, BackendMessage) {
    let mut buf = bytes::BytesMut::from(bytes);
    let raw = MessageDecoder::new(MAX_MESSAGE_LEN)
        .decode(&mut buf)
        .unwrap()
        .unwrap();
    assert!(buf.is_empty());
    let message = BackendMessage::decode(&raw, &Limits::default()).unwrap();
    (raw.header, message)
}

#[test]
fn refusals_answer_the_request_in_flight_in_its_own_form() {
    let mongo = Mongo::new();
    let mut state = MongoState::default();
    // Nobody asked: nothing to say.
    assert!(mongo.refusal(&state, &SessionError::ShuttingDown).is_none());
    state.pending = Some(Pending {
        request_id: 42,
        legacy: true,
    });
    let bytes = mongo
        .refusal(&state, &SessionError::NoClientIdentity)
        .unwrap();
    let (header, message) = decode(&bytes);
    assert_eq!(header.response_to, 42);
    let BackendMessage::Reply(reply) = &message else {
        panic!("OP_REPLY to an OP_QUERY")
    };
    assert_eq!(reply.documents.len(), 1);
    let doc = message.reply().unwrap();
    assert_eq!(doc.get_f64("code"), Some(18.0));
    state.pending = Some(Pending {
        request_id: 43,
        legacy: false,
    });
    let bytes = mongo.refusal(&state, &SessionError::Killed).unwrap();
    let (header, message) = decode(&bytes);
    assert_eq!(header.response_to, 43);
    assert!(matches!(message, BackendMessage::Msg(_)));
    let doc = Document::parse(message.reply().unwrap().as_bytes(), DEFAULT_MAX_DEPTH).unwrap();
    assert_eq!(doc.get_str("codeName"), Some("Interrupted"));
}

#[test]
fn framing_finds_message_ends_at_every_split() {
    let mut stream = Vec::new();
    let mut ends = vec![0];
    for len in [16usize, 40, 300, 17] {
        stream.extend_from_slice(&u32::try_from(len).unwrap().to_le_bytes());
        stream.extend_from_slice(&vec![0u8; len - 4]);
        ends.push(stream.len());
    }
    let mongo = Mongo::new();
    for split in 0..=stream.len() {
        let mut framing = mongo.framing(&MongoState::default()).unwrap();
        let (a, b) = stream.split_at(split);
        framing.advance(a);
        let expect = ends.iter().find(|e| **e >= split).map(|e| e - split);
        assert_eq!(framing.rest_of_message(b), expect, "split at {split}");
    }
}
