//! v5 segments against the DataStax Python driver's own segment codec (`cassandra.segment`, from the rig's
//! venv): what it writes, we read; what we write, it reads — small, empty-bodied and multi-segment payloads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use bytes::BytesMut;
use iamwire_cql::codec::segment::{self, SegmentDecoder};

const SCRIPT: &str = r#"
import io, sys
from cassandra.segment import SegmentCodec
codec = SegmentCodec()
for arg in sys.stdin.read().split():
    kind, hexdata = arg.split(":", 1)
    data = bytes.fromhex(hexdata)
    if kind == "enc":
        buf = io.BytesIO()
        codec.encode(buf, data)
        print(buf.getvalue().hex())
    else:
        buf = io.BytesIO(data)
        out = b""
        while buf.tell() < len(data):
            header = codec.decode_header(buf)
            out += codec.decode(buf, header).payload
        print(out.hex())
"#;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn segments_match_the_python_driver_both_ways() {
    let payloads: Vec<Vec<u8>> = vec![
        b"\x05\x00\x00\x01\x02\x00\x00\x00\x00".to_vec(),
        (0..=255u8).collect(),
        vec![0xab; segment::MAX_PAYLOAD + 17],
    ];
    let mut args = Vec::new();
    for p in &payloads {
        args.push(format!("enc:{}", hex(p)));
        let mut ours = BytesMut::new();
        segment::encode(p, &mut ours);
        args.push(format!("dec:{}", hex(&ours)));
    }
    let mut child = Command::new(iamwire_testkit::python())
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(args.join("\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    for (i, p) in payloads.iter().enumerate() {
        let mut ours = BytesMut::new();
        segment::encode(p, &mut ours);
        assert_eq!(
            lines[2 * i],
            hex(&ours),
            "payload {i}: the driver's encoding"
        );
        assert_eq!(
            lines[2 * i + 1],
            hex(p),
            "payload {i}: the driver read ours"
        );
        let mut theirs = BytesMut::from(&ours[..]);
        let mut joined = Vec::new();
        while let Some(s) = SegmentDecoder.decode(&mut theirs).unwrap() {
            assert_eq!(s.self_contained, p.len() <= segment::MAX_PAYLOAD);
            joined.extend_from_slice(&s.payload);
        }
        assert_eq!(&joined, p);
    }
}
