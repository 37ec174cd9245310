//! What the proxy needs to know about a few server frames ([`Reply`]), and the one-line RESP error
//! ([`error_line`]).

use bytes::Bytes;

/// A complete server frame, as far as the proxy cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyKind {
    /// An error (`-CODE message` or a blob error).
    Error {
        /// The first word (`WRONGPASS`, `NOPERM`, `ERR`, ...).
        code: String,
        /// The rest, made one line.
        message: String,
    },
    /// A pub/sub frame: a RESP3 push, or in RESP2 an array whose first element names the kind
    /// (`message`, `subscribe`, ...), with the subscription count confirmations carry.
    Pubsub {
        /// The kind, lower case.
        kind: String,
        /// The third element of a (un)subscribe confirmation: how many subscriptions remain.
        count: Option<i64>,
    },
    /// A RESP3 push that is not pub/sub (client-side caching invalidation, ...).
    OtherPush,
    /// Anything else.
    Other,
}

/// Inspection of server frames.
#[derive(Debug, Clone, Copy)]
pub struct Reply;

impl Reply {
    /// Look at `frame` (one complete frame, found by the scanner), decoded as RESP3 if `resp3`.
    /// Frames `redis-protocol` cannot decode are [`ReplyKind::Other`]: the proxy passes them on as
    /// they are.
    pub fn decode(frame: Bytes, resp3: bool) -> ReplyKind {
        match frame.first() {
            Some(b'-') => return simple_error(&frame),
            Some(b'*' | b'>') => {}
            Some(b'!') if resp3 => {}
            _ => return ReplyKind::Other,
        }
        if resp3 {
            use redis_protocol::resp3::types::BytesFrame as F;
            match redis_protocol::resp3::decode::complete::decode_bytes(&frame) {
                Ok(Some((F::Push { data, .. }, _))) => pubsub(
                    &data,
                    |f| match f {
                        F::BlobString { data, .. } | F::SimpleString { data, .. } => Some(data),
                        _ => None,
                    },
                    |f| match f {
                        F::Number { data, .. } => Some(*data),
                        _ => None,
                    },
                )
                .unwrap_or(ReplyKind::OtherPush),
                Ok(Some((F::Array { data, .. }, _))) => pubsub(
                    &data,
                    |f| match f {
                        F::BlobString { data, .. } => Some(data),
                        _ => None,
                    },
                    |f| match f {
                        F::Number { data, .. } => Some(*data),
                        _ => None,
                    },
                )
                .unwrap_or(ReplyKind::Other),
                Ok(Some((F::BlobError { data, .. }, _))) => split_error(&data),
                _ => ReplyKind::Other,
            }
        } else {
            use redis_protocol::resp2::types::BytesFrame as F;
            match redis_protocol::resp2::decode::decode_bytes(&frame) {
                Ok(Some((F::Array(items), _))) => pubsub(
                    &items,
                    |f| match f {
                        F::BulkString(data) => Some(data),
                        _ => None,
                    },
                    |f| match f {
                        F::Integer(n) => Some(*n),
                        _ => None,
                    },
                )
                .unwrap_or(ReplyKind::Other),
                _ => ReplyKind::Other,
            }
        }
    }
}

/// The kinds a pub/sub frame can have.
const PUBSUB_KINDS: &[&str] = &[
    "message",
    "pmessage",
    "smessage",
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "unsubscribe",
    "punsubscribe",
    "sunsubscribe",
];

fn pubsub<F>(
    items: &[F],
    text: impl Fn(&F) -> Option<&Bytes>,
    number: impl Fn(&F) -> Option<i64>,
) -> Option<ReplyKind> {
    let name = text(items.first()?)?;
    let kind = PUBSUB_KINDS
        .iter()
        .find(|k| name.eq_ignore_ascii_case(k.as_bytes()))?;
    let count = if kind.ends_with("subscribe") && items.len() == 3 {
        number(&items[2])
    } else {
        None
    };
    Some(ReplyKind::Pubsub {
        kind: (*kind).to_owned(),
        count,
    })
}

fn simple_error(frame: &[u8]) -> ReplyKind {
    let body = frame
        .strip_prefix(b"-")
        .and_then(|b| b.strip_suffix(b"\r\n"))
        .unwrap_or_default();
    split_error(body)
}

fn split_error(body: &[u8]) -> ReplyKind {
    let text = String::from_utf8_lossy(body);
    let (code, message) = text.split_once(' ').unwrap_or((&text, ""));
    ReplyKind::Error {
        code: code.to_owned(),
        message: one_line(message),
    }
}

/// The longest error line the proxy writes (RESP errors are meant to be short).
const MAX_ERROR_LEN: usize = 1024;

/// `-CODE message\r\n` as one line: CR and LF in `message` become spaces, and it is cut to a bounded
/// length (at a character boundary).
pub fn error_line(code: &str, message: &str) -> Vec<u8> {
    let mut text = format!("{code} {}", one_line(message));
    if text.len() > MAX_ERROR_LEN {
        let mut cut = MAX_ERROR_LEN;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    let mut out = Vec::with_capacity(text.len() + 3);
    out.push(b'-');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_pubsub_frames_are_recognised() {
        let kind = Reply::decode(Bytes::from_static(b"-WRONGPASS bad pair\r\n"), false);
        assert_eq!(
            kind,
            ReplyKind::Error {
                code: "WRONGPASS".into(),
                message: "bad pair".into()
            }
        );
        let confirm = Bytes::from_static(b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
        assert_eq!(
            Reply::decode(confirm, false),
            ReplyKind::Pubsub {
                kind: "subscribe".into(),
                count: Some(1)
            }
        );
        let push = Bytes::from_static(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
        assert_eq!(
            Reply::decode(push, true),
            ReplyKind::Pubsub {
                kind: "message".into(),
                count: None
            }
        );
        let invalidate = Bytes::from_static(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
        assert_eq!(Reply::decode(invalidate, true), ReplyKind::OtherPush);
        let list = Bytes::from_static(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n");
        assert_eq!(Reply::decode(list, false), ReplyKind::Other);
    }

    #[test]
    fn error_lines_are_one_bounded_line() {
        let line = error_line("ERR", "two\r\nlines");
        assert_eq!(line, b"-ERR two  lines\r\n");
        let long = error_line("ERR", &"é".repeat(2000));
        assert!(long.len() <= MAX_ERROR_LEN + 3);
        assert!(std::str::from_utf8(&long).is_ok());
        assert_eq!(long.iter().filter(|b| **b == b'\n').count(), 1);
    }
}
