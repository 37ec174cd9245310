//! Messages a server sends during the handshake. The proxy encodes them toward its clients and
//! decodes them from the upstream; any other message is carried as opaque bytes.

mod decode;

use bytes::{BufMut, Bytes, BytesMut};

pub use decode::{BackendDecoder, BackendPhase};

use super::wire::{put_cstr, wire_i32, write_tagged};
use super::{CancelKey, CodecError, ErrorFields, ProtocolVersion, Secret};

/// One message from a server (backend).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendMessage {
    /// The single-byte answer to SSLRequest: `S` (go ahead with TLS) or `N`. Bytes that follow
    /// an `S` before the TLS handshake were not protected by TLS: the caller must check its
    /// buffer is empty before starting TLS (CVE-2021-23222).
    SslResponse {
        /// Whether the server accepts TLS.
        accepted: bool,
    },
    /// The single-byte answer to GSSENCRequest: `G` (go ahead) or `N`.
    GssEncResponse {
        /// Whether the server accepts GSSAPI encryption.
        accepted: bool,
    },
    /// An authentication request or result (`R`).
    Authentication(Authentication),
    /// ParameterStatus (`S`): the current value of a run-time parameter.
    ParameterStatus(ParameterStatus),
    /// BackendKeyData (`K`): what the client needs to cancel queries later.
    BackendKeyData(BackendKeyData),
    /// ReadyForQuery (`Z`): the server is ready for a new query; ends the handshake.
    ReadyForQuery(TransactionStatus),
    /// ErrorResponse (`E`).
    ErrorResponse(ErrorFields),
    /// NoticeResponse (`N`).
    NoticeResponse(ErrorFields),
    /// NegotiateProtocolVersion (`v`): the server speaks an older minor version, or does not
    /// know some `_pq_.` options.
    NegotiateProtocolVersion(NegotiateProtocolVersion),
    /// Any other message, kept as bytes so it can be relayed. The tag is never one of the
    /// messages above (`R`, `S`, `K`, `Z`, `E`, `N`, `v`).
    Other {
        /// The message type byte.
        tag: u8,
        /// The body, without type byte and length.
        body: Bytes,
    },
}

/// The authentication messages (`R`), told apart by their 32-bit code.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// AuthenticationOk (0).
    Ok,
    /// AuthenticationCleartextPassword (3).
    CleartextPassword,
    /// AuthenticationMD5Password (5) with its salt.
    Md5Password {
        /// The salt to hash the password with.
        salt: [u8; 4],
    },
    /// AuthenticationSASL (10) with the mechanisms the server offers, in its order of
    /// preference. Names are non-empty.
    Sasl {
        /// Mechanism names, e.g. `SCRAM-SHA-256-PLUS`, `SCRAM-SHA-256`.
        mechanisms: Vec<String>,
    },
    /// AuthenticationSASLContinue (11): the server-first-message for SCRAM.
    SaslContinue(Secret),
    /// AuthenticationSASLFinal (12): the server-final-message for SCRAM.
    SaslFinal(Secret),
    /// Any other code (Kerberos V5 = 2, GSS = 7, GSSContinue = 8, SSPI = 9, ...), which the
    /// proxy does not speak. `code` is never one of the codes above.
    Other {
        /// The authentication code.
        code: i32,
        /// The rest of the body.
        data: Bytes,
    },
}

/// Authentication codes.
pub(crate) mod code {
    pub(crate) const OK: i32 = 0;
    pub(crate) const CLEARTEXT: i32 = 3;
    pub(crate) const MD5: i32 = 5;
    pub(crate) const SASL: i32 = 10;
    pub(crate) const SASL_CONTINUE: i32 = 11;
    pub(crate) const SASL_FINAL: i32 = 12;
}

/// A ParameterStatus: a run-time parameter (`server_version`, `client_encoding`, ...) and its
/// value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterStatus {
    /// Parameter name.
    pub name: String,
    /// Current value.
    pub value: String,
}

/// A BackendKeyData: the key a client presents in a CancelRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendKeyData {
    /// Process id of the backend.
    pub process_id: i32,
    /// Secret key of the backend (4 bytes in protocol 3.0).
    pub secret_key: CancelKey,
}

/// The transaction status in ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionStatus {
    /// `I`: not in a transaction block.
    Idle,
    /// `T`: in a transaction block.
    InTransaction,
    /// `E`: in a failed transaction block.
    Failed,
}

impl TransactionStatus {
    /// The status byte.
    #[must_use]
    pub fn as_byte(self) -> u8 {
        match self {
            Self::Idle => b'I',
            Self::InTransaction => b'T',
            Self::Failed => b'E',
        }
    }

    /// The status for a status byte.
    #[must_use]
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            b'I' => Some(Self::Idle),
            b'T' => Some(Self::InTransaction),
            b'E' => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A NegotiateProtocolVersion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateProtocolVersion {
    /// The newest protocol version the server supports for the requested major version. The wire
    /// carries the whole 32-bit protocol code (PostgreSQL sends `196608` for 3.0), not a bare minor
    /// number as the documentation's wording suggests.
    pub newest: ProtocolVersion,
    /// The `_pq_.` options of the StartupMessage that the server does not recognize.
    pub unrecognized_options: Vec<String>,
}

impl From<Authentication> for BackendMessage {
    fn from(message: Authentication) -> Self {
        Self::Authentication(message)
    }
}

impl From<ParameterStatus> for BackendMessage {
    fn from(message: ParameterStatus) -> Self {
        Self::ParameterStatus(message)
    }
}

impl From<BackendKeyData> for BackendMessage {
    fn from(message: BackendKeyData) -> Self {
        Self::BackendKeyData(message)
    }
}

impl From<NegotiateProtocolVersion> for BackendMessage {
    fn from(message: NegotiateProtocolVersion) -> Self {
        Self::NegotiateProtocolVersion(message)
    }
}

/// Whether `tag` is decoded into a typed message (and so may not be used by `Other`).
pub(crate) fn is_typed_tag(tag: u8) -> bool {
    matches!(tag, b'R' | b'S' | b'K' | b'Z' | b'E' | b'N' | b'v')
}

impl BackendMessage {
    /// Appends the wire form of this message to `buf`.
    ///
    /// # Errors
    /// A string holding a NUL byte, an empty SASL mechanism name, an `Other` whose tag or code
    /// belongs to a typed message, or a message too long for its length field. On error `buf`
    /// is left as it was.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), CodecError> {
        match self {
            Self::SslResponse { accepted } => buf.put_u8(if *accepted { b'S' } else { b'N' }),
            Self::GssEncResponse { accepted } => buf.put_u8(if *accepted { b'G' } else { b'N' }),
            Self::Authentication(auth) => return encode_authentication(auth, buf),
            Self::ParameterStatus(status) => {
                const MESSAGE: &str = "ParameterStatus";
                return write_tagged(buf, b'S', MESSAGE, |b| {
                    put_cstr(b, status.name.as_bytes(), MESSAGE, "name")?;
                    put_cstr(b, status.value.as_bytes(), MESSAGE, "value")
                });
            }
            Self::BackendKeyData(key) => {
                return write_tagged(buf, b'K', "BackendKeyData", |b| {
                    b.put_i32(key.process_id);
                    b.put_slice(key.secret_key.expose());
                    Ok(())
                });
            }
            Self::ReadyForQuery(status) => {
                return write_tagged(buf, b'Z', "ReadyForQuery", |b| {
                    b.put_u8(status.as_byte());
                    Ok(())
                });
            }
            Self::ErrorResponse(fields) => {
                return write_tagged(buf, b'E', "ErrorResponse", |b| {
                    fields.encode(b, "ErrorResponse")
                });
            }
            Self::NoticeResponse(fields) => {
                return write_tagged(buf, b'N', "NoticeResponse", |b| {
                    fields.encode(b, "NoticeResponse")
                });
            }
            Self::NegotiateProtocolVersion(negotiate) => {
                const MESSAGE: &str = "NegotiateProtocolVersion";
                return write_tagged(buf, b'v', MESSAGE, |b| {
                    b.put_i32(negotiate.newest.code());
                    b.put_i32(wire_i32(negotiate.unrecognized_options.len(), MESSAGE)?);
                    for option in &negotiate.unrecognized_options {
                        put_cstr(b, option.as_bytes(), MESSAGE, "option name")?;
                    }
                    Ok(())
                });
            }
            Self::Other { tag, body } => {
                if is_typed_tag(*tag) {
                    return Err(CodecError::InvalidValue {
                        message: "backend message",
                        field: "type byte of an opaque message",
                        value: i64::from(*tag),
                    });
                }
                return write_tagged(buf, *tag, "backend message", |b| {
                    b.put_slice(body);
                    Ok(())
                });
            }
        }
        Ok(())
    }
}

fn encode_authentication(auth: &Authentication, buf: &mut BytesMut) -> Result<(), CodecError> {
    const MESSAGE: &str = "Authentication";
    write_tagged(buf, b'R', MESSAGE, |b| {
        match auth {
            Authentication::Ok => b.put_i32(code::OK),
            Authentication::CleartextPassword => b.put_i32(code::CLEARTEXT),
            Authentication::Md5Password { salt } => {
                b.put_i32(code::MD5);
                b.put_slice(salt);
            }
            Authentication::Sasl { mechanisms } => {
                b.put_i32(code::SASL);
                for mechanism in mechanisms {
                    if mechanism.is_empty() {
                        return Err(CodecError::EmptyName {
                            message: MESSAGE,
                            field: "SASL mechanism",
                        });
                    }
                    put_cstr(b, mechanism.as_bytes(), MESSAGE, "SASL mechanism")?;
                }
                b.put_u8(0);
            }
            Authentication::SaslContinue(data) => {
                b.put_i32(code::SASL_CONTINUE);
                b.put_slice(data.expose());
            }
            Authentication::SaslFinal(data) => {
                b.put_i32(code::SASL_FINAL);
                b.put_slice(data.expose());
            }
            Authentication::Other { code, data } => {
                if matches!(
                    *code,
                    code::OK
                        | code::CLEARTEXT
                        | code::MD5
                        | code::SASL
                        | code::SASL_CONTINUE
                        | code::SASL_FINAL
                ) {
                    return Err(CodecError::InvalidValue {
                        message: MESSAGE,
                        field: "code of an opaque authentication request",
                        value: i64::from(*code),
                    });
                }
                b.put_i32(*code);
                b.put_slice(data);
            }
        }
        Ok(())
    })
}
