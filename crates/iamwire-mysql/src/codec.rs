//! The MySQL client/server protocol as far as a proxy needs it, sans-IO: packet framing with
//! sequence ids and the 16 MiB multi-packet rule ([`PacketDecoder`], [`put_packet`]), the connection
//! phase ([`Handshake`], [`SslRequest`], [`HandshakeResponse`]), the auth exchange
//! ([`ServerAuth`], [`AuthSwitchRequest`]), the generic replies ([`OkPacket`], [`ErrPacket`],
//! [`EofPacket`]), the commands the proxy guards ([`ChangeUser`], `COM_INIT_DB`, the first statement
//! of a `COM_QUERY`), and what the relay follows in both streams ([`CommandSplitter`],
//! [`ResponseScanner`]).
//!
//! Lengths are checked on the header, against [`Limits`], before a payload is waited for; nothing a
//! peer sends can make a decoder panic (each has a fuzz target).
//!
//! ```
//! use bytes::BytesMut;
//! use iamwire_mysql::codec::{ErrPacket, PacketDecoder, Capabilities, put_packet};
//!
//! let mut wire = BytesMut::new();
//! let mut payload = BytesMut::new();
//! ErrPacket::new(1045, "28000", "Access denied").encode(&mut payload, Capabilities::PROTOCOL_41);
//! put_packet(&mut wire, 2, &payload);
//! let packet = PacketDecoder::new(1024, "reply", 2).decode(&mut wire)?.expect("a whole packet");
//! assert_eq!(ErrPacket::decode(&packet.payload)?.sql_state(), "28000");
//! # Ok::<(), iamwire_mysql::codec::CodecError>(())
//! ```

mod caps;
mod command;
mod error;
mod generic;
mod handshake;
mod packet;
mod scan;
mod statement;
mod wire;

pub use caps::Capabilities;
pub use command::{
    COM_CHANGE_USER, COM_INIT_DB, COM_PING, COM_QUERY, COM_QUIT, COM_RESET_CONNECTION,
    COM_STMT_PREPARE, ChangeUser,
};
pub use error::CodecError;
pub use generic::{
    AuthSwitchRequest, EofPacket, ErrPacket, OkPacket, SERVER_MORE_RESULTS_EXISTS,
    SERVER_SESSION_STATE_CHANGED, SERVER_STATUS_AUTOCOMMIT, ServerAuth, put_auth_more_data,
};
pub use handshake::{
    Attributes, ClientHello, Handshake, HandshakeResponse, SSL_REQUEST_LEN, SslRequest,
};
pub use packet::{HEADER_LEN, MAX_PAYLOAD, Packet, PacketDecoder, header, put_packet};
pub use scan::{CommandSplitter, ResponseScanner, Seen, Split};
pub use statement::{Statement, classify};

/// Caps on what a peer may make the proxy buffer. A header that declares more is refused before any
/// of its payload is waited for.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest packet of the connection phase, either side (greeting, handshake response, auth
    /// packets). Default 64 KiB: MySQL caps connection attributes at 64 KiB.
    pub handshake_packet: usize,
    /// How much of a `COM_QUERY` the relay reads before passing it on, to find a leading `KILL` or
    /// `USE`. Default 16 KiB.
    pub statement_window: usize,
    /// Largest command the relay reads whole (`COM_CHANGE_USER`, `COM_INIT_DB`, a `KILL`); a longer
    /// one is refused. Default 64 KiB.
    pub whole_command: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_packet: 64 * 1024,
            statement_window: 16 * 1024,
            whole_command: 64 * 1024,
        }
    }
}

/// Decode arbitrary bytes as everything a client can send the proxy: framing, the first packet, a
/// handshake response, a COM_CHANGE_USER, a statement, the relay's command splitter. Never panics.
#[doc(hidden)]
pub fn fuzz_client(data: &[u8]) {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let caps = Capabilities(u32::from(flags) << 15 | Capabilities::PROTOCOL_41.0);
    let mut buf = bytes::BytesMut::from(data);
    let mut decoder = PacketDecoder::new(4096, "fuzz", data.get(3).copied().unwrap_or(0));
    while let Ok(Some(packet)) = decoder.decode(&mut buf) {
        let _ = ClientHello::decode(&packet.payload);
        let _ = ChangeUser::decode(&packet.payload, caps);
    }
    let _ = HandshakeResponse::decode(data);
    let _ = ChangeUser::decode(data, caps);
    let _ = classify(data);
    let mut splitter = CommandSplitter::new(usize::from(flags) + 1);
    let mut rest = data;
    for _ in 0..=data.len() {
        match splitter.next(rest) {
            Split::Forward(n) | Split::Discard(n) => rest = &rest[n..],
            Split::Command { cmd, len } => match cmd % 3 {
                0 => splitter.pass(len),
                1 => splitter.discard(len),
                _ => {
                    splitter.taken();
                    rest = rest.get(HEADER_LEN + len..).unwrap_or_default();
                }
            },
            Split::NeedMore => break,
        }
    }
}

/// Decode arbitrary bytes as everything a database can send the proxy: the greeting, auth packets,
/// OK/ERR/EOF, each as a bare payload and packet by packet, and the relay's response scanner. Never
/// panics; a greeting or ERR that decodes re-encodes to bytes that decode the same.
#[doc(hidden)]
pub fn fuzz_server(data: &[u8]) {
    fuzz_server_payload(data);
    let mut buf = bytes::BytesMut::from(data);
    let mut decoder = PacketDecoder::new(4096, "fuzz", data.get(3).copied().unwrap_or(0));
    while let Ok(Some(packet)) = decoder.decode(&mut buf) {
        fuzz_server_payload(&packet.payload);
    }
    let mut whole = ResponseScanner::default();
    whole.advance(data);
    let at = data.len() / 2;
    let mut pieces = ResponseScanner::default();
    pieces.advance(&data[..at]);
    if let Some(end) = pieces.packet_end(&data[at..]) {
        assert!(end <= data.len() - at, "a packet end past the bytes given");
    }
    pieces.advance(&data[at..]);
    assert_eq!(whole.between_packets(), pieces.between_packets());
    assert_eq!(whole.last_seq(), pieces.last_seq());
    assert_eq!(whole.at_rest(), pieces.at_rest());
}

fn fuzz_server_payload(data: &[u8]) {
    if let Ok(greeting) = Handshake::decode(data) {
        let mut out = bytes::BytesMut::new();
        if greeting.encode(&mut out).is_ok() {
            let again = Handshake::decode(&out);
            assert_eq!(again.as_ref().ok(), Some(&greeting), "greeting re-encodes");
        }
    }
    let _ = ServerAuth::decode(data);
    let caps = Capabilities(u32::from(data.first().copied().unwrap_or(0)) << 16)
        | Capabilities::PROTOCOL_41;
    let _ = OkPacket::decode(data, caps);
    if let Ok(err) = ErrPacket::decode(data) {
        let mut out = bytes::BytesMut::new();
        err.encode(&mut out, Capabilities::PROTOCOL_41);
        let again = ErrPacket::decode(&out).ok();
        assert_eq!(
            again.map(|e| (e.code, e.message)),
            Some((err.code, err.message))
        );
    }
    let _ = EofPacket::decode(data);
}
