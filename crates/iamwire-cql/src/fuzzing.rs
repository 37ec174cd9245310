//! Entry points for the fuzz targets (`fuzz/`): arbitrary bytes through every decoder a peer reaches.

use bytes::BytesMut;

use crate::codec::segment::{SegmentDecoder, SegmentFraming, SegmentedFrames};
use crate::codec::{FrameDecoder, Limits, Request, Response};
use iamwire_proxy::Framing;

/// Decode `data` as a stream of frames (then as requests and responses), and as a v5 segment stream;
/// re-encode what decodes and check it decodes the same. Must never panic.
pub fn frames(data: &[u8]) {
    let limits = Limits::default();
    let decoder = FrameDecoder::new(limits);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        if let Ok(request) = Request::decode(&frame, &limits) {
            let again = request.to_frame(frame.version, frame.stream);
            assert_eq!(Request::decode(&again, &limits).ok(), Some(request));
        }
        if let Ok(response) = Response::decode(&frame, &limits) {
            let again = response.to_frame(frame.version, frame.stream);
            assert_eq!(Response::decode(&again, &limits).ok(), Some(response));
        }
        let wire = frame.to_bytes();
        assert!(wire.is_ok());
    }
    let mut buf = BytesMut::from(data);
    while let Ok(Some(_)) = SegmentDecoder.decode(&mut buf) {}
    let mut joined = SegmentedFrames::default();
    let mut buf = BytesMut::from(data);
    while let Ok(Some(_)) = joined.decode(&decoder, &mut buf) {}
    let mut framing = SegmentFraming::default();
    let _ = framing.rest_of_message(data);
    framing.advance(data);
}

/// A client's bytes after its login, in `chunks` as the relay reads them, through the relay's login
/// guard (`segments`: a v5 client): how many bytes reached the database, and the opcode and stream of
/// the frame that would have logged in again, if one came.
pub fn login_guard(segments: bool, chunks: &[&[u8]]) -> (usize, Option<(u8, i16)>) {
    crate::proxy::fuzz_login_guard(segments, chunks)
}
