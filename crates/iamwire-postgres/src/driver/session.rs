//! One connection from start to relay: client handshake, identity, authorization, upstream
//! login, then a byte relay.

use iamwire_core::{Authorizer, SessionRequest};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::Inner;
use super::authn::{ClientCheck, ClientHello};
use super::client::{ClientSession, Opening, open};
use super::io::{read_backend, send_error, write_backend};
use super::random::SystemRandom;
use super::upstream::Upstream;
use crate::auth::Nonce;
use crate::cancel::{CancelRegistration, CancelTarget, forward_cancel};
use crate::codec::{Authentication, BackendMessage};
use crate::error::ProxyError;

/// Serve one client connection to its end.
pub(super) async fn run(inner: &Inner, tcp: TcpStream) -> Result<(), ProxyError> {
    let peer = tcp.peer_addr().ok();
    let timeout = inner.handshake_timeout;
    let opening = tokio::time::timeout(timeout, open(tcp, &inner.acceptor, inner.limits))
        .await
        .map_err(|_| ProxyError::HandshakeTimeout { timeout })??;
    let mut client = match opening {
        Opening::Cancel(request) => {
            if let Some(target) = inner.cancel.lookup(&request) {
                tracing::debug!(
                    upstream = target.endpoint.addr(),
                    "forwarding a cancel request"
                );
                forward_cancel(&target).await?;
            } else {
                tracing::debug!("dropping a cancel request with an unknown key");
            }
            return Ok(());
        }
        Opening::Session(client) => client,
    };
    let Ok(_permit) = inner.connections.clone().try_acquire_owned() else {
        let error = ProxyError::TooManyConnections {
            limit: inner.max_connections,
        };
        send_error(&mut client.stream, &error).await;
        return Err(error);
    };
    let (mut upstream, registration) = match handshake(inner, &mut client, peer).await {
        Ok(ready) => ready,
        Err(error) => {
            send_error(&mut client.stream, &error).await;
            return Err(error);
        }
    };
    relay(&mut client, &mut upstream).await;
    drop(registration);
    Ok(())
}

/// Identity, authorization, upstream login and the end of the startup, up to ReadyForQuery.
async fn handshake(
    inner: &Inner,
    client: &mut ClientSession,
    peer: Option<std::net::SocketAddr>,
) -> Result<(Upstream, Option<CancelRegistration>), ProxyError> {
    let user = client.startup.user().to_owned();
    let hello = ClientHello {
        certificate: client.certificate.as_ref(),
        user: &user,
        peer,
    };
    let identity = match inner.authenticator.check(&hello) {
        ClientCheck::Identified(identity) => identity,
        ClientCheck::ScramPassword { identity, secret } => {
            let nonce = Nonce::from_random_bytes(SystemRandom::nonce_bytes(&*inner.random)?);
            let timeout = inner.handshake_timeout;
            tokio::time::timeout(timeout, client.scram(secret, nonce))
                .await
                .map_err(|_| ProxyError::HandshakeTimeout { timeout })??;
            identity
        }
        _ => return Err(ProxyError::NoClientIdentity),
    };
    let db_name = client.startup.database().map(str::to_owned);
    let want = SessionRequest {
        database: &inner.database,
        db_user: &user,
        db_name: db_name.as_deref(),
    };
    if let Err(reason) = inner.authorizer.authorize(&identity, &want) {
        tracing::info!(identity = %identity, db_user = %user, "session denied");
        return Err(ProxyError::Denied { reason });
    }
    tracing::debug!(identity = %identity, db_user = %user, "session authorized");
    let timeout = inner.login_timeout;
    tokio::time::timeout(timeout, login(inner, client, &want))
        .await
        .map_err(|_| ProxyError::UpstreamTimeout { timeout })?
}

async fn login(
    inner: &Inner,
    client: &mut ClientSession,
    want: &SessionRequest<'_>,
) -> Result<(Upstream, Option<CancelRegistration>), ProxyError> {
    let login = inner.injector.login(want).await?;
    let nonce = Nonce::from_random_bytes(SystemRandom::nonce_bytes(&*inner.random)?);
    let mut upstream = inner
        .endpoint
        .login(
            &client.startup,
            login,
            nonce,
            inner.limits,
            inner.channel_binding,
        )
        .await
        .map_err(|error| match error {
            ProxyError::UpstreamRejected { fields, .. } => ProxyError::UpstreamRejected {
                fields,
                hint: inner.injector.rejected_hint(want),
            },
            other => other,
        })?;
    let mut out = std::mem::take(&mut upstream.early);
    out.push(BackendMessage::Authentication(Authentication::Ok));
    write_backend(&mut client.stream, &out).await?;
    let mut registration = None;
    loop {
        let message = read_backend(
            &mut upstream.stream,
            &mut upstream.buf,
            &mut upstream.decoder,
        )
        .await?;
        let message = match message {
            BackendMessage::BackendKeyData(key) => {
                let target = CancelTarget {
                    endpoint: inner.endpoint.clone(),
                    key,
                };
                let (ours, guard) = inner.cancel.register(target, &*inner.random)?;
                registration = Some(guard);
                BackendMessage::BackendKeyData(ours)
            }
            BackendMessage::ErrorResponse(fields) => {
                return Err(ProxyError::UpstreamRejected {
                    fields: Box::new(fields),
                    hint: None,
                });
            }
            BackendMessage::Authentication(_)
            | BackendMessage::SslResponse { .. }
            | BackendMessage::GssEncResponse { .. } => {
                return Err(ProxyError::UnexpectedUpstreamMessage {
                    what: "an authentication message after AuthenticationOk",
                });
            }
            ready @ BackendMessage::ReadyForQuery(_) => {
                write_backend(&mut client.stream, &[ready]).await?;
                return Ok((upstream, registration));
            }
            other => other,
        };
        write_backend(&mut client.stream, &[message]).await?;
    }
}

/// Copy bytes both ways until either side closes; first whatever each side sent early.
async fn relay(client: &mut ClientSession, upstream: &mut Upstream) {
    if !upstream.buf.is_empty() && client.stream.write_all(&upstream.buf).await.is_err() {
        return;
    }
    if !client.buf.is_empty() && upstream.stream.write_all(&client.buf).await.is_err() {
        return;
    }
    upstream.buf.clear();
    client.buf.clear();
    match tokio::io::copy_bidirectional(&mut client.stream, &mut upstream.stream).await {
        Ok((up, down)) => tracing::debug!(client_to_db = up, db_to_client = down, "session ended"),
        Err(error) => tracing::debug!(%error, "session ended with an I/O error"),
    }
}
