//! Protocol v5's segments: once a v5 server has answered STARTUP, every frame in both directions
//! travels inside segments — a 3-byte little-endian header (17-bit payload length, then the
//! self-contained flag) with a CRC24, the payload, and a CRC32 of the payload. A self-contained
//! segment holds whole frames; a larger frame is cut across segments that are not.
//!
//! Only uncompressed segments exist here: the proxy offers no compression, so none is negotiated.
//! [`SegmentDecoder`] and [`encode`] handle the handshake; [`SegmentFraming`] tells the relay where
//! frames end in a v5 stream.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use iamwire_proxy::Framing;

use super::{Frame, FrameDecoder, HEADER_LEN, Malformed};

/// The largest payload of one segment.
pub const MAX_PAYLOAD: usize = 128 * 1024 - 1;
/// Header (3 bytes) and its CRC24 (3 bytes).
pub const SEGMENT_HEADER_LEN: usize = 6;
/// The payload's CRC32 trailer.
pub const TRAILER_LEN: usize = 4;
const SELF_CONTAINED: u32 = 1 << 17;
const CRC24_INIT: u32 = 0x0087_5060;
const CRC24_POLY: u32 = 0x0197_4F0B;
/// The CRC32 of a payload starts as if these bytes came first.
const CRC32_PREFIX: [u8; 4] = [0xfa, 0x2d, 0x55, 0xca];

/// CRC24 of the low `len` bytes of `data`, least significant first, as the protocol defines it.
pub fn crc24(mut data: u64, len: usize) -> u32 {
    let mut crc = CRC24_INIT;
    for _ in 0..len {
        crc ^= ((data & 0xff) as u32) << 16;
        data >>= 8;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= CRC24_POLY;
            }
        }
    }
    crc
}

/// CRC32 of a segment payload.
pub fn crc32(payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&CRC32_PREFIX);
    h.update(payload);
    h.finalize()
}

fn le24(b: &[u8]) -> u32 {
    u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16
}

/// One decoded segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The payload: whole frames if self-contained, else a piece of one.
    pub payload: Bytes,
    /// Whether the payload holds whole frames.
    pub self_contained: bool,
}

/// Decodes uncompressed segments, checking both checksums.
#[derive(Debug, Clone, Copy, Default)]
pub struct SegmentDecoder;

impl SegmentDecoder {
    /// The next whole segment in `buf` (consumed), `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    /// [`Malformed::Checksum`] when the header's or the payload's CRC does not match.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Segment>, Malformed> {
        let Some(header) = buf.get(..SEGMENT_HEADER_LEN) else {
            return Ok(None);
        };
        let data = le24(&header[..3]);
        if crc24(u64::from(data), 3) != le24(&header[3..6]) {
            return Err(Malformed::Checksum("header"));
        }
        let len = (data as usize) & MAX_PAYLOAD;
        let total = SEGMENT_HEADER_LEN + len + TRAILER_LEN;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        let mut segment = buf.split_to(total);
        segment.advance(SEGMENT_HEADER_LEN);
        let payload = segment.split_to(len).freeze();
        if crc32(&payload) != segment.get_u32_le() {
            return Err(Malformed::Checksum("payload"));
        }
        Ok(Some(Segment {
            payload,
            self_contained: data & SELF_CONTAINED != 0,
        }))
    }
}

/// Append `frame_bytes` (one or more encoded frames) to `out` as segments: one self-contained segment
/// if it fits, else pieces of [`MAX_PAYLOAD`] bytes that are not.
pub fn encode(frame_bytes: &[u8], out: &mut BytesMut) {
    let self_contained = frame_bytes.len() <= MAX_PAYLOAD;
    let mut pieces = frame_bytes.chunks(MAX_PAYLOAD).peekable();
    if pieces.peek().is_none() {
        return;
    }
    for piece in pieces {
        let mut data = piece.len() as u32;
        if self_contained {
            data |= SELF_CONTAINED;
        }
        out.reserve(SEGMENT_HEADER_LEN + piece.len() + TRAILER_LEN);
        out.put_slice(&data.to_le_bytes()[..3]);
        out.put_slice(&crc24(u64::from(data), 3).to_le_bytes()[..3]);
        out.put_slice(piece);
        out.put_u32_le(crc32(piece));
    }
}

/// Frames out of a v5 segment stream: segments are decoded and their payloads joined, then frames read
/// from the join, never more than one frame's limit buffered.
#[derive(Debug, Default)]
pub struct SegmentedFrames {
    segments: SegmentDecoder,
    payload: BytesMut,
}

impl SegmentedFrames {
    /// The next whole frame from the segments in `buf`, `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    /// [`Malformed`] from either layer, or frames that would exceed `frames`' limit.
    pub fn decode(
        &mut self,
        frames: &FrameDecoder,
        buf: &mut BytesMut,
    ) -> Result<Option<Frame>, Malformed> {
        loop {
            if let Some(frame) = frames.decode(&mut self.payload)? {
                return Ok(Some(frame));
            }
            let Some(segment) = self.segments.decode(buf)? else {
                return Ok(None);
            };
            let limit = frames.limits().max_body.saturating_add(HEADER_LEN);
            let len = self.payload.len().saturating_add(segment.payload.len());
            if len > limit {
                return Err(Malformed::TooLong {
                    what: "segmented frame",
                    len: i64::try_from(len).unwrap_or(i64::MAX),
                    limit,
                });
            }
            self.payload.extend_from_slice(&segment.payload);
        }
    }

    /// Whether frame bytes are held that no whole frame used yet.
    pub fn has_partial(&self) -> bool {
        !self.payload.is_empty()
    }
}

/// Where frames end in a v5 segment stream, for the relay: at the end of a self-contained segment, or
/// at the end of the segment that completes a frame cut across several (whose length the frame header
/// at the start of the first piece gives).
#[derive(Debug, Clone, Default)]
pub struct SegmentFraming {
    header: [u8; SEGMENT_HEADER_LEN],
    have: usize,
    /// Payload bytes left in the current segment.
    payload_left: u64,
    /// Trailer bytes left in the current segment.
    trailer_left: usize,
    /// The current segment is a piece of a larger frame.
    piece: bool,
    /// A frame cut across segments: its header as seen so far, and the bytes of it left.
    frame_header: [u8; HEADER_LEN],
    frame_have: usize,
    frame_left: Option<u64>,
}

impl SegmentFraming {
    fn between(&self) -> bool {
        self.have == 0
            && self.payload_left == 0
            && self.trailer_left == 0
            && self.frame_left.is_none()
    }

    /// Account for `bytes`; with `stop`, return the offset just past the first frame end reached.
    fn feed(&mut self, bytes: &[u8], stop: bool) -> Option<usize> {
        if stop && self.between() {
            return Some(0);
        }
        let mut i = 0;
        while i < bytes.len() {
            if self.payload_left > 0 {
                let take = usize::try_from(self.payload_left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - i);
                if self.piece {
                    self.frame_payload(&bytes[i..i + take]);
                }
                self.payload_left -= take as u64;
                i += take;
                continue;
            }
            if self.trailer_left > 0 {
                let take = self.trailer_left.min(bytes.len() - i);
                self.trailer_left -= take;
                i += take;
                if self.trailer_left == 0 {
                    if self.frame_left == Some(0) {
                        self.frame_left = None;
                        self.frame_have = 0;
                    }
                    if stop && self.between() {
                        return Some(i);
                    }
                }
                continue;
            }
            let take = (SEGMENT_HEADER_LEN - self.have).min(bytes.len() - i);
            self.header[self.have..self.have + take].copy_from_slice(&bytes[i..i + take]);
            self.have += take;
            i += take;
            if self.have == SEGMENT_HEADER_LEN {
                let data = le24(&self.header[..3]);
                self.have = 0;
                self.payload_left = u64::from(data) & MAX_PAYLOAD as u64;
                self.trailer_left = TRAILER_LEN;
                self.piece = data & SELF_CONTAINED == 0;
                if self.piece && self.frame_left.is_none() {
                    // The first piece: the frame header comes first in its payload.
                    self.frame_have = 0;
                    self.frame_left = Some(u64::MAX);
                }
            }
        }
        None
    }

    /// Count payload bytes of a frame cut across segments.
    fn frame_payload(&mut self, mut chunk: &[u8]) {
        if self.frame_have < HEADER_LEN {
            let take = (HEADER_LEN - self.frame_have).min(chunk.len());
            self.frame_header[self.frame_have..self.frame_have + take]
                .copy_from_slice(&chunk[..take]);
            self.frame_have += take;
            chunk = &chunk[take..];
            if self.frame_have == HEADER_LEN {
                let h = &self.frame_header;
                let body = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
                self.frame_left = Some(u64::from(body));
            }
        }
        if let Some(left) = self.frame_left.as_mut()
            && self.frame_have == HEADER_LEN
        {
            *left = left.saturating_sub(chunk.len() as u64);
        }
    }
}

impl Framing for SegmentFraming {
    fn advance(&mut self, bytes: &[u8]) {
        self.feed(bytes, false);
    }

    fn rest_of_message(&self, next: &[u8]) -> Option<usize> {
        self.clone().feed(next, true)
    }
}
