//! Decoding what a server sends during the handshake.

use bytes::{Buf, BytesMut};

use super::{
    Authentication, BackendKeyData, BackendMessage, NegotiateProtocolVersion, ParameterStatus,
    TransactionStatus, code,
};
use crate::codec::ProtocolVersion;
use crate::codec::wire::{Body, tagged_frame};
use crate::codec::{CancelKey, CodecError, ErrorFields, Limits, Secret};

/// What the server is about to send, which decides how its bytes are read.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BackendPhase {
    /// Tagged messages (the normal case).
    #[default]
    Messages,
    /// The single-byte answer to an SSLRequest (`S` or `N`; an ErrorResponse from servers that
    /// predate SSL negotiation).
    SslResponse,
    /// The single-byte answer to a GSSENCRequest (`G` or `N`, or an ErrorResponse).
    GssEncResponse,
}

/// Decodes server messages from a buffer the caller fills; does no I/O.
///
/// The phase is explicit: after sending SSLRequest the driver sets
/// [`BackendPhase::SslResponse`], and [`BackendPhase::Messages`] once the answer is read.
///
/// ```
/// use bytes::BytesMut;
/// use iamwire_postgres::codec::{BackendDecoder, BackendMessage, TransactionStatus};
///
/// let mut decoder = BackendDecoder::default();
/// let mut buf = BytesMut::from(&b"Z\0\0\0\x05I"[..]);
/// assert_eq!(
///     decoder.decode(&mut buf),
///     Ok(Some(BackendMessage::ReadyForQuery(TransactionStatus::Idle)))
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct BackendDecoder {
    limits: Limits,
    phase: BackendPhase,
}

impl BackendDecoder {
    /// A decoder in the [`BackendPhase::Messages`] phase.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            phase: BackendPhase::Messages,
        }
    }

    /// The current phase.
    #[must_use]
    pub fn phase(&self) -> BackendPhase {
        self.phase
    }

    /// Moves to `phase`; the next [`BackendDecoder::decode`] reads according to it.
    pub fn set_phase(&mut self, phase: BackendPhase) {
        self.phase = phase;
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decodes one message from the front of `buf`.
    ///
    /// `Ok(None)`: more bytes are needed, and nothing was consumed. `Ok(Some(_))`: exactly the
    /// message's bytes were consumed.
    ///
    /// # Errors
    /// Any [`CodecError`]: the upstream broke the protocol and the connection should be closed;
    /// the state of `buf` is unspecified.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<BackendMessage>, CodecError> {
        let single_byte = match self.phase {
            BackendPhase::Messages => None,
            BackendPhase::SslResponse => Some((b'S', "SSL response ('S' or 'N')")),
            BackendPhase::GssEncResponse => Some((b'G', "GSSENC response ('G' or 'N')")),
        };
        if let Some((yes, expected)) = single_byte {
            let Some(&byte) = buf.first() else {
                return Ok(None);
            };
            let accepted = match byte {
                b'N' => false,
                b'E' => return self.decode_tagged(buf),
                _ if byte == yes => true,
                tag => return Err(CodecError::UnexpectedTag { tag, expected }),
            };
            buf.advance(1);
            return Ok(Some(match self.phase {
                BackendPhase::GssEncResponse => BackendMessage::GssEncResponse { accepted },
                _ => BackendMessage::SslResponse { accepted },
            }));
        }
        self.decode_tagged(buf)
    }

    fn decode_tagged(&self, buf: &mut BytesMut) -> Result<Option<BackendMessage>, CodecError> {
        let Some((tag, body)) = tagged_frame(buf, self.limits.max_message_len, message_name)?
        else {
            return Ok(None);
        };
        let mut body = Body::new(body, message_name(tag));
        let message = match tag {
            b'R' => BackendMessage::Authentication(decode_authentication(&mut body, &self.limits)?),
            b'S' => BackendMessage::ParameterStatus(ParameterStatus {
                name: body.cstr("name")?,
                value: body.cstr("value")?,
            }),
            b'K' => BackendMessage::BackendKeyData(BackendKeyData {
                process_id: body.i32("process id")?,
                secret_key: CancelKey::new(body.rest())?,
            }),
            b'Z' => {
                let status = body.u8("transaction status")?;
                let status =
                    TransactionStatus::from_byte(status).ok_or(CodecError::InvalidValue {
                        message: "ReadyForQuery",
                        field: "transaction status",
                        value: i64::from(status),
                    })?;
                BackendMessage::ReadyForQuery(status)
            }
            b'E' => BackendMessage::ErrorResponse(ErrorFields::decode(&mut body, &self.limits)?),
            b'N' => BackendMessage::NoticeResponse(ErrorFields::decode(&mut body, &self.limits)?),
            b'v' => {
                BackendMessage::NegotiateProtocolVersion(decode_negotiate(&mut body, &self.limits)?)
            }
            _ => BackendMessage::Other {
                tag,
                body: body.rest(),
            },
        };
        body.finish()?;
        Ok(Some(message))
    }
}

fn message_name(tag: u8) -> &'static str {
    match tag {
        b'R' => "Authentication",
        b'S' => "ParameterStatus",
        b'K' => "BackendKeyData",
        b'Z' => "ReadyForQuery",
        b'E' => "ErrorResponse",
        b'N' => "NoticeResponse",
        b'v' => "NegotiateProtocolVersion",
        _ => "backend message",
    }
}

fn decode_authentication(body: &mut Body, limits: &Limits) -> Result<Authentication, CodecError> {
    Ok(match body.i32("authentication code")? {
        code::OK => Authentication::Ok,
        code::CLEARTEXT => Authentication::CleartextPassword,
        code::MD5 => {
            let salt = body.take(4, "salt")?;
            let mut bytes = [0; 4];
            bytes.copy_from_slice(&salt);
            Authentication::Md5Password { salt: bytes }
        }
        code::SASL => {
            let mut mechanisms = Vec::new();
            loop {
                let mechanism = body.cstr("SASL mechanism")?;
                if mechanism.is_empty() {
                    break;
                }
                if mechanisms.len() >= limits.max_sasl_mechanisms {
                    return Err(CodecError::TooManyItems {
                        message: "AuthenticationSASL",
                        what: "mechanisms",
                        max: limits.max_sasl_mechanisms,
                    });
                }
                mechanisms.push(mechanism);
            }
            Authentication::Sasl { mechanisms }
        }
        code::SASL_CONTINUE => Authentication::SaslContinue(Secret::new(body.rest())),
        code::SASL_FINAL => Authentication::SaslFinal(Secret::new(body.rest())),
        code => Authentication::Other {
            code,
            data: body.rest(),
        },
    })
}

fn decode_negotiate(
    body: &mut Body,
    limits: &Limits,
) -> Result<NegotiateProtocolVersion, CodecError> {
    let invalid = |field, value: i32| CodecError::InvalidValue {
        message: "NegotiateProtocolVersion",
        field,
        value: i64::from(value),
    };
    let code = body.i32("newest protocol version")?;
    let newest = ProtocolVersion::from_code(code);
    // The server answers for the major version the client asked for, which the proxy only forwards
    // for 3.x; anything else is not a NegotiateProtocolVersion a 3.x server sends.
    if newest.major() != 3 {
        return Err(invalid("newest protocol version", code));
    }
    let count = body.i32("option count")?;
    let count = usize::try_from(count).map_err(|_| invalid("option count", count))?;
    if count > limits.max_parameters {
        return Err(CodecError::TooManyItems {
            message: "NegotiateProtocolVersion",
            what: "options",
            max: limits.max_parameters,
        });
    }
    let mut unrecognized_options = Vec::with_capacity(count);
    for _ in 0..count {
        unrecognized_options.push(body.cstr("option name")?);
    }
    Ok(NegotiateProtocolVersion {
        newest,
        unrecognized_options,
    })
}
