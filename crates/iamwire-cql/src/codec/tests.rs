use super::segment::{self, SegmentDecoder, SegmentFraming, SegmentedFrames, crc24, crc32};
use super::*;
use iamwire_proxy::Framing;

fn wire(frames: &[Frame]) -> BytesMut {
    let mut out = BytesMut::new();
    for f in frames {
        f.encode(&mut out).unwrap();
    }
    out
}

fn handshake() -> Vec<Frame> {
    vec![
        Request::Options.to_frame(4, 0),
        Response::Supported(vec![("COMPRESSION".into(), vec![])]).to_frame(4, 0),
        Request::Startup(vec![("CQL_VERSION".into(), "3.4.4".into())]).to_frame(4, 1),
        Response::Authenticate("org.apache.cassandra.auth.PasswordAuthenticator".into())
            .to_frame(4, 1),
        Request::AuthResponse(Some(Bytes::from_static(b"\0reader\0pw"))).to_frame(4, 2),
        Response::AuthSuccess(None).to_frame(4, 2),
    ]
}

#[test]
fn a_handshake_decodes_at_every_split() {
    let frames = handshake();
    let bytes = wire(&frames);
    let decoder = FrameDecoder::default();
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
        assert_eq!(got, frames, "split at {split}");
        assert!(buf.is_empty());
    }
}

#[test]
fn limits_and_versions_are_refused_before_buffering() {
    let decoder = FrameDecoder::new(Limits::default().with_max_body(16));
    let mut big = BytesMut::from(&[0x04, 0, 0, 1, 0x01, 0, 0, 0, 17][..]);
    assert!(matches!(
        decoder.decode(&mut big),
        Err(Malformed::TooLong { len: 17, .. })
    ));
    let mut huge = BytesMut::from(&[0x04, 0, 0, 1, 0x01, 0xff, 0xff, 0xff, 0xff][..]);
    assert!(decoder.decode(&mut huge).is_err());
    for v in [0u8, 1, 2, 6, 0x42, 0x82] {
        let mut buf = BytesMut::from(&[v][..]);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(Malformed::Version(v & 0x7f)),
            "{v}"
        );
    }
    assert_eq!(decoder.decode(&mut BytesMut::new()), Ok(None));
}

#[test]
fn bodies_are_checked_field_by_field() {
    let limits = Limits::default();
    let frame = |op, body: &[u8]| Frame::request(4, 0, op, Bytes::copy_from_slice(body));
    assert_eq!(
        Request::decode(&frame(opcode::STARTUP, &[0, 1, 0, 5, b'a']), &limits),
        Err(Malformed::Truncated("option name"))
    );
    assert_eq!(
        Request::decode(&frame(opcode::STARTUP, &[0xff, 0xff]), &limits),
        Err(Malformed::TooLong {
            what: "STARTUP options",
            len: 65535,
            limit: 64
        })
    );
    assert_eq!(
        Request::decode(&frame(opcode::OPTIONS, &[0]), &limits),
        Err(Malformed::Trailing("request"))
    );
    assert_eq!(
        Request::decode(
            &frame(opcode::AUTH_RESPONSE, &[0xff, 0xff, 0xff, 0xff]),
            &limits
        ),
        Ok(Request::AuthResponse(None))
    );
    assert_eq!(
        Request::decode(&frame(opcode::STARTUP, &[0, 1, 0, 1, 0xff, 0, 0]), &limits),
        Err(Malformed::Utf8("option name"))
    );
    let response = Frame::response(4, 0, opcode::READY, Bytes::new());
    assert_eq!(
        Request::decode(&response, &limits),
        Err(Malformed::Direction)
    );
    let error = Response::Error(ErrorBody {
        code: error_code::UNAVAILABLE,
        message: "down".into(),
        rest: Bytes::from_static(&[0, 1, 0, 0, 0, 1, 0, 0, 0, 0]),
    });
    let back = Response::decode(&error.to_frame(4, 3), &limits).unwrap();
    assert_eq!(back, error);
    // A password in an AUTH_RESPONSE never shows in Debug.
    let secret = Request::AuthResponse(Some(Bytes::from_static(b"\0u\0hunter2")));
    assert!(!format!("{secret:?}").contains("hunter2"));
}

#[test]
fn segments_carry_frames_and_their_checksums_are_checked() {
    let frames = handshake();
    let bytes = wire(&frames);
    let mut segmented = BytesMut::new();
    segment::encode(&bytes, &mut segmented);
    let decoder = FrameDecoder::default();
    for split in 0..=segmented.len() {
        let mut joined = SegmentedFrames::default();
        let mut buf = BytesMut::from(&segmented[..split]);
        let mut got = Vec::new();
        while let Some(f) = joined.decode(&decoder, &mut buf).unwrap() {
            got.push(f);
        }
        buf.extend_from_slice(&segmented[split..]);
        while let Some(f) = joined.decode(&decoder, &mut buf).unwrap() {
            got.push(f);
        }
        assert_eq!(got, frames, "split at {split}");
    }
    for flip in [0usize, 4, 7, segmented.len() - 1] {
        let mut bad = segmented.clone();
        bad[flip] ^= 0x10;
        assert!(
            matches!(SegmentDecoder.decode(&mut bad), Err(Malformed::Checksum(_))),
            "flip at {flip}"
        );
    }
    assert_eq!(crc24(0, 0), 0x0087_5060);
    assert_eq!(crc32(b""), crc32fast::hash(&[0xfa, 0x2d, 0x55, 0xca]));
}

#[test]
fn a_large_frame_spans_segments_and_the_framing_ends_after_it() {
    let big = Frame::response(5, 9, 0x08, vec![7u8; segment::MAX_PAYLOAD + 1000]);
    let small = Response::Ready.to_frame(5, 10);
    let mut stream = BytesMut::new();
    segment::encode(&big.to_bytes().unwrap(), &mut stream);
    let first_end = stream.len();
    segment::encode(&small.to_bytes().unwrap(), &mut stream);
    let ends = [0, first_end, stream.len()];
    // Decoding joins the pieces (the limit allows it here).
    let decoder = FrameDecoder::new(Limits::default().with_max_body(1 << 20));
    let mut joined = SegmentedFrames::default();
    let mut buf = stream.clone();
    assert_eq!(joined.decode(&decoder, &mut buf).unwrap(), Some(big));
    assert_eq!(joined.decode(&decoder, &mut buf).unwrap(), Some(small));
    // The framing sees frame ends only between whole frames, not between the big frame's pieces.
    for split in (0..=stream.len())
        .step_by(997)
        .chain([first_end - 1, first_end])
    {
        let mut f = SegmentFraming::default();
        let (a, b) = stream.split_at(split);
        f.advance(a);
        let expect = ends.iter().find(|e| **e >= split).map(|e| e - split);
        assert_eq!(f.rest_of_message(b), expect, "split at {split}");
    }
    // With the default limit, the joined frame is refused.
    let mut buf = stream.clone();
    let mut joined = SegmentedFrames::default();
    assert!(joined.decode(&FrameDecoder::default(), &mut buf).is_err());
}
