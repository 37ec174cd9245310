//! The protocol's basic types: fixed-size little-endian integers, length-encoded integers and strings,
//! NUL-terminated strings. A [`Reader`] walks one payload and never reads past it.

use bytes::{BufMut, BytesMut};

use super::CodecError;

/// A cursor over one packet payload, for `message` (named in errors).
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    message: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], message: &'static str) -> Self {
        Self { buf, message }
    }

    fn truncated(&self, field: &'static str) -> CodecError {
        CodecError::Truncated {
            message: self.message,
            field,
        }
    }

    pub(crate) fn invalid(&self, field: &'static str) -> CodecError {
        CodecError::Invalid {
            message: self.message,
            field,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], CodecError> {
        if self.buf.len() < n {
            return Err(self.truncated(field));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, CodecError> {
        Ok(self.take(1, field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, CodecError> {
        let b = self.take(2, field)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, CodecError> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length-encoded integer; `0xfb` (NULL) and `0xff` are not integers.
    pub(crate) fn lenenc(&mut self, field: &'static str) -> Result<u64, CodecError> {
        let width = match self.u8(field)? {
            n @ 0..=0xfa => return Ok(u64::from(n)),
            0xfc => 2,
            0xfd => 3,
            0xfe => 8,
            _ => return Err(self.invalid(field)),
        };
        let b = self.take(width, field)?;
        let mut le = [0u8; 8];
        le[..width].copy_from_slice(b);
        Ok(u64::from_le_bytes(le))
    }

    /// A length-encoded string; its length is checked against what is left before anything is taken.
    pub(crate) fn lenenc_bytes(&mut self, field: &'static str) -> Result<&'a [u8], CodecError> {
        let len = self.lenenc(field)?;
        let len = usize::try_from(len).map_err(|_| self.truncated(field))?;
        self.take(len, field)
    }

    /// Bytes up to a NUL, which is consumed and not returned.
    pub(crate) fn nul(&mut self, field: &'static str) -> Result<&'a [u8], CodecError> {
        let end = self
            .buf
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| self.truncated(field))?;
        let s = &self.buf[..end];
        self.buf = &self.buf[end + 1..];
        Ok(s)
    }

    /// Bytes up to a NUL or the end of the payload (servers and clients differ on whether the last
    /// string of a packet is terminated).
    pub(crate) fn nul_or_end(&mut self) -> &'a [u8] {
        match self.buf.iter().position(|b| *b == 0) {
            Some(end) => {
                let s = &self.buf[..end];
                self.buf = &self.buf[end + 1..];
                s
            }
            None => self.rest(),
        }
    }

    /// Everything left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// `bytes` as UTF-8, or an error naming `field`.
    pub(crate) fn utf8(&self, bytes: &[u8], field: &'static str) -> Result<String, CodecError> {
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| CodecError::InvalidUtf8 {
                message: self.message,
                field,
            })
    }
}

/// Append a length-encoded integer.
pub(crate) fn put_lenenc(out: &mut BytesMut, n: u64) {
    match n {
        0..=0xfa => out.put_u8(n as u8),
        0xfb..=0xffff => {
            out.put_u8(0xfc);
            out.put_u16_le(n as u16);
        }
        0x1_0000..=0xff_ffff => {
            out.put_u8(0xfd);
            out.put_slice(&n.to_le_bytes()[..3]);
        }
        _ => {
            out.put_u8(0xfe);
            out.put_u64_le(n);
        }
    }
}

/// Append a length-encoded string.
pub(crate) fn put_lenenc_bytes(out: &mut BytesMut, bytes: &[u8]) {
    put_lenenc(out, bytes.len() as u64);
    out.put_slice(bytes);
}

/// Append a NUL-terminated string; refuses one that holds a NUL itself.
pub(crate) fn put_nul(
    out: &mut BytesMut,
    bytes: &[u8],
    message: &'static str,
    field: &'static str,
) -> Result<(), CodecError> {
    if bytes.contains(&0) {
        return Err(CodecError::NulInString { message, field });
    }
    out.put_slice(bytes);
    out.put_u8(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_round_trips_at_every_width() {
        for n in [
            0,
            250,
            251,
            0xffff,
            0x1_0000,
            0xff_ffff,
            0x100_0000,
            u64::MAX,
        ] {
            let mut out = BytesMut::new();
            put_lenenc(&mut out, n);
            let mut r = Reader::new(&out, "test");
            assert_eq!(r.lenenc("n").unwrap(), n);
            assert!(r.is_empty());
        }
        assert!(Reader::new(&[0xfb], "t").lenenc("n").is_err());
        assert!(Reader::new(&[0xff], "t").lenenc("n").is_err());
        assert!(Reader::new(&[0xfd, 1], "t").lenenc("n").is_err());
    }

    #[test]
    fn strings_never_read_past_the_payload() {
        // A length of 2^64-1 with three bytes left.
        let mut r = Reader::new(
            &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2],
            "t",
        );
        assert!(matches!(
            r.lenenc_bytes("s"),
            Err(CodecError::Truncated { .. })
        ));
        let mut r = Reader::new(b"abc", "t");
        assert!(r.nul("s").is_err());
        assert_eq!(Reader::new(b"abc", "t").nul_or_end(), b"abc");
        let mut r = Reader::new(b"ab\0cd", "t");
        assert_eq!(r.nul("s").unwrap(), b"ab");
        assert_eq!(r.rest(), b"cd");
        let mut out = BytesMut::new();
        assert!(put_nul(&mut out, b"a\0b", "m", "f").is_err());
    }
}
