//! Packet framing: a 4-byte header (3-byte little-endian payload length, 1-byte sequence id) before
//! each payload. A payload of exactly 2^24-1 bytes means the message goes on in the next packet; a
//! message ends with a shorter packet (possibly empty).

use bytes::{Buf, BufMut, BytesMut};

use super::CodecError;

/// Size of a packet header.
pub const HEADER_LEN: usize = 4;
/// The largest payload one packet carries; a packet this long is followed by another of the same
/// message.
pub const MAX_PAYLOAD: usize = 0xff_ffff;

/// One message as read: the sequence id of its first and last packets, and its payload (the parts
/// of a multi-packet message joined).
#[derive(Clone, PartialEq, Eq)]
pub struct Packet {
    /// Sequence id of the first packet.
    pub seq: u8,
    /// Sequence id of the last packet (the next one due is this plus one).
    pub last_seq: u8,
    /// The payload.
    pub payload: BytesMut,
}

impl std::fmt::Debug for Packet {
    /// Sequence ids, length and first byte only: a payload may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("seq", &self.seq)
            .field("last_seq", &self.last_seq)
            .field("len", &self.payload.len())
            .field("first", &self.payload.first())
            .finish()
    }
}

/// Reads [`Packet`]s out of a byte buffer: sans-IO, `Ok(None)` means "need more bytes".
///
/// Each header is checked before its payload is waited for: a message longer than `max` bytes is
/// refused as soon as a header says so. Each packet's sequence id must be the next one due.
#[derive(Debug, Clone)]
pub struct PacketDecoder {
    max: usize,
    message: &'static str,
    next_seq: u8,
}

impl PacketDecoder {
    /// A decoder for messages of at most `max` bytes, named `message` in errors, expecting sequence
    /// id `next_seq` first.
    pub fn new(max: usize, message: &'static str, next_seq: u8) -> Self {
        Self {
            max,
            message,
            next_seq,
        }
    }

    /// The sequence id due next (after the last packet decoded, or as set).
    pub fn next_seq(&self) -> u8 {
        self.next_seq
    }

    /// Expect `seq` next (after the proxy wrote packets of its own).
    pub fn expect(&mut self, seq: u8) {
        self.next_seq = seq;
    }

    /// Name the messages read from now on, and their size limit.
    pub fn read_as(&mut self, message: &'static str, max: usize) {
        self.message = message;
        self.max = max;
    }

    /// The next whole message in `buf`, or `None` if more bytes are needed.
    ///
    /// # Errors
    /// [`CodecError::TooLarge`] or [`CodecError::OutOfOrder`], decided from the headers alone.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, CodecError> {
        let mut at = 0usize;
        let mut total = 0usize;
        let mut seq = self.next_seq;
        let mut parts = 0usize;
        loop {
            let Some(header) = buf.get(at..at + HEADER_LEN) else {
                return Ok(None);
            };
            let len =
                usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
            if header[3] != seq {
                return Err(CodecError::OutOfOrder {
                    expected: seq,
                    got: header[3],
                });
            }
            total = total.saturating_add(len);
            if total > self.max {
                return Err(CodecError::TooLarge {
                    message: self.message,
                    len: total,
                    max: self.max,
                });
            }
            let end = at + HEADER_LEN + len;
            if buf.len() < end {
                return Ok(None);
            }
            parts += 1;
            at = end;
            if len < MAX_PAYLOAD {
                break;
            }
            seq = seq.wrapping_add(1);
        }
        let first_seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        let payload = if parts == 1 {
            buf.advance(HEADER_LEN);
            buf.split_to(total)
        } else {
            let mut joined = BytesMut::with_capacity(total);
            for _ in 0..parts {
                let (len, _) = header(buf).unwrap_or((0, 0));
                buf.advance(HEADER_LEN);
                joined.put_slice(&buf[..len]);
                buf.advance(len);
            }
            joined
        };
        Ok(Some(Packet {
            seq: first_seq,
            last_seq: seq,
            payload,
        }))
    }
}

/// Append `payload` as one message starting at sequence id `seq`, split into packets of at most
/// [`MAX_PAYLOAD`] bytes (with the empty packet that ends a message of an exact multiple of it).
/// Returns the sequence id due next.
pub fn put_packet(out: &mut BytesMut, seq: u8, payload: &[u8]) -> u8 {
    let mut seq = seq;
    let mut rest = payload;
    loop {
        let n = rest.len().min(MAX_PAYLOAD);
        out.reserve(HEADER_LEN + n);
        out.put_slice(&(n as u32).to_le_bytes()[..3]);
        out.put_u8(seq);
        out.put_slice(&rest[..n]);
        rest = &rest[n..];
        seq = seq.wrapping_add(1);
        if n < MAX_PAYLOAD {
            return seq;
        }
    }
}

/// The header of the packet at the start of `bytes`: payload length and sequence id.
pub fn header(bytes: &[u8]) -> Option<(usize, u8)> {
    let h = bytes.get(..HEADER_LEN)?;
    Some((
        usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16,
        h[3],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_packet_and_need_more() {
        let mut buf = BytesMut::from(&[3, 0, 0, 0, b'a', b'b'][..]);
        let mut d = PacketDecoder::new(100, "test", 0);
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.put_slice(b"c\x01\x00\x00\x01z");
        let p = d.decode(&mut buf).unwrap().unwrap();
        assert_eq!((&p.payload[..], p.seq, p.last_seq), (&b"abc"[..], 0, 0));
        let p = d.decode(&mut buf).unwrap().unwrap();
        assert_eq!((&p.payload[..], p.seq), (&b"z"[..], 1));
        assert!(buf.is_empty());
    }

    #[test]
    fn limits_and_order_are_checked_on_the_header() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0][..]);
        let mut d = PacketDecoder::new(1000, "greeting", 0);
        assert!(matches!(
            d.decode(&mut buf),
            Err(CodecError::TooLarge {
                len: MAX_PAYLOAD,
                ..
            })
        ));
        let mut buf = BytesMut::from(&[1, 0, 0, 5, 0][..]);
        assert_eq!(
            PacketDecoder::new(10, "t", 2).decode(&mut buf),
            Err(CodecError::OutOfOrder {
                expected: 2,
                got: 5
            })
        );
    }

    #[test]
    fn multi_packet_messages_join_and_split_back() {
        for len in [
            MAX_PAYLOAD - 1,
            MAX_PAYLOAD,
            MAX_PAYLOAD + 7,
            2 * MAX_PAYLOAD,
        ] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut out = BytesMut::new();
            let next = put_packet(&mut out, 254, &payload);
            let packets = len / MAX_PAYLOAD + 1;
            assert_eq!(next, 254u8.wrapping_add(packets as u8));
            assert_eq!(out.len(), payload.len() + HEADER_LEN * packets);
            let mut d = PacketDecoder::new(3 * MAX_PAYLOAD, "t", 254);
            let p = d.decode(&mut out).unwrap().unwrap();
            assert_eq!(p.payload.len(), len);
            assert!(p.payload[..] == payload[..]);
            assert_eq!(d.next_seq(), next);
            assert!(out.is_empty());
        }
    }
}
