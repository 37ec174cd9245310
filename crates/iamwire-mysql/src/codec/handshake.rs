//! The connection phase: the server's greeting ([`Handshake`], protocol version 10), the client's
//! [`SslRequest`] and [`HandshakeResponse`] (`HandshakeResponse41`).

use bytes::{BufMut, BytesMut};
use iamwire_core::Secret;

use super::wire::{Reader, put_lenenc, put_lenenc_bytes, put_nul};
use super::{Capabilities, CodecError};

/// Size of an SSLRequest payload (and of the fixed part of a handshake response).
pub const SSL_REQUEST_LEN: usize = 32;

/// Connection attributes, in the order sent: name and value.
pub type Attributes = Vec<(Vec<u8>, Vec<u8>)>;

/// The server's first packet (`Protocol::HandshakeV10`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The server's version string, as clients will parse it (`8.0.36`, `5.5.5-10.11.6-MariaDB`).
    pub server_version: String,
    /// The connection (thread) id, which `KILL` takes.
    pub connection_id: u32,
    /// The nonce the auth plugins hash with (20 bytes from MySQL and MariaDB).
    pub auth_data: Vec<u8>,
    /// The server's capabilities.
    pub capabilities: Capabilities,
    /// The server's default collation.
    pub charset: u8,
    /// Server status flags.
    pub status: u16,
    /// MariaDB's extended capabilities (when [`Capabilities::LONG_PASSWORD`] is clear).
    pub mariadb_capabilities: u32,
    /// The default auth plugin (`mysql_native_password`, `caching_sha2_password`).
    pub auth_plugin: Option<String>,
}

impl Handshake {
    const NAME: &'static str = "server greeting";

    /// Decode a greeting payload. An ERR packet instead of a greeting is the caller's to spot
    /// (first byte `0xff`).
    ///
    /// # Errors
    /// [`CodecError`] for another protocol version, a truncated or invalid greeting.
    pub fn decode(payload: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(payload, Self::NAME);
        if r.u8("protocol version")? != 10 {
            return Err(CodecError::Unsupported {
                what: "a server protocol version other than 10",
            });
        }
        let server_version = String::from_utf8_lossy(r.nul("server version")?).into_owned();
        let connection_id = r.u32("connection id")?;
        let mut auth_data = r.take(8, "auth plugin data")?.to_vec();
        r.u8("filler")?;
        let low = r.u16("capability flags")?;
        let mut handshake = Self {
            server_version,
            connection_id,
            auth_data: Vec::new(),
            capabilities: Capabilities(u32::from(low)),
            charset: 0,
            status: 0,
            mariadb_capabilities: 0,
            auth_plugin: None,
        };
        if r.is_empty() {
            handshake.auth_data = auth_data;
            return Ok(handshake);
        }
        handshake.charset = r.u8("character set")?;
        handshake.status = r.u16("status flags")?;
        let high = r.u16("capability flags")?;
        let caps = Capabilities(u32::from(low) | u32::from(high) << 16);
        handshake.capabilities = caps;
        let data_len = usize::from(r.u8("auth plugin data length")?);
        let reserved = r.take(10, "reserved bytes")?;
        if !caps.contains(Capabilities::LONG_PASSWORD) {
            handshake.mariadb_capabilities =
                u32::from_le_bytes([reserved[6], reserved[7], reserved[8], reserved[9]]);
        }
        if caps.contains(Capabilities::SECURE_CONNECTION) {
            let len = data_len.saturating_sub(8).max(13);
            let part = r.take(len, "auth plugin data")?;
            // The last byte is a NUL that ends the nonce.
            let part = part.strip_suffix(&[0]).unwrap_or(part);
            auth_data.extend_from_slice(part);
        }
        handshake.auth_data = auth_data;
        if caps.contains(Capabilities::PLUGIN_AUTH) {
            let name = r.nul_or_end();
            handshake.auth_plugin = Some(r.utf8(name, "auth plugin name")?);
        }
        Ok(handshake)
    }

    /// Append the greeting's payload. The nonce must hold no NUL and be 20 to 250 bytes long (MySQL
    /// and MariaDB use 20); it is split into its two parts here.
    ///
    /// # Errors
    /// [`CodecError`] for a version string or nonce the wire cannot carry.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), CodecError> {
        if self.auth_data.len() < 20 || self.auth_data.len() > 250 || self.auth_data.contains(&0) {
            return Err(CodecError::Invalid {
                message: Self::NAME,
                field: "auth plugin data",
            });
        }
        let caps = self.capabilities.0;
        out.put_u8(10);
        put_nul(
            out,
            self.server_version.as_bytes(),
            Self::NAME,
            "server version",
        )?;
        out.put_u32_le(self.connection_id);
        out.put_slice(&self.auth_data[..8]);
        out.put_u8(0);
        out.put_u16_le(caps as u16);
        out.put_u8(self.charset);
        out.put_u16_le(self.status);
        out.put_u16_le((caps >> 16) as u16);
        let plugin = self.capabilities.contains(Capabilities::PLUGIN_AUTH);
        // The nonce's length with its NUL (clients read at least 13 bytes of its second part).
        out.put_u8(self.auth_data.len() as u8 + 1);
        out.put_slice(&[0; 6]);
        out.put_u32_le(self.mariadb_capabilities);
        if self.capabilities.contains(Capabilities::SECURE_CONNECTION) {
            out.put_slice(&self.auth_data[8..]);
            out.put_u8(0);
        }
        if plugin {
            let name = self.auth_plugin.as_deref().unwrap_or_default();
            put_nul(out, name.as_bytes(), Self::NAME, "auth plugin name")?;
        }
        Ok(())
    }
}

/// The client asks to switch to TLS: the fixed part of a handshake response alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SslRequest {
    /// The client's capabilities (with [`Capabilities::SSL`]).
    pub capabilities: Capabilities,
    /// The largest packet the client accepts.
    pub max_packet: u32,
    /// The client's collation.
    pub charset: u8,
    /// MariaDB's extended capabilities.
    pub mariadb_capabilities: u32,
}

impl SslRequest {
    fn decode_fixed(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let capabilities = Capabilities(r.u32("capability flags")?);
        let max_packet = r.u32("max packet size")?;
        let charset = r.u8("character set")?;
        let filler = r.take(23, "filler")?;
        Ok(Self {
            capabilities,
            max_packet,
            charset,
            mariadb_capabilities: u32::from_le_bytes([
                filler[19], filler[20], filler[21], filler[22],
            ]),
        })
    }

    /// Append the payload (32 bytes).
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.capabilities.0);
        out.put_u32_le(self.max_packet);
        out.put_u8(self.charset);
        out.put_bytes(0, 19);
        out.put_u32_le(self.mariadb_capabilities);
    }
}

/// What a client sends first: an SSLRequest, or its whole handshake response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHello {
    /// Switch to TLS, then the handshake response follows.
    SslRequest(SslRequest),
    /// The handshake response (a client that does not ask for TLS).
    Response(HandshakeResponse),
}

impl ClientHello {
    /// Decode the client's first packet.
    ///
    /// # Errors
    /// [`CodecError`] for a pre-4.1 client or a malformed packet.
    pub fn decode(payload: &[u8]) -> Result<Self, CodecError> {
        if payload.len() == SSL_REQUEST_LEN {
            let mut r = Reader::new(payload, "SSLRequest");
            let request = SslRequest::decode_fixed(&mut r)?;
            if request.capabilities.contains(Capabilities::SSL) {
                return Ok(Self::SslRequest(request));
            }
        }
        HandshakeResponse::decode(payload).map(Self::Response)
    }
}

/// The client's handshake response (`HandshakeResponse41`): who it is, its proof, the database.
/// `Debug` redacts the auth response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// The client's capabilities.
    pub capabilities: Capabilities,
    /// The largest packet the client accepts.
    pub max_packet: u32,
    /// The client's collation.
    pub charset: u8,
    /// MariaDB's extended capabilities.
    pub mariadb_capabilities: u32,
    /// The database user.
    pub user: String,
    /// The auth plugin's response to the greeting's nonce (a hash, or a password in clear).
    pub auth_response: Secret,
    /// The default database, if the client named one.
    pub database: Option<String>,
    /// The auth plugin the response is for.
    pub auth_plugin: Option<String>,
    /// Connection attributes, in order (`_client_name`, `program_name`, ...).
    pub attributes: Option<Attributes>,
    /// The zstd compression level, if the client sent one.
    pub zstd_level: Option<u8>,
}

impl HandshakeResponse {
    const NAME: &'static str = "handshake response";

    /// Decode a handshake response payload.
    ///
    /// # Errors
    /// [`CodecError`] for a pre-4.1 response, a non-UTF-8 user or database, a truncated packet.
    pub fn decode(payload: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(payload, Self::NAME);
        let fixed = SslRequest::decode_fixed(&mut r)?;
        let caps = fixed.capabilities;
        if !caps.contains(Capabilities::PROTOCOL_41) {
            return Err(CodecError::Unsupported {
                what: "a client without the 4.1 protocol",
            });
        }
        let user = r.nul("user")?;
        let user = r.utf8(user, "user")?;
        let auth_response = read_auth_response(&mut r, caps)?;
        let mut database = None;
        if caps.contains(Capabilities::CONNECT_WITH_DB) && !r.is_empty() {
            let name = r.nul_or_end();
            if !name.is_empty() {
                database = Some(r.utf8(name, "database")?);
            }
        }
        let mut auth_plugin = None;
        if caps.contains(Capabilities::PLUGIN_AUTH) && !r.is_empty() {
            let name = r.nul_or_end();
            auth_plugin = Some(r.utf8(name, "auth plugin name")?);
        }
        let mut attributes = None;
        if caps.contains(Capabilities::CONNECT_ATTRS) && !r.is_empty() {
            attributes = Some(read_attributes(&mut r)?);
        }
        let mut zstd_level = None;
        if caps.contains(Capabilities::ZSTD_COMPRESSION) && !r.is_empty() {
            zstd_level = Some(r.u8("zstd compression level")?);
        }
        Ok(Self {
            capabilities: caps,
            max_packet: fixed.max_packet,
            charset: fixed.charset,
            mariadb_capabilities: fixed.mariadb_capabilities,
            user,
            auth_response,
            database,
            auth_plugin,
            attributes,
            zstd_level,
        })
    }

    /// Append the payload, framing the fields as its capabilities say.
    ///
    /// # Errors
    /// [`CodecError`] for a NUL inside a name, or an auth response too long for its framing.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), CodecError> {
        let caps = self.capabilities;
        SslRequest {
            capabilities: caps,
            max_packet: self.max_packet,
            charset: self.charset,
            mariadb_capabilities: self.mariadb_capabilities,
        }
        .encode(out);
        put_nul(out, self.user.as_bytes(), Self::NAME, "user")?;
        put_auth_response(out, caps, self.auth_response.expose(), Self::NAME)?;
        if caps.contains(Capabilities::CONNECT_WITH_DB) {
            let name = self.database.as_deref().unwrap_or_default();
            put_nul(out, name.as_bytes(), Self::NAME, "database")?;
        }
        if caps.contains(Capabilities::PLUGIN_AUTH) {
            let name = self.auth_plugin.as_deref().unwrap_or_default();
            put_nul(out, name.as_bytes(), Self::NAME, "auth plugin name")?;
        }
        if caps.contains(Capabilities::CONNECT_ATTRS) {
            put_attributes(out, self.attributes.as_deref().unwrap_or_default());
        }
        if let Some(level) = self.zstd_level
            && caps.contains(Capabilities::ZSTD_COMPRESSION)
        {
            out.put_u8(level);
        }
        Ok(())
    }
}

/// The auth response, framed as `caps` say (length-encoded, one length byte, or NUL-terminated).
pub(crate) fn read_auth_response(
    r: &mut Reader<'_>,
    caps: Capabilities,
) -> Result<Secret, CodecError> {
    let data = if caps.contains(Capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        r.lenenc_bytes("auth response")?
    } else if caps.contains(Capabilities::SECURE_CONNECTION) {
        let len = usize::from(r.u8("auth response")?);
        r.take(len, "auth response")?
    } else {
        r.nul("auth response")?
    };
    Ok(Secret::new(data))
}

pub(crate) fn put_auth_response(
    out: &mut BytesMut,
    caps: Capabilities,
    data: &[u8],
    message: &'static str,
) -> Result<(), CodecError> {
    if caps.contains(Capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        put_lenenc_bytes(out, data);
    } else if caps.contains(Capabilities::SECURE_CONNECTION) {
        let len = u8::try_from(data.len()).map_err(|_| CodecError::Invalid {
            message,
            field: "auth response length",
        })?;
        out.put_u8(len);
        out.put_slice(data);
    } else {
        put_nul(out, data, message, "auth response")?;
    }
    Ok(())
}

/// Connection attributes: a length-encoded block of length-encoded key/value strings.
pub(crate) fn read_attributes(r: &mut Reader<'_>) -> Result<Attributes, CodecError> {
    let block = r.lenenc_bytes("connection attributes")?;
    let mut a = Reader::new(block, "connection attributes");
    let mut out = Vec::new();
    while !a.is_empty() {
        let key = a.lenenc_bytes("attribute name")?.to_vec();
        let value = a.lenenc_bytes("attribute value")?.to_vec();
        out.push((key, value));
    }
    Ok(out)
}

pub(crate) fn put_attributes(out: &mut BytesMut, attributes: &[(Vec<u8>, Vec<u8>)]) {
    let mut block = BytesMut::new();
    for (key, value) in attributes {
        put_lenenc_bytes(&mut block, key);
        put_lenenc_bytes(&mut block, value);
    }
    put_lenenc(out, block.len() as u64);
    out.put_slice(&block);
}
