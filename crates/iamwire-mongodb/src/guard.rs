//! The relay's guard on what a client sends after its login, sans-IO: every message passes through
//! untouched except those that would change who the session is — `saslStart`, `saslContinue`,
//! `authenticate`, `logout` (and the legacy `getnonce` / `copydb*` logins), a `hello` carrying
//! `speculativeAuthenticate`, and `OP_COMPRESSED` (compression is never negotiated, and it would hide
//! the command) — which are dropped and answered with an `Unauthorized` error instead.
//!
//! The guard looks only at the start of each message: the header, then just enough of the command
//! document to read its name (a `hello`'s whole document, which is small). A message whose command
//! does not show within [`PEEK_LEN`] bytes (a client that puts a large document sequence before the
//! body, which no driver does) is refused too. Everything after the decision streams straight through:
//! the cost on the common path is a header and a key per message.

use bytes::BytesMut;

use crate::bson::{Document, element};
use crate::codec::{HEADER_LEN, Header, Malformed, opcode};

/// How many bytes of a message the guard may hold to find its command.
pub const PEEK_LEN: usize = 16 * 1024;
/// Commands that log in or out: never passed on.
const REFUSED: [&str; 8] = [
    "saslStart",
    "saslContinue",
    "authenticate",
    "logout",
    "getnonce",
    "copydb",
    "copydbgetnonce",
    "copydbsaslstart",
];
/// Commands whose document may carry `speculativeAuthenticate`.
const HELLO: [&str; 2] = ["hello", "isMaster"];
/// The longest command name compared (longer ones are none of the above).
const MAX_NAME: usize = 32;

/// A message the guard dropped, and how to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The command (or `OP_COMPRESSED`, or what made the message unreadable).
    pub command: String,
    /// The dropped message's request id (the answer's `responseTo`).
    pub request_id: i32,
    /// Whether it came as `OP_QUERY` (answered with `OP_REPLY`).
    pub legacy: bool,
    /// Whether the client asked for no answer (`OP_MSG` with `moreToCome`).
    pub more_to_come: bool,
}

/// A request passed on that expects an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    /// Its request id.
    pub request_id: i32,
    /// Whether it came as `OP_QUERY`.
    pub legacy: bool,
}

#[derive(Debug)]
enum State {
    /// Collecting the start of a message.
    Head,
    /// Passing on the rest of a message.
    Pass(usize),
    /// Dropping the rest of a message.
    Drop(usize),
}

/// Decides, message by message, what of a client's byte stream goes to the database.
#[derive(Debug)]
pub struct Guard {
    max_len: usize,
    head: Vec<u8>,
    state: State,
}

enum Sniff {
    NeedMore,
    Forward,
    Refuse(String),
}

impl Guard {
    /// A guard for messages of at most `max_len` bytes (MongoDB's is 48,000,000).
    pub fn new(max_len: usize) -> Self {
        Self {
            max_len,
            head: Vec::with_capacity(64),
            state: State::Head,
        }
    }

    /// Whether the guard is between messages.
    pub fn at_boundary(&self) -> bool {
        matches!(self.state, State::Head) && self.head.is_empty()
    }

    /// Run `chunk` through the guard: bytes to pass on are appended to `forward`, dropped messages to
    /// `refused`, requests passed on that await an answer to `requests`.
    ///
    /// # Errors
    /// [`Malformed::Length`] for a message length out of bounds: the stream cannot be followed.
    pub fn feed(
        &mut self,
        mut chunk: &[u8],
        forward: &mut BytesMut,
        refused: &mut Vec<Refused>,
        requests: &mut Vec<Forwarded>,
    ) -> Result<(), Malformed> {
        while !chunk.is_empty() {
            match self.state {
                State::Pass(rest) => {
                    let n = rest.min(chunk.len());
                    forward.extend_from_slice(&chunk[..n]);
                    chunk = &chunk[n..];
                    self.state = next(rest - n, State::Pass);
                }
                State::Drop(rest) => {
                    let n = rest.min(chunk.len());
                    chunk = &chunk[n..];
                    self.state = next(rest - n, State::Drop);
                }
                State::Head => {
                    let target = match Header::parse(&self.head) {
                        None => HEADER_LEN,
                        Some(h) => h.checked_len(self.max_len)?.min(PEEK_LEN),
                    };
                    let n = (target - self.head.len()).min(chunk.len());
                    self.head.extend_from_slice(&chunk[..n]);
                    chunk = &chunk[n..];
                    self.decide(forward, refused, requests)?;
                }
            }
        }
        Ok(())
    }

    /// With what `head` holds, decide the message if possible.
    fn decide(
        &mut self,
        forward: &mut BytesMut,
        refused: &mut Vec<Refused>,
        requests: &mut Vec<Forwarded>,
    ) -> Result<(), Malformed> {
        let Some(header) = Header::parse(&self.head) else {
            return Ok(());
        };
        let len = header.checked_len(self.max_len)?;
        let complete = self.head.len() == len.min(PEEK_LEN);
        let more_to_come = header.op_code == opcode::OP_MSG
            && self
                .head
                .get(HEADER_LEN)
                .is_some_and(|flags| flags & 0b10 != 0);
        let verdict = match sniff(&header, &self.head, len) {
            Sniff::NeedMore if complete => {
                Sniff::Refuse("a message whose command does not show in its first 16 KiB".into())
            }
            other => other,
        };
        let rest = len - self.head.len();
        match verdict {
            Sniff::NeedMore => return Ok(()),
            Sniff::Forward => {
                forward.extend_from_slice(&self.head);
                let expects_answer =
                    matches!(header.op_code, opcode::OP_MSG | opcode::OP_QUERY) && !more_to_come;
                if expects_answer {
                    requests.push(Forwarded {
                        request_id: header.request_id,
                        legacy: header.op_code == opcode::OP_QUERY,
                    });
                }
                self.state = next(rest, State::Pass);
            }
            Sniff::Refuse(command) => {
                refused.push(Refused {
                    command,
                    request_id: header.request_id,
                    legacy: header.op_code == opcode::OP_QUERY,
                    more_to_come,
                });
                self.state = next(rest, State::Drop);
            }
        }
        self.head.clear();
        Ok(())
    }
}

fn next(rest: usize, state: fn(usize) -> State) -> State {
    if rest == 0 { State::Head } else { state(rest) }
}

/// What the start of a message shows.
fn sniff(header: &Header, head: &[u8], len: usize) -> Sniff {
    match header.op_code {
        opcode::OP_MSG => sniff_msg(head, len),
        opcode::OP_QUERY => sniff_query(head),
        opcode::OP_COMPRESSED => Sniff::Refuse("OP_COMPRESSED".into()),
        _ => Sniff::Forward,
    }
}

fn sniff_msg(head: &[u8], len: usize) -> Sniff {
    let mut at = HEADER_LEN + 4;
    loop {
        if at >= len {
            // No body: the database refuses it.
            return Sniff::Forward;
        }
        let Some(&kind) = head.get(at) else {
            return Sniff::NeedMore;
        };
        match kind {
            0 => return sniff_command(head, at + 1, false),
            1 => {
                let Some(size) = read_u32(head, at + 1) else {
                    return Sniff::NeedMore;
                };
                if size < 5 {
                    return Sniff::Refuse("a malformed OP_MSG".into());
                }
                at = at.saturating_add(1).saturating_add(size);
            }
            _ => return Sniff::Refuse("an OP_MSG section of unknown kind".into()),
        }
    }
}

fn sniff_query(head: &[u8]) -> Sniff {
    let start = HEADER_LEN + 4;
    let Some(name) = head.get(start..) else {
        return Sniff::NeedMore;
    };
    let Some(end) = name.iter().position(|b| *b == 0) else {
        return Sniff::NeedMore;
    };
    if !name[..end].ends_with(b".$cmd") {
        return Sniff::Forward;
    }
    sniff_command(head, start + end + 1 + 8, true)
}

/// The command document starting at `at`: its first key decides.
fn sniff_command(head: &[u8], at: usize, legacy: bool) -> Sniff {
    let Some(doc_len) = read_u32(head, at) else {
        return Sniff::NeedMore;
    };
    let Some((kind, key)) = first_key(head, at + 4) else {
        return Sniff::NeedMore;
    };
    let Some(key) = key else {
        // A key too long to be any command we look for, or an empty document.
        return Sniff::Forward;
    };
    if legacy && matches!(key, b"$query" | b"query") && kind == element::DOCUMENT {
        let inner = at + 4 + 1 + key.len() + 1;
        return match sniff_command(head, inner, false) {
            Sniff::Forward if is_hello(head, inner) == Some(true) => {
                whole_hello(head, at, doc_len, Some(key))
            }
            other => other,
        };
    }
    if REFUSED
        .iter()
        .any(|r| r.as_bytes().eq_ignore_ascii_case(key))
    {
        return Sniff::Refuse(String::from_utf8_lossy(key).into_owned());
    }
    if HELLO.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(key)) {
        return whole_hello(head, at, doc_len, None);
    }
    Sniff::Forward
}

/// Whether the document at `at` starts with a hello key (None: not enough bytes yet).
fn is_hello(head: &[u8], at: usize) -> Option<bool> {
    let (_, key) = first_key(head, at + 4)?;
    Some(key.is_some_and(|k| HELLO.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(k))))
}

/// A hello passes only if its whole document is here, valid, and carries no
/// `speculativeAuthenticate` (in the wrapped query for a legacy `$query` form).
fn whole_hello(head: &[u8], at: usize, doc_len: usize, wrapper: Option<&[u8]>) -> Sniff {
    let Some(bytes) = head.get(at..at.saturating_add(doc_len)) else {
        return Sniff::NeedMore;
    };
    let Ok(doc) = Document::parse(bytes, crate::bson::DEFAULT_MAX_DEPTH) else {
        return Sniff::Refuse("a malformed hello".into());
    };
    let doc = match wrapper.and_then(|k| std::str::from_utf8(k).ok()) {
        Some(k) => match doc.get_document(k) {
            Some(inner) => inner,
            None => return Sniff::Refuse("a malformed hello".into()),
        },
        None => doc,
    };
    if doc
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("speculativeAuthenticate"))
    {
        return Sniff::Refuse("hello with speculativeAuthenticate".into());
    }
    Sniff::Forward
}

/// The element type and key at `at` (`Some(None)`: an empty document, or a key longer than any
/// command compared); `None` if the bytes are not here yet.
fn first_key(head: &[u8], at: usize) -> Option<(u8, Option<&[u8]>)> {
    let kind = *head.get(at)?;
    if kind == 0 {
        return Some((0, None));
    }
    let rest = head.get(at + 1..)?;
    match rest.iter().take(MAX_NAME + 1).position(|b| *b == 0) {
        Some(end) => Some((kind, Some(&rest[..end]))),
        None if rest.len() > MAX_NAME => Some((kind, None)),
        None => None,
    }
}

fn read_u32(head: &[u8], at: usize) -> Option<usize> {
    let b = head.get(at..at.checked_add(4)?)?;
    usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
}

#[cfg(test)]
mod tests;
