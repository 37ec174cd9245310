//! The database side: SSLRequest and TLS, the login with the injected credentials, and the end of the
//! startup up to ReadyForQuery.

use bytes::BytesMut;
use iamwire_core::{SessionRequest, UpstreamLogin};
use iamwire_proxy::{ClientConn, Cx, Registration, SessionError, UpstreamConn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::io::{encode_frontend, read_backend, send_backend, send_frontend};
use super::{CancelTarget, PgState, Postgres, Result};
use crate::auth::{
    AuthError, AuthRequest, Nonce, TlsServerEndPoint, UpstreamAction, UpstreamAuth,
    UpstreamTransport,
};
use crate::codec::{
    Authentication, BackendDecoder, BackendKeyData, BackendMessage, BackendPhase, CancelKey,
    FrontendMessage, Limits, PasswordMessage, SaslInitialResponse, SaslResponse, Secret,
};
use crate::error::PgError;

/// SSLRequest on the fresh TCP connection, then TLS: the database must accept TLS.
pub(super) async fn connect(cx: &Cx<'_, CancelTarget>, mut tcp: TcpStream) -> Result<UpstreamConn> {
    let addr = cx.endpoint.addr().to_owned();
    let io = |source| SessionError::UpstreamIo { source };
    let request = encode_frontend(&FrontendMessage::SslRequest)?;
    tcp.write_all(&request).await.map_err(io)?;
    let mut decoder = BackendDecoder::new(Limits::default());
    decoder.set_phase(BackendPhase::SslResponse);
    let mut buf = BytesMut::new();
    let answer = loop {
        if let Some(message) = decoder
            .decode(&mut buf)
            .map_err(|cause| PgError::UpstreamProtocol { cause })?
        {
            break message;
        }
        if tcp.read_buf(&mut buf).await.map_err(io)? == 0 {
            return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    };
    match answer {
        BackendMessage::SslResponse { accepted: true } => {
            UpstreamConn::start_tls(cx.endpoint, tcp, &buf)
                .await
                .map_err(|source| SessionError::upstream_tls(addr, source))
        }
        BackendMessage::SslResponse { accepted: false } => {
            let _ = tcp.shutdown().await;
            Err(PgError::UpstreamNoTls { addr }.into())
        }
        BackendMessage::ErrorResponse(fields) => Err(PgError::UpstreamRejected {
            fields: Box::new(fields),
        }
        .into()),
        _ => Err(PgError::UnexpectedUpstreamMessage {
            what: "an unexpected answer to SSLRequest",
        }
        .into()),
    }
}

/// Log in as `login` with the client's startup parameters (user replaced, database as authorized),
/// until the database says `AuthenticationOk`.
pub(super) async fn login(
    pg: &Postgres,
    cx: &Cx<'_, CancelTarget>,
    state: &mut PgState,
    upstream: &mut UpstreamConn,
    login: UpstreamLogin,
    want: &SessionRequest<'_>,
) -> Result<()> {
    let mut startup = state
        .startup
        .clone()
        .ok_or(PgError::UnexpectedClientMessage {
            what: "no StartupMessage",
            expected: "a StartupMessage before the login",
        })?;
    let bad = |cause| PgError::ClientProtocol { cause };
    startup.set("user", login.user.clone()).map_err(bad)?;
    if let Some(name) = want.db_name {
        // Exactly the database the Authorizer allowed, never the server's own default.
        startup.set("database", name.to_owned()).map_err(bad)?;
    }
    send_frontend(upstream, &FrontendMessage::Startup(startup)).await?;
    let server_end_point = upstream
        .peer_certificate_der()
        .and_then(|der| TlsServerEndPoint::from_certificate_der(der).ok());
    let nonce = Nonce::from_random_bytes(cx.random.array()?);
    let mut auth = UpstreamAuth::new(login, UpstreamTransport::Tls { server_end_point }, nonce)
        .channel_binding(pg.channel_binding);
    state.backend = BackendDecoder::new(pg.limits);
    loop {
        let request = match read_backend(upstream, &mut state.backend).await? {
            BackendMessage::Authentication(request) => request,
            BackendMessage::ErrorResponse(fields) => {
                return Err(PgError::UpstreamRejected {
                    fields: Box::new(fields),
                }
                .into());
            }
            early @ (BackendMessage::NoticeResponse(_)
            | BackendMessage::NegotiateProtocolVersion(_)) => {
                state.early.push(early);
                continue;
            }
            _ => {
                return Err(PgError::UnexpectedUpstreamMessage {
                    what: "a message other than an authentication request",
                }
                .into());
            }
        };
        let action = step(&mut auth, &request).map_err(|cause| PgError::UpstreamAuth { cause })?;
        let reply = match action {
            UpstreamAction::Done => {
                tracing::debug!(method = ?auth.method(), "database accepted the login");
                return Ok(());
            }
            UpstreamAction::AwaitNext => continue,
            UpstreamAction::SendPassword(secret) => {
                FrontendMessage::Password(PasswordMessage { password: secret })
            }
            UpstreamAction::SendSaslInitialResponse { mechanism, data } => {
                FrontendMessage::SaslInitialResponse(SaslInitialResponse {
                    mechanism: mechanism.to_owned(),
                    data: Some(Secret::new(data)),
                })
            }
            UpstreamAction::SendSaslResponse { data } => {
                FrontendMessage::SaslResponse(SaslResponse {
                    data: Secret::new(data),
                })
            }
        };
        send_frontend(upstream, &reply).await?;
    }
}

/// Feed one `Authentication*` message to the login exchange.
fn step(
    auth: &mut UpstreamAuth,
    request: &Authentication,
) -> std::result::Result<UpstreamAction, AuthError> {
    let mechanisms: Vec<&str>;
    let request = match request {
        Authentication::Ok => AuthRequest::Ok,
        Authentication::CleartextPassword => AuthRequest::CleartextPassword,
        Authentication::Md5Password { salt } => AuthRequest::Md5Password { salt: *salt },
        Authentication::Sasl { mechanisms: names } => {
            mechanisms = names.iter().map(String::as_str).collect();
            AuthRequest::Sasl {
                mechanisms: &mechanisms,
            }
        }
        Authentication::SaslContinue(data) => AuthRequest::SaslContinue {
            data: data.expose(),
        },
        Authentication::SaslFinal(data) => AuthRequest::SaslFinal {
            data: data.expose(),
        },
        Authentication::Other { code, .. } => AuthRequest::Unsupported { code: *code },
    };
    auth.step(request)
}

/// Tell the client it is in (what the database sent early, then `AuthenticationOk`), then pass on the
/// rest of the startup up to ReadyForQuery in one write, with the database's BackendKeyData replaced by
/// a proxy-made key registered for cancel forwarding.
pub(super) async fn welcome(
    cx: &Cx<'_, CancelTarget>,
    client: &mut ClientConn,
    state: &mut PgState,
    upstream: &mut UpstreamConn,
    registration: &Registration<CancelTarget>,
) -> Result<()> {
    let mut out = std::mem::take(&mut state.early);
    out.push(BackendMessage::Authentication(Authentication::Ok));
    loop {
        let message = match read_backend(upstream, &mut state.backend).await? {
            BackendMessage::BackendKeyData(key) => {
                let secret = CancelKey::from_i32(i32::from_be_bytes(cx.random.array()?));
                registration.set(CancelTarget {
                    client_secret: secret.clone(),
                    upstream: key,
                });
                BackendMessage::BackendKeyData(BackendKeyData {
                    // Session ids are positive 31-bit numbers, like real process ids.
                    process_id: i32::try_from(registration.id()).unwrap_or(i32::MAX),
                    secret_key: secret,
                })
            }
            BackendMessage::ErrorResponse(fields) => {
                return Err(PgError::UpstreamRejected {
                    fields: Box::new(fields),
                }
                .into());
            }
            BackendMessage::Authentication(_)
            | BackendMessage::SslResponse { .. }
            | BackendMessage::GssEncResponse { .. } => {
                return Err(PgError::UnexpectedUpstreamMessage {
                    what: "an authentication message after AuthenticationOk",
                }
                .into());
            }
            ready @ BackendMessage::ReadyForQuery(_) => {
                out.push(ready);
                return send_backend(client, &out).await;
            }
            other => other,
        };
        out.push(message);
    }
}
