//! Split reads: real exchanges captured between the rig's MariaDB 10.11 and real clients (the
//! `mariadb` CLI and mysql_async; `tests/capture.rs` recorded them into the fuzz seeds), fed to the
//! decoders and to the relay's stream followers in two chunks at every split offset and one byte at a
//! time. The same packets, commands and packet boundaries must come out every time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use iamwire_core::Secret;
use iamwire_mysql::auth::{MYSQL_CLEAR_PASSWORD, MYSQL_NATIVE_PASSWORD};
use iamwire_mysql::codec::{
    COM_CHANGE_USER, COM_INIT_DB, COM_QUERY, COM_QUIT, Capabilities, ChangeUser, ClientHello,
    CommandSplitter, ErrPacket, Handshake, HandshakeResponse, PacketDecoder, ResponseScanner,
    ServerAuth, Split, Statement, classify, header,
};

macro_rules! seed {
    ($target:literal, $name:literal) => {
        include_bytes!(concat!("../../../fuzz/corpus/", $target, "/seed-", $name)).as_slice()
    };
}

const CAPTURES: [(&str, &[u8], &[u8]); 4] = [
    (
        "native-login-query",
        seed!("my_client", "native-login-query"),
        seed!("my_server", "native-login-query"),
    ),
    (
        "init-db-kill",
        seed!("my_client", "init-db-kill"),
        seed!("my_server", "init-db-kill"),
    ),
    (
        "clear-password-switch-refused",
        seed!("my_client", "clear-password-switch-refused"),
        seed!("my_server", "clear-password-switch-refused"),
    ),
    (
        "mysql-async-change-user",
        seed!("my_client", "mysql-async-change-user"),
        seed!("my_server", "mysql-async-change-user"),
    ),
];

/// Every packet in `chunks`, each with the sequence id its header gives (commands restart at 0).
fn packets(chunks: &[&[u8]]) -> Vec<(u8, Vec<u8>)> {
    let mut decoder = PacketDecoder::new(1 << 20, "capture", 0);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some((_, seq)) = header(&buf) {
            decoder.expect(seq);
            match decoder.decode(&mut buf).unwrap() {
                Some(p) => out.push((p.seq, p.payload.to_vec())),
                None => break,
            }
        }
    }
    assert!(buf.is_empty(), "bytes left over");
    out
}

/// The commands the relay's splitter shows for `chunks` (passing each on), in order.
fn commands(chunks: &[&[u8]]) -> Vec<(u8, usize)> {
    let mut splitter = CommandSplitter::new(64);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match splitter.next(&buf) {
                Split::NeedMore => break,
                Split::Forward(n) | Split::Discard(n) => {
                    buf.drain(..n);
                }
                Split::Command { cmd, len } => {
                    out.push((cmd, len));
                    splitter.pass(len);
                }
            }
        }
    }
    out
}

fn scan(chunks: &[&[u8]]) -> (bool, u8, bool) {
    let mut s = ResponseScanner::default();
    for chunk in chunks {
        s.advance(chunk);
    }
    (s.between_packets(), s.last_seq(), s.at_rest())
}

#[test]
fn every_split_gives_the_same_packets_commands_and_boundaries() {
    for (name, client, server) in CAPTURES {
        for stream in [client, server] {
            let whole = packets(&[stream]);
            assert!(whole.len() >= 2, "{name}");
            let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
            assert_eq!(packets(&bytewise), whole, "{name} byte by byte");
            for at in 0..=stream.len() {
                let (a, b) = stream.split_at(at);
                assert_eq!(packets(&[a, b]), whole, "{name} split at {at}");
                assert_eq!(scan(&[a, b]), scan(&[stream]), "{name} split at {at}");
            }
        }
        let whole = commands(&[client]);
        for at in 0..=client.len() {
            let (a, b) = client.split_at(at);
            assert_eq!(commands(&[a, b]), whole, "{name} split at {at}");
        }
        assert!(scan(&[server]).0, "{name} ends between packets");
    }
}

#[test]
fn the_captured_packets_decode_as_what_they_are() {
    let (_, client, server) = CAPTURES[0];
    let server = packets(&[server]);
    let greeting = Handshake::decode(&server[0].1).unwrap();
    assert!(greeting.server_version.contains("MariaDB"), "{greeting:?}");
    assert_eq!(greeting.auth_data.len(), 20);
    assert_eq!(greeting.auth_plugin.as_deref(), Some(MYSQL_NATIVE_PASSWORD));
    assert!(
        !greeting.capabilities.contains(Capabilities::LONG_PASSWORD),
        "MariaDB"
    );
    let client = packets(&[client]);
    let ClientHello::Response(response) = ClientHello::decode(&client[0].1).unwrap() else {
        panic!("no TLS in the capture");
    };
    assert_eq!(response.user, "native_user");
    assert_eq!(response.database.as_deref(), Some("app"));
    assert_eq!(response.auth_response.len(), 20);
    let attributes = response.attributes.as_ref().unwrap();
    assert!(
        attributes
            .iter()
            .any(|(k, v)| k == b"_client_name" && v == b"libmariadb")
    );
    // The proxy re-encodes a client's response byte for byte.
    let mut again = BytesMut::new();
    response.encode(&mut again).unwrap();
    assert_eq!(&again[..], &client[0].1[..]);
    assert_eq!(HandshakeResponse::decode(&again).unwrap(), response);
    assert!(matches!(
        ServerAuth::decode(&server[1].1).unwrap(),
        ServerAuth::Ok(_)
    ));
    assert_eq!(client[1].1[0], COM_QUERY);
    assert_eq!(&client[1].1[1..], b"SELECT 1");
    assert_eq!(client.last().unwrap().1, [COM_QUIT]);

    let (_, client, _) = CAPTURES[1];
    let client = packets(&[client]);
    assert!(
        client
            .iter()
            .any(|(_, p)| p == b"\x02app" && p[0] == COM_INIT_DB)
    );
    let kill = client
        .iter()
        .find(|(_, p)| p.starts_with(b"\x03KILL"))
        .unwrap();
    assert_eq!(
        classify(&kill.1[1..]),
        Statement::Kill {
            query: true,
            id: 99999
        }
    );

    let (_, client, server) = CAPTURES[2];
    let (client, server) = (packets(&[client]), packets(&[server]));
    let ServerAuth::Switch(switch) = ServerAuth::decode(&server[1].1).unwrap() else {
        panic!("an AuthSwitchRequest");
    };
    assert_eq!(switch.plugin, MYSQL_CLEAR_PASSWORD);
    assert_eq!(Secret::new(client[1].1.clone()).expose(), b"not-a-token\0");
    let ServerAuth::Err(err) = ServerAuth::decode(&server[2].1).unwrap() else {
        panic!("an ERR");
    };
    assert_eq!((err.code, err.sql_state()), (1045, "28000"));
    assert_eq!(ErrPacket::decode(&server[2].1).unwrap(), err);

    let (_, client, _) = CAPTURES[3];
    let client = packets(&[client]);
    let ClientHello::Response(response) = ClientHello::decode(&client[0].1).unwrap() else {
        panic!("no TLS in the capture");
    };
    let change = client
        .iter()
        .find(|(_, p)| p[0] == COM_CHANGE_USER)
        .unwrap();
    let change = ChangeUser::decode(&change.1, response.capabilities).unwrap();
    assert_eq!(change.user, "native_user");
    assert_eq!(change.database.as_deref(), Some("app"));
    let shown = format!("{change:?}");
    assert!(shown.contains("redacted"), "{shown}");
}
