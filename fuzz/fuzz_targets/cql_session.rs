//! Structure-aware: what a logged-in CQL client sends, as a sequence of well-formed-ish requests
//! (QUERY, OPTIONS, PREPARE, REGISTER, ... and the frames that log in — STARTUP, AUTH_RESPONSE, v2's
//! CREDENTIALS — with arbitrary streams, flags and bodies), encoded by the crate's own encoders (frames,
//! and v5 segments for a v5 client), cut into arbitrary chunks, through the relay's login guard.
//!
//! The CQL handshake itself is async over sockets (`proxy/client.rs`, `proxy/upstream.rs`); its
//! decoders are fuzzed by `cql_frames`. The guard is the sans-IO state machine that keeps the session
//! the user the Authorizer approved. Invariants:
//! - never a panic;
//! - without a login frame every byte passes, and nothing is refused;
//! - with one, the guard names the first (its opcode and stream), everything before it passes, and the
//!   database never gets its whole header (nor, in v5, the checksum of its segment) — only header bytes
//!   that had already gone out in an earlier chunk.
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use iamwire_cql::codec::{Frame, HEADER_LEN, Request, opcode, segment};

#[derive(Arbitrary, Debug)]
enum Message {
    Query(String),
    Prepare(String),
    Options,
    Register,
    Batch(Vec<u8>),
    Startup(Vec<(String, String)>),
    AuthResponse(Option<Vec<u8>>),
    Credentials(Vec<u8>),
    Other { op: u8, body: Vec<u8> },
}

#[derive(Arbitrary, Debug)]
struct Sent {
    stream: i16,
    flags: u8,
    message: Message,
}

#[derive(Arbitrary, Debug)]
struct Input {
    v5: bool,
    sent: Vec<Sent>,
    /// Chunk lengths (the rest goes in one last chunk).
    cuts: Vec<u16>,
    /// Frames per segment (v5), cycled.
    per_segment: Vec<u8>,
}

fn logs_in(op: u8) -> bool {
    matches!(op, opcode::STARTUP | opcode::AUTH_RESPONSE | 0x04)
}

fn long_string(s: &[u8]) -> Vec<u8> {
    let mut body = (u32::try_from(s.len()).unwrap_or(0)).to_be_bytes().to_vec();
    body.extend_from_slice(s);
    body
}

/// One request as a frame of `version`.
fn frame(version: u8, sent: &Sent) -> Option<Frame> {
    let mut frame = match &sent.message {
        Message::Startup(options) => {
            Request::Startup(options.clone()).to_frame(version, sent.stream)
        }
        Message::AuthResponse(token) => {
            Request::AuthResponse(token.clone().map(Into::into)).to_frame(version, sent.stream)
        }
        Message::Options => Request::Options.to_frame(version, sent.stream),
        Message::Query(q) => {
            let mut body = long_string(q.as_bytes());
            body.extend_from_slice(&[0, 1, 0]);
            Frame::request(version, sent.stream, 0x07, body)
        }
        Message::Prepare(q) => {
            Frame::request(version, sent.stream, 0x09, long_string(q.as_bytes()))
        }
        Message::Register => Frame::request(version, sent.stream, 0x0b, vec![0, 0]),
        Message::Batch(body) => Frame::request(version, sent.stream, 0x0d, body.clone()),
        Message::Credentials(body) => Frame::request(version, sent.stream, 0x04, body.clone()),
        Message::Other { op, body } => Frame::request(version, sent.stream, *op, body.clone()),
    };
    // Compression is never negotiated, but a client may set any flag.
    frame.flags = sent.flags;
    Some(frame)
}

libfuzzer_sys::fuzz_target!(|input: Input| {
    let version = if input.v5 { 5 } else { 4 };
    let mut frames = Vec::new();
    for sent in input.sent.iter().take(32) {
        let Some(frame) = frame(version, sent) else {
            return;
        };
        let Ok(bytes) = frame.to_bytes() else { return };
        frames.push((frame.opcode, sent.stream, bytes));
    }
    // The wire, and for the first login frame: where its header starts, and the end of the bytes that
    // must never all pass (its header; in v5 its segment up to the checksum).
    let mut wire = BytesMut::new();
    let mut login: Option<(usize, usize, u8, i16)> = None;
    if input.v5 {
        let mut per = input.per_segment.iter().cycle();
        let mut i = 0;
        while i < frames.len() {
            let n = usize::from(per.next().copied().unwrap_or(1))
                .clamp(1, 8)
                .min(frames.len() - i);
            let mut payload = Vec::new();
            for (op, stream, bytes) in &frames[i..i + n] {
                if login.is_none() && logs_in(*op) {
                    let start = wire.len() + segment::SEGMENT_HEADER_LEN + payload.len();
                    login = Some((start, 0, *op, *stream));
                }
                payload.extend_from_slice(bytes);
            }
            if payload.len() > segment::MAX_PAYLOAD {
                return; // a frame across segments: not what this target drives
            }
            segment::encode(&payload, &mut wire);
            if let Some((start, 0, op, stream)) = login {
                login = Some((start, wire.len() - segment::TRAILER_LEN, op, stream));
            }
            i += n;
        }
    } else {
        for (op, stream, bytes) in &frames {
            if login.is_none() && logs_in(*op) {
                login = Some((wire.len(), wire.len() + HEADER_LEN, *op, *stream));
            }
            wire.extend_from_slice(bytes);
        }
    }
    let mut chunks: Vec<&[u8]> = Vec::new();
    let mut rest = &wire[..];
    for cut in input.cuts.iter().take(64) {
        let (a, b) = rest.split_at(usize::from(*cut).min(rest.len()));
        chunks.push(a);
        rest = b;
    }
    chunks.push(rest);
    let (passed, refused) = iamwire_cql::fuzzing::login_guard(input.v5, &chunks);
    match login {
        None => {
            assert_eq!(refused, None, "refused a session without a login frame");
            assert_eq!(
                passed,
                wire.len(),
                "held back bytes of a session without a login frame"
            );
        }
        Some((start, guarded_end, op, stream)) => {
            assert_eq!(refused, Some((op, stream)), "not the first login frame");
            // The chunk that completed the header: what went before it had passed already.
            let mut before = 0;
            for chunk in &chunks {
                if before + chunk.len() >= start + HEADER_LEN {
                    break;
                }
                before += chunk.len();
            }
            assert_eq!(
                passed,
                start.max(before),
                "not exactly the bytes before the login frame"
            );
            assert!(
                passed < guarded_end,
                "the login frame reached the database ({passed} of {guarded_end})"
            );
        }
    }
});
