//! Caps on what a peer may make the codec buffer or collect.

/// Caps on message sizes and list lengths. A declared length above a cap is rejected as soon as
/// the header is seen, before any of the body is buffered.
///
/// The defaults suit a handshake: start from [`Limits::default`] and change single fields.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest untagged startup packet (StartupMessage, SSLRequest, CancelRequest, ...), length
    /// field included. Default 10 000, PostgreSQL's `MAX_STARTUP_PACKET_LENGTH`.
    pub max_startup_len: usize,
    /// Largest value of the length field of a tagged message (which counts itself but not the
    /// type byte). Default 1 MiB: handshake messages are small.
    pub max_message_len: usize,
    /// Most parameters in a StartupMessage, and most option names in a
    /// NegotiateProtocolVersion. Default 64.
    pub max_parameters: usize,
    /// Most fields in an ErrorResponse or NoticeResponse. Default 64 (PostgreSQL defines 18).
    pub max_error_fields: usize,
    /// Most mechanism names in an AuthenticationSASL. Default 16.
    pub max_sasl_mechanisms: usize,
}

impl Limits {
    /// Default for [`Limits::max_startup_len`].
    pub const DEFAULT_MAX_STARTUP_LEN: usize = 10_000;
    /// Default for [`Limits::max_message_len`].
    pub const DEFAULT_MAX_MESSAGE_LEN: usize = 1024 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_startup_len: Self::DEFAULT_MAX_STARTUP_LEN,
            max_message_len: Self::DEFAULT_MAX_MESSAGE_LEN,
            max_parameters: 64,
            max_error_fields: 64,
            max_sasl_mechanisms: 16,
        }
    }
}
