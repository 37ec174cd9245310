//! Unit tests: every message against bytes written out by hand from the PostgreSQL docs
//! ("Message Formats").

mod backend;
mod frontend;

use bytes::BytesMut;

use super::*;

/// Decodes `bytes` as exactly one frontend message in `phase`.
fn frontend(phase: FrontendPhase, bytes: &[u8]) -> Result<Option<FrontendMessage>, CodecError> {
    let mut decoder = FrontendDecoder::default();
    decoder.set_phase(phase);
    let mut buf = BytesMut::from(bytes);
    let message = decoder.decode(&mut buf);
    if let Ok(Some(_)) = message {
        assert!(buf.is_empty(), "bytes left after one message: {buf:?}");
    }
    message
}

/// Decodes `bytes` as exactly one backend message in `phase`.
fn backend(phase: BackendPhase, bytes: &[u8]) -> Result<Option<BackendMessage>, CodecError> {
    let mut decoder = BackendDecoder::default();
    decoder.set_phase(phase);
    let mut buf = BytesMut::from(bytes);
    let message = decoder.decode(&mut buf);
    if let Ok(Some(_)) = message {
        assert!(buf.is_empty(), "bytes left after one message: {buf:?}");
    }
    message
}

fn encode_frontend(message: impl Into<FrontendMessage>) -> Vec<u8> {
    let mut buf = BytesMut::new();
    message.into().encode(&mut buf).unwrap();
    buf.to_vec()
}

fn encode_backend(message: impl Into<BackendMessage>) -> Vec<u8> {
    let mut buf = BytesMut::new();
    message.into().encode(&mut buf).unwrap();
    buf.to_vec()
}

/// Every proper prefix of `bytes` decodes to `Ok(None)` and consumes nothing.
fn assert_needs_more(phase: FrontendPhase, bytes: &[u8]) {
    for end in 0..bytes.len() {
        let mut decoder = FrontendDecoder::default();
        decoder.set_phase(phase);
        let mut buf = BytesMut::from(&bytes[..end]);
        assert_eq!(decoder.decode(&mut buf), Ok(None), "prefix of {end} bytes");
        assert_eq!(&buf[..], &bytes[..end]);
    }
}

const AUTH_PASSWORD: FrontendPhase = FrontendPhase::Authentication(AuthResponseKind::Password);
const AUTH_SASL_INITIAL: FrontendPhase =
    FrontendPhase::Authentication(AuthResponseKind::SaslInitialResponse);
const AUTH_SASL: FrontendPhase = FrontendPhase::Authentication(AuthResponseKind::SaslResponse);
