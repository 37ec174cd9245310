//! The bodies of the handshake messages, both ways: [`Request`] (client → server) and [`Response`]
//! (server → client), decoded from and encoded into a [`Frame`].

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::{Frame, Limits, Malformed, opcode};

/// Error codes of the ERROR message that the proxy uses or reads.
pub mod error_code {
    /// Something unexpected happened on the server.
    pub const SERVER_ERROR: i32 = 0x0000;
    /// A client message violated the protocol.
    pub const PROTOCOL_ERROR: i32 = 0x000A;
    /// Authentication failed: bad credentials.
    pub const BAD_CREDENTIALS: i32 = 0x0100;
    /// Not enough replicas (the body carries consistency, required and alive counts).
    pub const UNAVAILABLE: i32 = 0x1000;
    /// The coordinator is overloaded.
    pub const OVERLOADED: i32 = 0x1001;
}

/// The body of an ERROR message: its code, its message, and what follows for codes with more fields.
#[derive(Clone, PartialEq, Eq)]
pub struct ErrorBody {
    /// The error code ([`error_code`]).
    pub code: i32,
    /// The message.
    pub message: String,
    /// The code-specific fields after the message, undecoded.
    pub rest: Bytes,
}

impl fmt::Debug for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorBody")
            .field("code", &format_args!("{:#06x}", self.code))
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

/// A handshake message from the client.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// OPTIONS: what does the server support?
    Options,
    /// STARTUP with its options (`CQL_VERSION`, `COMPRESSION`, `DRIVER_NAME`, ...), in order.
    Startup(Vec<(String, String)>),
    /// AUTH_RESPONSE with its token (`None`: a null token). May hold a password: `Debug` hides it.
    AuthResponse(Option<Bytes>),
    /// Any other opcode, undecoded.
    Other(u8),
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Options => f.write_str("Options"),
            Self::Startup(options) => f.debug_tuple("Startup").field(options).finish(),
            Self::AuthResponse(token) => write!(
                f,
                "AuthResponse({} bytes)",
                token.as_ref().map_or(0, Bytes::len)
            ),
            Self::Other(op) => write!(f, "Other({op:#04x})"),
        }
    }
}

/// A handshake message from the server.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// SUPPORTED: option name → values.
    Supported(Vec<(String, Vec<String>)>),
    /// AUTHENTICATE with the server's authenticator class.
    Authenticate(String),
    /// AUTH_CHALLENGE with its token.
    AuthChallenge(Option<Bytes>),
    /// AUTH_SUCCESS with its final token.
    AuthSuccess(Option<Bytes>),
    /// READY.
    Ready,
    /// ERROR.
    Error(ErrorBody),
    /// Any other opcode, undecoded.
    Other(u8),
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = |t: &Option<Bytes>| t.as_ref().map_or(0, Bytes::len);
        match self {
            Self::Supported(o) => f.debug_tuple("Supported").field(o).finish(),
            Self::Authenticate(c) => f.debug_tuple("Authenticate").field(c).finish(),
            Self::AuthChallenge(t) => write!(f, "AuthChallenge({} bytes)", len(t)),
            Self::AuthSuccess(t) => write!(f, "AuthSuccess({} bytes)", len(t)),
            Self::Ready => f.write_str("Ready"),
            Self::Error(e) => f.debug_tuple("Error").field(e).finish(),
            Self::Other(op) => write!(f, "Other({op:#04x})"),
        }
    }
}

impl Request {
    /// Decode a client frame's body.
    ///
    /// # Errors
    /// [`Malformed`] for a response frame, a body that does not parse, or maps over the limit.
    pub fn decode(frame: &Frame, limits: &Limits) -> Result<Self, Malformed> {
        if frame.response {
            return Err(Malformed::Direction);
        }
        let mut r = Reader(&frame.body);
        let message = match frame.opcode {
            opcode::OPTIONS => Self::Options,
            opcode::STARTUP => {
                let n = r.count("STARTUP options", limits)?;
                let mut options = Vec::with_capacity(n);
                for _ in 0..n {
                    options.push((r.string("option name")?, r.string("option value")?));
                }
                Self::Startup(options)
            }
            opcode::AUTH_RESPONSE => Self::AuthResponse(r.bytes("token")?),
            other => return Ok(Self::Other(other)),
        };
        r.end("request")?;
        Ok(message)
    }

    /// This message as a frame of `version` on `stream`.
    pub fn to_frame(&self, version: u8, stream: i16) -> Frame {
        let mut body = BytesMut::new();
        let op = match self {
            Self::Options => opcode::OPTIONS,
            Self::Startup(options) => {
                put_count(&mut body, options.len());
                for (k, v) in options {
                    put_string(&mut body, k);
                    put_string(&mut body, v);
                }
                opcode::STARTUP
            }
            Self::AuthResponse(token) => {
                put_bytes(&mut body, token.as_deref());
                opcode::AUTH_RESPONSE
            }
            Self::Other(op) => *op,
        };
        Frame::request(version, stream, op, body.freeze())
    }
}

impl Response {
    /// Decode a server frame's body.
    ///
    /// # Errors
    /// [`Malformed`] for a request frame, a body that does not parse, or maps over the limit.
    pub fn decode(frame: &Frame, limits: &Limits) -> Result<Self, Malformed> {
        if !frame.response {
            return Err(Malformed::Direction);
        }
        let mut r = Reader(&frame.body);
        let message = match frame.opcode {
            opcode::READY => Self::Ready,
            opcode::AUTHENTICATE => Self::Authenticate(r.string("authenticator")?),
            opcode::AUTH_CHALLENGE => Self::AuthChallenge(r.bytes("token")?),
            opcode::AUTH_SUCCESS => Self::AuthSuccess(r.bytes("token")?),
            opcode::SUPPORTED => {
                let n = r.count("SUPPORTED options", limits)?;
                let mut options = Vec::with_capacity(n);
                for _ in 0..n {
                    let name = r.string("option name")?;
                    let m = r.count("option values", limits)?;
                    let mut values = Vec::with_capacity(m);
                    for _ in 0..m {
                        values.push(r.string("option value")?);
                    }
                    options.push((name, values));
                }
                Self::Supported(options)
            }
            opcode::ERROR => {
                let code = r.int("error code")?;
                let message = r.string("error message")?;
                let rest = frame.body.slice(frame.body.len() - r.0.len()..);
                return Ok(Self::Error(ErrorBody {
                    code,
                    message,
                    rest,
                }));
            }
            other => return Ok(Self::Other(other)),
        };
        r.end("response")?;
        Ok(message)
    }

    /// This message as a frame of `version` on `stream`.
    pub fn to_frame(&self, version: u8, stream: i16) -> Frame {
        let mut body = BytesMut::new();
        let op = match self {
            Self::Ready => opcode::READY,
            Self::Authenticate(class) => {
                put_string(&mut body, class);
                opcode::AUTHENTICATE
            }
            Self::AuthChallenge(token) => {
                put_bytes(&mut body, token.as_deref());
                opcode::AUTH_CHALLENGE
            }
            Self::AuthSuccess(token) => {
                put_bytes(&mut body, token.as_deref());
                opcode::AUTH_SUCCESS
            }
            Self::Supported(options) => {
                put_count(&mut body, options.len());
                for (name, values) in options {
                    put_string(&mut body, name);
                    put_count(&mut body, values.len());
                    for v in values {
                        put_string(&mut body, v);
                    }
                }
                opcode::SUPPORTED
            }
            Self::Error(e) => {
                body.put_i32(e.code);
                put_string(&mut body, &e.message);
                body.put_slice(&e.rest);
                opcode::ERROR
            }
            Self::Other(op) => *op,
        };
        Frame::response(version, stream, op, body.freeze())
    }
}

/// `[short]` counts and `[string]`s are at most `u16::MAX`: longer values are cut (at a character
/// boundary) rather than written with a wrong length.
fn put_count(out: &mut BytesMut, n: usize) {
    out.put_u16(u16::try_from(n).unwrap_or(u16::MAX));
}

fn put_string(out: &mut BytesMut, s: &str) {
    let mut end = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    put_count(out, end);
    out.put_slice(&s.as_bytes()[..end]);
}

fn put_bytes(out: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        None => out.put_i32(-1),
        Some(b) => {
            out.put_i32(i32::try_from(b.len()).unwrap_or(i32::MAX));
            out.put_slice(b);
        }
    }
}

/// A cursor over a body; every read checks the remaining length first.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed::Truncated(what));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn short(&mut self, what: &'static str) -> Result<usize, Malformed> {
        let b = self.take(2, what)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn int(&mut self, what: &'static str) -> Result<i32, Malformed> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn count(&mut self, what: &'static str, limits: &Limits) -> Result<usize, Malformed> {
        let n = self.short(what)?;
        if n > limits.max_entries {
            return Err(Malformed::TooLong {
                what,
                len: i64::try_from(n).unwrap_or(i64::MAX),
                limit: limits.max_entries,
            });
        }
        Ok(n)
    }

    fn string(&mut self, what: &'static str) -> Result<String, Malformed> {
        let n = self.short(what)?;
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| Malformed::Utf8(what))
    }

    fn bytes(&mut self, what: &'static str) -> Result<Option<Bytes>, Malformed> {
        let n = self.int(what)?;
        let Ok(n) = usize::try_from(n) else {
            return Ok(None);
        };
        Ok(Some(Bytes::copy_from_slice(self.take(n, what)?)))
    }

    fn end(&self, what: &'static str) -> Result<(), Malformed> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Malformed::Trailing(what))
        }
    }
}
