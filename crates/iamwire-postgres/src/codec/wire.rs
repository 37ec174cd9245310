//! Framing and field primitives shared by the frontend and backend codecs.
//!
//! Reading: [`tagged_frame`] and [`untagged_frame`] cut one whole message off the buffer (or
//! report that more bytes are needed, consuming nothing); [`Body`] then walks its fields, each
//! read checked against the bytes that are left. Writing: [`write_tagged`] and
//! [`write_untagged`] back-patch the length field and leave the buffer untouched on error.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::CodecError;

/// Size of the length field.
const LEN_SIZE: usize = 4;

/// Reads the big-endian `i32` at `at`, if the buffer holds it.
fn peek_i32(buf: &[u8], at: usize) -> Option<i32> {
    let end = at.checked_add(LEN_SIZE)?;
    let bytes = buf.get(at..end)?;
    <[u8; 4]>::try_from(bytes).ok().map(i32::from_be_bytes)
}

/// Checks a declared length against `min..=max` before anything is buffered.
fn check_len(message: &'static str, len: i32, min: usize, max: usize) -> Result<usize, CodecError> {
    let too_short = CodecError::LengthTooShort {
        message,
        len: i64::from(len),
        min,
    };
    let len = usize::try_from(len).map_err(|_| too_short.clone())?;
    if len < min {
        return Err(too_short);
    }
    if len > max {
        return Err(CodecError::LengthOverLimit { message, len, max });
    }
    Ok(len)
}

/// Cuts one tagged message (type byte, length, body) off `buf`.
///
/// `Ok(None)` means more bytes are needed and nothing was consumed. The length is checked
/// against `max_len` as soon as the 5-byte header is present.
pub(crate) fn tagged_frame(
    buf: &mut BytesMut,
    max_len: usize,
    message_of: impl FnOnce(u8) -> &'static str,
) -> Result<Option<(u8, Bytes)>, CodecError> {
    let (Some(&tag), Some(len)) = (buf.first(), peek_i32(buf, 1)) else {
        return Ok(None);
    };
    let message = message_of(tag);
    let len = check_len(message, len, LEN_SIZE, max_len)?;
    let total = len.checked_add(1).ok_or(CodecError::LengthOverLimit {
        message,
        len,
        max: max_len,
    })?;
    if buf.len() < total {
        return Ok(None);
    }
    let mut frame = buf.split_to(total);
    frame.advance(1 + LEN_SIZE);
    Ok(Some((tag, frame.freeze())))
}

/// Cuts one untagged startup packet (length, body) off `buf`; the body starts with the 32-bit
/// request code. Same contract as [`tagged_frame`].
pub(crate) fn untagged_frame(
    buf: &mut BytesMut,
    max_len: usize,
) -> Result<Option<Bytes>, CodecError> {
    let Some(len) = peek_i32(buf, 0) else {
        return Ok(None);
    };
    let len = check_len("startup packet", len, 2 * LEN_SIZE, max_len)?;
    if buf.len() < len {
        return Ok(None);
    }
    let mut frame = buf.split_to(len);
    frame.advance(LEN_SIZE);
    Ok(Some(frame.freeze()))
}

/// A cursor over one message body.
#[derive(Debug)]
pub(crate) struct Body {
    bytes: Bytes,
    message: &'static str,
}

impl Body {
    /// Reads `bytes`, the body of the message called `message` in errors.
    pub(crate) fn new(bytes: Bytes, message: &'static str) -> Self {
        Self { bytes, message }
    }

    /// The message name used in errors.
    pub(crate) fn message(&self) -> &'static str {
        self.message
    }

    fn truncated(&self, field: &'static str) -> CodecError {
        CodecError::Truncated {
            message: self.message,
            field,
        }
    }

    /// Reads one byte.
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, CodecError> {
        if self.bytes.is_empty() {
            return Err(self.truncated(field));
        }
        Ok(self.bytes.get_u8())
    }

    /// Reads a big-endian `i32`.
    pub(crate) fn i32(&mut self, field: &'static str) -> Result<i32, CodecError> {
        let value = peek_i32(&self.bytes, 0).ok_or_else(|| self.truncated(field))?;
        self.bytes.advance(LEN_SIZE);
        Ok(value)
    }

    /// Reads exactly `n` bytes.
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<Bytes, CodecError> {
        if self.bytes.len() < n {
            return Err(self.truncated(field));
        }
        Ok(self.bytes.split_to(n))
    }

    /// Reads everything that is left.
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.bytes)
    }

    /// Reads a NUL-terminated string's bytes (without the NUL).
    pub(crate) fn cstr_bytes(&mut self, field: &'static str) -> Result<Bytes, CodecError> {
        let end = memchr::memchr(0, &self.bytes).ok_or_else(|| self.truncated(field))?;
        let value = self.bytes.split_to(end);
        self.bytes.advance(1);
        Ok(value)
    }

    /// Reads a NUL-terminated UTF-8 string.
    pub(crate) fn cstr(&mut self, field: &'static str) -> Result<String, CodecError> {
        let bytes = self.cstr_bytes(field)?;
        String::from_utf8(bytes.into()).map_err(|_| CodecError::InvalidUtf8 {
            message: self.message,
            field,
        })
    }

    /// Reads a NUL-terminated string meant for humans; invalid UTF-8 is replaced, not rejected.
    pub(crate) fn cstr_lossy(&mut self, field: &'static str) -> Result<String, CodecError> {
        let bytes = self.cstr_bytes(field)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Fails unless every byte was read.
    pub(crate) fn finish(self) -> Result<(), CodecError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(CodecError::TrailingBytes {
                message: self.message,
                extra: self.bytes.len(),
            })
        }
    }
}

/// Writes `value` and its NUL terminator.
pub(crate) fn put_cstr(
    buf: &mut BytesMut,
    value: &[u8],
    message: &'static str,
    field: &'static str,
) -> Result<(), CodecError> {
    if memchr::memchr(0, value).is_some() {
        return Err(CodecError::NulInString { message, field });
    }
    buf.put_slice(value);
    buf.put_u8(0);
    Ok(())
}

/// Writes a length-prefixed message: `tag` (if any), a length placeholder, then whatever `body`
/// writes; back-patches the length. On error `buf` is left as it was.
fn write_framed(
    buf: &mut BytesMut,
    tag: Option<u8>,
    message: &'static str,
    body: impl FnOnce(&mut BytesMut) -> Result<(), CodecError>,
) -> Result<(), CodecError> {
    let start = buf.len();
    let result = (|| {
        if let Some(tag) = tag {
            buf.put_u8(tag);
        }
        let len_at = buf.len();
        buf.put_i32(0);
        body(buf)?;
        let len = buf.len() - len_at;
        let len = i32::try_from(len).map_err(|_| CodecError::TooLongToEncode { message })?;
        buf[len_at..len_at + LEN_SIZE].copy_from_slice(&len.to_be_bytes());
        Ok(())
    })();
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

/// Writes a tagged message; see [`write_framed`].
pub(crate) fn write_tagged(
    buf: &mut BytesMut,
    tag: u8,
    message: &'static str,
    body: impl FnOnce(&mut BytesMut) -> Result<(), CodecError>,
) -> Result<(), CodecError> {
    write_framed(buf, Some(tag), message, body)
}

/// Writes an untagged startup packet; see [`write_framed`].
pub(crate) fn write_untagged(
    buf: &mut BytesMut,
    message: &'static str,
    body: impl FnOnce(&mut BytesMut) -> Result<(), CodecError>,
) -> Result<(), CodecError> {
    write_framed(buf, None, message, body)
}

/// Converts a count or length to the `i32` the wire carries.
pub(crate) fn wire_i32(n: usize, message: &'static str) -> Result<i32, CodecError> {
    i32::try_from(n).map_err(|_| CodecError::TooLongToEncode { message })
}
