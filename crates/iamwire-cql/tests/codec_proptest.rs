//! Property tests: decode ∘ encode is the identity for every handshake message, and arbitrary bytes never
//! panic any decoder (frames, segments, the relay's segment framing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use iamwire_cql::codec::segment::{self, SegmentFraming};
use iamwire_cql::codec::{ErrorBody, FrameDecoder, Limits, Request, Response};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    "[ -~é✓]{0,40}"
}

fn token() -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200).prop_map(Bytes::from))
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::Options),
        proptest::collection::vec((text(), text()), 0..10).prop_map(Request::Startup),
        token().prop_map(Request::AuthResponse),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        Just(Response::Ready),
        text().prop_map(Response::Authenticate),
        token().prop_map(Response::AuthChallenge),
        token().prop_map(Response::AuthSuccess),
        proptest::collection::vec((text(), proptest::collection::vec(text(), 0..5)), 0..8)
            .prop_map(Response::Supported),
        (
            any::<i32>(),
            text(),
            proptest::collection::vec(any::<u8>(), 0..20)
        )
            .prop_map(|(code, message, rest)| Response::Error(ErrorBody {
                code,
                message,
                rest: rest.into()
            })),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(m in request(), version in 3u8..=5, stream in any::<i16>(), v5 in any::<bool>()) {
        let frame = m.to_frame(version, stream);
        let bytes = frame.to_bytes().unwrap();
        let decoder = FrameDecoder::default();
        let got = if v5 {
            let mut seg = BytesMut::new();
            segment::encode(&bytes, &mut seg);
            let mut joined = segment::SegmentedFrames::default();
            joined.decode(&decoder, &mut seg).unwrap().unwrap()
        } else {
            decoder.decode(&mut bytes.clone()).unwrap().unwrap()
        };
        prop_assert_eq!(&got, &frame);
        prop_assert_eq!(Request::decode(&got, &Limits::default()).unwrap(), m);
    }

    #[test]
    fn responses_round_trip(m in response(), version in 3u8..=5, stream in any::<i16>()) {
        let frame = m.to_frame(version, stream);
        let mut bytes = frame.to_bytes().unwrap();
        let got = FrameDecoder::default().decode(&mut bytes).unwrap().unwrap();
        prop_assert_eq!(Response::decode(&got, &Limits::default()).unwrap(), m);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        iamwire_cql::fuzzing::frames(&data);
    }

    #[test]
    fn framing_never_panics_and_advances(data in proptest::collection::vec(any::<u8>(), 0..512), split in 0usize..512) {
        use iamwire_proxy::Framing;
        let split = split.min(data.len());
        let mut f = SegmentFraming::default();
        f.advance(&data[..split]);
        if let Some(end) = f.rest_of_message(&data[split..]) {
            prop_assert!(end <= data.len() - split);
        }
    }
}
