//! What the relay needs to know about the two byte streams without decoding them: where client
//! commands start ([`CommandSplitter`]) and where the database's packets end ([`ResponseScanner`]).
//! Both see every byte once and keep a few bytes of state; neither buffers a packet.

use super::command::{COM_QUERY, COM_STMT_PREPARE};
use super::packet::{HEADER_LEN, MAX_PAYLOAD, header};

/// The next step through the client's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Pass this many bytes on to the database.
    Forward(usize),
    /// Drop this many bytes (the rest of a refused command).
    Discard(usize),
    /// A command starts here: `cmd` with a payload of `len` bytes. The buffer holds its header and
    /// at least the first `min(len, window)` payload bytes. The caller says what to do with it:
    /// [`pass`](CommandSplitter::pass), [`discard`](CommandSplitter::discard) or
    /// [`taken`](CommandSplitter::taken).
    Command {
        /// The command byte.
        cmd: u8,
        /// The payload length (command byte included).
        len: usize,
    },
    /// Nothing to do until more bytes arrive.
    NeedMore,
}

/// Splits the client-to-database stream into commands (packets with sequence id 0) and the packets
/// that belong to them (continuations of long packets, `LOAD DATA LOCAL` file contents).
///
/// A packet with another sequence id where a command would start is passed on as it is: the
/// database refuses a packet out of order (and ends the connection), so nothing gets past the
/// proxy's guard that way; it is also how the file contents of a `LOAD DATA LOCAL` that is not the
/// first result of a multi-statement query travel.
#[derive(Debug, Clone)]
pub struct CommandSplitter {
    window: usize,
    forward: usize,
    discard: usize,
    /// The previous packet was full size: the next continues it.
    continuing: bool,
    /// The database asked for a local file: packets are file contents until an empty one.
    infile: bool,
}

impl CommandSplitter {
    /// A splitter that shows the first `window` bytes of a command before its fate is decided.
    pub fn new(window: usize) -> Self {
        Self {
            window: window.max(1),
            forward: 0,
            discard: 0,
            continuing: false,
            infile: false,
        }
    }

    /// The database asked for a local file (`LOAD DATA LOCAL`): the client's next packets are its
    /// contents, up to an empty packet.
    pub fn local_infile(&mut self) {
        self.infile = true;
    }

    /// The next step for `buf` (the client's bytes not yet passed on).
    pub fn next(&mut self, buf: &[u8]) -> Split {
        if self.forward > 0 {
            let n = self.forward.min(buf.len());
            self.forward -= n;
            return if n == 0 {
                Split::NeedMore
            } else {
                Split::Forward(n)
            };
        }
        if self.discard > 0 {
            let n = self.discard.min(buf.len());
            self.discard -= n;
            return if n == 0 {
                Split::NeedMore
            } else {
                Split::Discard(n)
            };
        }
        let Some((len, seq)) = header(buf) else {
            return Split::NeedMore;
        };
        let is_command = seq == 0 && !self.continuing && !self.infile && len > 0;
        if !is_command {
            if self.infile && !self.continuing && len == 0 {
                self.infile = false;
            }
            self.continuing = len == MAX_PAYLOAD;
            self.forward = HEADER_LEN + len;
            return self.next(buf);
        }
        let Some(&cmd) = buf.get(HEADER_LEN) else {
            return Split::NeedMore;
        };
        let head = match cmd {
            COM_QUERY | COM_STMT_PREPARE => len.min(self.window),
            _ => 1,
        };
        if buf.len() < HEADER_LEN + head {
            return Split::NeedMore;
        }
        Split::Command { cmd, len }
    }

    /// Pass the command just shown (`len` payload bytes) on, as it arrives.
    pub fn pass(&mut self, len: usize) {
        self.continuing = len == MAX_PAYLOAD;
        self.forward = HEADER_LEN + len;
    }

    /// Drop the command just shown, and the rest of it as it arrives.
    pub fn discard(&mut self, len: usize) {
        self.continuing = len == MAX_PAYLOAD;
        self.discard = HEADER_LEN + len;
    }

    /// The caller took the whole command (a single packet) out of the buffer itself.
    pub fn taken(&mut self) {
        self.continuing = false;
    }
}

/// Follows the database-to-client stream packet by packet: whether it is between packets (a safe
/// place for the proxy to speak), the last sequence id, and whether the last packet looked like the
/// end of a response.
#[derive(Debug, Clone, Default)]
pub struct ResponseScanner {
    header: [u8; HEADER_LEN + 1],
    have: usize,
    rest: usize,
    continuing: bool,
    last_seq: u8,
    at_rest: bool,
}

/// What a [`ResponseScanner`] saw in a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Seen {
    /// The database asked the client for a local file (`0xfb` as the first reply to a command).
    pub local_infile: bool,
}

impl ResponseScanner {
    /// Account for `bytes` passing to the client.
    pub fn advance(&mut self, bytes: &[u8]) -> Seen {
        let mut seen = Seen::default();
        let mut i = 0;
        while i < bytes.len() {
            if self.rest > 0 {
                let n = self.rest.min(bytes.len() - i);
                self.rest -= n;
                i += n;
                continue;
            }
            let want = if self.have < HEADER_LEN {
                HEADER_LEN
            } else {
                HEADER_LEN + 1
            };
            let n = (want - self.have).min(bytes.len() - i);
            self.header[self.have..self.have + n].copy_from_slice(&bytes[i..i + n]);
            self.have += n;
            i += n;
            if self.have < want {
                break;
            }
            let (len, seq) = header(&self.header).unwrap_or((0, 0));
            if len > 0 && self.have == HEADER_LEN {
                continue;
            }
            let first = (len > 0).then_some(self.header[HEADER_LEN]);
            self.packet(len, seq, first, &mut seen);
            self.have = 0;
            self.rest = len.saturating_sub(1);
        }
        seen
    }

    fn packet(&mut self, len: usize, seq: u8, first: Option<u8>, seen: &mut Seen) {
        let starts = !self.continuing;
        self.continuing = len == MAX_PAYLOAD;
        self.last_seq = seq;
        self.at_rest = starts && len < MAX_PAYLOAD && matches!(first, Some(0x00 | 0xff | 0xfe));
        if starts && seq == 1 && first == Some(0xfb) {
            seen.local_infile = true;
        }
    }

    /// How many leading bytes of `next` (what comes next) finish the packet in progress: `Some(0)`
    /// between packets, `None` if `next` ends inside it.
    pub fn packet_end(&self, next: &[u8]) -> Option<usize> {
        let mut s = self.clone();
        let mut i = 0;
        while !s.between_packets() {
            if i == next.len() {
                return None;
            }
            let n = if s.rest > 0 {
                s.rest.min(next.len() - i)
            } else {
                1
            };
            s.advance(&next[i..i + n]);
            i += n;
        }
        Some(i)
    }

    /// Whether the stream is between packets.
    pub fn between_packets(&self) -> bool {
        self.have == 0 && self.rest == 0 && !self.continuing
    }

    /// The sequence id of the last packet started.
    pub fn last_seq(&self) -> u8 {
        self.last_seq
    }

    /// Whether the last packet looked like the end of a response (OK, ERR or EOF): then a client
    /// waits for nothing and the next packet it reads answers its next command.
    pub fn at_rest(&self) -> bool {
        self.at_rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::put_packet;
    use bytes::BytesMut;

    #[test]
    fn commands_and_what_follows_them() {
        let mut out = BytesMut::new();
        put_packet(&mut out, 0, b"\x03SELECT 1");
        put_packet(&mut out, 0, b"\x0e");
        let mut s = CommandSplitter::new(4);
        assert_eq!(s.next(&out), Split::Command { cmd: 3, len: 9 });
        s.pass(9);
        assert_eq!(s.next(&out), Split::Forward(13));
        assert_eq!(s.next(&out[13..]), Split::Command { cmd: 0x0e, len: 1 });
        s.discard(1);
        assert_eq!(s.next(&out[13..]), Split::Discard(5));
        assert_eq!(s.next(&[]), Split::NeedMore);
        // Only the window of a query is needed to show it.
        assert_eq!(s.next(&out[..4 + 3]), Split::NeedMore);
        assert_eq!(s.next(&out[..4 + 4]), Split::Command { cmd: 3, len: 9 });
    }

    #[test]
    fn file_contents_are_never_commands() {
        let mut s = CommandSplitter::new(16);
        s.local_infile();
        let mut out = BytesMut::new();
        put_packet(&mut out, 0, b"\x11looks like COM_CHANGE_USER");
        put_packet(&mut out, 1, b"");
        put_packet(&mut out, 0, b"\x0e");
        assert_eq!(s.next(&out), Split::Forward(31));
        assert_eq!(s.next(&out[31..]), Split::Forward(4));
        assert_eq!(s.next(&out[35..]), Split::Command { cmd: 0x0e, len: 1 });
    }

    #[test]
    fn responses_are_followed_across_any_split() {
        let mut out = BytesMut::new();
        put_packet(&mut out, 1, &[0xfb, b'f']);
        put_packet(&mut out, 2, &[0x03, b'd', b'e', b'f']);
        put_packet(&mut out, 3, &[]);
        put_packet(&mut out, 4, &[0x00, 0, 0, 2, 0, 0, 0]);
        for split in 0..=out.len() {
            let mut s = ResponseScanner::default();
            let a = s.advance(&out[..split]);
            let b = s.advance(&out[split..]);
            assert!(a.local_infile || b.local_infile, "split {split}");
            assert!(s.between_packets() && s.at_rest() && s.last_seq() == 4);
        }
        let mut s = ResponseScanner::default();
        s.advance(&out[..5]);
        assert!(!s.between_packets());
        assert_eq!(s.packet_end(&out[5..]), Some(1));
        assert_eq!(s.packet_end(&[]), None);
        s.advance(&out[5..6]);
        assert_eq!(s.packet_end(&out[6..]), Some(0));
        // A full-size packet is continued: its message ends with the next one.
        let mut s = ResponseScanner::default();
        s.advance(&[0xff, 0xff, 0xff, 1, 7]);
        s.rest = 0; // as if its body had passed
        assert!(!s.between_packets());
        assert_eq!(s.packet_end(&[1, 0, 0, 2, 9, 7]), Some(5));
    }
}
