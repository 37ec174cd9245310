//! What the relay never lets reach the database once the session is logged in: a frame that would log
//! in again — STARTUP, AUTH_RESPONSE, and v1/v2's CREDENTIALS. Cassandra refuses a second STARTUP, but
//! takes an AUTH_RESPONSE on a ready connection and re-authenticates it as whoever those credentials
//! name: through the proxy, that would be a database user the Authorizer never approved. The guard
//! follows the client's frame headers (inside v5 segments too) without buffering bodies, and stops the
//! client's bytes at the first such frame; the session then ends with a protocol error on its stream.

use iamwire_proxy::ClientGuard;

use crate::codec::{HEADER_LEN, opcode};

/// v1/v2's CREDENTIALS (request), which logs in too.
const CREDENTIALS: u8 = 0x04;
/// A v5 segment's header: 3 bytes of length and flags, then their CRC24.
const SEGMENT_HEADER_LEN: usize = 6;
/// A v5 segment's trailer: the payload's CRC32.
const SEGMENT_TRAILER_LEN: usize = 4;
/// The payload length bits of a segment header.
const SEGMENT_LEN_MASK: u32 = (1 << 17) - 1;

/// The frame the guard stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refused {
    /// Its opcode.
    pub(super) opcode: u8,
    /// Its stream id (the error answers it).
    pub(super) stream: i16,
}

/// Where the client's frames begin and end.
#[derive(Debug, Default)]
struct Frames {
    header: [u8; HEADER_LEN],
    have: usize,
    body_left: u64,
}

impl Frames {
    /// Follow `bytes`; the offset just past the header of the first frame that logs in, and that frame.
    fn feed(&mut self, bytes: &[u8]) -> Option<(usize, Refused)> {
        let mut at = 0;
        while at < bytes.len() {
            if self.body_left > 0 {
                let skip = usize::try_from(self.body_left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - at);
                self.body_left -= skip as u64;
                at += skip;
                continue;
            }
            let take = (HEADER_LEN - self.have).min(bytes.len() - at);
            self.header[self.have..self.have + take].copy_from_slice(&bytes[at..at + take]);
            self.have += take;
            at += take;
            if self.have < HEADER_LEN {
                break;
            }
            self.have = 0;
            let [_, _, s0, s1, op, l0, l1, l2, l3] = self.header;
            self.body_left = u64::from(u32::from_be_bytes([l0, l1, l2, l3]));
            if matches!(op, opcode::STARTUP | opcode::AUTH_RESPONSE | CREDENTIALS) {
                let stream = i16::from_be_bytes([s0, s1]);
                return Some((at, Refused { opcode: op, stream }));
            }
        }
        None
    }
}

/// Where a v5 client's segments begin and end (their payloads carry the frames).
#[derive(Debug, Default)]
struct Segments {
    header: [u8; SEGMENT_HEADER_LEN],
    have: usize,
    payload_left: usize,
    trailer_left: usize,
}

/// The guard of one session's client-to-database bytes.
#[derive(Debug, Default)]
pub(super) struct LoginGuard {
    frames: Frames,
    segments: Option<Segments>,
    refused: Option<Refused>,
}

impl LoginGuard {
    /// A guard for a client that speaks v5 segments (`segments`) or legacy frames.
    pub(super) fn new(segments: bool) -> Self {
        Self {
            segments: segments.then(Segments::default),
            ..Self::default()
        }
    }

    /// The frame the guard stopped, if it did.
    pub(super) fn refused(&self) -> Option<Refused> {
        self.refused
    }

    /// Segments: the payload bytes go to the frame follower.
    fn feed_segments(&mut self, bytes: &[u8]) -> Option<(usize, Refused)> {
        let segments = self.segments.as_mut()?;
        let mut at = 0;
        while at < bytes.len() {
            if segments.payload_left > 0 {
                let n = segments.payload_left.min(bytes.len() - at);
                if let Some((end, refused)) = self.frames.feed(&bytes[at..at + n]) {
                    return Some((at + end, refused));
                }
                segments.payload_left -= n;
                at += n;
                continue;
            }
            if segments.trailer_left > 0 {
                let n = segments.trailer_left.min(bytes.len() - at);
                segments.trailer_left -= n;
                at += n;
                continue;
            }
            let take = (SEGMENT_HEADER_LEN - segments.have).min(bytes.len() - at);
            segments.header[segments.have..segments.have + take]
                .copy_from_slice(&bytes[at..at + take]);
            segments.have += take;
            at += take;
            if segments.have == SEGMENT_HEADER_LEN {
                segments.have = 0;
                let [a, b, c, ..] = segments.header;
                let data = u32::from_le_bytes([a, b, c, 0]);
                segments.payload_left = (data & SEGMENT_LEN_MASK) as usize;
                segments.trailer_left = SEGMENT_TRAILER_LEN;
            }
        }
        None
    }
}

impl ClientGuard for LoginGuard {
    fn check(&mut self, bytes: &[u8]) -> Option<usize> {
        if self.refused.is_some() {
            return Some(0);
        }
        let found = if self.segments.is_some() {
            self.feed_segments(bytes)
        } else {
            self.frames.feed(bytes)
        };
        let (end, refused) = found?;
        self.refused = Some(refused);
        // Not one byte of the frame's header more than already passed: the database never gets a
        // whole one (a v5 segment is cut short before its checksum, so it is never read at all).
        Some(end.saturating_sub(HEADER_LEN))
    }
}

/// The fuzz targets' run of a guard: `chunks` of a client's bytes, as the relay reads them, until the
/// guard stops them. How many bytes passed, and the opcode and stream of the frame it refused.
pub(crate) fn fuzz_run(segments: bool, chunks: &[&[u8]]) -> (usize, Option<(u8, i16)>) {
    let mut guard = LoginGuard::new(segments);
    let mut passed = 0;
    for chunk in chunks {
        if let Some(n) = guard.check(chunk) {
            passed += n.min(chunk.len());
            break;
        }
        passed += chunk.len();
    }
    (passed, guard.refused().map(|r| (r.opcode, r.stream)))
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::codec::{Frame, segment};

    fn frame(op: u8, stream: i16, body: &[u8]) -> Vec<u8> {
        Frame::request(4, stream, op, body.to_vec())
            .to_bytes()
            .unwrap()
            .to_vec()
    }

    /// Feed `stream` split at `split`; how many bytes passed, and what was refused.
    fn run(stream: &[u8], split: usize, segments: bool) -> (usize, Option<Refused>) {
        let mut guard = LoginGuard::new(segments);
        let (a, b) = stream.split_at(split);
        match guard.check(a) {
            Some(n) => (n, guard.refused()),
            None => match guard.check(b) {
                Some(n) => (a.len() + n, guard.refused()),
                None => (stream.len(), guard.refused()),
            },
        }
    }

    #[test]
    fn queries_pass_and_a_second_login_stops_at_its_first_byte_at_every_split() {
        let query = frame(0x07, 3, &[9; 300]);
        let mut stream = query.clone();
        stream.extend(frame(opcode::OPTIONS, 4, &[]));
        let cut = stream.len();
        stream.extend(frame(opcode::AUTH_RESPONSE, 5, b"\0other\0secret"));
        stream.extend(frame(0x07, 6, &[1; 10]));
        for split in 0..=stream.len() {
            let (passed, refused) = run(&stream, split, false);
            // Bytes of the header that went in an earlier chunk cannot be called back; never more.
            let expect = if split > cut && split < cut + HEADER_LEN {
                split
            } else {
                cut
            };
            assert_eq!(passed, expect, "split at {split}");
            let want = Refused {
                opcode: opcode::AUTH_RESPONSE,
                stream: 5,
            };
            assert_eq!(refused, Some(want), "split at {split}");
        }
        let clean = [query.clone(), query].concat();
        for split in 0..=clean.len() {
            assert_eq!(run(&clean, split, false), (clean.len(), None));
        }
    }

    #[test]
    fn startup_and_credentials_are_refused_too_and_so_is_everything_after() {
        for op in [opcode::STARTUP, CREDENTIALS] {
            let mut guard = LoginGuard::new(false);
            assert_eq!(guard.check(&frame(op, 1, b"x")), Some(0));
            assert_eq!(guard.check(&frame(0x07, 2, b"y")), Some(0));
        }
    }

    #[test]
    fn inside_v5_segments_the_login_frame_is_found_at_every_split() {
        let mut frames = frame(0x07, 1, &[9; 200]);
        frames.extend(frame(opcode::STARTUP, 2, b"\0\0"));
        let mut wire = BytesMut::new();
        segment::encode(&frame(0x07, 0, b"first"), &mut wire);
        let first = wire.len();
        segment::encode(&frames, &mut wire);
        for split in 0..=wire.len() {
            let (passed, refused) = run(&wire, split, true);
            assert!(
                passed >= first,
                "split at {split}: the first segment passes"
            );
            assert!(
                passed < wire.len() - 4,
                "split at {split}: the checksum never passes"
            );
            assert_eq!(
                refused.map(|r| r.opcode),
                Some(opcode::STARTUP),
                "split at {split}"
            );
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut guard = LoginGuard::new(true);
        let mut legacy = LoginGuard::new(false);
        let junk: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for chunk in junk.chunks(7) {
            let _ = guard.check(chunk);
            let _ = legacy.check(chunk);
        }
    }
}
