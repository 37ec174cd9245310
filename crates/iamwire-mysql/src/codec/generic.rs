//! The server's generic replies — [`OkPacket`], [`ErrPacket`], [`EofPacket`] — and the messages of
//! the authentication exchange: [`AuthSwitchRequest`], AuthMoreData, and [`ServerAuth`], which is
//! any of them as the connection phase allows.

use bytes::{BufMut, BytesMut};

use super::wire::{Reader, put_lenenc, put_lenenc_bytes, put_nul};
use super::{Capabilities, CodecError};

/// `SERVER_MORE_RESULTS_EXISTS`: another result follows.
pub const SERVER_MORE_RESULTS_EXISTS: u16 = 0x0008;
/// `SERVER_SESSION_STATE_CHANGED`: an OK packet carries session state changes.
pub const SERVER_SESSION_STATE_CHANGED: u16 = 0x4000;
/// `SERVER_STATUS_AUTOCOMMIT`.
pub const SERVER_STATUS_AUTOCOMMIT: u16 = 0x0002;

/// An OK packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OkPacket {
    /// Rows affected.
    pub affected_rows: u64,
    /// The last `AUTO_INCREMENT` id.
    pub last_insert_id: u64,
    /// Server status flags.
    pub status: u16,
    /// Warnings.
    pub warnings: u16,
    /// Human-readable information.
    pub info: Vec<u8>,
    /// Session state changes (with [`Capabilities::SESSION_TRACK`] and
    /// [`SERVER_SESSION_STATE_CHANGED`]).
    pub session_state: Option<Vec<u8>>,
}

impl OkPacket {
    const NAME: &'static str = "OK packet";

    /// Decode an OK payload (header `0x00`, or `0xfe` where it ends a result set) as `caps` frame it.
    ///
    /// # Errors
    /// [`CodecError`] for another header or a truncated packet.
    pub fn decode(payload: &[u8], caps: Capabilities) -> Result<Self, CodecError> {
        let mut r = Reader::new(payload, Self::NAME);
        if !matches!(r.u8("header")?, 0x00 | 0xfe) {
            return Err(r.invalid("header"));
        }
        let affected_rows = r.lenenc("affected rows")?;
        let last_insert_id = r.lenenc("last insert id")?;
        let status = r.u16("status flags")?;
        let warnings = r.u16("warnings")?;
        let mut ok = Self {
            affected_rows,
            last_insert_id,
            status,
            warnings,
            ..Self::default()
        };
        if caps.contains(Capabilities::SESSION_TRACK) {
            if !r.is_empty() {
                ok.info = r.lenenc_bytes("info")?.to_vec();
            }
            if status & SERVER_SESSION_STATE_CHANGED != 0 && !r.is_empty() {
                ok.session_state = Some(r.lenenc_bytes("session state")?.to_vec());
            }
        } else {
            ok.info = r.rest().to_vec();
        }
        Ok(ok)
    }

    /// Append the payload (header `0x00`) as `caps` frame it.
    pub fn encode(&self, out: &mut BytesMut, caps: Capabilities) {
        out.put_u8(0);
        put_lenenc(out, self.affected_rows);
        put_lenenc(out, self.last_insert_id);
        out.put_u16_le(self.status);
        out.put_u16_le(self.warnings);
        if caps.contains(Capabilities::SESSION_TRACK) {
            if !self.info.is_empty() || self.session_state.is_some() {
                put_lenenc_bytes(out, &self.info);
            }
            if let Some(state) = &self.session_state {
                put_lenenc_bytes(out, state);
            }
        } else {
            out.put_slice(&self.info);
        }
    }
}

/// An ERR packet: an error code, a SQLSTATE and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrPacket {
    /// The MySQL error code (`1045`).
    pub code: u16,
    /// The SQLSTATE (`28000`), absent in errors sent before the server knew the client's
    /// capabilities.
    pub sql_state: Option<[u8; 5]>,
    /// The message.
    pub message: String,
}

impl ErrPacket {
    const NAME: &'static str = "ERR packet";

    /// An error with `code`, `sql_state` and `message`.
    pub fn new(code: u16, sql_state: &str, message: impl Into<String>) -> Self {
        let mut state = *b"HY000";
        if sql_state.len() == 5 {
            state.copy_from_slice(sql_state.as_bytes());
        }
        Self {
            code,
            sql_state: Some(state),
            message: message.into(),
        }
    }

    /// The SQLSTATE as text (`HY000` if none was sent).
    pub fn sql_state(&self) -> &str {
        self.sql_state
            .as_ref()
            .and_then(|s| std::str::from_utf8(s).ok())
            .unwrap_or("HY000")
    }

    /// Decode an ERR payload (header `0xff`); the SQLSTATE is read where the packet has one.
    ///
    /// # Errors
    /// [`CodecError`] for another header or a truncated packet.
    pub fn decode(payload: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(payload, Self::NAME);
        if r.u8("header")? != 0xff {
            return Err(r.invalid("header"));
        }
        let code = r.u16("error code")?;
        let mut sql_state = None;
        if r.peek() == Some(b'#') && r.len() >= 6 {
            r.u8("SQLSTATE marker")?;
            let state = r.take(5, "SQLSTATE")?;
            let mut s = [0u8; 5];
            s.copy_from_slice(state);
            sql_state = Some(s);
        }
        let message = String::from_utf8_lossy(r.rest()).into_owned();
        Ok(Self {
            code,
            sql_state,
            message,
        })
    }

    /// Append the payload for a client with `caps`: the SQLSTATE only for 4.1 clients.
    pub fn encode(&self, out: &mut BytesMut, caps: Capabilities) {
        out.put_u8(0xff);
        out.put_u16_le(self.code);
        if caps.contains(Capabilities::PROTOCOL_41) {
            out.put_u8(b'#');
            out.put_slice(self.sql_state().as_bytes());
        }
        out.put_slice(self.message.as_bytes());
    }
}

/// An EOF packet (header `0xfe`, shorter than 9 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EofPacket {
    /// Warnings.
    pub warnings: u16,
    /// Server status flags.
    pub status: u16,
}

impl EofPacket {
    /// Decode an EOF payload.
    ///
    /// # Errors
    /// [`CodecError`] for another header or length.
    pub fn decode(payload: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(payload, "EOF packet");
        if r.u8("header")? != 0xfe || payload.len() != 5 {
            return Err(r.invalid("header"));
        }
        Ok(Self {
            warnings: r.u16("warnings")?,
            status: r.u16("status flags")?,
        })
    }

    /// Append the payload.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u8(0xfe);
        out.put_u16_le(self.warnings);
        out.put_u16_le(self.status);
    }
}

/// The server asks the client to answer with another auth plugin, over a new nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSwitchRequest {
    /// The plugin to answer with.
    pub plugin: String,
    /// Its data: the nonce (20 bytes and a NUL for the password plugins).
    pub data: Vec<u8>,
}

impl AuthSwitchRequest {
    /// Append the payload (header `0xfe`).
    ///
    /// # Errors
    /// [`CodecError`] for a NUL in the plugin name.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), CodecError> {
        out.put_u8(0xfe);
        put_nul(
            out,
            self.plugin.as_bytes(),
            "AuthSwitchRequest",
            "plugin name",
        )?;
        out.put_slice(&self.data);
        Ok(())
    }

    /// The nonce in `data`, without the NUL that ends it.
    pub fn nonce(&self) -> &[u8] {
        self.data.strip_suffix(&[0]).unwrap_or(&self.data)
    }
}

/// Append an AuthMoreData payload (header `0x01`).
pub fn put_auth_more_data(out: &mut BytesMut, data: &[u8]) {
    out.put_u8(0x01);
    out.put_slice(data);
}

/// What a server may send while a login (or COM_CHANGE_USER) is being authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAuth {
    /// Logged in; the OK payload as sent.
    Ok(Vec<u8>),
    /// Refused.
    Err(ErrPacket),
    /// Answer with another plugin.
    Switch(AuthSwitchRequest),
    /// More data for the current plugin (`caching_sha2_password`: `0x03` fast auth done, `0x04`
    /// send the password).
    MoreData(Vec<u8>),
}

impl ServerAuth {
    const NAME: &'static str = "authentication packet";

    /// Decode one packet of the exchange.
    ///
    /// # Errors
    /// [`CodecError`] for the pre-4.1 auth switch, multi-factor requests and anything else.
    pub fn decode(payload: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(payload, Self::NAME);
        match r.u8("header")? {
            0x00 => Ok(Self::Ok(payload.to_vec())),
            0xff => ErrPacket::decode(payload).map(Self::Err),
            0xfe if payload.len() == 1 => Err(CodecError::Unsupported {
                what: "the pre-4.1 password (old auth switch request)",
            }),
            0xfe => {
                let plugin = r.nul_or_end();
                let plugin = r.utf8(plugin, "plugin name")?;
                Ok(Self::Switch(AuthSwitchRequest {
                    plugin,
                    data: r.rest().to_vec(),
                }))
            }
            0x01 => Ok(Self::MoreData(r.rest().to_vec())),
            0x02 => Err(CodecError::Unsupported {
                what: "multi-factor authentication",
            }),
            _ => Err(CodecError::Unexpected {
                what: "a packet that is not part of authentication",
                expected: "OK, ERR, AuthSwitchRequest or AuthMoreData",
            }),
        }
    }
}
