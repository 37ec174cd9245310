//! A small BSON reader and writer: what the proxy needs to read commands and write replies, and to
//! check that every document a peer sends during the handshake is well formed, with a bound on nesting.
//!
//! [`Document::parse`] validates a whole document once — every length against the bytes it has, every
//! element type, every string's UTF-8 and terminator, nesting no deeper than the limit — without
//! allocating; after that, reading it ([`Document::iter`], [`Document::get`]) borrows from the bytes and
//! cannot fail. [`DocBuf`] writes documents.
//!
//! (The `bson` crate does all this and much more — serde, extended JSON, dates, UUIDs — at several
//! times the compile time of this whole crate; the proxy reads a dozen fields and writes a dozen.)

use std::fmt;

mod writer;

pub use writer::DocBuf;

/// MongoDB's own nesting limit for documents.
pub const DEFAULT_MAX_DEPTH: usize = 100;
/// The smallest document: a length and the terminating zero.
pub const MIN_DOC_LEN: usize = 5;

/// Element types (the byte before each key).
pub mod element {
    #![allow(missing_docs)]
    pub const DOUBLE: u8 = 0x01;
    pub const STRING: u8 = 0x02;
    pub const DOCUMENT: u8 = 0x03;
    pub const ARRAY: u8 = 0x04;
    pub const BINARY: u8 = 0x05;
    pub const UNDEFINED: u8 = 0x06;
    pub const OBJECT_ID: u8 = 0x07;
    pub const BOOLEAN: u8 = 0x08;
    pub const DATE_TIME: u8 = 0x09;
    pub const NULL: u8 = 0x0A;
    pub const REGEX: u8 = 0x0B;
    pub const DB_POINTER: u8 = 0x0C;
    pub const JAVASCRIPT: u8 = 0x0D;
    pub const SYMBOL: u8 = 0x0E;
    pub const JAVASCRIPT_WITH_SCOPE: u8 = 0x0F;
    pub const INT32: u8 = 0x10;
    pub const TIMESTAMP: u8 = 0x11;
    pub const INT64: u8 = 0x12;
    pub const DECIMAL128: u8 = 0x13;
    pub const MIN_KEY: u8 = 0xFF;
    pub const MAX_KEY: u8 = 0x7F;
}

/// What is wrong with a BSON document. Never carries the bytes (they may hold a password).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BsonError {
    /// The bytes end before what a length or type announces.
    Truncated,
    /// A length is negative, too small, or disagrees with where the value really ends.
    BadLength,
    /// A document or string lacks its terminating zero.
    Unterminated,
    /// An element type BSON does not have.
    UnknownType(u8),
    /// A key or string that is not UTF-8.
    Utf8,
    /// A boolean that is neither 0 nor 1.
    Boolean(u8),
    /// Nested deeper than the limit.
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// Bytes after the end of the document.
    Trailing,
}

impl fmt::Display for BsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("the document ends inside a value"),
            Self::BadLength => f.write_str("a length in the document is invalid"),
            Self::Unterminated => f.write_str("a document or string lacks its terminating zero"),
            Self::UnknownType(t) => write!(f, "unknown element type {t:#04x}"),
            Self::Utf8 => f.write_str("a key or string is not UTF-8"),
            Self::Boolean(b) => write!(f, "a boolean of value {b}"),
            Self::TooDeep { limit } => write!(f, "documents nested deeper than {limit} levels"),
            Self::Trailing => f.write_str("bytes after the end of the document"),
        }
    }
}

/// A validated BSON document (or array), borrowed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Document<'a> {
    bytes: &'a [u8],
}

impl fmt::Debug for Document<'_> {
    // Values can be anything, passwords included: show the keys only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|(k, _)| k)).finish()
    }
}

/// One value of a document.
#[non_exhaustive]
#[derive(Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// 64-bit float.
    Double(f64),
    /// UTF-8 string.
    String(&'a str),
    /// Embedded document.
    Document(Document<'a>),
    /// Array (a document with keys `0`, `1`, ...).
    Array(Document<'a>),
    /// Binary data with its subtype.
    Binary {
        /// The subtype (0: generic).
        subtype: u8,
        /// The data.
        bytes: &'a [u8],
    },
    /// Deprecated `undefined`.
    Undefined,
    /// 12-byte ObjectId.
    ObjectId([u8; 12]),
    /// Boolean.
    Boolean(bool),
    /// Milliseconds since the Unix epoch.
    DateTime(i64),
    /// Null.
    Null,
    /// Regular expression.
    Regex {
        /// The pattern.
        pattern: &'a str,
        /// The options.
        options: &'a str,
    },
    /// Deprecated DBPointer.
    DbPointer {
        /// The namespace.
        namespace: &'a str,
        /// The id.
        id: [u8; 12],
    },
    /// JavaScript code.
    JavaScript(&'a str),
    /// Deprecated symbol.
    Symbol(&'a str),
    /// JavaScript code with a scope document.
    JavaScriptWithScope {
        /// The code.
        code: &'a str,
        /// The scope.
        scope: Document<'a>,
    },
    /// 32-bit integer.
    Int32(i32),
    /// MongoDB's internal timestamp.
    Timestamp(u64),
    /// 64-bit integer.
    Int64(i64),
    /// 128-bit decimal, as its bytes.
    Decimal128([u8; 16]),
    /// Min key.
    MinKey,
    /// Max key.
    MaxKey,
}

impl fmt::Debug for Value<'_> {
    // Strings and binary data may be secrets (SASL payloads are binary): show their sizes only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => write!(f, "String({} bytes)", s.len()),
            Self::Binary { subtype, bytes } => {
                write!(f, "Binary({subtype}, {} bytes)", bytes.len())
            }
            Self::Document(d) => f.debug_tuple("Document").field(d).finish(),
            Self::Array(d) => f.debug_tuple("Array").field(d).finish(),
            Self::Double(v) => write!(f, "Double({v})"),
            Self::Int32(v) => write!(f, "Int32({v})"),
            Self::Int64(v) => write!(f, "Int64({v})"),
            Self::Boolean(v) => write!(f, "Boolean({v})"),
            other => write!(f, "Value(type {:#04x})", other.element_type()),
        }
    }
}

impl Value<'_> {
    /// The element type byte of this value.
    pub fn element_type(&self) -> u8 {
        match self {
            Self::Double(_) => element::DOUBLE,
            Self::String(_) => element::STRING,
            Self::Document(_) => element::DOCUMENT,
            Self::Array(_) => element::ARRAY,
            Self::Binary { .. } => element::BINARY,
            Self::Undefined => element::UNDEFINED,
            Self::ObjectId(_) => element::OBJECT_ID,
            Self::Boolean(_) => element::BOOLEAN,
            Self::DateTime(_) => element::DATE_TIME,
            Self::Null => element::NULL,
            Self::Regex { .. } => element::REGEX,
            Self::DbPointer { .. } => element::DB_POINTER,
            Self::JavaScript(_) => element::JAVASCRIPT,
            Self::Symbol(_) => element::SYMBOL,
            Self::JavaScriptWithScope { .. } => element::JAVASCRIPT_WITH_SCOPE,
            Self::Int32(_) => element::INT32,
            Self::Timestamp(_) => element::TIMESTAMP,
            Self::Int64(_) => element::INT64,
            Self::Decimal128(_) => element::DECIMAL128,
            Self::MinKey => element::MIN_KEY,
            Self::MaxKey => element::MAX_KEY,
        }
    }

    /// A number as MongoDB reads `ok` and flags: int32, int64, double or boolean.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::Double(v) => Some(v),
            Self::Int32(v) => Some(f64::from(v)),
            // Precision past 2^53 does not matter for the flags and codes read this way.
            #[allow(clippy::cast_precision_loss)]
            Self::Int64(v) => Some(v as f64),
            Self::Boolean(b) => Some(if b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }

    /// Whether the value is "true" as MongoDB reads a flag (a non-zero number or `true`).
    pub fn is_truthy(&self) -> bool {
        self.as_f64().is_some_and(|v| v != 0.0)
    }
}

impl<'a> Document<'a> {
    /// `bytes` as exactly one document, validated to `max_depth` levels of nesting.
    ///
    /// # Errors
    /// [`BsonError`] for anything malformed, and [`BsonError::Trailing`] for bytes after it.
    pub fn parse(bytes: &'a [u8], max_depth: usize) -> Result<Self, BsonError> {
        let (doc, len) = Self::parse_prefix(bytes, max_depth)?;
        if len != bytes.len() {
            return Err(BsonError::Trailing);
        }
        Ok(doc)
    }

    /// The document at the start of `bytes`, validated, and its length.
    ///
    /// # Errors
    /// [`BsonError`] for anything malformed.
    pub fn parse_prefix(bytes: &'a [u8], max_depth: usize) -> Result<(Self, usize), BsonError> {
        let len = doc_len(bytes)?;
        let doc = bytes.get(..len).ok_or(BsonError::Truncated)?;
        validate(doc, max_depth, max_depth)?;
        Ok((Self { bytes: doc }, len))
    }

    /// A document already validated (the codec keeps only validated bytes).
    pub(crate) fn trusted(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The document's bytes, length prefix and terminator included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The elements, in order.
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            bytes: self.bytes,
            at: 4,
        }
    }

    /// Whether the document has no elements.
    pub fn is_empty(&self) -> bool {
        self.bytes.len() <= MIN_DOC_LEN
    }

    /// The first key (a command's name).
    pub fn first_key(&self) -> Option<&'a str> {
        self.iter().next().map(|(k, _)| k)
    }

    /// The first value under `key`.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The string under `key`.
    pub fn get_str(&self, key: &str) -> Option<&'a str> {
        match self.get(key)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The binary data under `key` (any subtype).
    pub fn get_binary(&self, key: &str) -> Option<&'a [u8]> {
        match self.get(key)? {
            Value::Binary { bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    /// The embedded document under `key`.
    pub fn get_document(&self, key: &str) -> Option<Document<'a>> {
        match self.get(key)? {
            Value::Document(d) => Some(d),
            _ => None,
        }
    }

    /// A number under `key` (int32, int64, double or boolean).
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key)?.as_f64()
    }
}

/// The elements of a [`Document`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match element_at(self.bytes, self.at) {
            Ok(Some((key, value, next))) => {
                self.at = next;
                Some((key, value))
            }
            // A validated document never fails here; stop rather than panic if it somehow did.
            _ => None,
        }
    }
}

/// The length a document at the start of `bytes` announces, checked against the minimum (not yet
/// against the bytes available).
pub(crate) fn doc_len(bytes: &[u8]) -> Result<usize, BsonError> {
    let raw = read_i32(bytes, 0)?;
    let len = usize::try_from(raw).map_err(|_| BsonError::BadLength)?;
    if len < MIN_DOC_LEN {
        return Err(BsonError::BadLength);
    }
    Ok(len)
}

/// Check `doc` (exactly one document's bytes) and everything in it, `left` more levels of documents
/// allowed (of `limit`).
fn validate(doc: &[u8], left: usize, limit: usize) -> Result<(), BsonError> {
    if left == 0 {
        return Err(BsonError::TooDeep { limit });
    }
    if doc.last() != Some(&0) {
        return Err(BsonError::Unterminated);
    }
    let mut at = 4;
    while let Some((_, value, next)) = element_at(doc, at)? {
        match value {
            Value::Document(d) | Value::Array(d) => validate(d.bytes, left - 1, limit)?,
            Value::JavaScriptWithScope { scope, .. } => validate(scope.bytes, left - 1, limit)?,
            _ => {}
        }
        at = next;
    }
    Ok(())
}

/// The element at `at` in `doc` and where the next one starts, or `None` at the terminator. Embedded
/// documents are returned with their outer length checked only.
fn element_at(doc: &[u8], at: usize) -> Result<Option<(&str, Value<'_>, usize)>, BsonError> {
    let kind = *doc.get(at).ok_or(BsonError::Truncated)?;
    if kind == 0 {
        return if at + 1 == doc.len() {
            Ok(None)
        } else {
            Err(BsonError::BadLength)
        };
    }
    let (key, mut at) = cstring(doc, at + 1)?;
    // The document's own terminator must stay after the value.
    let body = doc.get(..doc.len() - 1).ok_or(BsonError::Truncated)?;
    let value = match kind {
        element::DOUBLE => Value::Double(f64::from_le_bytes(fixed(body, &mut at)?)),
        element::STRING => Value::String(string(body, &mut at)?),
        element::DOCUMENT => Value::Document(embedded(body, &mut at)?),
        element::ARRAY => Value::Array(embedded(body, &mut at)?),
        element::BINARY => binary(body, &mut at)?,
        element::UNDEFINED => Value::Undefined,
        element::OBJECT_ID => Value::ObjectId(fixed(body, &mut at)?),
        element::BOOLEAN => match fixed::<1>(body, &mut at)?[0] {
            0 => Value::Boolean(false),
            1 => Value::Boolean(true),
            b => return Err(BsonError::Boolean(b)),
        },
        element::DATE_TIME => Value::DateTime(i64::from_le_bytes(fixed(body, &mut at)?)),
        element::NULL => Value::Null,
        element::REGEX => {
            let (pattern, next) = cstring(body, at)?;
            let (options, next) = cstring(body, next)?;
            at = next;
            Value::Regex { pattern, options }
        }
        element::DB_POINTER => {
            let namespace = string(body, &mut at)?;
            Value::DbPointer {
                namespace,
                id: fixed(body, &mut at)?,
            }
        }
        element::JAVASCRIPT => Value::JavaScript(string(body, &mut at)?),
        element::SYMBOL => Value::Symbol(string(body, &mut at)?),
        element::JAVASCRIPT_WITH_SCOPE => {
            let start = at;
            let total = usize::try_from(i32::from_le_bytes(fixed(body, &mut at)?))
                .map_err(|_| BsonError::BadLength)?;
            let code = string(body, &mut at)?;
            let scope = embedded(body, &mut at)?;
            if at - start != total {
                return Err(BsonError::BadLength);
            }
            Value::JavaScriptWithScope { code, scope }
        }
        element::INT32 => Value::Int32(i32::from_le_bytes(fixed(body, &mut at)?)),
        element::TIMESTAMP => Value::Timestamp(u64::from_le_bytes(fixed(body, &mut at)?)),
        element::INT64 => Value::Int64(i64::from_le_bytes(fixed(body, &mut at)?)),
        element::DECIMAL128 => Value::Decimal128(fixed(body, &mut at)?),
        element::MIN_KEY => Value::MinKey,
        element::MAX_KEY => Value::MaxKey,
        other => return Err(BsonError::UnknownType(other)),
    };
    Ok(Some((key, value, at)))
}

fn read_i32(bytes: &[u8], at: usize) -> Result<i32, BsonError> {
    let end = at.checked_add(4).ok_or(BsonError::Truncated)?;
    let b = bytes.get(at..end).ok_or(BsonError::Truncated)?;
    Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn fixed<const N: usize>(bytes: &[u8], at: &mut usize) -> Result<[u8; N], BsonError> {
    let end = at.checked_add(N).ok_or(BsonError::Truncated)?;
    let mut out = [0u8; N];
    out.copy_from_slice(bytes.get(*at..end).ok_or(BsonError::Truncated)?);
    *at = end;
    Ok(out)
}

/// A zero-terminated UTF-8 string at `at`, and the offset after its terminator.
fn cstring(bytes: &[u8], at: usize) -> Result<(&str, usize), BsonError> {
    let rest = bytes.get(at..).ok_or(BsonError::Truncated)?;
    let end = rest
        .iter()
        .position(|b| *b == 0)
        .ok_or(BsonError::Unterminated)?;
    let s = std::str::from_utf8(&rest[..end]).map_err(|_| BsonError::Utf8)?;
    Ok((s, at + end + 1))
}

/// A length-prefixed string (the length counts its terminating zero).
fn string<'a>(bytes: &'a [u8], at: &mut usize) -> Result<&'a str, BsonError> {
    let len = usize::try_from(read_i32(bytes, *at)?).map_err(|_| BsonError::BadLength)?;
    if len == 0 {
        return Err(BsonError::BadLength);
    }
    let start = *at + 4;
    let end = start.checked_add(len).ok_or(BsonError::Truncated)?;
    let raw = bytes.get(start..end).ok_or(BsonError::Truncated)?;
    let (text, nul) = raw.split_at(len - 1);
    if nul != [0] {
        return Err(BsonError::Unterminated);
    }
    *at = end;
    std::str::from_utf8(text).map_err(|_| BsonError::Utf8)
}

fn embedded<'a>(bytes: &'a [u8], at: &mut usize) -> Result<Document<'a>, BsonError> {
    let rest = bytes.get(*at..).ok_or(BsonError::Truncated)?;
    let len = doc_len(rest)?;
    let doc = rest.get(..len).ok_or(BsonError::Truncated)?;
    *at += len;
    Ok(Document { bytes: doc })
}

fn binary<'a>(bytes: &'a [u8], at: &mut usize) -> Result<Value<'a>, BsonError> {
    let len = usize::try_from(read_i32(bytes, *at)?).map_err(|_| BsonError::BadLength)?;
    let subtype = *bytes.get(*at + 4).ok_or(BsonError::Truncated)?;
    let start = *at + 5;
    let end = start.checked_add(len).ok_or(BsonError::Truncated)?;
    let data = bytes.get(start..end).ok_or(BsonError::Truncated)?;
    if subtype == 0x02 {
        // The old binary subtype repeats the length of what follows.
        let inner = read_i32(data, 0)?;
        if usize::try_from(inner).ok() != len.checked_sub(4) {
            return Err(BsonError::BadLength);
        }
    }
    *at = end;
    Ok(Value::Binary {
        subtype,
        bytes: data,
    })
}

#[cfg(test)]
mod tests;
