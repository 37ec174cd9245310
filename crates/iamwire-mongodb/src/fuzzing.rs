//! Entry points for the fuzz targets in `fuzz/`; not a stable API.

use bytes::BytesMut;

use crate::bson::{DEFAULT_MAX_DEPTH, DocBuf, Document};
use crate::codec::{BackendMessage, FrontendMessage, Limits, MessageDecoder};
use crate::guard::Guard;

/// A client's bytes: decoded as handshake messages (every document validated), and run through the
/// relay's guard whole and split at a point the input chooses — the guard never panics, and what it
/// passes on and refuses does not depend on how the bytes arrived.
pub fn client_messages(data: &[u8]) {
    let limits = Limits::default();
    decode_all(data, &limits, |raw| {
        let _ = FrontendMessage::decode(raw, &limits);
    });
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(bytes.len());
    let whole = guard(&[bytes]);
    let pieces = guard(&[&bytes[..at], &bytes[at..]]);
    assert_eq!(whole, pieces, "the guard depends on the split");
}

/// A database's bytes: decoded as handshake replies, and each reply's SASL payload as BSON.
pub fn server_messages(data: &[u8]) {
    let limits = Limits::default();
    decode_all(data, &limits, |raw| {
        if let Ok(message) = BackendMessage::decode(raw, &limits)
            && let Some(reply) = message.reply()
            && let Some(payload) = reply.get_binary("payload")
        {
            let _ = Document::parse(payload, limits.max_depth);
        }
    });
}

/// Arbitrary bytes as BSON: what parses re-encodes, element by element, to the same bytes.
pub fn bson(data: &[u8]) {
    if let Ok(doc) = Document::parse(data, DEFAULT_MAX_DEPTH) {
        let mut again = DocBuf::new();
        again.extend(&doc);
        assert_eq!(again.finish(), data, "re-encoding changed the document");
    }
}

fn decode_all(data: &[u8], limits: &Limits, mut each: impl FnMut(&crate::codec::RawMessage)) {
    let decoder = MessageDecoder::new(limits.max_message_len);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(raw)) = decoder.decode(&mut buf) {
        each(&raw);
    }
}

type GuardOutcome = (Vec<u8>, Vec<crate::guard::Refused>, bool);

fn guard(chunks: &[&[u8]]) -> GuardOutcome {
    let mut guard = Guard::new(crate::MAX_MESSAGE_LEN);
    let (mut forward, mut refused, mut requests) = (BytesMut::new(), Vec::new(), Vec::new());
    let mut failed = false;
    for chunk in chunks {
        if guard
            .feed(chunk, &mut forward, &mut refused, &mut requests)
            .is_err()
        {
            failed = true;
            break;
        }
    }
    (forward.to_vec(), refused, failed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn smoke() {
        for data in [&b""[..], &[0; 40], &[5, 0, 0, 0, 0], &[200; 300]] {
            super::client_messages(data);
            super::server_messages(data);
            super::bson(data);
        }
    }
}
