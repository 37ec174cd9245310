//! Handshake messages on the session's connections: reading a client's command or a database's reply,
//! and answering in the form the request came in (`OP_MSG`, or `OP_REPLY` to an `OP_QUERY`).

use bytes::BytesMut;
use iamwire_proxy::{ClientConn, SessionError, UpstreamConn};

use super::Result;
use crate::codec::{
    BackendMessage, FrontendMessage, Header, Limits, Malformed, MessageDecoder, OpMsg, OpReply,
    RawDocument,
};
use crate::error::MongoError;

/// A request the proxy owes an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pending {
    /// The request's id (the answer's `responseTo`).
    pub(crate) request_id: i32,
    /// Whether it came as `OP_QUERY` (answered with `OP_REPLY`).
    pub(crate) legacy: bool,
}

/// `reply` (a document) as the answer to `to`, with the proxy's `request_id`.
pub(crate) fn answer(to: Pending, request_id: i32, reply: Vec<u8>) -> BytesMut {
    let mut out = BytesMut::with_capacity(reply.len() + 40);
    let doc = RawDocument::from(reply);
    if to.legacy {
        OpReply::command(doc).encode(request_id, to.request_id, &mut out);
    } else {
        OpMsg::new(doc).encode(request_id, to.request_id, &mut out);
    }
    out
}

/// Read one client message.
pub(super) async fn read_client(
    client: &mut ClientConn,
    limits: &Limits,
) -> Result<(Header, FrontendMessage)> {
    let decoder = MessageDecoder::new(limits.max_message_len);
    loop {
        match decoder.decode(&mut client.buf) {
            Ok(Some(raw)) => {
                let message = FrontendMessage::decode(&raw, limits).map_err(client_error)?;
                return Ok((raw.header, message));
            }
            Ok(None) => {}
            Err(cause) => return Err(client_error(cause)),
        }
        client
            .fill()
            .await
            .map_err(|source| SessionError::ClientIo { source })?;
    }
}

/// Send `bytes` to the client.
pub(super) async fn send_client(client: &mut ClientConn, bytes: &[u8]) -> Result<()> {
    client
        .send(bytes)
        .await
        .map_err(|source| SessionError::ClientIo { source })
}

/// Read one database message.
pub(super) async fn read_upstream(
    upstream: &mut UpstreamConn,
    limits: &Limits,
) -> Result<(Header, BackendMessage)> {
    let decoder = MessageDecoder::new(limits.max_message_len);
    loop {
        match decoder.decode(&mut upstream.buf) {
            Ok(Some(raw)) => {
                let message = BackendMessage::decode(&raw, limits).map_err(upstream_error)?;
                return Ok((raw.header, message));
            }
            Ok(None) => {}
            Err(cause) => return Err(upstream_error(cause)),
        }
        upstream
            .fill()
            .await
            .map_err(|source| SessionError::UpstreamIo { source })?;
    }
}

/// Send `bytes` to the database.
pub(super) async fn send_upstream(upstream: &mut UpstreamConn, bytes: &[u8]) -> Result<()> {
    upstream
        .send(bytes)
        .await
        .map_err(|source| SessionError::UpstreamIo { source })
}

fn client_error(cause: Malformed) -> SessionError<MongoError> {
    MongoError::ClientProtocol { cause }.into()
}

fn upstream_error(cause: Malformed) -> SessionError<MongoError> {
    MongoError::UpstreamProtocol { cause }.into()
}
