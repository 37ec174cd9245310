//! Structure-aware: the MySQL/MariaDB login on both sides of the proxy, as sequences of well-formed-ish
//! packets (arbitrary fields, encoded by the crate's own encoders, decoded by its decoders).
//!
//! The client side: the proxy's greeting, a client's HandshakeResponse (arbitrary capabilities, user,
//! plugin, auth response, database, attributes), then the proxy's `PasswordServer` exchange with the
//! client's answers (honest — its password in clear — or made up). The database side: a greeting with an
//! arbitrary plugin and nonce, the proxy's `UpstreamAuth` with the injected token, then the database's
//! packets: OK, ERR, AuthSwitchRequest (any plugin, any nonce), AuthMoreData (fast auth, full auth, or
//! anything).
//!
//! The session driver (`proxy/client.rs`, `proxy/upstream.rs`) is async over sockets; these are its
//! sans-IO machines and codecs, driven with the driver's bounds (three client packets, four database
//! packets). Invariants:
//! - never a panic; every encoded packet decodes back to what was encoded;
//! - the password the proxy checks is exactly what an honest client sent, within the driver's three
//!   packets; a client that answers with hashes is never taken at its word;
//! - the login ends (OK, ERR or an error) within the driver's four packets: at most one switch and one
//!   full authentication;
//! - nothing sent to the database holds the client's password; the token goes in clear only for the
//!   clear-text plugins or `caching_sha2_password` full authentication (the driver insists on TLS);
//! - every packet the proxy makes is bounded.
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use iamwire_core::Secret;
use iamwire_mysql::auth::{
    CACHING_SHA2_PASSWORD, MYSQL_CLEAR_PASSWORD, MYSQL_NATIVE_PASSWORD, PasswordServer,
    PasswordStep, SHA256_PASSWORD, UpstreamAuth, UpstreamStep,
};
use iamwire_mysql::codec::{
    AuthSwitchRequest, Capabilities, ErrPacket, Handshake, HandshakeResponse, OkPacket, ServerAuth,
    put_auth_more_data,
};

const CLIENT_PASSWORD: &[u8] = b"client-password-Q7";
const TOKEN: &[u8] = b"injected-token-Z9";
const MAX_OUT: usize = 64 * 1024;

#[derive(Arbitrary, Debug)]
enum Plugin {
    Native,
    CachingSha2,
    Clear,
    Sha256,
    Other(String),
    None,
}

impl Plugin {
    fn name(&self) -> Option<&str> {
        match self {
            Plugin::Native => Some(MYSQL_NATIVE_PASSWORD),
            Plugin::CachingSha2 => Some(CACHING_SHA2_PASSWORD),
            Plugin::Clear => Some(MYSQL_CLEAR_PASSWORD),
            Plugin::Sha256 => Some(SHA256_PASSWORD),
            Plugin::Other(name) => Some(name),
            Plugin::None => None,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum ClientAnswer {
    /// The password in clear with its NUL, as clients send it after full auth or a clear switch.
    Password,
    /// Nothing (an empty password).
    Empty,
    /// Anything else.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum DbPacket {
    Ok { affected: u64, info: Vec<u8> },
    Err { code: u16, message: String },
    Switch { plugin: Plugin, nonce: Vec<u8> },
    FastAuth,
    FullAuth,
    More(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    // The client's HandshakeResponse.
    caps: u32,
    max_packet: u32,
    charset: u8,
    user: String,
    plugin: Plugin,
    hashed_response: bool,
    database: Option<String>,
    attributes: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    answers: Vec<ClientAnswer>,
    // The database's greeting and packets.
    version: String,
    nonce: Vec<u8>,
    db_caps: u32,
    db_plugin: Plugin,
    packets: Vec<DbPacket>,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn with_nul(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out.push(0);
    out
}

/// The client's side: its response through the codec, then the proxy's password exchange.
fn client_side(input: &Input) {
    let caps = Capabilities(input.caps) | Capabilities::PROTOCOL_41;
    let response = if input.hashed_response {
        iamwire_mysql::auth::native_password(CLIENT_PASSWORD, b"01234567890123456789")
    } else if matches!(input.plugin, Plugin::Clear) {
        with_nul(CLIENT_PASSWORD)
    } else {
        Vec::new()
    };
    let sent = HandshakeResponse {
        capabilities: caps,
        max_packet: input.max_packet,
        charset: input.charset,
        mariadb_capabilities: 0,
        user: input.user.clone(),
        auth_response: Secret::new(response),
        database: input.database.clone(),
        auth_plugin: input.plugin.name().map(str::to_owned),
        attributes: input.attributes.clone(),
        zstd_level: None,
    };
    let mut payload = BytesMut::new();
    if sent.encode(&mut payload).is_err() {
        return;
    }
    let Ok(got) = HandshakeResponse::decode(&payload) else {
        return;
    };
    assert_eq!(got.user, sent.user, "the user changed on the wire");
    assert_eq!(got.auth_response.expose(), sent.auth_response.expose());
    let Ok((mut server, mut step)) = PasswordServer::start(
        got.auth_plugin.as_deref(),
        got.capabilities.contains(Capabilities::PLUGIN_AUTH),
        &got.auth_response,
        b"abcdefghij0123456789",
    ) else {
        return;
    };
    let mut answers = input.answers.iter();
    let mut last_answer: Option<&ClientAnswer> = None;
    // The driver reads at most three packets of the client's.
    for _ in 0..3 {
        match step {
            PasswordStep::Verify(password) => {
                let honest = match (last_answer, got.auth_plugin.as_deref()) {
                    (None, Some(MYSQL_CLEAR_PASSWORD)) => !input.hashed_response,
                    (Some(ClientAnswer::Password), _) => true,
                    _ => false,
                };
                if honest {
                    assert_eq!(
                        password.expose(),
                        CLIENT_PASSWORD,
                        "the proxy checks another password"
                    );
                }
                if input.hashed_response && last_answer.is_none() {
                    assert!(
                        password.expose().is_empty()
                            || got.auth_plugin.as_deref() == Some(MYSQL_CLEAR_PASSWORD),
                        "a hash taken for the password"
                    );
                }
                return;
            }
            PasswordStep::Send(packet) => {
                assert!(packet.len() <= MAX_OUT);
                assert!(!contains(&packet, CLIENT_PASSWORD));
                let Some(answer) = answers.next() else { return };
                last_answer = Some(answer);
                let bytes = match answer {
                    ClientAnswer::Password => with_nul(CLIENT_PASSWORD),
                    ClientAnswer::Empty => Vec::new(),
                    ClientAnswer::Raw(raw) => raw.clone(),
                };
                step = server.step(&bytes);
            }
        }
    }
    assert!(
        matches!(step, PasswordStep::Verify(_)),
        "the password exchange did not end in three packets"
    );
}

/// The database's side: its greeting, the proxy's login, the database's packets.
fn database_side(input: &Input) {
    let greeting = Handshake {
        server_version: input.version.clone(),
        connection_id: 7,
        auth_data: input.nonce.clone(),
        capabilities: Capabilities(input.db_caps) | Capabilities::PROTOCOL_41,
        charset: 33,
        status: 2,
        mariadb_capabilities: 0,
        auth_plugin: input.db_plugin.name().map(str::to_owned),
    };
    let mut payload = BytesMut::new();
    if greeting.encode(&mut payload).is_err() {
        return;
    }
    let Ok(greeting) = Handshake::decode(&payload) else {
        return;
    };
    let Ok((mut auth, first)) = UpstreamAuth::start(
        Secret::new(TOKEN.to_vec()),
        greeting.auth_plugin.as_deref(),
        &greeting.auth_data,
    ) else {
        return;
    };
    check_sent(first.expose(), auth.plugin(), false);
    let caps = greeting.capabilities;
    let mut switches = 0;
    let mut full_auths = 0;
    // The driver reads at most four packets of the database's.
    for packet in input.packets.iter().take(4) {
        let mut payload = BytesMut::new();
        match packet {
            DbPacket::Ok { affected, info } => OkPacket {
                affected_rows: *affected,
                last_insert_id: 0,
                status: 2,
                warnings: 0,
                info: info.clone(),
                session_state: None,
            }
            .encode(&mut payload, caps),
            DbPacket::Err { code, message } => {
                ErrPacket::new(*code, "28000", message.clone()).encode(&mut payload, caps)
            }
            DbPacket::Switch { plugin, nonce } => {
                let request = AuthSwitchRequest {
                    plugin: plugin.name().unwrap_or("").to_owned(),
                    data: nonce.clone(),
                };
                if request.encode(&mut payload).is_err() {
                    return;
                }
            }
            DbPacket::FastAuth => put_auth_more_data(&mut payload, &[3]),
            DbPacket::FullAuth => put_auth_more_data(&mut payload, &[4]),
            DbPacket::More(data) => put_auth_more_data(&mut payload, data),
        }
        let Ok(message) = ServerAuth::decode(&payload) else {
            return;
        };
        let is_switch = matches!(message, ServerAuth::Switch(_));
        let is_full = matches!(&message, ServerAuth::MoreData(d) if d.as_slice() == [4]);
        match auth.step(message) {
            Err(_) | Ok(UpstreamStep::Done(_) | UpstreamStep::Rejected(_)) => return,
            Ok(UpstreamStep::Wait) => {}
            Ok(UpstreamStep::Send(secret)) => {
                switches += usize::from(is_switch);
                full_auths += usize::from(is_full);
                assert!(switches <= 1 && full_auths <= 1, "the login goes on and on");
                check_sent(secret.expose(), auth.plugin(), is_full);
            }
        }
    }
}

/// What the proxy sends the database: bounded, never the client's password, the token in clear only
/// where the plugin sends it so.
fn check_sent(bytes: &[u8], plugin: &str, full_auth: bool) {
    assert!(bytes.len() <= MAX_OUT, "an unbounded auth response");
    assert!(
        !contains(bytes, CLIENT_PASSWORD),
        "the client's password reached the database"
    );
    if contains(bytes, TOKEN) {
        assert!(
            matches!(plugin, MYSQL_CLEAR_PASSWORD | SHA256_PASSWORD)
                || (plugin == CACHING_SHA2_PASSWORD && full_auth),
            "the token in clear for {plugin}"
        );
    }
}

libfuzzer_sys::fuzz_target!(|input: Input| {
    client_side(&input);
    database_side(&input);
});
