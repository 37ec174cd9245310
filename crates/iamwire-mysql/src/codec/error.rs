//! The error type of the codec.

/// Why bytes could not be decoded into a packet, or a packet could not be encoded.
///
/// Every failure a peer can trigger lands here; none panics. Match on the variant, never on the text.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A packet header (or the sum of a multi-packet message's headers) declares more bytes than the
    /// [`Limits`](super::Limits) allow; nothing of the payload was buffered.
    #[error("{message} of {len} bytes is above the limit of {max} bytes")]
    TooLarge {
        /// The message being read.
        message: &'static str,
        /// The declared length (so far).
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// A packet carries a sequence id other than the next one.
    #[error("packet sequence id {got} where {expected} was due")]
    OutOfOrder {
        /// The sequence id due.
        expected: u8,
        /// The sequence id received.
        got: u8,
    },
    /// A packet ended before one of its fields was complete.
    #[error("{message} ended before its {field} was complete")]
    Truncated {
        /// The message being read.
        message: &'static str,
        /// The field that was cut short.
        field: &'static str,
    },
    /// A field holds a value the protocol does not allow there.
    #[error("{message} has an invalid {field}")]
    Invalid {
        /// The message being read.
        message: &'static str,
        /// The offending field.
        field: &'static str,
    },
    /// A string that must be UTF-8 is not.
    #[error("{field} of {message} is not valid UTF-8")]
    InvalidUtf8 {
        /// The message being read.
        message: &'static str,
        /// The offending field.
        field: &'static str,
    },
    /// A string to encode contains a NUL byte, which its wire form cannot carry.
    #[error("{field} of {message} contains a NUL byte")]
    NulInString {
        /// The message being written.
        message: &'static str,
        /// The offending field.
        field: &'static str,
    },
    /// A packet of another kind arrived than the exchange allows at this point.
    #[error("{what} where {expected} was due")]
    Unexpected {
        /// What arrived.
        what: &'static str,
        /// What the exchange waited for.
        expected: &'static str,
    },
    /// A feature of the protocol that this proxy does not speak.
    #[error("{what} is not supported")]
    Unsupported {
        /// The feature.
        what: &'static str,
    },
}
