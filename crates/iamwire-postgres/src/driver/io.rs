//! Framed reads and writes of handshake messages over any async stream.

use std::io;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codec::{BackendDecoder, BackendMessage, FrontendDecoder, FrontendMessage};
use crate::error::ProxyError;

/// Read one client message, buffering in `buf`.
pub(super) async fn read_frontend<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    decoder: &mut FrontendDecoder,
) -> Result<FrontendMessage, ProxyError> {
    loop {
        if let Some(message) = decoder
            .decode(buf)
            .map_err(|source| ProxyError::ClientProtocol { source })?
        {
            return Ok(message);
        }
        let n = stream
            .read_buf(buf)
            .await
            .map_err(|source| ProxyError::ClientIo { source })?;
        if n == 0 {
            return Err(ProxyError::ClientIo {
                source: io::ErrorKind::UnexpectedEof.into(),
            });
        }
    }
}

/// Read one database message, buffering in `buf`.
pub(super) async fn read_backend<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    decoder: &mut BackendDecoder,
) -> Result<BackendMessage, ProxyError> {
    loop {
        if let Some(message) = decoder
            .decode(buf)
            .map_err(|source| ProxyError::UpstreamProtocol { source })?
        {
            return Ok(message);
        }
        let n = stream
            .read_buf(buf)
            .await
            .map_err(|source| ProxyError::UpstreamIo { source })?;
        if n == 0 {
            return Err(ProxyError::UpstreamIo {
                source: io::ErrorKind::UnexpectedEof.into(),
            });
        }
    }
}

/// Send messages to the client.
pub(super) async fn write_backend<S: AsyncWrite + Unpin>(
    stream: &mut S,
    messages: &[BackendMessage],
) -> Result<(), ProxyError> {
    let mut buf = BytesMut::new();
    for message in messages {
        message
            .encode(&mut buf)
            .map_err(|source| ProxyError::UpstreamProtocol { source })?;
    }
    write_all(stream, &buf)
        .await
        .map_err(|source| ProxyError::ClientIo { source })
}

/// Send a message to the database.
pub(super) async fn write_frontend<S: AsyncWrite + Unpin>(
    stream: &mut S,
    message: &FrontendMessage,
) -> Result<(), ProxyError> {
    let mut buf = BytesMut::new();
    message
        .encode(&mut buf)
        .map_err(|source| ProxyError::ClientProtocol { source })?;
    write_all(stream, &buf)
        .await
        .map_err(|source| ProxyError::UpstreamIo { source })
}

async fn write_all<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// Tell the client why its connection ends (best effort: it may be gone already).
pub(super) async fn send_error<S: AsyncWrite + Unpin>(stream: &mut S, error: &ProxyError) {
    let message = BackendMessage::ErrorResponse(error.error_fields());
    let mut buf = BytesMut::new();
    if message.encode(&mut buf).is_ok() {
        let _ = write_all(stream, &buf).await;
    }
    let _ = stream.shutdown().await;
}
