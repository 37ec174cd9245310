//! The database side: its greeting, SSLRequest and TLS, the login with the injected credentials, and
//! the welcome that passes the database's OK on to the client.

use bytes::BytesMut;
use iamwire_core::{SessionRequest, UpstreamLogin};
use iamwire_proxy::{ClientConn, Cx, Registration, SessionError, UpstreamConn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::io::{read_upstream, send_upstream};
use super::{KillTarget, MySql, MyState, Result};
use crate::auth::{FAST_AUTH_SUCCESS, UpstreamAuth, UpstreamStep};
use crate::codec::{
    Capabilities, CodecError, ErrPacket, Handshake, HandshakeResponse, PacketDecoder, ServerAuth,
    SslRequest, put_auth_more_data, put_packet,
};
use crate::error::MyError;

fn bad(cause: CodecError) -> MyError {
    MyError::UpstreamProtocol { cause }
}

/// Read the database's greeting on the fresh TCP connection, then SSLRequest and TLS: the database
/// must offer TLS, and must have what changes the format of its replies if the client has it.
pub(super) async fn connect(
    my: &MySql,
    cx: &Cx<'_, KillTarget>,
    state: &mut MyState,
    mut tcp: TcpStream,
) -> Result<UpstreamConn> {
    let addr = cx.endpoint.addr().to_owned();
    let io = |source| SessionError::UpstreamIo { source };
    let mut decoder = PacketDecoder::new(my.limits.handshake_packet, "server greeting", 0);
    let mut buf = BytesMut::new();
    let packet = loop {
        if let Some(packet) = decoder.decode(&mut buf).map_err(bad)? {
            break packet;
        }
        if tcp.read_buf(&mut buf).await.map_err(io)? == 0 {
            return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    };
    if packet.payload.first() == Some(&0xff) {
        // Refused before the handshake (too many connections, host blocked): relayed as is.
        let err = ErrPacket::decode(&packet.payload).map_err(bad)?;
        return Err(MyError::UpstreamRejected { err }.into());
    }
    let greeting = Handshake::decode(&packet.payload).map_err(bad)?;
    my.learn(&greeting);
    let theirs = greeting.capabilities;
    if !theirs.contains(Capabilities::SSL) {
        let _ = tcp.shutdown().await;
        return Err(MyError::UpstreamNoTls { addr }.into());
    }
    if !theirs.contains(Capabilities::PROTOCOL_41) {
        return Err(bad(CodecError::Unsupported {
            what: "a database without the 4.1 protocol",
        })
        .into());
    }
    let missing = state.client_caps & Capabilities::FORMAT & !theirs;
    if missing != Capabilities::NONE {
        return Err(MyError::CapabilityMismatch { missing }.into());
    }
    // What the client has and the database too, and what this hop needs of its own.
    let per_hop = Capabilities::SECURE_CONNECTION
        | Capabilities::PLUGIN_AUTH
        | Capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA;
    let caps = (state.client_caps & theirs & Capabilities::RELAYABLE & !Capabilities::PER_HOP)
        | (theirs & per_hop)
        | (state.client_caps & theirs & Capabilities::CONNECT_ATTRS)
        | (theirs & Capabilities::CONNECT_WITH_DB)
        | Capabilities::SSL
        | Capabilities::PROTOCOL_41;
    let (max_packet, charset) = state
        .response
        .as_ref()
        .map_or((16 * 1024 * 1024, greeting.charset), |r| {
            (r.max_packet, r.charset)
        });
    let mut payload = BytesMut::new();
    SslRequest {
        capabilities: caps,
        max_packet,
        charset,
        mariadb_capabilities: 0,
    }
    .encode(&mut payload);
    let mut out = BytesMut::new();
    state.upstream_seq = put_packet(&mut out, decoder.next_seq(), &payload);
    tcp.write_all(&out).await.map_err(io)?;
    let upstream = UpstreamConn::start_tls(cx.endpoint, tcp, &buf)
        .await
        .map_err(|source| SessionError::upstream_tls(addr, source))?;
    state.upstream_caps = caps;
    state.upstream = Some(greeting);
    Ok(upstream)
}

/// Log in as `login` on the authorized database, with the client's collation and connection
/// attributes, until the database says OK (kept for the welcome).
pub(super) async fn login(
    my: &MySql,
    state: &mut MyState,
    upstream: &mut UpstreamConn,
    login: UpstreamLogin,
    want: &SessionRequest<'_>,
) -> Result<()> {
    let (Some(greeting), Some(client)) = (&state.upstream, &state.response) else {
        return Err(bad(CodecError::Unexpected {
            what: "a login",
            expected: "the greetings of both sides first",
        })
        .into());
    };
    let (auth, first) = UpstreamAuth::start(
        login.secret,
        greeting.auth_plugin.as_deref(),
        &greeting.auth_data,
    )?;
    // Exactly the database the Authorizer allowed (none: the server opens none).
    let database = want.db_name.filter(|d| !d.is_empty());
    let caps = state.upstream_caps;
    let response = HandshakeResponse {
        capabilities: caps,
        max_packet: client.max_packet,
        charset: client.charset,
        mariadb_capabilities: 0,
        user: login.user,
        auth_response: first,
        database: database.map(str::to_owned),
        auth_plugin: Some(auth.plugin().to_owned()),
        attributes: client.attributes.clone(),
        zstd_level: None,
    };
    let mut payload = BytesMut::new();
    response.encode(&mut payload).map_err(bad)?;
    match authenticate(my, upstream, &mut state.upstream_seq, auth, payload).await? {
        Ok(ok) => {
            state.ok = Some(ok);
            Ok(())
        }
        Err(err) => Err(MyError::UpstreamRejected { err }.into()),
    }
}

/// Send `first` (a handshake response or COM_CHANGE_USER) and follow the database's auth exchange
/// to its OK payload, or its ERR.
pub(super) async fn authenticate(
    my: &MySql,
    upstream: &mut UpstreamConn,
    seq: &mut u8,
    mut auth: UpstreamAuth,
    first: BytesMut,
) -> Result<std::result::Result<Vec<u8>, ErrPacket>> {
    send_upstream(upstream, seq, first).await?;
    let mut decoder = PacketDecoder::new(my.limits.handshake_packet, "auth packet", *seq);
    // A switch, full auth and the OK at the most; a database that goes on is refused.
    for _ in 0..4 {
        let packet = read_upstream(upstream, &mut decoder).await?;
        *seq = decoder.next_seq();
        let message = ServerAuth::decode(&packet.payload).map_err(bad)?;
        match auth.step(message)? {
            UpstreamStep::Done(ok) => {
                tracing::debug!(plugin = auth.plugin(), "database accepted the login");
                return Ok(Ok(ok));
            }
            UpstreamStep::Rejected(err) => return Ok(Err(err)),
            UpstreamStep::Wait => {}
            UpstreamStep::Send(secret) => {
                send_upstream(upstream, seq, BytesMut::from(secret.expose())).await?;
                decoder.expect(*seq);
            }
        }
    }
    Err(bad(CodecError::Unexpected {
        what: "an auth exchange that does not end",
        expected: "OK or ERR",
    })
    .into())
}

/// Tell the client it is in: the database's OK, renumbered for the client. The database's thread id
/// is registered for `KILL`.
pub(super) async fn welcome(
    client: &mut ClientConn,
    state: &mut MyState,
    registration: &Registration<KillTarget>,
) -> Result<()> {
    if let Some(greeting) = &state.upstream {
        registration.set(KillTarget {
            thread_id: greeting.connection_id,
        });
    }
    let ok = state.ok.take().unwrap_or_else(|| vec![0, 0, 0, 2, 0, 0, 0]);
    let mut out = BytesMut::new();
    if std::mem::take(&mut state.fast_auth) {
        let mut more = BytesMut::new();
        put_auth_more_data(&mut more, &[FAST_AUTH_SUCCESS]);
        state.client_seq = put_packet(&mut out, state.client_seq, &more);
    }
    state.client_seq = put_packet(&mut out, state.client_seq, &ok);
    client
        .send(&out)
        .await
        .map_err(|source| SessionError::ClientIo { source })
}
