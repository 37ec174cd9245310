//! [`FrameScanner`]: where a RESP frame ends, found incrementally, with every header checked against
//! the [`Limits`] before anything it announces is buffered.
//!
//! The scanner keeps only counters (how many elements each open aggregate still owes, how much of a
//! bulk payload is left), so a frame can be passed on piece by piece as it arrives and a frame split
//! across any number of reads costs the same as one read. Decoding into values is left to
//! `redis-protocol`, and only for frames this scanner has already found complete and within limits.

use super::{Limits, RespViolation};

/// What a frame may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// A client command: one flat array of bulk strings (RESP2 and RESP3 clients alike).
    Command,
    /// Anything a server sends: every RESP2 and RESP3 type, nested up to the depth limit.
    Reply,
}

/// How far [`FrameScanner::scan`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The frame is not complete; this many bytes of the input belong to it and were checked (a
    /// partial header line at the end is not counted: pass it again with more bytes).
    Partial(usize),
    /// The frame ends after this many bytes of the input.
    Complete(usize),
}

/// Finds frame ends in a RESP stream; one frame at a time, resumable across reads.
#[derive(Debug, Clone)]
pub struct FrameScanner {
    limits: Limits,
    profile: Profile,
    /// Elements each open level still owes; the first entry is the frame itself (one element).
    levels: Vec<u64>,
    /// Bytes of a bulk payload still to come, its CRLF included.
    bulk_left: u64,
    /// The type byte of the frame in progress.
    kind: Option<u8>,
    /// Bytes of the frame in progress so far.
    len: u64,
}

impl FrameScanner {
    /// A scanner for `profile` frames within `limits`.
    pub fn new(profile: Profile, limits: Limits) -> Self {
        Self {
            limits,
            profile,
            levels: Vec::new(),
            bulk_left: 0,
            kind: None,
            len: 0,
        }
    }

    /// Change the limits (they apply from the next header on).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Whether the scanner is between frames.
    pub fn is_between_frames(&self) -> bool {
        self.levels.is_empty() && self.bulk_left == 0
    }

    /// The type byte of the frame in progress (`*`, `>`, `$`, ...), once its first line was seen.
    pub fn kind(&self) -> Option<u8> {
        self.kind
    }

    /// Bytes of the frame in progress (or just completed) so far.
    pub fn frame_len(&self) -> u64 {
        self.len
    }

    /// Scan `input`, the bytes that follow what was scanned before. Stops at the end of the frame in
    /// progress (the next call starts a new one).
    ///
    /// # Errors
    /// [`RespViolation`] for malformed input or a header beyond a limit; the stream cannot be resumed.
    pub fn scan(&mut self, input: &[u8]) -> Result<Scan, RespViolation> {
        if self.is_between_frames() {
            self.kind = None;
            self.len = 0;
        }
        let mut at = 0;
        let result = self.scan_inner(input, &mut at);
        self.len = self.len.saturating_add(at as u64);
        if self.profile == Profile::Command && self.len > self.limits.max_command_len as u64 {
            return Err(RespViolation::CommandTooLong {
                max: self.limits.max_command_len,
            });
        }
        result.map(|done| {
            if done {
                Scan::Complete(at)
            } else {
                Scan::Partial(at)
            }
        })
    }

    /// Returns whether the frame ended; `at` is how far the input was consumed.
    fn scan_inner(&mut self, input: &[u8], at: &mut usize) -> Result<bool, RespViolation> {
        loop {
            if self.bulk_left > 0 {
                if !self.take_bulk(input, at)? {
                    return Ok(false);
                }
                if self.element_done() {
                    return Ok(true);
                }
                continue;
            }
            let rest = &input[*at..];
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                if rest.len() > self.limits.max_line_len.saturating_add(2) {
                    return Err(RespViolation::LineTooLong {
                        max: self.limits.max_line_len,
                    });
                }
                return Ok(false);
            };
            if nl == 0 || rest[nl - 1] != b'\r' {
                return Err(RespViolation::Malformed("a line not ended by CRLF"));
            }
            let line = &rest[..nl - 1];
            if line.len() > self.limits.max_line_len.saturating_add(1) {
                return Err(RespViolation::LineTooLong {
                    max: self.limits.max_line_len,
                });
            }
            *at += nl + 1;
            if self.header(line)? {
                return Ok(true);
            }
        }
    }

    /// Consume bulk payload; `true` once it and its CRLF are complete.
    fn take_bulk(&mut self, input: &[u8], at: &mut usize) -> Result<bool, RespViolation> {
        let avail = (input.len() - *at) as u64;
        if self.bulk_left > 2 {
            let take = avail.min(self.bulk_left - 2);
            // `take` is at most `avail`, which came from a usize.
            *at += take as usize;
            self.bulk_left -= take;
            if self.bulk_left > 2 {
                return Ok(false);
            }
        }
        while self.bulk_left > 0 {
            let Some(&byte) = input.get(*at) else {
                return Ok(false);
            };
            let want = if self.bulk_left == 2 { b'\r' } else { b'\n' };
            if byte != want {
                return Err(RespViolation::Malformed(
                    "a bulk string longer than its length",
                ));
            }
            *at += 1;
            self.bulk_left -= 1;
        }
        Ok(true)
    }

    /// Handle one header or simple line; `true` if it ended the frame.
    fn header(&mut self, line: &[u8]) -> Result<bool, RespViolation> {
        let (&kind, body) = line
            .split_first()
            .ok_or(RespViolation::Malformed("an empty line"))?;
        let top = self.levels.is_empty();
        if top {
            self.levels.push(1);
            self.kind = Some(kind);
        }
        if self.profile == Profile::Command {
            return self.command_header(top, kind, body);
        }
        match kind {
            b'+' | b'-' => {}
            b':' => {
                integer(body)?;
            }
            b'(' => {
                let digits = body.strip_prefix(b"-").unwrap_or(body);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(RespViolation::Malformed("a big number that is not digits"));
                }
            }
            b',' => {
                if body.is_empty() || body.contains(&b'\r') {
                    return Err(RespViolation::Malformed("an empty double"));
                }
            }
            b'#' => {
                if body != b"t" && body != b"f" {
                    return Err(RespViolation::Malformed("a boolean that is not t or f"));
                }
            }
            b'_' => {
                if !body.is_empty() {
                    return Err(RespViolation::Malformed("a null with a body"));
                }
            }
            b'$' | b'!' | b'=' => {
                if kind == b'$' && body == b"-1" {
                    return Ok(self.element_done());
                }
                let len = self.length(body, self.limits.max_bulk_len, true)?;
                if kind == b'=' && len < 4 {
                    return Err(RespViolation::Malformed(
                        "a verbatim string without its format",
                    ));
                }
                self.bulk_left = len + 2;
                return Ok(false);
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                if kind == b'*' && body == b"-1" {
                    return Ok(self.element_done());
                }
                let n = self.length(body, self.limits.max_aggregate_len, false)?;
                let pairs = matches!(kind, b'%' | b'|');
                let elements = if pairs { n * 2 } else { n };
                if kind == b'|' {
                    // The attribute is followed by the value it describes, which counts too.
                    if let Some(owed) = self.levels.last_mut() {
                        *owed += 1;
                    }
                }
                return self.open(elements);
            }
            b'?' | b';' | b'.' => {
                return Err(RespViolation::Unsupported(
                    "streamed RESP3 strings and aggregates",
                ));
            }
            _ => return Err(RespViolation::Malformed("an unknown type byte")),
        }
        Ok(self.element_done())
    }

    /// A client command: `*<n>` then `n` bulk strings.
    fn command_header(&mut self, top: bool, kind: u8, body: &[u8]) -> Result<bool, RespViolation> {
        match (top, kind) {
            (true, b'*') => {
                // `*0` and `*-<n>` are empty commands, which Redis skips without a reply.
                if body.first() == Some(&b'-') {
                    integer(body)?;
                    return Ok(self.element_done());
                }
                let n = self.length(body, self.limits.max_aggregate_len, false)?;
                self.open(n)
            }
            (true, _) => Err(RespViolation::NotACommand),
            (false, b'$') => {
                let len = self.length(body, self.limits.max_bulk_len, true)?;
                self.bulk_left = len + 2;
                Ok(false)
            }
            (false, _) => Err(RespViolation::Malformed(
                "a command argument that is not a bulk string",
            )),
        }
    }

    /// Open an aggregate of `elements`; an empty one is complete at once.
    fn open(&mut self, elements: u64) -> Result<bool, RespViolation> {
        if elements == 0 {
            return Ok(self.element_done());
        }
        // The first level is the frame itself, not an aggregate.
        if self.levels.len() > self.limits.max_depth {
            return Err(RespViolation::TooDeep {
                max: self.limits.max_depth,
            });
        }
        self.levels.push(elements);
        Ok(false)
    }

    /// One element is complete; `true` if that completed the frame.
    fn element_done(&mut self) -> bool {
        while let Some(owed) = self.levels.last_mut() {
            *owed -= 1;
            if *owed > 0 {
                return false;
            }
            self.levels.pop();
        }
        true
    }

    /// A length field: decimal digits, at most `max` (checked before anything is buffered).
    fn length(&self, body: &[u8], max: usize, bulk: bool) -> Result<u64, RespViolation> {
        if body.is_empty() || body.len() > 19 || !body.iter().all(u8::is_ascii_digit) {
            return Err(RespViolation::Malformed("a length that is not a number"));
        }
        let n = body.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        if n > max as u64 {
            return Err(if bulk {
                RespViolation::BulkTooLong { len: n, max }
            } else {
                RespViolation::AggregateTooLong { len: n, max }
            });
        }
        Ok(n)
    }
}

/// A RESP integer: an optional `-` and 1 to 19 digits that fit an `i64`.
fn integer(body: &[u8]) -> Result<i64, RespViolation> {
    std::str::from_utf8(body)
        .ok()
        .filter(|s| !s.starts_with('+'))
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(RespViolation::Malformed("an integer that is not a number"))
}

#[cfg(test)]
mod tests;
