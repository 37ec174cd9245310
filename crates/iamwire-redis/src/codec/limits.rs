//! Caps on what a peer may make the proxy buffer, count or nest.

/// Caps on RESP frames, checked on each header line before anything it announces is buffered or
/// allocated: a declared length above a cap is an error as soon as its header is seen.
///
/// Start from [`Limits::default`] and change single fields.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string (`$`, `!`, `=`), in bytes. Default 512 MiB, Redis's `proto-max-bulk-len`.
    pub max_bulk_len: usize,
    /// Most elements in one aggregate (array, set, push; a map or attribute counts its pairs).
    /// Default 16 Mi.
    pub max_aggregate_len: usize,
    /// Deepest nesting of aggregates in a reply. Default 64 (client commands are always flat).
    pub max_depth: usize,
    /// Longest header or simple line (`+`, `-`, `:`, `,`, `(`, lengths), CRLF excluded. Default
    /// 64 KiB.
    pub max_line_len: usize,
    /// Largest whole command, in bytes: a command is buffered whole before it is forwarded (as Redis
    /// itself buffers its query). Default 512 MiB, a little under Redis's `client-query-buffer-limit`.
    pub max_command_len: usize,
    /// Largest reply the proxy must buffer whole to look inside it (pub/sub messages, pushes, the
    /// answers to AUTH and HELLO); every other reply streams through without being buffered. Default
    /// 512 MiB.
    pub max_inspected_len: usize,
    /// Most commands in flight on one session (sent to the database, reply not yet passed back); past
    /// it the proxy stops reading the client until replies come back. Default 100 000.
    pub max_pending: usize,
}

impl Limits {
    /// Most arguments of a command before the client has authenticated (Redis: 10).
    pub const UNAUTHENTICATED_MAX_ARGS: usize = 10;
    /// Longest argument before the client has authenticated (Redis: 16 KiB; an IAM token is ~2 KiB).
    pub const UNAUTHENTICATED_MAX_BULK: usize = 16 * 1024;

    /// The caps that apply to a client that has not authenticated yet: Redis's own
    /// (`UNAUTHENTICATED_*`), within these.
    pub fn unauthenticated(&self) -> Self {
        Self {
            max_aggregate_len: self.max_aggregate_len.min(Self::UNAUTHENTICATED_MAX_ARGS),
            max_bulk_len: self.max_bulk_len.min(Self::UNAUTHENTICATED_MAX_BULK),
            max_command_len: self
                .max_command_len
                .min(Self::UNAUTHENTICATED_MAX_BULK * 12),
            ..*self
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk_len: 512 * 1024 * 1024,
            max_aggregate_len: 16 * 1024 * 1024,
            max_depth: 64,
            max_line_len: 64 * 1024,
            max_command_len: 512 * 1024 * 1024,
            max_inspected_len: 512 * 1024 * 1024,
            max_pending: 100_000,
        }
    }
}
