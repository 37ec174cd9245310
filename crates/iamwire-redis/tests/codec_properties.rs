//! Properties of the codec: commands decode to what was encoded (however the bytes arrive), the scanner
//! finds the end of any well-formed frame at any chunking, and arbitrary bytes never panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use iamwire_redis::codec::{
    CommandDecoder, FrameScanner, Limits, Profile, Reply, Scan, encode_command,
};
use proptest::prelude::*;

/// A well-formed RESP3 frame (bytes), nested up to `depth`.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        "[a-zA-Z0-9 ]{0,20}".prop_map(|s| format!("+{s}\r\n").into_bytes()),
        "[A-Z]{1,8} [a-z ]{0,20}".prop_map(|s| format!("-{s}\r\n").into_bytes()),
        any::<i64>().prop_map(|n| format!(":{n}\r\n").into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| {
            let mut out = format!("${}\r\n", b.len()).into_bytes();
            out.extend(b);
            out.extend(b"\r\n");
            out
        }),
        Just(b"$-1\r\n".to_vec()),
        Just(b"_\r\n".to_vec()),
        Just(b"#f\r\n".to_vec()),
        Just(b",3.25\r\n".to_vec()),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            (
                prop_oneof![Just('*'), Just('~'), Just('>')],
                proptest::collection::vec(inner.clone(), 0..6)
            )
                .prop_map(|(kind, items)| {
                    let mut out = format!("{kind}{}\r\n", items.len()).into_bytes();
                    items.into_iter().for_each(|i| out.extend(i));
                    out
                }),
            proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(|pairs| {
                let mut out = format!("%{}\r\n", pairs.len()).into_bytes();
                for (k, v) in pairs {
                    out.extend(k);
                    out.extend(v);
                }
                out
            }),
        ]
    })
}

proptest! {
    #[test]
    fn commands_round_trip_at_any_chunking(
        args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..8),
        chunk in 1usize..64,
    ) {
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut wire = BytesMut::new();
        encode_command(&refs, &mut wire);
        encode_command(&refs, &mut wire);
        let mut decoder = CommandDecoder::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(command) = decoder.decode(&mut buf).unwrap() {
                got.push(command);
            }
        }
        prop_assert_eq!(got.len(), 2);
        for command in got {
            let decoded: Vec<Vec<u8>> = command.args().iter().map(|a| a.to_vec()).collect();
            prop_assert_eq!(&decoded, &args);
        }
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn the_scanner_finds_every_frame_end(frames in proptest::collection::vec(frame(), 1..5), chunk in 1usize..32) {
        let mut stream = Vec::new();
        let mut ends = Vec::new();
        for f in &frames {
            stream.extend_from_slice(f);
            ends.push(stream.len());
        }
        let mut scanner = FrameScanner::new(Profile::Reply, Limits::default());
        let (mut pos, mut avail, mut found) = (0, 0, Vec::new());
        while avail < stream.len() {
            avail = (avail + chunk).min(stream.len());
            loop {
                match scanner.scan(&stream[pos..avail]).unwrap() {
                    Scan::Complete(n) => { pos += n; found.push(pos); }
                    Scan::Partial(n) => { pos += n; break; }
                }
            }
        }
        prop_assert_eq!(found, ends.clone());
        // Every frame also decodes with redis-protocol (RESP3).
        let mut start = 0;
        for end in ends {
            let _ = Reply::decode(bytes::Bytes::copy_from_slice(&stream[start..end]), true);
            start = end;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        iamwire_redis::fuzzing::client(&data);
        iamwire_redis::fuzzing::upstream(&data);
        iamwire_redis::fuzzing::relay(&data);
    }
}
