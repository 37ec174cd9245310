//! RESP2 and RESP3, sans-IO: [`FrameScanner`] finds where frames end and enforces the [`Limits`];
//! [`CommandDecoder`] turns a client's bytes into [`Command`]s; [`Reply`] looks inside the few server
//! frames the proxy must understand. Values are decoded by `redis-protocol` (zero-copy `Bytes` views into
//! the read buffer), and only once the scanner has found the whole frame within limits, so no declared
//! length ever reaches an allocation.

mod command;
mod limits;
mod reply;
mod scan;

use std::fmt;

pub use command::{Command, CommandDecoder, encode_command};
pub use limits::Limits;
pub use reply::{Reply, ReplyKind, error_line};
pub use scan::{FrameScanner, Profile, Scan};

/// What is wrong with a RESP stream. The stream cannot be resumed after one.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespViolation {
    /// A bulk string longer than [`Limits::max_bulk_len`].
    BulkTooLong {
        /// The declared length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// An aggregate with more elements than [`Limits::max_aggregate_len`].
    AggregateTooLong {
        /// The declared number of elements (pairs for maps).
        len: u64,
        /// The limit.
        max: usize,
    },
    /// Aggregates nested deeper than [`Limits::max_depth`].
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// A line longer than [`Limits::max_line_len`].
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// A command larger than [`Limits::max_command_len`].
    CommandTooLong {
        /// The limit.
        max: usize,
    },
    /// A reply the proxy must look into that is larger than [`Limits::max_inspected_len`].
    ReplyTooLong {
        /// The limit.
        max: usize,
    },
    /// A client sent something other than an array of bulk strings (e.g. an inline command).
    NotACommand,
    /// A RESP feature the proxy does not relay.
    Unsupported(&'static str),
    /// Not RESP: what was found.
    Malformed(&'static str),
}

impl fmt::Display for RespViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BulkTooLong { len, max } => {
                write!(f, "invalid bulk length {len} (the limit is {max})")
            }
            Self::AggregateTooLong { len, max } => {
                write!(f, "invalid multibulk length {len} (the limit is {max})")
            }
            Self::TooDeep { max } => write!(f, "aggregates nested deeper than {max}"),
            Self::LineTooLong { max } => write!(f, "a line longer than {max} bytes"),
            Self::CommandTooLong { max } => write!(f, "a command larger than {max} bytes"),
            Self::ReplyTooLong { max } => write!(f, "a reply larger than {max} bytes"),
            Self::NotACommand => {
                f.write_str("expected an array of bulk strings (inline commands are not supported)")
            }
            Self::Unsupported(what) => write!(f, "{what} are not supported"),
            Self::Malformed(what) => write!(f, "{what}"),
        }
    }
}

/// Scan `data` as a stream of frames of `profile`, decoding each complete one; never panics. For fuzzing
/// and property tests.
#[doc(hidden)]
pub fn fuzz_stream(profile: Profile, data: &[u8], resp3: bool) {
    let limits = Limits {
        max_bulk_len: 1 << 20,
        max_aggregate_len: 1 << 12,
        max_depth: 32,
        max_line_len: 1 << 12,
        max_command_len: 1 << 22,
        max_inspected_len: 1 << 22,
        max_pending: 64,
    };
    match profile {
        Profile::Command => {
            let mut decoder = CommandDecoder::new(limits);
            let mut buf = bytes::BytesMut::from(data);
            while let Ok(Some(command)) = decoder.decode(&mut buf) {
                let _ = command.name();
            }
        }
        Profile::Reply => {
            let mut scanner = FrameScanner::new(Profile::Reply, limits);
            let mut rest = data;
            while !rest.is_empty() {
                match scanner.scan(rest) {
                    Ok(Scan::Complete(n)) => {
                        let frame = bytes::Bytes::copy_from_slice(&rest[..n]);
                        let _ = Reply::decode(frame, resp3);
                        rest = &rest[n..];
                    }
                    Ok(Scan::Partial(_)) | Err(_) => break,
                }
            }
        }
    }
}
