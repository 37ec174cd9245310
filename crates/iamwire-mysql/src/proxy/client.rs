//! The client side: the proxy's greeting, SSLRequest and TLS, the handshake response, and the
//! proxy-side password when the authenticator asks for one.

use bytes::BytesMut;
use iamwire_proxy::scram::ScramSecret;
use iamwire_proxy::{ClientConn, Cx, Hello, SessionError};

use super::io::{read_client, send_client};
use super::{KillTarget, MySql, MyState, Result};
use crate::auth::{
    CACHING_SHA2_PASSWORD, MYSQL_CLEAR_PASSWORD, MYSQL_NATIVE_PASSWORD, PasswordServer,
    PasswordStep, SHA256_PASSWORD,
};
use crate::codec::{
    AuthSwitchRequest, Capabilities, ClientHello, Handshake, HandshakeResponse, PacketDecoder,
    SERVER_STATUS_AUTOCOMMIT,
};
use crate::error::MyError;

/// A nonce as MySQL makes them: 20 bytes of 7-bit characters, none of them NUL (the nonce travels
/// NUL-terminated) or `$`.
pub(super) fn nonce(random: [u8; 20]) -> [u8; 20] {
    random.map(|b| match b & 0x7f {
        0 | b'$' => b & 0x7f | 0x41,
        c => c,
    })
}

/// Greet the client, take it to TLS, and read its handshake response.
pub(super) async fn hello(
    my: &MySql,
    cx: &Cx<'_, KillTarget>,
    client: &mut ClientConn,
    state: &mut MyState,
) -> Result<Hello<()>> {
    let (offer, version, charset) = my.offer();
    let greeting = Handshake {
        server_version: version,
        connection_id: cx.session.id(),
        auth_data: nonce(cx.random.array()?).to_vec(),
        capabilities: offer,
        charset,
        status: SERVER_STATUS_AUTOCOMMIT,
        mariadb_capabilities: 0,
        auth_plugin: Some(CACHING_SHA2_PASSWORD.to_owned()),
    };
    let mut payload = BytesMut::new();
    greeting
        .encode(&mut payload)
        .map_err(|cause| MyError::ClientProtocol { cause })?;
    send_client(client, &mut state.client_seq, &payload).await?;
    state.greeted = true;

    let limit = my.limits.handshake_packet;
    let mut decoder = PacketDecoder::new(limit, "handshake response", state.client_seq);
    let first = read_client(client, &mut decoder, true).await?;
    state.client_seq = decoder.next_seq();
    let bad = |cause| MyError::ClientProtocol { cause };
    let packet = match ClientHello::decode(&first.payload).map_err(bad)? {
        ClientHello::SslRequest(_) => {
            // Bytes after SSLRequest would be taken as if TLS had protected them.
            client.start_tls().await?;
            let packet = read_client(client, &mut decoder, false).await?;
            state.client_seq = decoder.next_seq();
            packet
        }
        // A unix socket of this host: nothing crosses a network, and MySQL clients use no TLS there.
        ClientHello::Response(_) if client.is_local() => first,
        ClientHello::Response(_) => return Err(MyError::TlsRequired.into()),
    };
    let mut response = HandshakeResponse::decode(&packet.payload).map_err(bad)?;
    state.client_caps = response.capabilities & offer;
    if needs_switch(&response, state.client_caps) {
        settle_plugin(cx, client, &mut decoder, state, &mut response).await?;
    }
    let db_user = response.user.clone();
    // MySQL opens no database when none is named: there is no default to authorize.
    let db_name = response.database.clone();
    state.fast_auth = response.auth_plugin.as_deref() == Some(CACHING_SHA2_PASSWORD)
        && !matches!(response.auth_response.expose(), [] | [0]);
    state.response = Some(response);
    Ok(Hello::Session { db_user, db_name })
}

/// Whether the client answered the greeting with a plugin the proxy does not speak. Its plugin
/// then waits for data the proxy never sends: libmariadb, for one, falls back to a placeholder
/// plugin when it cannot load the one named in the greeting (a race between threads loading
/// `caching_sha2_password.so`) and answers the OK with an empty packet, which the database then
/// refuses as out of order. A MySQL server switches such a client to a plugin of its own; so does
/// the proxy.
fn needs_switch(response: &HandshakeResponse, caps: Capabilities) -> bool {
    caps.contains(Capabilities::PLUGIN_AUTH)
        && response.auth_plugin.as_deref().is_some_and(|plugin| {
            ![
                MYSQL_NATIVE_PASSWORD,
                CACHING_SHA2_PASSWORD,
                MYSQL_CLEAR_PASSWORD,
                SHA256_PASSWORD,
            ]
            .contains(&plugin)
        })
}

/// Switch the client to `mysql_native_password` (built into every client library), and take its
/// answer as if it had come with the handshake response. Identity still comes from the
/// certificate or from the proxy password exchange that may follow.
async fn settle_plugin(
    cx: &Cx<'_, KillTarget>,
    client: &mut ClientConn,
    decoder: &mut PacketDecoder,
    state: &mut MyState,
    response: &mut HandshakeResponse,
) -> Result<()> {
    let mut data = nonce(cx.random.array()?).to_vec();
    data.push(0);
    let mut payload = BytesMut::new();
    AuthSwitchRequest {
        plugin: MYSQL_NATIVE_PASSWORD.to_owned(),
        data,
    }
    .encode(&mut payload)
    .map_err(|cause| MyError::ClientProtocol { cause })?;
    send_client(client, &mut state.client_seq, &payload).await?;
    decoder.expect(state.client_seq);
    let answer = read_client(client, decoder, false).await?;
    state.client_seq = decoder.next_seq();
    response.auth_plugin = Some(MYSQL_NATIVE_PASSWORD.to_owned());
    response.auth_response = iamwire_core::Secret::new(answer.payload.to_vec());
    Ok(())
}

/// Get the client's password in clear over TLS and check it against the proxy's stored secret. On
/// success the client has been told nothing yet: its OK waits for the database.
pub(super) async fn password(
    my: &MySql,
    cx: &Cx<'_, KillTarget>,
    client: &mut ClientConn,
    state: &mut MyState,
    secret: &ScramSecret,
) -> Result<()> {
    let response = state.response.as_ref().ok_or(MyError::ClientProtocol {
        cause: crate::codec::CodecError::Unexpected {
            what: "a password check",
            expected: "a handshake response first",
        },
    })?;
    let user = response.user.clone();
    // Full authentication, or a switch: the OK follows the password, as in MySQL 8.
    state.fast_auth = false;
    let switch_nonce = nonce(cx.random.array()?);
    let (mut server, mut step) = PasswordServer::start(
        response.auth_plugin.as_deref(),
        state.client_caps.contains(Capabilities::PLUGIN_AUTH),
        &response.auth_response,
        &switch_nonce,
    )
    .map_err(|cause| MyError::ClientProtocol { cause })?;
    let mut decoder = PacketDecoder::new(
        my.limits.handshake_packet,
        "auth response",
        state.client_seq,
    );
    // At most a switch, a scramble and the password.
    for _ in 0..3 {
        match step {
            PasswordStep::Verify(password) => {
                return if secret.verify_password(password.expose()) {
                    Ok(())
                } else {
                    Err(MyError::ClientAuth { user }.into())
                };
            }
            PasswordStep::Send(payload) => {
                send_client(client, &mut state.client_seq, &payload).await?;
                decoder.expect(state.client_seq);
                let answer = read_client(client, &mut decoder, false).await?;
                state.client_seq = decoder.next_seq();
                step = server.step(&answer.payload);
            }
        }
    }
    Err(SessionError::from(MyError::ClientAuth { user }))
}

#[cfg(test)]
mod tests {
    use super::nonce;

    #[test]
    fn nonces_have_no_nul_and_no_dollar() {
        let all: Vec<u8> = (0..=255).collect();
        for chunk in all.chunks(20) {
            let mut random = [0u8; 20];
            random[..chunk.len()].copy_from_slice(chunk);
            let n = nonce(random);
            assert!(
                n.iter().all(|b| *b != 0 && *b != b'$' && *b < 0x80),
                "{n:?}"
            );
        }
    }
}
