//! `OP_MSG`: flag bits, then sections — exactly one body document (kind 0) and any number of document
//! sequences (kind 1: a size, an identifier, documents) — then a CRC-32C if the flags say so.

use bytes::{BufMut, Bytes, BytesMut};

use super::crc32c::crc32c;
use super::{
    HEADER_LEN, Header, Limits, Malformed, RawDocument, opcode, put_header, take_cstring,
    take_document,
};
use crate::bson::Document;

/// `OP_MSG` flag bits.
pub mod flags {
    /// The message ends with a CRC-32C.
    pub const CHECKSUM_PRESENT: u32 = 1;
    /// The sender will not wait for a reply (more messages follow).
    pub const MORE_TO_COME: u32 = 1 << 1;
    /// The client accepts several replies to this request.
    pub const EXHAUST_ALLOWED: u32 = 1 << 16;
    /// Bits 0–15 must be known to the receiver.
    pub(crate) const REQUIRED: u32 = 0xffff;
    /// The required bits this codec knows.
    pub(crate) const KNOWN_REQUIRED: u32 = CHECKSUM_PRESENT | MORE_TO_COME;
}

/// A document sequence (kind-1 section): the documents of one command argument, e.g. `documents` of
/// an `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// The argument the documents belong to.
    pub identifier: String,
    /// The documents.
    pub documents: Vec<RawDocument>,
}

/// An `OP_MSG`: a command or its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpMsg {
    /// The flag bits ([`flags`]).
    pub flags: u32,
    body: RawDocument,
    /// Document sequences, in order.
    pub sequences: Vec<Sequence>,
}

impl OpMsg {
    /// A message with `body` and no flags or sequences.
    pub fn new(body: RawDocument) -> Self {
        Self {
            flags: 0,
            body,
            sequences: Vec::new(),
        }
    }

    /// The body document (the command or the reply).
    pub fn body(&self) -> Document<'_> {
        self.body.view()
    }

    /// Decode the bytes after `header`.
    ///
    /// # Errors
    /// [`Malformed`]: unknown required flags, a section kind other than 0 and 1, not exactly one body,
    /// invalid documents, a sequence whose size disagrees with its documents, a bad checksum.
    pub fn decode(header: &Header, body: &Bytes, limits: &Limits) -> Result<Self, Malformed> {
        let flag_bytes = body.get(..4).ok_or(Malformed::Truncated("flag bits"))?;
        let flags =
            u32::from_le_bytes([flag_bytes[0], flag_bytes[1], flag_bytes[2], flag_bytes[3]]);
        let unknown = flags & flags::REQUIRED & !flags::KNOWN_REQUIRED;
        if unknown != 0 {
            return Err(Malformed::Flags(unknown));
        }
        let mut end = body.len();
        if flags & flags::CHECKSUM_PRESENT != 0 {
            end = end
                .checked_sub(4)
                .filter(|e| *e >= 4)
                .ok_or(Malformed::Truncated("checksum"))?;
            let mut head = [0u8; HEADER_LEN];
            head[..4].copy_from_slice(&header.length.to_le_bytes());
            head[4..8].copy_from_slice(&header.request_id.to_le_bytes());
            head[8..12].copy_from_slice(&header.response_to.to_le_bytes());
            head[12..].copy_from_slice(&header.op_code.to_le_bytes());
            let sum = &body[end..];
            let want = u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]);
            if crc32c(&[&head, &body[..end]]) != want {
                return Err(Malformed::Checksum);
            }
        }
        let mut rest = body.slice(4..end);
        let mut main = None;
        let mut sequences = Vec::new();
        while let Some(&kind) = rest.first() {
            let after_kind = rest.slice(1..);
            match kind {
                0 => {
                    if main.is_some() {
                        return Err(Malformed::Sections("more than one body"));
                    }
                    let (doc, len) = take_document(&after_kind, limits.max_depth)?;
                    main = Some(doc);
                    rest = after_kind.slice(len..);
                }
                1 => {
                    if sequences.len() >= limits.max_sections {
                        return Err(Malformed::TooMany {
                            what: "document sequences",
                            limit: limits.max_sections,
                        });
                    }
                    let (sequence, len) = sequence(&after_kind, limits)?;
                    sequences.push(sequence);
                    rest = after_kind.slice(len..);
                }
                _ => return Err(Malformed::Sections("a section kind other than 0 and 1")),
            }
        }
        let body = main.ok_or(Malformed::Sections("no body"))?;
        Ok(Self {
            flags,
            body,
            sequences,
        })
    }

    /// Write the message with `request_id` and `response_to` (a CRC-32C at the end if the flags
    /// ask for one).
    pub fn encode(&self, request_id: i32, response_to: i32, out: &mut BytesMut) {
        let mut sections = BytesMut::with_capacity(self.body.as_bytes().len() + 5);
        sections.put_u32_le(self.flags);
        sections.put_u8(0);
        sections.put_slice(self.body.as_bytes());
        for sequence in &self.sequences {
            let docs: usize = sequence.documents.iter().map(|d| d.as_bytes().len()).sum();
            let size = 4 + sequence.identifier.len() + 1 + docs;
            sections.put_u8(1);
            sections.put_u32_le(u32::try_from(size).unwrap_or(u32::MAX));
            sections.put_slice(sequence.identifier.as_bytes());
            sections.put_u8(0);
            for doc in &sequence.documents {
                sections.put_slice(doc.as_bytes());
            }
        }
        let checksum = self.flags & flags::CHECKSUM_PRESENT != 0;
        let body_len = sections.len() + if checksum { 4 } else { 0 };
        let start = out.len();
        put_header(out, body_len, request_id, response_to, opcode::OP_MSG);
        out.put_slice(&sections);
        if checksum {
            let sum = crc32c(&[&out[start..]]);
            out.put_u32_le(sum);
        }
    }
}

/// A kind-1 section after its kind byte, and its length.
fn sequence(bytes: &Bytes, limits: &Limits) -> Result<(Sequence, usize), Malformed> {
    let size = bytes
        .get(..4)
        .ok_or(Malformed::Truncated("document sequence"))?;
    let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]);
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if size < 5 || size > bytes.len() {
        return Err(Malformed::Truncated("document sequence"));
    }
    let (identifier, id_len) = take_cstring(&bytes[4..size], "sequence identifier")?;
    let identifier = identifier.to_owned();
    let mut docs = bytes.slice(4 + id_len..size);
    let mut documents = Vec::new();
    while !docs.is_empty() {
        let (doc, len) = take_document(&docs, limits.max_depth)?;
        documents.push(doc);
        docs = docs.slice(len..);
    }
    Ok((
        Sequence {
            identifier,
            documents,
        },
        size,
    ))
}
