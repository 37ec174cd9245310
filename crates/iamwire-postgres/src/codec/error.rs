//! The error type of the codec.

use super::sqlstate;

/// Why bytes could not be decoded into a message, or a message could not be encoded.
///
/// Every failure a peer can trigger lands here; none panics. Match on the variant, never on the
/// text. [`CodecError::sql_state`] gives the SQLSTATE to report to a client.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A length field is below the smallest value its message allows (this includes negative
    /// lengths).
    #[error("{message} declares length {len}, below the minimum of {min}")]
    LengthTooShort {
        /// The message being read.
        message: &'static str,
        /// The declared length.
        len: i64,
        /// The smallest length this message allows.
        min: usize,
    },
    /// A length field is above the configured [`Limits`](super::Limits); nothing was buffered.
    #[error("{message} declares length {len}, above the limit of {max} bytes")]
    LengthOverLimit {
        /// The message being read.
        message: &'static str,
        /// The declared length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// A StartupMessage asks for a protocol major version other than 3.
    #[error("unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.x")]
    UnsupportedProtocolVersion {
        /// Requested major version.
        major: u16,
        /// Requested minor version.
        minor: u16,
    },
    /// An untagged startup packet carries a special request code (major version 1234) that is
    /// not SSLRequest, GSSENCRequest or CancelRequest.
    #[error("unknown startup request code {code}")]
    UnknownRequestCode {
        /// The 32-bit code as sent.
        code: i32,
    },
    /// A message ended before one of its fields was complete.
    #[error("{message} ended before its {field} was complete")]
    Truncated {
        /// The message being read.
        message: &'static str,
        /// The field that was cut short.
        field: &'static str,
    },
    /// A message has bytes left after its last field.
    #[error("{message} has {extra} unexpected bytes after its last field")]
    TrailingBytes {
        /// The message being read.
        message: &'static str,
        /// How many bytes are left over.
        extra: usize,
    },
    /// A string that must be UTF-8 is not.
    #[error("{field} of {message} is not valid UTF-8")]
    InvalidUtf8 {
        /// The message being read.
        message: &'static str,
        /// The offending field.
        field: &'static str,
    },
    /// A string to encode contains a NUL byte, which the wire format cannot carry.
    #[error("{field} of {message} contains a NUL byte")]
    NulInString {
        /// The message being written.
        message: &'static str,
        /// The offending field.
        field: &'static str,
    },
    /// A parameter or option name is empty (an empty name terminates the list on the wire).
    #[error("{message} has an empty {field}")]
    EmptyName {
        /// The message being read or written.
        message: &'static str,
        /// The offending field.
        field: &'static str,
    },
    /// A StartupMessage without the required `user` parameter.
    #[error("no PostgreSQL user name specified in startup packet")]
    MissingUser,
    /// A StartupMessage names the same parameter twice.
    #[error("startup parameter {name:?} appears more than once")]
    DuplicateParameter {
        /// The repeated parameter name.
        name: String,
    },
    /// A list in a message has more entries than the configured limit allows.
    #[error("{message} has more than {max} {what}")]
    TooManyItems {
        /// The message being read.
        message: &'static str,
        /// What the list holds.
        what: &'static str,
        /// The limit in force.
        max: usize,
    },
    /// A message type byte that is not allowed at this point of the conversation.
    #[error("unexpected message type {:?} while expecting {expected}", char::from(*tag))]
    UnexpectedTag {
        /// The type byte received.
        tag: u8,
        /// What the decoder's phase allows, in words.
        expected: &'static str,
    },
    /// A numeric field holds a value its message does not allow.
    #[error("invalid {field} {value} in {message}")]
    InvalidValue {
        /// The message being read or written.
        message: &'static str,
        /// The offending field.
        field: &'static str,
        /// The value found.
        value: i64,
    },
    /// An ErrorResponse or NoticeResponse repeats a field type.
    #[error("{message} repeats field {:?}", char::from(*field))]
    DuplicateErrorField {
        /// The message being read or written.
        message: &'static str,
        /// The repeated field type byte.
        field: u8,
    },
    /// An ErrorResponse or NoticeResponse lacks a field that is always present (S, C or M).
    #[error("{message} lacks required field {:?}", char::from(*field))]
    MissingErrorField {
        /// The message being read.
        message: &'static str,
        /// The missing field type byte.
        field: u8,
    },
    /// A cancel key that is not 4 to 256 bytes long.
    #[error("cancel key is {len} bytes; it must be 4 to 256 bytes")]
    InvalidCancelKeyLength {
        /// The key's length.
        len: usize,
    },
    /// A message is too long for its 32-bit length field.
    #[error("{message} is too long to encode")]
    TooLongToEncode {
        /// The message being written.
        message: &'static str,
    },
}

impl CodecError {
    /// The SQLSTATE a server reports for this failure, for the ErrorResponse sent to the client
    /// before closing the connection.
    #[must_use]
    pub fn sql_state(&self) -> &'static str {
        match self {
            Self::MissingUser => sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
            Self::UnsupportedProtocolVersion { .. } => sqlstate::FEATURE_NOT_SUPPORTED,
            Self::LengthOverLimit { .. } | Self::TooManyItems { .. } => {
                sqlstate::PROGRAM_LIMIT_EXCEEDED
            }
            Self::InvalidUtf8 { .. } => sqlstate::CHARACTER_NOT_IN_REPERTOIRE,
            _ => sqlstate::PROTOCOL_VIOLATION,
        }
    }
}
