//! Differential tests against code we did not write: mysql_common (the codec under mysql_async)
//! parses what the proxy encodes, the proxy parses what mysql_common encodes, and the password
//! plugins' hashes match mysql_common's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use bytes::BytesMut;
use iamwire_core::Secret;
use iamwire_mysql::auth::{caching_sha2_password, native_password};
use iamwire_mysql::codec::{Capabilities, ChangeUser, ErrPacket, Handshake, HandshakeResponse};
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    AuthPlugin, ComChangeUser, ComChangeUserMoreData, HandshakePacket,
    HandshakeResponse as TheirResponse,
};
use mysql_common::proto::{MyDeserialize, MySerialize};
use proptest::prelude::*;

fn caps(ours: Capabilities) -> CapabilityFlags {
    CapabilityFlags::from_bits_retain(ours.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mysql_common_reads_our_handshake_response(
        user in "[a-z_]{1,16}",
        auth in proptest::collection::vec(any::<u8>(), 0..64),
        database in proptest::option::of("[a-z_]{1,16}"),
        attrs in proptest::collection::btree_map("[a-z_]{1,8}", "[a-z0-9 ]{0,20}", 0..4),
        lenenc in any::<bool>(),
    ) {
        let mut ours = Capabilities::PROTOCOL_41
            | Capabilities::SECURE_CONNECTION
            | Capabilities::PLUGIN_AUTH
            | Capabilities::CONNECT_ATTRS
            | Capabilities::CONNECT_WITH_DB;
        if lenenc {
            ours = ours | Capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA;
        }
        let response = HandshakeResponse {
            capabilities: ours,
            max_packet: 16 << 20,
            charset: 45,
            mariadb_capabilities: 0,
            user: user.clone(),
            auth_response: Secret::new(auth.clone()),
            database: database.clone(),
            auth_plugin: Some("mysql_native_password".into()),
            attributes: Some(attrs.iter().map(|(k, v)| (k.clone().into_bytes(), v.clone().into_bytes())).collect()),
            zstd_level: None,
        };
        let mut out = BytesMut::new();
        response.encode(&mut out).unwrap();
        let theirs = TheirResponse::deserialize((), &mut ParseBuf(&out)).unwrap();
        prop_assert_eq!(theirs.user(), user.as_bytes());
        prop_assert_eq!(theirs.scramble_buf(), &auth[..]);
        prop_assert_eq!(theirs.db_name().unwrap_or_default(), database.as_deref().unwrap_or_default().as_bytes());
        prop_assert_eq!(theirs.auth_plugin(), Some(&AuthPlugin::MysqlNativePassword));
        prop_assert_eq!(theirs.capabilities(), caps(ours));
        let their_attrs: HashMap<String, String> = theirs.connect_attributes().unwrap_or_default();
        prop_assert_eq!(their_attrs, attrs.into_iter().collect::<HashMap<_, _>>());
    }

    #[test]
    fn we_read_mysql_commons_handshake_response(
        user in "[a-z_]{1,16}",
        auth in proptest::collection::vec(any::<u8>(), 0..64),
        database in proptest::option::of("[a-z_]{1,16}"),
        attrs in proptest::collection::hash_map("[a-z_]{1,8}", "[a-z0-9 ]{0,20}", 0..4),
    ) {
        let flags = CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
            | CapabilityFlags::CLIENT_CONNECT_ATTRS
            | CapabilityFlags::CLIENT_CONNECT_WITH_DB
            | CapabilityFlags::CLIENT_SSL;
        let theirs = TheirResponse::new(
            Some(auth.clone()),
            (8, 0, 36),
            Some(user.clone().into_bytes()),
            database.clone().map(String::into_bytes),
            Some(AuthPlugin::CachingSha2Password),
            flags,
            Some(attrs.clone()),
            1 << 24,
        );
        let mut wire = Vec::new();
        theirs.serialize(&mut wire);
        let ours = HandshakeResponse::decode(&wire).unwrap();
        prop_assert_eq!(&ours.user, &user);
        prop_assert_eq!(ours.auth_response.expose(), &auth[..]);
        prop_assert_eq!(ours.database, database);
        prop_assert_eq!(ours.auth_plugin.as_deref(), Some("caching_sha2_password"));
        let got: HashMap<String, String> = ours.attributes.unwrap().into_iter()
            .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
            .collect();
        prop_assert_eq!(got, attrs);
        prop_assert_eq!(ours.capabilities.0, theirs.capabilities().bits());
    }

    #[test]
    fn greetings_both_ways(id in any::<u32>(), nonce in proptest::collection::vec(1u8..=127, 20)) {
        let flags = Capabilities::DEFAULT_OFFER;
        let greeting = Handshake {
            server_version: "8.0.0-iamwire".into(),
            connection_id: id,
            auth_data: nonce.clone(),
            capabilities: flags,
            charset: 45,
            status: 2,
            mariadb_capabilities: 0,
            auth_plugin: Some("caching_sha2_password".into()),
        };
        let mut out = BytesMut::new();
        greeting.encode(&mut out).unwrap();
        let theirs = HandshakePacket::deserialize((), &mut ParseBuf(&out)).unwrap();
        prop_assert_eq!(theirs.connection_id(), id);
        prop_assert_eq!(theirs.nonce(), nonce.clone());
        prop_assert_eq!(theirs.capabilities(), caps(flags));
        prop_assert_eq!(theirs.auth_plugin(), Some(AuthPlugin::CachingSha2Password));
        prop_assert_eq!(theirs.server_version_parsed(), Some((8, 0, 0)));

        // And theirs to us: the second part of the nonce goes with its NUL.
        let mut part2 = nonce[8..].to_vec();
        part2.push(0);
        let packet = HandshakePacket::new(
            10, &b"10.11.6-MariaDB"[..], id, nonce[..8].try_into().unwrap(), Some(part2),
            caps(flags), 45, StatusFlags::SERVER_STATUS_AUTOCOMMIT, Some(&b"mysql_native_password"[..]),
        );
        let mut wire = Vec::new();
        packet.serialize(&mut wire);
        let ours = Handshake::decode(&wire).unwrap();
        prop_assert_eq!(ours.auth_data, nonce);
        prop_assert_eq!(ours.connection_id, id);
        prop_assert_eq!(ours.auth_plugin.as_deref(), Some("mysql_native_password"));
    }

    #[test]
    fn change_user_from_mysql_common(
        user in "[a-z_]{1,16}",
        auth in proptest::collection::vec(any::<u8>(), 0..40),
        database in "[a-z_]{0,16}",
    ) {
        let flags = CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_CONNECT_ATTRS;
        let theirs = ComChangeUser::new()
            .with_user(Some(user.clone().into_bytes()))
            .with_auth_plugin_data(Some(auth.clone()))
            .with_database(Some(database.clone().into_bytes()))
            .with_more_data(Some(
                ComChangeUserMoreData::new(45).with_auth_plugin(Some(AuthPlugin::MysqlNativePassword)),
            ));
        let mut wire = Vec::new();
        theirs.serialize(&mut wire);
        let ours = ChangeUser::decode(&wire, Capabilities(flags.bits())).unwrap();
        prop_assert_eq!(ours.user, user);
        prop_assert_eq!(ours.auth_response.expose(), &auth[..]);
        prop_assert_eq!(ours.database, Some(database).filter(|d| !d.is_empty()));
        prop_assert_eq!(ours.charset, Some(45));
        prop_assert_eq!(ours.auth_plugin.as_deref(), Some("mysql_native_password"));
    }

    #[test]
    fn password_hashes_match_mysql_common(
        password in proptest::collection::vec(any::<u8>(), 1..40),
        nonce in proptest::collection::vec(any::<u8>(), 20),
    ) {
        let native = mysql_common::scramble::scramble_native(&nonce, &password).unwrap();
        prop_assert_eq!(native_password(&password, &nonce), native.to_vec());
        let sha2 = mysql_common::scramble::scramble_sha256(&nonce, &password).unwrap();
        prop_assert_eq!(caching_sha2_password(&password, &nonce), sha2.to_vec());
    }
}

#[test]
fn mysql_common_reads_our_errors() {
    let err = ErrPacket::new(1045, "28000", "Access denied for user 'x'");
    let mut out = BytesMut::new();
    err.encode(&mut out, Capabilities::PROTOCOL_41);
    let theirs = mysql_common::packets::ErrPacket::deserialize(
        CapabilityFlags::CLIENT_PROTOCOL_41,
        &mut ParseBuf(&out),
    )
    .unwrap();
    let mysql_common::packets::ErrPacket::Error(theirs) = theirs else {
        panic!("an error, not a progress report");
    };
    assert_eq!(theirs.error_code(), 1045);
    assert_eq!(theirs.sql_state_ref().unwrap().as_str(), "28000");
    assert_eq!(theirs.message_str(), "Access denied for user 'x'");
}
