//! Decoding what a client sends, one phase of the connection at a time.

use bytes::BytesMut;

use super::{
    CANCEL_REQUEST_CODE, CancelRequest, FrontendMessage, GSSENC_REQUEST_CODE, PasswordMessage,
    ProtocolVersion, SSL_REQUEST_CODE, SaslInitialResponse, SaslResponse, StartupMessage,
};
use crate::codec::wire::{Body, tagged_frame, untagged_frame};
use crate::codec::{CancelKey, CodecError, Limits, Secret};

/// The major version that marks special request codes (SSLRequest and friends).
const REQUEST_CODE_MAJOR: u16 = 1234;

/// Which kind of `p` message the server expects: PasswordMessage, SASLInitialResponse and
/// SASLResponse share the type byte, and only the server's last request tells them apart.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthResponseKind {
    /// After AuthenticationCleartextPassword or AuthenticationMD5Password.
    Password,
    /// After AuthenticationSASL.
    SaslInitialResponse,
    /// After AuthenticationSASLContinue.
    SaslResponse,
}

/// Where the client is in the conversation, which decides how its bytes are read.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FrontendPhase {
    #[default]
    /// Untagged startup packets: SSLRequest, GSSENCRequest, CancelRequest, StartupMessage.
    /// The decoder stays here after an SSLRequest, since a StartupMessage follows (over TLS).
    Startup,
    /// Tagged messages during authentication: the expected `p` message, or Terminate.
    Authentication(AuthResponseKind),
}

/// Decodes client messages from a buffer the caller fills; does no I/O.
///
/// The phase is explicit: the handshake driver moves it to
/// [`FrontendPhase::Authentication`] after sending an authentication request.
///
/// ```
/// use bytes::BytesMut;
/// use iamwire_postgres::codec::{FrontendDecoder, FrontendMessage};
///
/// let mut decoder = FrontendDecoder::default();
/// let mut buf = BytesMut::from(&[0, 0, 0, 8, 4, 210][..]);
/// assert_eq!(decoder.decode(&mut buf), Ok(None)); // need more bytes; nothing consumed
/// buf.extend_from_slice(&[22, 47]);
/// assert_eq!(decoder.decode(&mut buf), Ok(Some(FrontendMessage::SslRequest)));
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct FrontendDecoder {
    limits: Limits,
    phase: FrontendPhase,
}

impl FrontendDecoder {
    /// A decoder in the startup phase.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            phase: FrontendPhase::Startup,
        }
    }

    /// The current phase.
    #[must_use]
    pub fn phase(&self) -> FrontendPhase {
        self.phase
    }

    /// Moves to `phase`; the next [`FrontendDecoder::decode`] reads according to it.
    pub fn set_phase(&mut self, phase: FrontendPhase) {
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
    /// Any [`CodecError`]: the connection should be closed (after an ErrorResponse, see
    /// [`CodecError::sql_state`]); the state of `buf` is unspecified.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<FrontendMessage>, CodecError> {
        match self.phase {
            FrontendPhase::Startup => {
                let Some(body) = untagged_frame(buf, self.limits.max_startup_len)? else {
                    return Ok(None);
                };
                decode_startup_packet(Body::new(body, "startup packet"), &self.limits).map(Some)
            }
            FrontendPhase::Authentication(kind) => {
                let frame = tagged_frame(buf, self.limits.max_message_len, |tag| match tag {
                    b'p' => kind_name(kind),
                    b'X' => "Terminate",
                    _ => "message",
                })?;
                let Some((tag, body)) = frame else {
                    return Ok(None);
                };
                match tag {
                    b'p' => decode_auth_response(kind, Body::new(body, kind_name(kind))).map(Some),
                    b'X' => {
                        Body::new(body, "Terminate").finish()?;
                        Ok(Some(FrontendMessage::Terminate))
                    }
                    _ => Err(CodecError::UnexpectedTag {
                        tag,
                        expected: kind_name(kind),
                    }),
                }
            }
        }
    }
}

fn kind_name(kind: AuthResponseKind) -> &'static str {
    match kind {
        AuthResponseKind::Password => "PasswordMessage",
        AuthResponseKind::SaslInitialResponse => "SASLInitialResponse",
        AuthResponseKind::SaslResponse => "SASLResponse",
    }
}

fn decode_startup_packet(mut body: Body, limits: &Limits) -> Result<FrontendMessage, CodecError> {
    let code = body.i32("request code")?;
    let version = ProtocolVersion::from_code(code);
    if version.major() != REQUEST_CODE_MAJOR {
        let mut body = Body::new(body.rest(), "StartupMessage");
        let startup = StartupMessage::decode_body(version, &mut body, limits)?;
        body.finish()?;
        return Ok(FrontendMessage::Startup(startup));
    }
    let message = match code {
        SSL_REQUEST_CODE => FrontendMessage::SslRequest,
        GSSENC_REQUEST_CODE => FrontendMessage::GssEncRequest,
        CANCEL_REQUEST_CODE => {
            let mut cancel = Body::new(body.rest(), "CancelRequest");
            let process_id = cancel.i32("process id")?;
            let secret_key = CancelKey::new(cancel.rest())?;
            FrontendMessage::CancelRequest(CancelRequest {
                process_id,
                secret_key,
            })
        }
        _ => return Err(CodecError::UnknownRequestCode { code }),
    };
    Body::new(body.rest(), message_name(&message)).finish()?;
    Ok(message)
}

fn message_name(message: &FrontendMessage) -> &'static str {
    match message {
        FrontendMessage::SslRequest => "SSLRequest",
        FrontendMessage::GssEncRequest => "GSSENCRequest",
        _ => "CancelRequest",
    }
}

fn decode_auth_response(
    kind: AuthResponseKind,
    mut body: Body,
) -> Result<FrontendMessage, CodecError> {
    let message = match kind {
        AuthResponseKind::Password => {
            let password = Secret::new(body.cstr_bytes("password")?);
            FrontendMessage::Password(PasswordMessage { password })
        }
        AuthResponseKind::SaslInitialResponse => {
            let mechanism = body.cstr("mechanism")?;
            let data = match body.i32("response length")? {
                -1 => None,
                len => {
                    let len = usize::try_from(len).map_err(|_| CodecError::InvalidValue {
                        message: body.message(),
                        field: "response length",
                        value: i64::from(len),
                    })?;
                    Some(Secret::new(body.take(len, "initial response")?))
                }
            };
            FrontendMessage::SaslInitialResponse(SaslInitialResponse { mechanism, data })
        }
        AuthResponseKind::SaslResponse => FrontendMessage::SaslResponse(SaslResponse {
            data: Secret::new(body.rest()),
        }),
    };
    body.finish()?;
    Ok(message)
}
