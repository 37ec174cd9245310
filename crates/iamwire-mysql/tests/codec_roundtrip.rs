//! Property tests: every message the proxy encodes decodes to itself, framing splits and joins any
//! payload at any size, and arbitrary bytes never make a decoder (or the relay's followers, or the
//! auth exchanges) panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use iamwire_core::Secret;
use iamwire_mysql::codec::{
    Capabilities, ChangeUser, ErrPacket, Handshake, HandshakeResponse, OkPacket, PacketDecoder,
    SERVER_SESSION_STATE_CHANGED, put_packet,
};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_@.-]{0,24}"
}

fn attributes() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    proptest::collection::vec(
        (
            proptest::collection::vec(any::<u8>(), 0..20),
            proptest::collection::vec(any::<u8>(), 0..300),
        ),
        0..6,
    )
}

prop_compose! {
    fn response()(
        flags in any::<u32>(),
        max_packet in any::<u32>(),
        charset in any::<u8>(),
        mariadb in any::<u32>(),
        user in name(),
        auth in proptest::collection::vec(any::<u8>(), 0..255),
        database in proptest::option::of("[a-z_]{1,16}"),
        plugin in "[a-z_0-9]{0,24}",
        attrs in attributes(),
        zstd in any::<u8>(),
    ) -> HandshakeResponse {
        let mut caps = Capabilities(flags) | Capabilities::PROTOCOL_41;
        if !caps.intersects(Capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA | Capabilities::SECURE_CONNECTION) {
            caps = caps | Capabilities::SECURE_CONNECTION; // a NUL-terminated response cannot hold NULs
        }
        let has = |c| caps.contains(c);
        HandshakeResponse {
            capabilities: caps,
            max_packet,
            charset,
            mariadb_capabilities: mariadb,
            user,
            auth_response: Secret::new(auth),
            database: database.filter(|_| has(Capabilities::CONNECT_WITH_DB)),
            auth_plugin: Some(plugin).filter(|_| has(Capabilities::PLUGIN_AUTH)),
            attributes: Some(attrs).filter(|_| has(Capabilities::CONNECT_ATTRS)),
            zstd_level: Some(zstd).filter(|_| has(Capabilities::ZSTD_COMPRESSION)),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn handshake_response_round_trips(r in response()) {
        let mut out = BytesMut::new();
        r.encode(&mut out).unwrap();
        let back = HandshakeResponse::decode(&out).unwrap();
        // A plugin name or attributes after an empty database read back the same way they went out.
        let mut want = r.clone();
        if want.capabilities.contains(Capabilities::PLUGIN_AUTH) && want.auth_plugin.is_none() {
            want.auth_plugin = Some(String::new());
        }
        if want.capabilities.contains(Capabilities::CONNECT_ATTRS) && want.attributes.is_none() {
            want.attributes = Some(Vec::new());
        }
        prop_assert_eq!(back, want);
    }

    #[test]
    fn greeting_round_trips(
        version in "[0-9a-zA-Z.+-]{1,40}",
        id in any::<u32>(),
        nonce in proptest::collection::vec(1u8..=255, 20..=40),
        flags in any::<u32>(),
        charset in any::<u8>(),
        status in any::<u16>(),
        mariadb in any::<u32>(),
        plugin in "[a-z_0-9]{1,24}",
    ) {
        let caps = Capabilities(flags)
            | Capabilities::PROTOCOL_41
            | Capabilities::SECURE_CONNECTION
            | Capabilities::PLUGIN_AUTH;
        let greeting = Handshake {
            server_version: version,
            connection_id: id,
            auth_data: nonce,
            capabilities: caps,
            charset,
            status,
            mariadb_capabilities: if caps.contains(Capabilities::LONG_PASSWORD) { 0 } else { mariadb },
            auth_plugin: Some(plugin),
        };
        let mut out = BytesMut::new();
        greeting.encode(&mut out).unwrap();
        prop_assert_eq!(Handshake::decode(&out).unwrap(), greeting);
    }

    #[test]
    fn change_user_round_trips(
        user in name(),
        auth in proptest::collection::vec(any::<u8>(), 0..255),
        database in proptest::option::of("[a-z_]{1,16}"),
        charset in any::<u16>(),
        plugin in "[a-z_0-9]{1,24}",
        attrs in attributes(),
        flags in any::<u32>(),
    ) {
        let caps = Capabilities(flags) | Capabilities::PROTOCOL_41 | Capabilities::SECURE_CONNECTION;
        let change = ChangeUser {
            user,
            auth_response: Secret::new(auth),
            database,
            charset: Some(charset),
            auth_plugin: Some(plugin).filter(|_| caps.contains(Capabilities::PLUGIN_AUTH)),
            attributes: Some(attrs).filter(|_| caps.contains(Capabilities::CONNECT_ATTRS)),
        };
        let mut out = BytesMut::new();
        change.encode(&mut out, caps).unwrap();
        let mut want = change.clone();
        if caps.contains(Capabilities::PLUGIN_AUTH) && want.auth_plugin.is_none() {
            want.auth_plugin = Some(String::new());
        }
        prop_assert_eq!(ChangeUser::decode(&out, caps).unwrap(), want);
    }

    #[test]
    fn ok_and_err_round_trip(
        rows in any::<u64>(),
        id in any::<u64>(),
        status in any::<u16>(),
        warnings in any::<u16>(),
        info in proptest::collection::vec(any::<u8>(), 0..64),
        state in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        track in any::<bool>(),
        code in any::<u16>(),
        sql_state in "[0-9A-Z]{5}",
        message in ".{0,80}",
    ) {
        let caps = if track { Capabilities::PROTOCOL_41 | Capabilities::SESSION_TRACK } else { Capabilities::PROTOCOL_41 };
        let status = if track && state.is_some() { status | SERVER_SESSION_STATE_CHANGED } else { status & !SERVER_SESSION_STATE_CHANGED };
        let ok = OkPacket {
            affected_rows: rows,
            last_insert_id: id,
            status,
            warnings,
            info,
            session_state: state.filter(|_| track),
        };
        let mut out = BytesMut::new();
        ok.encode(&mut out, caps);
        prop_assert_eq!(OkPacket::decode(&out, caps).unwrap(), ok);
        let err = ErrPacket::new(code, &sql_state, message);
        let mut out = BytesMut::new();
        err.encode(&mut out, Capabilities::PROTOCOL_41);
        prop_assert_eq!(ErrPacket::decode(&out).unwrap(), err);
    }

    #[test]
    fn framing_joins_what_it_split(len in 0usize..70_000, seq in any::<u8>(), at in any::<prop::sample::Index>()) {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut wire = BytesMut::new();
        let next = put_packet(&mut wire, seq, &payload);
        prop_assert_eq!(next, seq.wrapping_add(1));
        let at = at.index(wire.len() + 1);
        let mut decoder = PacketDecoder::new(1 << 20, "t", seq);
        let mut buf = BytesMut::from(&wire[..at]);
        let early = decoder.decode(&mut buf).unwrap();
        prop_assert!(early.is_none() || at == wire.len());
        buf.extend_from_slice(&wire[at..]);
        let packet = match early { Some(p) => p, None => decoder.decode(&mut buf).unwrap().unwrap() };
        prop_assert_eq!(&packet.payload[..], &payload[..]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        iamwire_mysql::fuzzing::client(&data);
        iamwire_mysql::fuzzing::server(&data);
        iamwire_mysql::fuzzing::auth(&data);
    }
}

#[test]
fn secrets_stay_out_of_debug() {
    let response = HandshakeResponse {
        capabilities: Capabilities::PROTOCOL_41,
        max_packet: 0,
        charset: 0,
        mariadb_capabilities: 0,
        user: "app".into(),
        auth_response: Secret::new("the-token-itself"),
        database: None,
        auth_plugin: None,
        attributes: None,
        zstd_level: None,
    };
    let shown = format!("{response:?}");
    assert!(!shown.contains("the-token-itself"), "{shown}");
    let mut wire = BytesMut::new();
    put_packet(&mut wire, 3, b"the-token-itself\0");
    let packet = PacketDecoder::new(100, "t", 3)
        .decode(&mut wire)
        .unwrap()
        .unwrap();
    assert!(!format!("{packet:?}").contains("token"));
}
