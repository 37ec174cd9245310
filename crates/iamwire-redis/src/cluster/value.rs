//! A read-only view of one complete RESP2 / RESP3 frame as a tree of spans into its bytes, and the
//! writers to put a changed tree back on the wire. The topology rewriter needs this rather than a
//! decode → encode round trip: what it does not change must reach the client byte for byte (map order,
//! the spelling of doubles, attributes), and what it changes must keep its RESP type.
//!
//! The frame has already been found whole and within the [`Limits`](crate::Limits) by the scanner; the
//! parser still trusts nothing (it is fuzzed on arbitrary bytes): every length is checked against the
//! bytes present, nesting is capped, and anything it cannot read is `None`.

/// Deepest nesting the parser follows (topology replies nest four deep).
const MAX_DEPTH: usize = 32;

/// One RESP value, borrowing from the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// A string: `+simple`, `$bulk`, `=verbatim` (`data` after its `txt:` prefix), `-error`,
    /// `!blob error`.
    Text {
        /// The type byte.
        kind: u8,
        /// The string.
        data: &'a [u8],
        /// The verbatim format (`txt`), for `=`.
        format: &'a [u8],
        /// The whole value as sent.
        raw: &'a [u8],
    },
    /// `:integer`.
    Int {
        /// The number.
        n: i64,
        /// As sent.
        raw: &'a [u8],
    },
    /// Anything else that is not an aggregate: nulls, booleans, doubles, big numbers.
    Scalar {
        /// As sent.
        raw: &'a [u8],
    },
    /// `*array`, `%map` (keys and values in turn), `~set`, `>push`.
    Agg {
        /// The type byte.
        kind: u8,
        /// The elements (a map's keys and values alternate).
        items: Vec<Value<'a>>,
        /// As sent.
        raw: &'a [u8],
    },
    /// `|attributes` before a value: the attributes are kept as sent.
    Attr {
        /// The attribute map as sent.
        attrs: &'a [u8],
        /// The value they annotate.
        value: Box<Value<'a>>,
    },
}

impl<'a> Value<'a> {
    /// The value at the front of `frame` and the bytes it took, if it is well-formed.
    pub(crate) fn parse(frame: &'a [u8]) -> Option<(Self, usize)> {
        parse(frame, 0)
    }

    /// The value if `frame` is exactly one well-formed value.
    pub(crate) fn parse_whole(frame: &'a [u8]) -> Option<Self> {
        match parse(frame, 0)? {
            (value, used) if used == frame.len() => Some(value),
            _ => None,
        }
    }

    /// The string, if this is one (through attributes).
    pub(crate) fn text(&self) -> Option<&'a [u8]> {
        match self {
            Self::Text { data, .. } => Some(data),
            Self::Attr { value, .. } => value.text(),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Self::Int { n, .. } => Some(*n),
            Self::Attr { value, .. } => value.int(),
            _ => None,
        }
    }

    /// The elements, if this is an aggregate.
    pub(crate) fn items(&self) -> Option<&[Value<'a>]> {
        match self {
            Self::Agg { items, .. } => Some(items),
            Self::Attr { value, .. } => value.items(),
            _ => None,
        }
    }

    /// The elements of a list-like aggregate (array, set, push), whose count may change when an element
    /// is left out; `None` for a map (its elements are key, value pairs) and for anything else.
    pub(crate) fn list_items(&self) -> Option<&[Value<'a>]> {
        match self {
            Self::Agg { kind: b'%', .. } => None,
            Self::Agg { items, .. } => Some(items),
            Self::Attr { value, .. } => value.list_items(),
            _ => None,
        }
    }

    /// Whether this is an error.
    pub(crate) fn is_error(&self) -> bool {
        match self {
            Self::Text { kind, .. } => matches!(kind, b'-' | b'!'),
            Self::Attr { value, .. } => value.is_error(),
            _ => false,
        }
    }

    /// The value as it was sent.
    pub(crate) fn write_raw(&self, out: &mut Vec<u8>) {
        match self {
            Self::Text { raw, .. }
            | Self::Int { raw, .. }
            | Self::Scalar { raw }
            | Self::Agg { raw, .. } => out.extend_from_slice(raw),
            Self::Attr { attrs, value } => {
                out.extend_from_slice(attrs);
                value.write_raw(out);
            }
        }
    }

    /// A string of the same RESP type as this one (a bulk string if this is not a string), holding
    /// `data`.
    pub(crate) fn write_text_like(&self, data: &[u8], out: &mut Vec<u8>) {
        match self {
            Self::Attr { attrs, value } => {
                out.extend_from_slice(attrs);
                value.write_text_like(data, out);
            }
            Self::Text { kind: b'+', .. } if !data.contains(&b'\r') && !data.contains(&b'\n') => {
                out.push(b'+');
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
            Self::Text {
                kind: b'=', format, ..
            } => {
                let len = format.len() + 1 + data.len();
                out.extend_from_slice(format!("={len}\r\n").as_bytes());
                out.extend_from_slice(format);
                out.push(b':');
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
            Self::Text { kind: b'!', .. } => {
                out.extend_from_slice(format!("!{}\r\n", data.len()).as_bytes());
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
            _ => write_bulk(data, out),
        }
    }

    /// An integer in place of this value (kept as sent if it is already `n`).
    pub(crate) fn write_int_like(&self, n: i64, out: &mut Vec<u8>) {
        match self {
            Self::Attr { attrs, value } => {
                out.extend_from_slice(attrs);
                value.write_int_like(n, out);
            }
            Self::Int { n: was, raw } if *was == n => out.extend_from_slice(raw),
            _ => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        }
    }

    /// The header of an aggregate of this one's type (and attributes) with `len` elements (pairs for
    /// a map: `len` counts keys and values, as [`items`](Self::items) does).
    pub(crate) fn write_agg_header(&self, len: usize, out: &mut Vec<u8>) {
        match self {
            Self::Attr { attrs, value } => {
                out.extend_from_slice(attrs);
                value.write_agg_header(len, out);
            }
            Self::Agg { kind: b'%', .. } => {
                out.extend_from_slice(format!("%{}\r\n", len / 2).as_bytes());
            }
            Self::Agg { kind, .. } => {
                out.push(*kind);
                out.extend_from_slice(format!("{len}\r\n").as_bytes());
            }
            _ => out.extend_from_slice(format!("*{len}\r\n").as_bytes()),
        }
    }
}

/// `$len\r\ndata\r\n`.
pub(crate) fn write_bulk(data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("${}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The line at the front of `buf` (without CRLF) and the bytes it took with its CRLF.
fn line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let end = memchr::memchr(b'\n', buf)?;
    let body = buf[..end].strip_suffix(b"\r")?;
    Some((body, end + 1))
}

fn number(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn parse(buf: &[u8], depth: usize) -> Option<(Value<'_>, usize)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let kind = *buf.first()?;
    let (body, head) = line(&buf[1..])?;
    let head = head + 1;
    match kind {
        b'+' | b'-' => Some((
            Value::Text {
                kind,
                data: body,
                format: &[],
                raw: &buf[..head],
            },
            head,
        )),
        b':' => Some((
            Value::Int {
                n: number(body)?,
                raw: &buf[..head],
            },
            head,
        )),
        b'_' | b'#' | b',' | b'(' => Some((Value::Scalar { raw: &buf[..head] }, head)),
        b'$' | b'!' | b'=' => {
            let len = number(body)?;
            if len < 0 {
                // RESP2's null bulk string.
                return (kind == b'$' && len == -1)
                    .then_some((Value::Scalar { raw: &buf[..head] }, head));
            }
            let len = usize::try_from(len).ok()?;
            let end = head.checked_add(len)?;
            let data = buf.get(head..end)?;
            if buf.get(end..end.checked_add(2)?)? != b"\r\n" {
                return None;
            }
            let (data, format) = if kind == b'=' {
                let colon = data.iter().position(|b| *b == b':')?;
                (&data[colon + 1..], &data[..colon])
            } else {
                (data, &[][..])
            };
            Some((
                Value::Text {
                    kind,
                    data,
                    format,
                    raw: &buf[..end + 2],
                },
                end + 2,
            ))
        }
        b'*' | b'%' | b'~' | b'>' | b'|' => {
            let n = number(body)?;
            if n < 0 {
                // RESP2's null array.
                return (kind == b'*' && n == -1)
                    .then_some((Value::Scalar { raw: &buf[..head] }, head));
            }
            let n = usize::try_from(n).ok()?;
            let count = if matches!(kind, b'%' | b'|') {
                n.checked_mul(2)?
            } else {
                n
            };
            // Every element takes at least three bytes: no count beyond the bytes present.
            if count > buf.len() / 3 {
                return None;
            }
            let mut items = Vec::new();
            let mut at = head;
            for _ in 0..count {
                let (item, used) = parse(&buf[at..], depth + 1)?;
                items.push(item);
                at += used;
            }
            if kind == b'|' {
                let (value, used) = parse(&buf[at..], depth + 1)?;
                return Some((
                    Value::Attr {
                        attrs: &buf[..at],
                        value: Box::new(value),
                    },
                    at + used,
                ));
            }
            Some((
                Value::Agg {
                    kind,
                    items,
                    raw: &buf[..at],
                },
                at,
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_and_writes_back_as_sent() {
        let frames: &[&[u8]] = &[
            b"+OK\r\n",
            b"-MOVED 1 a:1\r\n",
            b":-12\r\n",
            b"$3\r\nabc\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"_\r\n",
            b"#t\r\n",
            b",1.50\r\n",
            b"(123456789012345678901234567890\r\n",
            b"=7\r\ntxt:a:b\r\n",
            b"!5\r\nERR x\r\n",
            b"*2\r\n$1\r\na\r\n:1\r\n",
            b"%1\r\n+k\r\n*1\r\n~1\r\n>1\r\n$0\r\n\r\n",
            b"|1\r\n+key\r\n+val\r\n*1\r\n:2\r\n",
        ];
        for frame in frames {
            let value = Value::parse_whole(frame).unwrap_or_else(|| panic!("{frame:?}"));
            let mut out = Vec::new();
            value.write_raw(&mut out);
            assert_eq!(&out, frame);
        }
        let verbatim = Value::parse_whole(b"=7\r\ntxt:a:b\r\n").unwrap();
        assert_eq!(verbatim.text(), Some(&b"a:b"[..]));
        let mut out = Vec::new();
        verbatim.write_text_like(b"xyz", &mut out);
        assert_eq!(out, b"=7\r\ntxt:xyz\r\n");
        let attr = Value::parse_whole(b"|1\r\n+key\r\n+val\r\n*1\r\n:2\r\n").unwrap();
        assert_eq!(attr.items().map(<[Value<'_>]>::len), Some(1));
    }

    #[test]
    fn what_is_not_one_whole_value_is_refused() {
        for frame in [
            &b"$3\r\nab\r\n"[..],
            b"$3\r\nabcd\r\n",
            b"*2\r\n:1\r\n",
            b"*99999999999\r\n",
            b"%9223372036854775807\r\n",
            b"$-2\r\n",
            b"=3\r\nabc\r\n",
            b"?\r\n",
            b"+OK\n",
            b":x\r\n",
            b"",
        ] {
            assert!(Value::parse_whole(frame).is_none(), "{frame:?}");
        }
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2) + ":1\r\n";
        assert!(Value::parse_whole(deep.as_bytes()).is_none());
        assert!(Value::parse_whole(b"+OK\r\n+OK\r\n").is_none());
    }
}
