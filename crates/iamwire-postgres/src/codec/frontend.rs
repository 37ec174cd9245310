//! Messages a client sends: the untagged startup packets and the tagged messages of the
//! authentication exchange. The proxy decodes them from its clients and encodes them toward the
//! upstream.

mod decode;
mod startup;

use bytes::{BufMut, BytesMut};

pub use decode::{AuthResponseKind, FrontendDecoder, FrontendPhase};
pub use startup::{ProtocolVersion, StartupMessage};

use super::wire::{put_cstr, wire_i32, write_tagged, write_untagged};
use super::{CancelKey, CodecError, Secret};

/// Request code of SSLRequest (1234.5679).
pub const SSL_REQUEST_CODE: i32 = 80_877_103;
/// Request code of GSSENCRequest (1234.5680).
pub const GSSENC_REQUEST_CODE: i32 = 80_877_104;
/// Request code of CancelRequest (1234.5678).
pub const CANCEL_REQUEST_CODE: i32 = 80_877_102;

/// One message from a client (frontend).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontendMessage {
    /// SSLRequest: the client asks for TLS before anything else. The answer is a single byte
    /// ([`BackendMessage::SslResponse`](super::BackendMessage::SslResponse)). If the client sent
    /// bytes after the SSLRequest before the TLS handshake, they were not protected by TLS: the
    /// caller must check its buffer is empty before starting TLS (CVE-2021-23214).
    SslRequest,
    /// GSSENCRequest: the client asks for GSSAPI encryption (answered with a single byte).
    GssEncRequest,
    /// CancelRequest: sent on a fresh connection to cancel the query running on another one.
    CancelRequest(CancelRequest),
    /// StartupMessage: protocol version and connection parameters (`user`, `database`, ...).
    Startup(StartupMessage),
    /// PasswordMessage (`p`): a cleartext password or an MD5 hash (`md5` + 32 hex digits).
    Password(PasswordMessage),
    /// SASLInitialResponse (`p`): the chosen SASL mechanism and the client-first-message.
    SaslInitialResponse(SaslInitialResponse),
    /// SASLResponse (`p`): a further SASL message (the client-final-message for SCRAM).
    SaslResponse(SaslResponse),
    /// Terminate (`X`): the client is closing the connection.
    Terminate,
}

/// The body of a CancelRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    /// Process id of the backend whose query is to be cancelled, as given by BackendKeyData.
    pub process_id: i32,
    /// Secret key of that backend, as given by BackendKeyData.
    pub secret_key: CancelKey,
}

/// A PasswordMessage: the password (cleartext, or `md5` + hex digest) without its terminator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordMessage {
    /// The password. It may not contain NUL bytes.
    pub password: Secret,
}

/// A SASLInitialResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslInitialResponse {
    /// The mechanism the client chose from AuthenticationSASL, e.g. `SCRAM-SHA-256`.
    pub mechanism: String,
    /// The initial response (the client-first-message for SCRAM). `None` is sent as length -1,
    /// which differs from an empty response.
    pub data: Option<Secret>,
}

/// A SASLResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslResponse {
    /// The mechanism-specific payload.
    pub data: Secret,
}

impl From<StartupMessage> for FrontendMessage {
    fn from(message: StartupMessage) -> Self {
        Self::Startup(message)
    }
}

impl From<CancelRequest> for FrontendMessage {
    fn from(message: CancelRequest) -> Self {
        Self::CancelRequest(message)
    }
}

impl From<PasswordMessage> for FrontendMessage {
    fn from(message: PasswordMessage) -> Self {
        Self::Password(message)
    }
}

impl From<SaslInitialResponse> for FrontendMessage {
    fn from(message: SaslInitialResponse) -> Self {
        Self::SaslInitialResponse(message)
    }
}

impl From<SaslResponse> for FrontendMessage {
    fn from(message: SaslResponse) -> Self {
        Self::SaslResponse(message)
    }
}

impl FrontendMessage {
    /// Appends the wire form of this message to `buf`.
    ///
    /// # Errors
    /// A string holding a NUL byte ([`CodecError::NulInString`]) or a message too long for its
    /// length field. On error `buf` is left as it was.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), CodecError> {
        match self {
            Self::SslRequest => write_untagged(buf, "SSLRequest", |b| {
                b.put_i32(SSL_REQUEST_CODE);
                Ok(())
            }),
            Self::GssEncRequest => write_untagged(buf, "GSSENCRequest", |b| {
                b.put_i32(GSSENC_REQUEST_CODE);
                Ok(())
            }),
            Self::CancelRequest(cancel) => write_untagged(buf, "CancelRequest", |b| {
                b.put_i32(CANCEL_REQUEST_CODE);
                b.put_i32(cancel.process_id);
                b.put_slice(cancel.secret_key.expose());
                Ok(())
            }),
            Self::Startup(startup) => startup.encode(buf),
            Self::Password(password) => write_tagged(buf, b'p', "PasswordMessage", |b| {
                put_cstr(b, password.password.expose(), "PasswordMessage", "password")
            }),
            Self::SaslInitialResponse(initial) => {
                const MESSAGE: &str = "SASLInitialResponse";
                write_tagged(buf, b'p', MESSAGE, |b| {
                    put_cstr(b, initial.mechanism.as_bytes(), MESSAGE, "mechanism")?;
                    match &initial.data {
                        None => b.put_i32(-1),
                        Some(data) => {
                            b.put_i32(wire_i32(data.len(), MESSAGE)?);
                            b.put_slice(data.expose());
                        }
                    }
                    Ok(())
                })
            }
            Self::SaslResponse(response) => write_tagged(buf, b'p', "SASLResponse", |b| {
                b.put_slice(response.data.expose());
                Ok(())
            }),
            Self::Terminate => write_tagged(buf, b'X', "Terminate", |_| Ok(())),
        }
    }
}
