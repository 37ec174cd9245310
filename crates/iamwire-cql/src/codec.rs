//! The CQL native protocol's framing, sans-IO: [`Frame`]s with the 9-byte header of protocol v3–v5
//! ([`FrameDecoder`], [`Frame::encode`]), v5's checksummed segments around them after the handshake's
//! first exchange ([`segment`]), and the bodies of the handshake messages ([`Request`], [`Response`]).
//!
//! Every length is checked against [`Limits`] before anything is allocated; "need more bytes" is
//! `Ok(None)`; bad bytes are a [`Malformed`] that says what was wrong.

use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};

mod message;
pub mod segment;

pub use message::{ErrorBody, Request, Response, error_code};

/// The length of a v3+ frame header: version, flags, stream (2 bytes), opcode, body length (4 bytes).
pub const HEADER_LEN: usize = 9;
/// The version byte's direction bit: set on responses.
pub const RESPONSE_BIT: u8 = 0x80;

/// Frame opcodes.
pub mod opcode {
    /// ERROR (response).
    pub const ERROR: u8 = 0x00;
    /// STARTUP (request).
    pub const STARTUP: u8 = 0x01;
    /// READY (response).
    pub const READY: u8 = 0x02;
    /// AUTHENTICATE (response).
    pub const AUTHENTICATE: u8 = 0x03;
    /// OPTIONS (request).
    pub const OPTIONS: u8 = 0x05;
    /// SUPPORTED (response).
    pub const SUPPORTED: u8 = 0x06;
    /// AUTH_CHALLENGE (response).
    pub const AUTH_CHALLENGE: u8 = 0x0E;
    /// AUTH_RESPONSE (request).
    pub const AUTH_RESPONSE: u8 = 0x0F;
    /// AUTH_SUCCESS (response).
    pub const AUTH_SUCCESS: u8 = 0x10;
}

/// Frame header flags.
pub mod flags {
    /// The body is compressed.
    pub const COMPRESSION: u8 = 0x01;
    /// Tracing requested / trace id present.
    pub const TRACING: u8 = 0x02;
    /// A custom payload precedes the body.
    pub const CUSTOM_PAYLOAD: u8 = 0x04;
    /// Warnings precede the body (responses).
    pub const WARNING: u8 = 0x08;
    /// The client uses a beta protocol version.
    pub const USE_BETA: u8 = 0x10;
}

/// Bounds on what the handshake codec accepts. Handshake messages are small; anything larger is refused
/// before it is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest frame body (bytes).
    pub max_body: usize,
    /// The most entries of a string map or multimap (STARTUP options, SUPPORTED).
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 64 * 1024,
            max_entries: 64,
        }
    }
}

impl Limits {
    /// These limits with the largest body set to `max_body`.
    #[must_use]
    pub const fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }
}

/// What was wrong with bytes a peer sent. Never carries the bytes themselves (they may hold a
/// password).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// A protocol version outside v3–v5 (the frame header differs; the proxy does not speak it).
    Version(u8),
    /// The direction bit says response where a request was expected, or the reverse.
    Direction,
    /// A length beyond a limit (or negative where it may not be).
    TooLong {
        /// What was too long.
        what: &'static str,
        /// Its length.
        len: i64,
        /// The limit.
        limit: usize,
    },
    /// The body ended before a field it announces.
    Truncated(&'static str),
    /// Bytes left over after the last field of a body.
    Trailing(&'static str),
    /// A string that is not UTF-8.
    Utf8(&'static str),
    /// A v5 segment's header or payload checksum does not match.
    Checksum(&'static str),
    /// A header flag the handshake does not allow (compression was not negotiated).
    Flags(u8),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Version(v) => write!(f, "unsupported protocol version {v}"),
            Self::Direction => f.write_str("a frame in the wrong direction"),
            Self::TooLong { what, len, limit } => {
                write!(f, "{what} of {len} bytes is over the limit of {limit}")
            }
            Self::Truncated(what) => write!(f, "the frame ends inside its {what}"),
            Self::Trailing(what) => write!(f, "bytes after the end of a {what}"),
            Self::Utf8(what) => write!(f, "{what} is not UTF-8"),
            Self::Checksum(what) => write!(f, "the {what} checksum of a segment does not match"),
            Self::Flags(flags) => write!(f, "frame flags {flags:#04x} are not allowed here"),
        }
    }
}

/// One CQL frame: its header fields and its body, undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The protocol version (3, 4 or 5), without the direction bit.
    pub version: u8,
    /// Whether it is a response (the direction bit).
    pub response: bool,
    /// Header flags ([`flags`]).
    pub flags: u8,
    /// The stream id: a response carries its request's.
    pub stream: i16,
    /// The opcode ([`opcode`]).
    pub opcode: u8,
    /// The body.
    pub body: Bytes,
}

impl Frame {
    /// A request frame.
    pub fn request(version: u8, stream: i16, opcode: u8, body: impl Into<Bytes>) -> Self {
        Self {
            version,
            response: false,
            flags: 0,
            stream,
            opcode,
            body: body.into(),
        }
    }

    /// A response frame.
    pub fn response(version: u8, stream: i16, opcode: u8, body: impl Into<Bytes>) -> Self {
        Self {
            response: true,
            ..Self::request(version, stream, opcode, body)
        }
    }

    /// Append the frame's wire form to `out`.
    ///
    /// # Errors
    /// [`Malformed::TooLong`] for a body over `u32::MAX` bytes.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), Malformed> {
        let len = u32::try_from(self.body.len()).map_err(|_| Malformed::TooLong {
            what: "frame body",
            len: i64::try_from(self.body.len()).unwrap_or(i64::MAX),
            limit: u32::MAX as usize,
        })?;
        out.reserve(HEADER_LEN + self.body.len());
        let direction = if self.response { RESPONSE_BIT } else { 0 };
        out.put_u8((self.version & 0x7f) | direction);
        out.put_u8(self.flags);
        out.put_i16(self.stream);
        out.put_u8(self.opcode);
        out.put_u32(len);
        out.put_slice(&self.body);
        Ok(())
    }

    /// The frame's wire form.
    ///
    /// # Errors
    /// As [`encode`](Self::encode).
    pub fn to_bytes(&self) -> Result<BytesMut, Malformed> {
        let mut out = BytesMut::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// Decodes v3–v5 frames (the 9-byte header) from a byte buffer, within [`Limits`].
#[derive(Debug, Clone, Default)]
pub struct FrameDecoder {
    limits: Limits,
}

impl FrameDecoder {
    /// A decoder with `limits`.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The next whole frame in `buf` (consumed), `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    /// [`Malformed`] for a version outside v3–v5 (known from the first byte alone) or a body over the
    /// limit (known from the header, before the body is buffered).
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Frame>, Malformed> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let version = first & 0x7f;
        if !(3..=5).contains(&version) {
            return Err(Malformed::Version(version));
        }
        let Some(header) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > self.limits.max_body {
            return Err(Malformed::TooLong {
                what: "frame body",
                len: i64::try_from(len).unwrap_or(i64::MAX),
                limit: self.limits.max_body,
            });
        }
        if buf.len() - HEADER_LEN < len {
            buf.reserve(HEADER_LEN + len - buf.len());
            return Ok(None);
        }
        let mut frame = buf.split_to(HEADER_LEN + len);
        let response = first & RESPONSE_BIT != 0;
        frame.advance(1);
        let flags = frame.get_u8();
        let stream = frame.get_i16();
        let opcode = frame.get_u8();
        frame.advance(4);
        Ok(Some(Frame {
            version,
            response,
            flags,
            stream,
            opcode,
            body: frame.freeze(),
        }))
    }
}

#[cfg(test)]
mod tests;
