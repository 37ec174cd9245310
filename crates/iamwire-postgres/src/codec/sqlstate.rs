//! SQLSTATE codes the proxy reports during the handshake (PostgreSQL "Appendix A. Error Codes").
//!
//! Only the codes a connection-level proxy has reason to send are listed; any other five-character
//! code can be passed as a string.

/// `08006`: the upstream connection failed.
pub const CONNECTION_FAILURE: &str = "08006";
/// `08001`: the proxy could not establish the upstream connection.
pub const SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION: &str = "08001";
/// `08P01`: the peer broke the wire protocol.
pub const PROTOCOL_VIOLATION: &str = "08P01";
/// `0A000`: a feature (protocol version, auth method, ...) is not supported.
pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
/// `22021`: a string is not valid in the expected encoding.
pub const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";
/// `28000`: the client may not log in as the requested user (or named none).
pub const INVALID_AUTHORIZATION_SPECIFICATION: &str = "28000";
/// `28P01`: password or SASL authentication failed.
pub const INVALID_PASSWORD: &str = "28P01";
/// `3D000`: the requested database does not exist or is not allowed.
pub const INVALID_CATALOG_NAME: &str = "3D000";
/// `42501`: the client lacks the privilege for what it asked.
pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
/// `53300`: too many connections.
pub const TOO_MANY_CONNECTIONS: &str = "53300";
/// `54000`: a message exceeds a configured limit.
pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
/// `57P01`: the proxy is shutting down.
pub const ADMIN_SHUTDOWN: &str = "57P01";
/// `57P03`: the proxy or upstream cannot accept connections right now.
pub const CANNOT_CONNECT_NOW: &str = "57P03";
/// `XX000`: an internal error of the proxy.
pub const INTERNAL_ERROR: &str = "XX000";
