//! Client commands: [`CommandDecoder`] (scan with limits, then cut the checked frame into its
//! arguments in place) and [`encode_command`].

use bytes::{Bytes, BytesMut};
use redis_protocol::resp2::types::BytesFrame;

use super::{FrameScanner, Limits, Profile, RespViolation, Scan};

/// One command as the client sent it: its exact bytes (to forward unchanged) and its arguments
/// (zero-copy views into those bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    raw: Bytes,
    args: Vec<Bytes>,
}

impl std::fmt::Debug for Command {
    /// The command name and the number of arguments only: arguments may be passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Command")
            .field("name", &String::from_utf8_lossy(&self.name()))
            .field("args", &self.args.len().saturating_sub(1))
            .finish()
    }
}

impl Command {
    /// The bytes the client sent.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Every argument, the command name first.
    pub fn args(&self) -> &[Bytes] {
        &self.args
    }

    /// The command name in upper case (names longer than 32 bytes, which no Redis command has, are
    /// returned as they are).
    pub fn name(&self) -> Bytes {
        let name = &self.args[0];
        if name.len() > 32 || !name.iter().any(u8::is_ascii_lowercase) {
            return name.clone();
        }
        Bytes::from(name.to_ascii_uppercase())
    }

    /// Whether the command is `name` (ASCII, any case).
    pub fn is(&self, name: &str) -> bool {
        self.args[0].eq_ignore_ascii_case(name.as_bytes())
    }

    /// Argument `i` (the name is 0), if present.
    pub fn arg(&self, i: usize) -> Option<&Bytes> {
        self.args.get(i)
    }
}

/// Splits a client's byte stream into [`Command`]s.
#[derive(Debug, Clone)]
pub struct CommandDecoder {
    scanner: FrameScanner,
    /// Bytes at the front of the buffer already scanned as part of the command in progress.
    scanned: usize,
}

impl CommandDecoder {
    /// A decoder within `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            scanner: FrameScanner::new(Profile::Command, limits),
            scanned: 0,
        }
    }

    /// Change the limits (from the next header on): tighter before the client has authenticated.
    pub fn set_limits(&mut self, limits: Limits) {
        self.scanner.set_limits(limits);
    }

    /// Whether bytes of a command are in the buffer but the command is not complete.
    pub fn is_mid_command(&self) -> bool {
        self.scanned > 0 || !self.scanner.is_between_frames()
    }

    /// The next command from the front of `buf`, removing its bytes; `Ok(None)` if it is not complete.
    /// Empty commands (`*0`), which Redis skips without a reply, are skipped.
    ///
    /// # Errors
    /// [`RespViolation`] when the bytes are not a command or break a limit.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, RespViolation> {
        loop {
            let end = match self.scanner.scan(&buf[self.scanned..])? {
                Scan::Partial(n) => {
                    self.scanned += n;
                    return Ok(None);
                }
                Scan::Complete(n) => self.scanned + n,
            };
            self.scanned = 0;
            let raw = buf.split_to(end).freeze();
            if raw.starts_with(b"*-") || raw.starts_with(b"*0\r") {
                continue;
            }
            let args = split_args(&raw)
                .ok_or(RespViolation::Malformed("a command that does not decode"))?;
            if !args.is_empty() {
                return Ok(Some(Command { raw, args }));
            }
        }
    }
}

/// The arguments of `raw`, a whole command the scanner has checked (`*<n>`, then `n` bulk strings
/// `$<len>`, digits only, each payload followed by CRLF): each a slice of `raw`, nothing copied and
/// nothing parsed twice. `None` if `raw` is not exactly that (never for a scanned frame).
fn split_args(raw: &Bytes) -> Option<Vec<Bytes>> {
    let (count, mut at) = header(raw, 0, b'*')?;
    // Each argument takes at least 6 bytes (`$0\r\n\r\n`): the frame bounds the allocation.
    let mut args = Vec::with_capacity(count.min(raw.len() / 6));
    for _ in 0..count {
        let (len, start) = header(raw, at, b'$')?;
        let end = start.checked_add(len)?;
        if raw.get(end..end.checked_add(2)?)? != b"\r\n" {
            return None;
        }
        args.push(raw.slice(start..end));
        at = end + 2;
    }
    (at == raw.len()).then_some(args)
}

/// A `kind` header line at `at` (`*3\r\n`, `$5\r\n`): its number and where the line ends.
fn header(raw: &[u8], at: usize, kind: u8) -> Option<(usize, usize)> {
    let rest = raw.get(at..)?;
    let nl = memchr::memchr(b'\n', rest)?;
    let line = rest.get(..nl)?.strip_suffix(b"\r")?.strip_prefix(&[kind])?;
    if line.is_empty() || line.len() > 19 || !line.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = line.iter().try_fold(0usize, |n, d| {
        n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })?;
    Some((n, at + nl + 1))
}

/// Append `args` as a RESP command (an array of bulk strings) to `out`.
pub fn encode_command(args: &[&[u8]], out: &mut BytesMut) {
    let frame = BytesFrame::Array(
        args.iter()
            .map(|a| BytesFrame::BulkString(Bytes::copy_from_slice(a)))
            .collect(),
    );
    // Encoding an array of bulk strings into a growable buffer cannot fail.
    let _ = redis_protocol::resp2::encode::extend_encode(out, &frame, false);
}
