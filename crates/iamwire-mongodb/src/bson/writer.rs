//! Writing BSON documents.

use super::{Document, Value, element};

/// A BSON document being written: append elements, then [`finish`](Self::finish).
///
/// Keys and regex parts are C strings: anything from a NUL on is left out (the proxy's own keys never
/// hold one).
#[derive(Debug, Clone)]
pub struct DocBuf {
    buf: Vec<u8>,
}

impl Default for DocBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl DocBuf {
    /// An empty document.
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; 4]);
        Self { buf }
    }

    fn key(&mut self, kind: u8, key: &str) {
        self.buf.push(kind);
        cstring(&mut self.buf, key);
    }

    fn string_body(&mut self, s: &str) {
        let len = i32::try_from(s.len() + 1).unwrap_or(i32::MAX);
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// Append a string.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(element::STRING, key);
        self.string_body(value);
        self
    }

    /// Append a 32-bit integer.
    pub fn i32(&mut self, key: &str, value: i32) -> &mut Self {
        self.key(element::INT32, key);
        self.buf.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// Append a 64-bit integer.
    pub fn i64(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(element::INT64, key);
        self.buf.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// Append a double.
    pub fn f64(&mut self, key: &str, value: f64) -> &mut Self {
        self.key(element::DOUBLE, key);
        self.buf.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// Append a boolean.
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(element::BOOLEAN, key);
        self.buf.push(u8::from(value));
        self
    }

    /// Append a date (milliseconds since the Unix epoch).
    pub fn datetime(&mut self, key: &str, millis: i64) -> &mut Self {
        self.key(element::DATE_TIME, key);
        self.buf.extend_from_slice(&millis.to_le_bytes());
        self
    }

    /// Append binary data of `subtype`.
    pub fn binary(&mut self, key: &str, subtype: u8, bytes: &[u8]) -> &mut Self {
        self.key(element::BINARY, key);
        let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.push(subtype);
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Append an embedded document, given as its bytes (another `DocBuf`'s [`finish`](Self::finish)).
    pub fn document(&mut self, key: &str, doc: &[u8]) -> &mut Self {
        self.key(element::DOCUMENT, key);
        self.buf.extend_from_slice(doc);
        self
    }

    /// Append an array of strings.
    pub fn str_array<'s>(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = &'s str>,
    ) -> &mut Self {
        let mut array = DocBuf::new();
        for (i, item) in items.into_iter().enumerate() {
            array.str(&i.to_string(), item);
        }
        self.key(element::ARRAY, key);
        self.buf.extend_from_slice(&array.finish());
        self
    }

    /// Append any value (documents and arrays are copied as they are).
    pub fn value(&mut self, key: &str, value: &Value<'_>) -> &mut Self {
        self.key(value.element_type(), key);
        let b = &mut self.buf;
        match value {
            Value::Double(v) => b.extend_from_slice(&v.to_le_bytes()),
            Value::String(s) | Value::JavaScript(s) | Value::Symbol(s) => self.string_body(s),
            Value::Document(d) | Value::Array(d) => b.extend_from_slice(d.as_bytes()),
            Value::Binary { subtype, bytes } => {
                let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
                b.extend_from_slice(&len.to_le_bytes());
                b.push(*subtype);
                b.extend_from_slice(bytes);
            }
            Value::Undefined | Value::Null | Value::MinKey | Value::MaxKey => {}
            Value::ObjectId(id) => b.extend_from_slice(id),
            Value::Boolean(v) => b.push(u8::from(*v)),
            Value::DateTime(v) | Value::Int64(v) => b.extend_from_slice(&v.to_le_bytes()),
            Value::Regex { pattern, options } => {
                cstring(b, pattern);
                cstring(b, options);
            }
            Value::DbPointer { namespace, id } => {
                self.string_body(namespace);
                self.buf.extend_from_slice(id);
            }
            Value::JavaScriptWithScope { code, scope } => {
                let total = 4 + 4 + code.len() + 1 + scope.as_bytes().len();
                let total = i32::try_from(total).unwrap_or(i32::MAX);
                self.buf.extend_from_slice(&total.to_le_bytes());
                self.string_body(code);
                self.buf.extend_from_slice(scope.as_bytes());
            }
            Value::Int32(v) => b.extend_from_slice(&v.to_le_bytes()),
            Value::Timestamp(v) => b.extend_from_slice(&v.to_le_bytes()),
            Value::Decimal128(v) => b.extend_from_slice(v),
        }
        self
    }

    /// Append every element of `doc`.
    pub fn extend(&mut self, doc: &Document<'_>) -> &mut Self {
        for (key, value) in doc.iter() {
            self.value(key, &value);
        }
        self
    }

    /// The document's bytes.
    pub fn finish(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buf.len() + 1);
        out.extend_from_slice(&self.buf);
        out.push(0);
        let len = i32::try_from(out.len()).unwrap_or(i32::MAX);
        out[..4].copy_from_slice(&len.to_le_bytes());
        out
    }
}

fn cstring(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    buf.extend_from_slice(&bytes[..end]);
    buf.push(0);
}
