//! The MongoDB wire protocol, sans-IO: the 16-byte message header, [`OpMsg`] (body and document
//! sequences, optional CRC-32C checksum), and the legacy [`OpQuery`] / [`OpReply`] that drivers still use
//! for their first `hello`. [`MessageDecoder`] takes whole messages off a buffer — the length is checked
//! against [`Limits`] before anything waits for or allocates the body — and [`FrontendMessage`] /
//! [`BackendMessage`] decode what a client or a database sends, every document validated
//! ([`Document::parse`](crate::bson::Document::parse), nesting bounded).
//!
//! ```
//! use bytes::BytesMut;
//! use iamwire_mongodb::bson::DocBuf;
//! use iamwire_mongodb::codec::{BackendMessage, Limits, MessageDecoder, OpMsg};
//!
//! let mut body = DocBuf::new();
//! body.f64("ok", 1.0);
//! let mut wire = BytesMut::new();
//! OpMsg::new(body.finish().into()).encode(7, 3, &mut wire);
//! let raw = MessageDecoder::new(Limits::default().max_message_len).decode(&mut wire)?.expect("whole");
//! assert_eq!((raw.header.request_id, raw.header.response_to), (7, 3));
//! let BackendMessage::Msg(msg) = BackendMessage::decode(&raw, &Limits::default())? else { panic!() };
//! assert_eq!(msg.body().get_f64("ok"), Some(1.0));
//! # Ok::<(), iamwire_mongodb::codec::Malformed>(())
//! ```

use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::bson::{self, BsonError, Document};

mod crc32c;
mod legacy;
mod op_msg;

pub use legacy::{OpQuery, OpReply};
pub use op_msg::{OpMsg, Sequence, flags};

/// The size of the message header.
pub const HEADER_LEN: usize = 16;

/// Operation codes.
pub mod opcode {
    /// A reply to `OP_QUERY`.
    pub const OP_REPLY: i32 = 1;
    /// Legacy update (removed in MongoDB 6.0).
    pub const OP_UPDATE: i32 = 2001;
    /// Legacy insert (removed in MongoDB 6.0).
    pub const OP_INSERT: i32 = 2002;
    /// Legacy query; commands on `<db>.$cmd` (drivers' first `hello`).
    pub const OP_QUERY: i32 = 2004;
    /// Legacy get-more (removed in MongoDB 6.0).
    pub const OP_GET_MORE: i32 = 2005;
    /// Legacy delete (removed in MongoDB 6.0).
    pub const OP_DELETE: i32 = 2006;
    /// Legacy kill-cursors (removed in MongoDB 6.0).
    pub const OP_KILL_CURSORS: i32 = 2007;
    /// A compressed message (only after compression is negotiated in `hello`; the proxy offers none).
    pub const OP_COMPRESSED: i32 = 2012;
    /// The message format of every command since MongoDB 3.6.
    pub const OP_MSG: i32 = 2013;
}

/// Bounds on what a peer may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest message during the handshake, either side (hello, SASL): refused before it is
    /// buffered.
    pub max_message_len: usize,
    /// How deeply documents may nest.
    pub max_depth: usize,
    /// The most document sequences in one `OP_MSG`, and documents in one `OP_REPLY`.
    pub max_sections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_len: 64 * 1024,
            max_depth: bson::DEFAULT_MAX_DEPTH,
            max_sections: 16,
        }
    }
}

/// What was wrong with bytes a peer sent. Never carries the bytes themselves (they may hold a
/// password).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// A message length shorter than the header or longer than the limit.
    Length {
        /// The length the header announced.
        len: i64,
        /// The limit in force.
        limit: usize,
    },
    /// The message ends before a field it announces.
    Truncated(&'static str),
    /// Bytes after the last field.
    Trailing(&'static str),
    /// A document in the message is not valid BSON.
    Bson(BsonError),
    /// A string that is not UTF-8.
    Utf8(&'static str),
    /// An operation this side does not send (or the handshake does not allow).
    OpCode(i32),
    /// `OP_MSG` flag bits that are required but unknown.
    Flags(u32),
    /// An `OP_MSG` section kind other than 0 and 1, or not exactly one body.
    Sections(&'static str),
    /// More sections or documents than the limit.
    TooMany {
        /// What there were too many of.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The `OP_MSG` checksum does not match.
    Checksum,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { len, limit } => write!(
                f,
                "a message of {len} bytes (at least {HEADER_LEN}, at most {limit} allowed here)"
            ),
            Self::Truncated(what) => write!(f, "the message ends inside its {what}"),
            Self::Trailing(what) => write!(f, "bytes after the end of the {what}"),
            Self::Bson(e) => write!(f, "invalid BSON: {e}"),
            Self::Utf8(what) => write!(f, "{what} is not UTF-8"),
            Self::OpCode(op) => write!(f, "operation code {op} is not allowed here"),
            Self::Flags(bits) => write!(f, "unknown required OP_MSG flags {bits:#010x}"),
            Self::Sections(what) => write!(f, "OP_MSG sections: {what}"),
            Self::TooMany { what, limit } => write!(f, "more than {limit} {what}"),
            Self::Checksum => f.write_str("the OP_MSG checksum does not match"),
        }
    }
}

impl From<BsonError> for Malformed {
    fn from(e: BsonError) -> Self {
        Self::Bson(e)
    }
}

/// The header every message starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The whole message's length, header included.
    pub length: u32,
    /// The sender's id for this message.
    pub request_id: i32,
    /// The id of the request this answers (0 for a request).
    pub response_to: i32,
    /// What kind of message it is ([`opcode`]).
    pub op_code: i32,
}

impl Header {
    /// Parse the first [`HEADER_LEN`] bytes of `bytes`.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let b = bytes.get(..HEADER_LEN)?;
        let word = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
        Some(Self {
            length: u32::from_le_bytes(word(0)),
            request_id: i32::from_le_bytes(word(4)),
            response_to: i32::from_le_bytes(word(8)),
            op_code: i32::from_le_bytes(word(12)),
        })
    }

    /// Check the length against `max_len`; the message's whole size.
    ///
    /// # Errors
    /// [`Malformed::Length`] for a length under [`HEADER_LEN`] or over `max_len`.
    pub fn checked_len(&self, max_len: usize) -> Result<usize, Malformed> {
        let len = usize::try_from(self.length).unwrap_or(usize::MAX);
        if len < HEADER_LEN || len > max_len {
            return Err(Malformed::Length {
                len: i64::from(self.length),
                limit: max_len,
            });
        }
        Ok(len)
    }
}

/// A whole message, as it came off the wire: its header and the bytes after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// The header.
    pub header: Header,
    /// Everything after the header.
    pub body: Bytes,
}

/// Takes whole messages off a buffer.
#[derive(Debug, Clone, Copy)]
pub struct MessageDecoder {
    max_len: usize,
}

impl MessageDecoder {
    /// Messages of at most `max_len` bytes.
    pub fn new(max_len: usize) -> Self {
        Self { max_len }
    }

    /// The next whole message in `buf`, `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    /// [`Malformed::Length`] as soon as the header shows a length out of bounds.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<RawMessage>, Malformed> {
        let Some(header) = Header::parse(buf) else {
            return Ok(None);
        };
        let len = header.checked_len(self.max_len)?;
        if buf.len() < len {
            buf.reserve(len - buf.len());
            return Ok(None);
        }
        let mut message = buf.split_to(len);
        message.advance(HEADER_LEN);
        Ok(Some(RawMessage {
            header,
            body: message.freeze(),
        }))
    }
}

/// A validated BSON document in a message (shares the message's bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct RawDocument(Bytes);

impl RawDocument {
    /// Validate `bytes` as one document.
    ///
    /// # Errors
    /// [`Malformed::Bson`].
    pub fn new(bytes: Bytes, max_depth: usize) -> Result<Self, Malformed> {
        Document::parse(&bytes, max_depth)?;
        Ok(Self(bytes))
    }

    /// The document, to read.
    pub fn view(&self) -> Document<'_> {
        Document::trusted(&self.0)
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for RawDocument {
    /// A document the proxy wrote itself ([`DocBuf::finish`](crate::bson::DocBuf::finish)).
    fn from(bytes: Vec<u8>) -> Self {
        Self(Bytes::from(bytes))
    }
}

impl fmt::Debug for RawDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.view(), f)
    }
}

/// What a client sends (during the handshake: commands).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontendMessage {
    /// A command in an `OP_MSG`.
    Msg(OpMsg),
    /// A legacy `OP_QUERY` (a command if its collection is `<db>.$cmd`).
    Query(OpQuery),
}

impl FrontendMessage {
    /// Decode a client's message.
    ///
    /// # Errors
    /// [`Malformed`]; [`Malformed::OpCode`] for anything but `OP_MSG` and `OP_QUERY`.
    pub fn decode(raw: &RawMessage, limits: &Limits) -> Result<Self, Malformed> {
        match raw.header.op_code {
            opcode::OP_MSG => OpMsg::decode(&raw.header, &raw.body, limits).map(Self::Msg),
            opcode::OP_QUERY => OpQuery::decode(&raw.body, limits).map(Self::Query),
            other => Err(Malformed::OpCode(other)),
        }
    }
}

/// What a database sends.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendMessage {
    /// A reply in an `OP_MSG`.
    Msg(OpMsg),
    /// A legacy `OP_REPLY`.
    Reply(OpReply),
}

impl BackendMessage {
    /// Decode a database's message.
    ///
    /// # Errors
    /// [`Malformed`]; [`Malformed::OpCode`] for anything but `OP_MSG` and `OP_REPLY`.
    pub fn decode(raw: &RawMessage, limits: &Limits) -> Result<Self, Malformed> {
        match raw.header.op_code {
            opcode::OP_MSG => OpMsg::decode(&raw.header, &raw.body, limits).map(Self::Msg),
            opcode::OP_REPLY => OpReply::decode(&raw.body, limits).map(Self::Reply),
            other => Err(Malformed::OpCode(other)),
        }
    }

    /// The reply document: an `OP_MSG`'s body, or an `OP_REPLY`'s first document.
    pub fn reply(&self) -> Option<Document<'_>> {
        match self {
            Self::Msg(m) => Some(m.body()),
            Self::Reply(r) => r.documents.first().map(RawDocument::view),
        }
    }
}

/// Write a header for a message of `body_len` bytes after it.
pub(crate) fn put_header(
    out: &mut BytesMut,
    body_len: usize,
    request_id: i32,
    response_to: i32,
    op_code: i32,
) {
    let len = u32::try_from(HEADER_LEN + body_len).unwrap_or(u32::MAX);
    out.reserve(HEADER_LEN + body_len);
    out.put_u32_le(len);
    out.put_i32_le(request_id);
    out.put_i32_le(response_to);
    out.put_i32_le(op_code);
}

/// A document at the start of `bytes`, validated, and its length.
pub(crate) fn take_document(
    bytes: &Bytes,
    max_depth: usize,
) -> Result<(RawDocument, usize), Malformed> {
    let (_, len) = Document::parse_prefix(bytes, max_depth)?;
    Ok((RawDocument(bytes.slice(..len)), len))
}

/// A zero-terminated UTF-8 string at the start of `bytes`, and the length with its terminator.
pub(crate) fn take_cstring<'a>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<(&'a str, usize), Malformed> {
    let end = bytes
        .iter()
        .position(|b| *b == 0)
        .ok_or(Malformed::Truncated(what))?;
    let s = std::str::from_utf8(&bytes[..end]).map_err(|_| Malformed::Utf8(what))?;
    Ok((s, end + 1))
}

#[cfg(test)]
mod tests;
