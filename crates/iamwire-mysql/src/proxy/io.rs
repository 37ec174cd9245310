//! Framed reads and writes of connection-phase packets on the session's connections.

use bytes::BytesMut;
use iamwire_proxy::{ClientConn, SessionError, UpstreamConn};

use super::Result;
use crate::codec::{HEADER_LEN, Packet, PacketDecoder, header, put_packet};
use crate::error::MyError;

/// Read one client packet. With `exactly`, nothing past it is taken from the connection (a client
/// may go straight on from SSLRequest into the TLS handshake).
pub(super) async fn read_client(
    client: &mut ClientConn,
    decoder: &mut PacketDecoder,
    exactly: bool,
) -> Result<Packet> {
    loop {
        if let Some(packet) = decoder
            .decode(&mut client.buf)
            .map_err(|cause| MyError::ClientProtocol { cause })?
        {
            return Ok(packet);
        }
        let filled = if exactly {
            let need = match header(&client.buf) {
                Some((len, _)) => (HEADER_LEN + len).saturating_sub(client.buf.len()),
                None => HEADER_LEN - client.buf.len(),
            };
            client.fill_at_most(need.max(1)).await
        } else {
            client.fill().await
        };
        filled.map_err(|source| SessionError::ClientIo { source })?;
    }
}

/// Read one database packet.
pub(super) async fn read_upstream(
    upstream: &mut UpstreamConn,
    decoder: &mut PacketDecoder,
) -> Result<Packet> {
    loop {
        if let Some(packet) = decoder
            .decode(&mut upstream.buf)
            .map_err(|cause| MyError::UpstreamProtocol { cause })?
        {
            return Ok(packet);
        }
        upstream
            .fill()
            .await
            .map_err(|source| SessionError::UpstreamIo { source })?;
    }
}

/// Send `payload` to the client as sequence id `*seq`, and move `*seq` on.
pub(super) async fn send_client(
    client: &mut ClientConn,
    seq: &mut u8,
    payload: &[u8],
) -> Result<()> {
    let mut out = BytesMut::new();
    *seq = put_packet(&mut out, *seq, payload);
    client
        .send(&out)
        .await
        .map_err(|source| SessionError::ClientIo { source })
}

/// Send `payload` (which may hold a password or token: it and its framed copy are wiped once
/// sent) to the database as sequence id `*seq`, and move `*seq` on.
pub(super) async fn send_upstream(
    upstream: &mut UpstreamConn,
    seq: &mut u8,
    mut payload: BytesMut,
) -> Result<()> {
    let mut out = BytesMut::new();
    *seq = put_packet(&mut out, *seq, &payload);
    wipe(&mut payload);
    let sent = upstream.send(&out).await;
    wipe(&mut out);
    sent.map_err(|source| SessionError::UpstreamIo { source })
}

/// Overwrite `buf` with zeros.
pub(super) fn wipe(buf: &mut BytesMut) {
    zeroize::Zeroize::zeroize(&mut buf[..]);
}
