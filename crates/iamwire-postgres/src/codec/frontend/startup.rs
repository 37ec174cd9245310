//! StartupMessage and protocol versions.

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::codec::wire::{Body, put_cstr, write_untagged};
use crate::codec::{CodecError, Limits};

const MESSAGE: &str = "StartupMessage";

/// A protocol version as carried by StartupMessage: major in the high 16 bits, minor in the low.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    major: u16,
    minor: u16,
}

impl ProtocolVersion {
    /// Protocol 3.0, spoken by every server since PostgreSQL 7.4 (and by Redshift).
    pub const V3_0: Self = Self::new(3, 0);
    /// Protocol 3.2 (PostgreSQL 18: longer cancel keys).
    pub const V3_2: Self = Self::new(3, 2);

    /// The version `major.minor`.
    #[must_use]
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// The version carried in a 32-bit code.
    #[must_use]
    pub const fn from_code(code: i32) -> Self {
        let [a, b, c, d] = code.to_be_bytes();
        Self::new(u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]))
    }

    /// The 32-bit code on the wire.
    #[must_use]
    pub const fn code(self) -> i32 {
        let [a, b] = self.major.to_be_bytes();
        let [c, d] = self.minor.to_be_bytes();
        i32::from_be_bytes([a, b, c, d])
    }

    /// Major version.
    #[must_use]
    pub const fn major(self) -> u16 {
        self.major
    }

    /// Minor version.
    #[must_use]
    pub const fn minor(self) -> u16 {
        self.minor
    }
}

impl fmt::Debug for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A StartupMessage: the protocol version the client asks for and its connection parameters, in
/// the order sent. Always holds a non-empty `user`; names are unique and non-empty, and no name
/// or value holds a NUL byte.
///
/// A minor version above what the server speaks is kept as requested, so that the handshake can
/// answer with NegotiateProtocolVersion. Options named `_pq_.*` are protocol extensions; see
/// [`StartupMessage::protocol_options`].
///
/// `Debug` shows every parameter except one named `password`.
#[derive(Clone, PartialEq, Eq)]
pub struct StartupMessage {
    version: ProtocolVersion,
    parameters: Vec<(String, String)>,
}

impl StartupMessage {
    /// A protocol 3.0 StartupMessage for `user`, with no other parameter.
    ///
    /// # Errors
    /// [`CodecError::MissingUser`] if `user` is empty, [`CodecError::NulInString`] if it holds a
    /// NUL byte.
    pub fn new(user: impl Into<String>) -> Result<Self, CodecError> {
        let user = user.into();
        check_value("user", &user)?;
        Ok(Self {
            version: ProtocolVersion::V3_0,
            parameters: vec![("user".to_owned(), user)],
        })
    }

    /// Adds (or replaces) a parameter, builder style.
    ///
    /// # Errors
    /// As [`StartupMessage::set`].
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Result<Self, CodecError> {
        self.set(name, value)?;
        Ok(self)
    }

    /// The requested protocol version.
    #[must_use]
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Changes the requested protocol version.
    ///
    /// # Errors
    /// [`CodecError::UnsupportedProtocolVersion`] unless the major version is 3.
    pub fn set_version(&mut self, version: ProtocolVersion) -> Result<(), CodecError> {
        check_version(version)?;
        self.version = version;
        Ok(())
    }

    /// The database user the client asks for.
    #[must_use]
    pub fn user(&self) -> &str {
        self.get("user").unwrap_or_default()
    }

    /// The database the client asks for; PostgreSQL defaults it to the user name.
    #[must_use]
    pub fn database(&self) -> Option<&str> {
        self.get("database")
    }

    /// The value of parameter `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All parameters, in the order sent.
    pub fn parameters(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parameters
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The protocol extension options (names starting with `_pq_.`), in the order sent. A server
    /// lists those it does not know in NegotiateProtocolVersion.
    pub fn protocol_options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parameters().filter(|(n, _)| n.starts_with("_pq_."))
    }

    /// Sets parameter `name`: replaces its value in place, or appends it. Returns the old value.
    ///
    /// # Errors
    /// [`CodecError::EmptyName`], [`CodecError::NulInString`], or [`CodecError::MissingUser`]
    /// when setting `user` to the empty string.
    pub fn set(
        &mut self,
        name: &str,
        value: impl Into<String>,
    ) -> Result<Option<String>, CodecError> {
        let value = value.into();
        check_name(name)?;
        check_value(name, &value)?;
        if let Some((_, old)) = self.parameters.iter_mut().find(|(n, _)| n == name) {
            return Ok(Some(std::mem::replace(old, value)));
        }
        self.parameters.push((name.to_owned(), value));
        Ok(None)
    }

    /// Removes parameter `name`, returning its value.
    ///
    /// # Errors
    /// [`CodecError::MissingUser`] for `user`, which is required.
    pub fn remove(&mut self, name: &str) -> Result<Option<String>, CodecError> {
        if name == "user" {
            return Err(CodecError::MissingUser);
        }
        let index = self.parameters.iter().position(|(n, _)| n == name);
        Ok(index.map(|i| self.parameters.remove(i).1))
    }

    /// Decodes the body after the version code.
    pub(crate) fn decode_body(
        version: ProtocolVersion,
        body: &mut Body,
        limits: &Limits,
    ) -> Result<Self, CodecError> {
        check_version(version)?;
        let mut parameters: Vec<(String, String)> = Vec::new();
        loop {
            let name = body.cstr("parameter name")?;
            if name.is_empty() {
                break;
            }
            if parameters.len() >= limits.max_parameters {
                return Err(CodecError::TooManyItems {
                    message: MESSAGE,
                    what: "parameters",
                    max: limits.max_parameters,
                });
            }
            let value = body.cstr("parameter value")?;
            if parameters.iter().any(|(n, _)| *n == name) {
                return Err(CodecError::DuplicateParameter { name });
            }
            parameters.push((name, value));
        }
        let message = Self {
            version,
            parameters,
        };
        if message.user().is_empty() {
            return Err(CodecError::MissingUser);
        }
        Ok(message)
    }

    /// Appends the wire form to `buf`.
    pub(crate) fn encode(&self, buf: &mut BytesMut) -> Result<(), CodecError> {
        write_untagged(buf, MESSAGE, |b| {
            b.put_i32(self.version.code());
            for (name, value) in &self.parameters {
                put_cstr(b, name.as_bytes(), MESSAGE, "parameter name")?;
                put_cstr(b, value.as_bytes(), MESSAGE, "parameter value")?;
            }
            b.put_u8(0);
            Ok(())
        })
    }
}

fn check_version(version: ProtocolVersion) -> Result<(), CodecError> {
    if version.major() == 3 {
        Ok(())
    } else {
        Err(CodecError::UnsupportedProtocolVersion {
            major: version.major(),
            minor: version.minor(),
        })
    }
}

fn check_name(name: &str) -> Result<(), CodecError> {
    if name.is_empty() {
        return Err(CodecError::EmptyName {
            message: MESSAGE,
            field: "parameter name",
        });
    }
    if name.contains('\0') {
        return Err(CodecError::NulInString {
            message: MESSAGE,
            field: "parameter name",
        });
    }
    Ok(())
}

fn check_value(name: &str, value: &str) -> Result<(), CodecError> {
    if value.contains('\0') {
        return Err(CodecError::NulInString {
            message: MESSAGE,
            field: "parameter value",
        });
    }
    if name == "user" && value.is_empty() {
        return Err(CodecError::MissingUser);
    }
    Ok(())
}

impl fmt::Debug for StartupMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Parameters<'a>(&'a [(String, String)]);
        impl fmt::Debug for Parameters<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut map = f.debug_map();
                for (name, value) in self.0 {
                    if name.eq_ignore_ascii_case("password") {
                        map.entry(name, &format_args!("** redacted **"));
                    } else {
                        map.entry(name, value);
                    }
                }
                map.finish()
            }
        }
        f.debug_struct("StartupMessage")
            .field("version", &self.version)
            .field("parameters", &Parameters(&self.parameters))
            .finish()
    }
}
