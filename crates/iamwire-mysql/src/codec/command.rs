//! Commands (the first byte of a client packet with sequence id 0) and the one the proxy must read
//! whole: [`ChangeUser`] (`COM_CHANGE_USER`).

use bytes::{BufMut, BytesMut};
use iamwire_core::Secret;

use super::handshake::{
    Attributes, put_attributes, put_auth_response, read_attributes, read_auth_response,
};
use super::wire::{Reader, put_nul};
use super::{Capabilities, CodecError};

/// `COM_QUIT`.
pub const COM_QUIT: u8 = 0x01;
/// `COM_INIT_DB`: change the default database.
pub const COM_INIT_DB: u8 = 0x02;
/// `COM_QUERY`: a statement in text.
pub const COM_QUERY: u8 = 0x03;
/// `COM_PING`.
pub const COM_PING: u8 = 0x0e;
/// `COM_CHANGE_USER`: log in again as another user.
pub const COM_CHANGE_USER: u8 = 0x11;
/// `COM_STMT_PREPARE`: prepare a statement.
pub const COM_STMT_PREPARE: u8 = 0x16;
/// `COM_RESET_CONNECTION`: reset the session's state, keeping its user.
pub const COM_RESET_CONNECTION: u8 = 0x1f;

/// `COM_CHANGE_USER`: the client logs in again, as `user`, on `database`. `Debug` redacts the auth
/// response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeUser {
    /// The new database user.
    pub user: String,
    /// The auth plugin's response over the connection's nonce.
    pub auth_response: Secret,
    /// The new default database (none if empty).
    pub database: Option<String>,
    /// The collation, if sent.
    pub charset: Option<u16>,
    /// The auth plugin the response is for, if sent.
    pub auth_plugin: Option<String>,
    /// Connection attributes, if sent.
    pub attributes: Option<Attributes>,
}

impl ChangeUser {
    const NAME: &'static str = "COM_CHANGE_USER";

    /// Decode the payload (command byte included) of a session with `caps`.
    ///
    /// # Errors
    /// [`CodecError`] for another command, non-UTF-8 names or a truncated packet.
    pub fn decode(payload: &[u8], caps: Capabilities) -> Result<Self, CodecError> {
        let mut r = Reader::new(payload, Self::NAME);
        if r.u8("command")? != COM_CHANGE_USER {
            return Err(r.invalid("command"));
        }
        let user = r.nul("user")?;
        let user = r.utf8(user, "user")?;
        // COM_CHANGE_USER has no length-encoded form: one length byte, or a NUL-terminated string.
        let auth_response =
            read_auth_response(&mut r, caps & !Capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA)?;
        let database = r.nul_or_end();
        let database = if database.is_empty() {
            None
        } else {
            Some(r.utf8(database, "database")?)
        };
        let mut change = Self {
            user,
            auth_response,
            database,
            charset: None,
            auth_plugin: None,
            attributes: None,
        };
        if r.is_empty() {
            return Ok(change);
        }
        change.charset = Some(r.u16("character set")?);
        if caps.contains(Capabilities::PLUGIN_AUTH) && !r.is_empty() {
            let name = r.nul_or_end();
            change.auth_plugin = Some(r.utf8(name, "auth plugin name")?);
        }
        if caps.contains(Capabilities::CONNECT_ATTRS) && !r.is_empty() {
            change.attributes = Some(read_attributes(&mut r)?);
        }
        Ok(change)
    }

    /// Append the payload (command byte included) for a session with `caps`.
    ///
    /// # Errors
    /// [`CodecError`] for a NUL inside a name or an auth response over 255 bytes with
    /// [`Capabilities::SECURE_CONNECTION`].
    pub fn encode(&self, out: &mut BytesMut, caps: Capabilities) -> Result<(), CodecError> {
        out.put_u8(COM_CHANGE_USER);
        put_nul(out, self.user.as_bytes(), Self::NAME, "user")?;
        put_auth_response(
            out,
            caps & !Capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA,
            self.auth_response.expose(),
            Self::NAME,
        )?;
        let database = self.database.as_deref().unwrap_or_default();
        put_nul(out, database.as_bytes(), Self::NAME, "database")?;
        let plugin = caps
            .contains(Capabilities::PLUGIN_AUTH)
            .then_some(())
            .and(self.auth_plugin.as_ref());
        let attributes = caps
            .contains(Capabilities::CONNECT_ATTRS)
            .then_some(())
            .and(self.attributes.as_ref());
        if self.charset.is_none() && plugin.is_none() && attributes.is_none() {
            return Ok(());
        }
        out.put_u16_le(self.charset.unwrap_or(45));
        if caps.contains(Capabilities::PLUGIN_AUTH) {
            let name = plugin.map(String::as_str).unwrap_or_default();
            put_nul(out, name.as_bytes(), Self::NAME, "auth plugin name")?;
        }
        if let Some(attributes) = attributes {
            put_attributes(out, attributes);
        }
        Ok(())
    }
}
