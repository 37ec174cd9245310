//! Client commands: [`CommandDecoder`] (scan with limits, then decode with `redis-protocol`) and
//! [`encode_command`].

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
            let decoded = redis_protocol::resp2::decode::decode_bytes(&raw)
                .map_err(|_| RespViolation::Malformed("a command that does not decode"))?;
            let args = match decoded {
                Some((BytesFrame::Array(items), used)) if used == raw.len() => items
                    .into_iter()
                    .map(|item| match item {
                        BytesFrame::BulkString(b) => Ok(b),
                        _ => Err(RespViolation::Malformed(
                            "a command argument that is not a bulk string",
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err(RespViolation::Malformed("a command that does not decode")),
            };
            if !args.is_empty() {
                return Ok(Some(Command { raw, args }));
            }
        }
    }
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
