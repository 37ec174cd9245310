//! The proxy's `caching_sha2_password` login, against a stand-in for MySQL 8.
//!
//! MySQL 8 has no Debian package, so no real server can run here. The stand-in below speaks through
//! code we did not write — mysql_common's greeting, handshake-response parser, AuthMoreData and ERR
//! packets — and checks what MySQL 8's `sql/auth/sha2_password.cc` checks: on a cold cache it asks
//! for full authentication (`0x04`), which it accepts only over TLS, and caches `SHA256(SHA256(pw))`;
//! on a warm cache it verifies the scramble — `SHA256(scramble XOR SHA256(cached + nonce)) ==
//! cached` — and answers fast-auth success (`0x03`) before its OK.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use e2e_support::*;
use iamwire_core::StaticPasswordInjector;
use iamwire_core::tls::{ClientAuth, server_config};
use iamwire_testkit::{LOCAL_NAMES, TestCa};
use mysql_async::prelude::Queryable;
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    AuthMoreData, ErrPacket, HandshakePacket, HandshakeResponse, ServerError, SqlState,
};
use mysql_common::proto::{MyDeserialize, MySerialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

const USER: &str = "sha2_user";
const PASSWORD: &str = "sha2-secret";

/// What the stand-in saw: how each login went.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Path {
    Full,
    Fast,
    Refused,
}

#[derive(Default)]
struct StandIn {
    /// user → SHA256(SHA256(password)), as MySQL 8's in-memory cache holds it after a full auth.
    cache: Mutex<HashMap<String, [u8; 32]>>,
    logins: Mutex<Vec<Path>>,
}

async fn read_packet<S: AsyncRead + Unpin>(s: &mut S) -> (u8, Vec<u8>) {
    let mut header = [0u8; 4];
    s.read_exact(&mut header).await.unwrap();
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    let mut payload = vec![0; len];
    s.read_exact(&mut payload).await.unwrap();
    (header[3], payload)
}

async fn write_packet<S: AsyncWrite + Unpin>(s: &mut S, seq: u8, payload: &[u8]) {
    let mut out = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    out.push(seq);
    out.extend_from_slice(payload);
    s.write_all(&out).await.unwrap();
    s.flush().await.unwrap();
}

fn serialize(packet: &impl MySerialize) -> Vec<u8> {
    let mut out = Vec::new();
    packet.serialize(&mut out);
    out
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    parts.iter().for_each(|p| h.update(p));
    h.finalize().into()
}

impl StandIn {
    async fn serve(self: Arc<Self>, listener: TcpListener, tls: Arc<rustls::ServerConfig>) {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let this = self.clone();
            let tls = tls.clone();
            tokio::spawn(async move { this.session(tcp, tls).await });
        }
    }

    async fn session(&self, mut tcp: tokio::net::TcpStream, tls: Arc<rustls::ServerConfig>) {
        let nonce: [u8; 20] = *b"abcdefghijklmnopqrst";
        let mut scramble_2 = nonce[8..].to_vec();
        scramble_2.push(0); // the second part of the nonce carries a trailing NUL
        let caps = CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
            | CapabilityFlags::CLIENT_SSL
            | CapabilityFlags::CLIENT_CONNECT_WITH_DB
            | CapabilityFlags::CLIENT_CONNECT_ATTRS
            | CapabilityFlags::CLIENT_TRANSACTIONS
            | CapabilityFlags::CLIENT_DEPRECATE_EOF
            | CapabilityFlags::CLIENT_SESSION_TRACK
            | CapabilityFlags::CLIENT_MULTI_RESULTS
            | CapabilityFlags::CLIENT_LONG_PASSWORD;
        let greeting = HandshakePacket::new(
            10,
            &b"8.0.36-standin"[..],
            77,
            nonce[..8].try_into().unwrap(),
            Some(scramble_2),
            caps,
            255,
            StatusFlags::SERVER_STATUS_AUTOCOMMIT,
            Some(&b"caching_sha2_password"[..]),
        );
        write_packet(&mut tcp, 0, &serialize(&greeting)).await;
        let (_, ssl_request) = read_packet(&mut tcp).await;
        assert_eq!(ssl_request.len(), 32, "the proxy always asks for TLS");
        let mut tls = tokio_rustls::TlsAcceptor::from(tls)
            .accept(tcp)
            .await
            .unwrap();
        let (seq, payload) = read_packet(&mut tls).await;
        let response = HandshakeResponse::deserialize((), &mut ParseBuf(&payload)).unwrap();
        let user = String::from_utf8_lossy(response.user()).into_owned();
        let scramble = response.scramble_buf().to_vec();
        let mut seq = seq.wrapping_add(1);
        let cached = self.cache.lock().unwrap().get(&user).copied();
        let stored = (user == USER).then(|| sha256(&[&sha256(&[PASSWORD.as_bytes()])]));
        let path = match cached {
            Some(cached) if scramble.len() == 32 => {
                // The fast path: recover SHA256(pw) from the scramble and check it hashes to the cache.
                let mask = sha256(&[&cached, &nonce]);
                let stage1: Vec<u8> = scramble.iter().zip(mask).map(|(a, b)| a ^ b).collect();
                if sha256(&[&stage1]) == cached {
                    write_packet(&mut tls, seq, &serialize(&AuthMoreData::new(&[3u8][..]))).await;
                    seq = seq.wrapping_add(1);
                    Path::Fast
                } else {
                    Path::Refused
                }
            }
            _ => {
                write_packet(&mut tls, seq, &serialize(&AuthMoreData::new(&[4u8][..]))).await;
                let (s, password) = read_packet(&mut tls).await;
                seq = s.wrapping_add(1);
                let password = password.strip_suffix(&[0]).unwrap_or(&password);
                let hashed = sha256(&[&sha256(&[password])]);
                if stored == Some(hashed) {
                    self.cache.lock().unwrap().insert(user.clone(), hashed);
                    Path::Full
                } else {
                    Path::Refused
                }
            }
        };
        self.logins.lock().unwrap().push(path.clone());
        if path == Path::Refused {
            let err = ErrPacket::Error(ServerError::new(
                1045,
                Some(SqlState::new(*b"28000")),
                format!("Access denied for user '{user}'@'127.0.0.1' (using password: YES)")
                    .into_bytes(),
            ));
            write_packet(&mut tls, seq, &serialize(&err)).await;
            return;
        }
        write_packet(&mut tls, seq, &[0, 0, 0, 2, 0, 0, 0]).await;
        // Commands: COM_QUIT ends, anything else gets an OK.
        loop {
            let mut header = [0u8; 4];
            if tls.read_exact(&mut header).await.is_err() {
                return;
            }
            let len = usize::from(header[0]) | usize::from(header[1]) << 8;
            let mut payload = vec![0; len];
            tls.read_exact(&mut payload).await.unwrap();
            if payload.first() == Some(&0x01) {
                return;
            }
            write_packet(&mut tls, header[3].wrapping_add(1), &[0, 0, 0, 2, 0, 0, 0]).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_auth_then_the_fast_path_against_a_mysql_8_stand_in() {
    let ca = TestCa::new().unwrap();
    let server = ca.server(LOCAL_NAMES).unwrap();
    let tls = server_config(
        server.cert_pem.as_bytes(),
        server.key_pem.as_bytes(),
        None,
        ClientAuth::None,
    )
    .unwrap();
    let standin = Arc::new(StandIn::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(standin.clone().serve(listener, tls));

    let dir = tempfile::tempdir().unwrap();
    let alice = client_files(&ca, dir.path(), "alice");
    let mut proxies = Vec::new();
    for password in [PASSWORD, "wrong"] {
        let injector = Arc::new(StaticPasswordInjector::new(password));
        proxies.push(
            start_proxy(
                &ca,
                ClientAuth::Required,
                allow_alice(&[USER]),
                database(port),
                injector,
                |b| b,
            )
            .await,
        );
    }
    let login = Login::mtls(proxies[0].1, USER, &alice);
    for _ in 0..2 {
        let mut conn = async_conn(&login).await.unwrap();
        conn.ping().await.unwrap();
        conn.disconnect().await.unwrap();
    }
    assert_eq!(*standin.logins.lock().unwrap(), [Path::Full, Path::Fast]);

    // A wrong secret: the stand-in's 1045 reaches the client as it was sent.
    let error = async_conn(&Login::mtls(proxies[1].1, USER, &alice))
        .await
        .err()
        .unwrap();
    assert_eq!(async_code(&error), Some(1045), "{error}");
    assert!(error.to_string().contains("sha2_user"), "{error}");
    assert_eq!(standin.logins.lock().unwrap().last(), Some(&Path::Refused));
}
