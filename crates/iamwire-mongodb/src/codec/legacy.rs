//! The legacy `OP_QUERY` and its `OP_REPLY`: removed from MongoDB 6.0 for everything but the first
//! `hello` / `isMaster` of a connection, which drivers still send this way.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Limits, Malformed, RawDocument, opcode, put_header, take_cstring, take_document};

/// An `OP_QUERY`; a command when its collection is `<db>.$cmd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpQuery {
    /// Query flags.
    pub flags: i32,
    /// `<db>.<collection>`.
    pub collection: String,
    /// Documents to skip.
    pub skip: i32,
    /// Documents to return (`-1` for a command).
    pub limit: i32,
    /// The query, or the command.
    pub query: RawDocument,
    /// The projection, if any.
    pub fields: Option<RawDocument>,
}

impl OpQuery {
    /// Decode the bytes after the header.
    ///
    /// # Errors
    /// [`Malformed`] for truncation, invalid documents or trailing bytes.
    pub fn decode(body: &Bytes, limits: &Limits) -> Result<Self, Malformed> {
        let flags = i32_at(body, 0, "query flags")?;
        let rest = body.get(4..).ok_or(Malformed::Truncated("query flags"))?;
        let (collection, len) = take_cstring(rest, "collection name")?;
        let collection = collection.to_owned();
        let at = 4 + len;
        let skip = i32_at(body, at, "numberToSkip")?;
        let limit = i32_at(body, at + 4, "numberToReturn")?;
        let docs = body.slice(at + 8..);
        let (query, len) = take_document(&docs, limits.max_depth)?;
        let docs = docs.slice(len..);
        let fields = if docs.is_empty() {
            None
        } else {
            let (fields, len) = take_document(&docs, limits.max_depth)?;
            if len != docs.len() {
                return Err(Malformed::Trailing("OP_QUERY"));
            }
            Some(fields)
        };
        Ok(Self {
            flags,
            collection,
            skip,
            limit,
            query,
            fields,
        })
    }

    /// The database of a command (`admin` for `admin.$cmd`); `None` if this is not a command.
    pub fn command_db(&self) -> Option<&str> {
        self.collection.strip_suffix(".$cmd")
    }

    /// Write the message.
    pub fn encode(&self, request_id: i32, out: &mut BytesMut) {
        let fields = self.fields.as_ref().map_or(0, |f| f.as_bytes().len());
        let body_len = 4 + self.collection.len() + 1 + 8 + self.query.as_bytes().len() + fields;
        put_header(out, body_len, request_id, 0, opcode::OP_QUERY);
        out.put_i32_le(self.flags);
        out.put_slice(self.collection.as_bytes());
        out.put_u8(0);
        out.put_i32_le(self.skip);
        out.put_i32_le(self.limit);
        out.put_slice(self.query.as_bytes());
        if let Some(f) = &self.fields {
            out.put_slice(f.as_bytes());
        }
    }
}

/// An `OP_REPLY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpReply {
    /// Response flags.
    pub flags: i32,
    /// The cursor, 0 if none.
    pub cursor_id: i64,
    /// Where in the cursor this reply starts.
    pub starting_from: i32,
    /// The documents (one, for a command reply).
    pub documents: Vec<RawDocument>,
}

impl OpReply {
    /// A command reply: one document, no cursor.
    pub fn command(reply: RawDocument) -> Self {
        Self {
            flags: 0,
            cursor_id: 0,
            starting_from: 0,
            documents: vec![reply],
        }
    }

    /// Decode the bytes after the header.
    ///
    /// # Errors
    /// [`Malformed`] for truncation, a document count that disagrees with the documents, or more
    /// documents than [`Limits::max_sections`].
    pub fn decode(body: &Bytes, limits: &Limits) -> Result<Self, Malformed> {
        let flags = i32_at(body, 0, "response flags")?;
        let cursor = body.get(4..12).ok_or(Malformed::Truncated("cursor id"))?;
        let mut id = [0u8; 8];
        id.copy_from_slice(cursor);
        let starting_from = i32_at(body, 12, "startingFrom")?;
        let count = i32_at(body, 16, "numberReturned")?;
        let count = usize::try_from(count).map_err(|_| Malformed::Truncated("numberReturned"))?;
        if count > limits.max_sections {
            return Err(Malformed::TooMany {
                what: "documents in a reply",
                limit: limits.max_sections,
            });
        }
        let mut docs = body.slice(20..);
        let mut documents = Vec::with_capacity(count);
        for _ in 0..count {
            let (doc, len) = take_document(&docs, limits.max_depth)?;
            documents.push(doc);
            docs = docs.slice(len..);
        }
        if !docs.is_empty() {
            return Err(Malformed::Trailing("OP_REPLY"));
        }
        Ok(Self {
            flags,
            cursor_id: i64::from_le_bytes(id),
            starting_from,
            documents,
        })
    }

    /// Write the message, answering `response_to`.
    pub fn encode(&self, request_id: i32, response_to: i32, out: &mut BytesMut) {
        let docs: usize = self.documents.iter().map(|d| d.as_bytes().len()).sum();
        put_header(out, 20 + docs, request_id, response_to, opcode::OP_REPLY);
        out.put_i32_le(self.flags);
        out.put_i64_le(self.cursor_id);
        out.put_i32_le(self.starting_from);
        out.put_i32_le(i32::try_from(self.documents.len()).unwrap_or(i32::MAX));
        for doc in &self.documents {
            out.put_slice(doc.as_bytes());
        }
    }
}

fn i32_at(bytes: &[u8], at: usize, what: &'static str) -> Result<i32, Malformed> {
    let b = bytes
        .get(at..at.saturating_add(4))
        .filter(|b| b.len() == 4)
        .ok_or(Malformed::Truncated(what))?;
    Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}
