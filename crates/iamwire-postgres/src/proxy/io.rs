//! Framed reads and writes of handshake messages on the session's connections.

use bytes::BytesMut;
use iamwire_proxy::{ClientConn, SessionError, UpstreamConn};

use crate::codec::{BackendDecoder, BackendMessage, FrontendDecoder, FrontendMessage};
use crate::error::PgError;

type Result<T> = std::result::Result<T, SessionError<PgError>>;

/// Read one client message.
pub(super) async fn read_frontend(
    client: &mut ClientConn,
    decoder: &mut FrontendDecoder,
) -> Result<FrontendMessage> {
    loop {
        if let Some(message) = decoder
            .decode(&mut client.buf)
            .map_err(|cause| PgError::ClientProtocol { cause })?
        {
            return Ok(message);
        }
        client
            .fill()
            .await
            .map_err(|source| SessionError::ClientIo { source })?;
    }
}

/// Read one database message.
pub(super) async fn read_backend(
    upstream: &mut UpstreamConn,
    decoder: &mut BackendDecoder,
) -> Result<BackendMessage> {
    loop {
        if let Some(message) = decoder
            .decode(&mut upstream.buf)
            .map_err(|cause| PgError::UpstreamProtocol { cause })?
        {
            return Ok(message);
        }
        upstream
            .fill()
            .await
            .map_err(|source| SessionError::UpstreamIo { source })?;
    }
}

/// The wire form of `messages`.
pub(super) fn encode_backend(messages: &[BackendMessage]) -> Result<BytesMut> {
    let mut buf = BytesMut::new();
    for message in messages {
        message
            .encode(&mut buf)
            .map_err(|cause| PgError::UpstreamProtocol { cause })?;
    }
    Ok(buf)
}

/// Send messages to the client.
pub(super) async fn send_backend(
    client: &mut ClientConn,
    messages: &[BackendMessage],
) -> Result<()> {
    let buf = encode_backend(messages)?;
    client
        .send(&buf)
        .await
        .map_err(|source| SessionError::ClientIo { source })
}

/// The wire form of a message to the database.
pub(super) fn encode_frontend(message: &FrontendMessage) -> Result<BytesMut> {
    let mut buf = BytesMut::new();
    message
        .encode(&mut buf)
        .map_err(|cause| PgError::ClientProtocol { cause })?;
    Ok(buf)
}

/// Send a message to the database.
pub(super) async fn send_frontend(
    upstream: &mut UpstreamConn,
    message: &FrontendMessage,
) -> Result<()> {
    let buf = encode_frontend(message)?;
    upstream
        .send(&buf)
        .await
        .map_err(|source| SessionError::UpstreamIo { source })
}
