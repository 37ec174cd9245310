//! Capability flags, and which of them the proxy offers, negotiates per hop, or needs both hops to
//! agree on.

use std::fmt;
use std::ops::{BitAnd, BitOr, Not};

/// A set of capability flags (`CLIENT_*`), as sent in the greeting and the handshake response.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(pub u32);

macro_rules! flags {
    ($($(#[$doc:meta])* $name:ident = $bit:expr;)+) => {
        impl Capabilities {
            $($(#[$doc])* pub const $name: Self = Self(1 << $bit);)+
            const NAMES: &'static [(&'static str, u32)] = &[$((stringify!($name), 1 << $bit)),+];
        }
    };
}

flags! {
    /// `CLIENT_LONG_PASSWORD` (MySQL servers set it; MariaDB servers leave it clear to say "MariaDB").
    LONG_PASSWORD = 0;
    /// `CLIENT_FOUND_ROWS`: affected rows count found rows.
    FOUND_ROWS = 1;
    /// `CLIENT_LONG_FLAG`.
    LONG_FLAG = 2;
    /// `CLIENT_CONNECT_WITH_DB`: the handshake response names a database.
    CONNECT_WITH_DB = 3;
    /// `CLIENT_NO_SCHEMA`.
    NO_SCHEMA = 4;
    /// `CLIENT_COMPRESS`: zlib compression (never offered by the proxy).
    COMPRESS = 5;
    /// `CLIENT_ODBC`.
    ODBC = 6;
    /// `CLIENT_LOCAL_FILES`: `LOAD DATA LOCAL`.
    LOCAL_FILES = 7;
    /// `CLIENT_IGNORE_SPACE`.
    IGNORE_SPACE = 8;
    /// `CLIENT_PROTOCOL_41`: the 4.1 protocol (required by the proxy).
    PROTOCOL_41 = 9;
    /// `CLIENT_INTERACTIVE`.
    INTERACTIVE = 10;
    /// `CLIENT_SSL`: TLS.
    SSL = 11;
    /// `CLIENT_IGNORE_SIGPIPE`.
    IGNORE_SIGPIPE = 12;
    /// `CLIENT_TRANSACTIONS`.
    TRANSACTIONS = 13;
    /// `CLIENT_RESERVED`.
    RESERVED = 14;
    /// `CLIENT_SECURE_CONNECTION` (`RESERVED2`): a length byte before the auth response.
    SECURE_CONNECTION = 15;
    /// `CLIENT_MULTI_STATEMENTS`.
    MULTI_STATEMENTS = 16;
    /// `CLIENT_MULTI_RESULTS`.
    MULTI_RESULTS = 17;
    /// `CLIENT_PS_MULTI_RESULTS`.
    PS_MULTI_RESULTS = 18;
    /// `CLIENT_PLUGIN_AUTH`: auth plugins, AuthSwitchRequest.
    PLUGIN_AUTH = 19;
    /// `CLIENT_CONNECT_ATTRS`: connection attributes.
    CONNECT_ATTRS = 20;
    /// `CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA`: a length-encoded auth response.
    PLUGIN_AUTH_LENENC_CLIENT_DATA = 21;
    /// `CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS`.
    CAN_HANDLE_EXPIRED_PASSWORDS = 22;
    /// `CLIENT_SESSION_TRACK`: session state in OK packets.
    SESSION_TRACK = 23;
    /// `CLIENT_DEPRECATE_EOF`: OK instead of EOF at the end of result sets.
    DEPRECATE_EOF = 24;
    /// `CLIENT_OPTIONAL_RESULTSET_METADATA`.
    OPTIONAL_RESULTSET_METADATA = 25;
    /// `CLIENT_ZSTD_COMPRESSION_ALGORITHM` (never offered by the proxy).
    ZSTD_COMPRESSION = 26;
    /// `CLIENT_QUERY_ATTRIBUTES` (not offered: query attributes come before the statement text the
    /// relay must read).
    QUERY_ATTRIBUTES = 27;
    /// `MULTI_FACTOR_AUTHENTICATION` (not offered).
    MULTI_FACTOR_AUTHENTICATION = 28;
    /// `CLIENT_CAPABILITY_EXTENSION`.
    CAPABILITY_EXTENSION = 29;
    /// `CLIENT_SSL_VERIFY_SERVER_CERT` (client-side only).
    SSL_VERIFY_SERVER_CERT = 30;
    /// `CLIENT_REMEMBER_OPTIONS` (client-side only).
    REMEMBER_OPTIONS = 31;
}

impl Capabilities {
    /// No flags.
    pub const NONE: Self = Self(0);

    /// Flags the proxy can carry through its relay when the database has them too. Compression is
    /// not among them (the relay reads commands), nor query attributes (they come before the
    /// statement text), nor multi-factor authentication.
    pub const RELAYABLE: Self = Self(
        Self::LONG_PASSWORD.0
            | Self::FOUND_ROWS.0
            | Self::LONG_FLAG.0
            | Self::CONNECT_WITH_DB.0
            | Self::NO_SCHEMA.0
            | Self::ODBC.0
            | Self::LOCAL_FILES.0
            | Self::IGNORE_SPACE.0
            | Self::PROTOCOL_41.0
            | Self::INTERACTIVE.0
            | Self::SSL.0
            | Self::IGNORE_SIGPIPE.0
            | Self::TRANSACTIONS.0
            | Self::RESERVED.0
            | Self::SECURE_CONNECTION.0
            | Self::MULTI_STATEMENTS.0
            | Self::MULTI_RESULTS.0
            | Self::PS_MULTI_RESULTS.0
            | Self::PLUGIN_AUTH.0
            | Self::CONNECT_ATTRS.0
            | Self::PLUGIN_AUTH_LENENC_CLIENT_DATA.0
            | Self::CAN_HANDLE_EXPIRED_PASSWORDS.0
            | Self::SESSION_TRACK.0
            | Self::DEPRECATE_EOF.0
            | Self::OPTIONAL_RESULTSET_METADATA.0,
    );

    /// Flags each hop of the proxy settles on its own (TLS, how auth data is framed, whether a
    /// database or attributes are sent): the proxy always offers them to clients.
    pub const PER_HOP: Self = Self(
        Self::CONNECT_WITH_DB.0
            | Self::SSL.0
            | Self::SECURE_CONNECTION.0
            | Self::PLUGIN_AUTH.0
            | Self::CONNECT_ATTRS.0
            | Self::PLUGIN_AUTH_LENENC_CLIENT_DATA.0
            | Self::PROTOCOL_41.0,
    );

    /// Flags that change the format of what the database sends: if the client has one, the
    /// database's hop must have it too, or the relay would hand the client packets it cannot read.
    pub const FORMAT: Self = Self(
        Self::PROTOCOL_41.0
            | Self::DEPRECATE_EOF.0
            | Self::SESSION_TRACK.0
            | Self::OPTIONAL_RESULTSET_METADATA.0,
    );

    /// What the proxy offers clients before it has seen the database: what MySQL 5.7+, MySQL 8,
    /// Aurora and MariaDB 10.2+ all have.
    pub const DEFAULT_OFFER: Self = Self(
        Self::LONG_PASSWORD.0
            | Self::FOUND_ROWS.0
            | Self::LONG_FLAG.0
            | Self::NO_SCHEMA.0
            | Self::ODBC.0
            | Self::LOCAL_FILES.0
            | Self::IGNORE_SPACE.0
            | Self::INTERACTIVE.0
            | Self::IGNORE_SIGPIPE.0
            | Self::TRANSACTIONS.0
            | Self::RESERVED.0
            | Self::MULTI_STATEMENTS.0
            | Self::MULTI_RESULTS.0
            | Self::PS_MULTI_RESULTS.0
            | Self::CAN_HANDLE_EXPIRED_PASSWORDS.0
            | Self::SESSION_TRACK.0
            | Self::DEPRECATE_EOF.0
            | Self::PER_HOP.0,
    );

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// This set with `other`'s flags set (`on`) or cleared.
    #[must_use]
    pub fn with(self, other: Self, on: bool) -> Self {
        if on { self | other } else { self & !other }
    }
}

impl BitOr for Capabilities {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitAnd for Capabilities {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl Not for Capabilities {
    type Output = Self;
    fn not(self) -> Self {
        Self(!self.0)
    }
}

impl fmt::Debug for Capabilities {
    /// The flags by name: `PROTOCOL_41 | SSL | ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Self::NAMES
            .iter()
            .filter(|(_, bit)| self.0 & bit != 0)
            .map(|(name, _)| *name)
            .collect();
        if names.is_empty() {
            f.write_str("NONE")
        } else {
            f.write_str(&names.join(" | "))
        }
    }
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_nest_as_documented() {
        assert!(Capabilities::RELAYABLE.contains(Capabilities::DEFAULT_OFFER));
        assert!(Capabilities::RELAYABLE.contains(Capabilities::PER_HOP));
        assert!(Capabilities::RELAYABLE.contains(Capabilities::FORMAT));
        for never in [
            Capabilities::COMPRESS,
            Capabilities::ZSTD_COMPRESSION,
            Capabilities::QUERY_ATTRIBUTES,
            Capabilities::MULTI_FACTOR_AUTHENTICATION,
        ] {
            assert!(!Capabilities::RELAYABLE.intersects(never), "{never:?}");
        }
        assert_eq!(
            format!("{:?}", Capabilities::SSL | Capabilities::PROTOCOL_41),
            "PROTOCOL_41 | SSL"
        );
    }
}
