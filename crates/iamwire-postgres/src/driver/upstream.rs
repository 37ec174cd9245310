//! The database side: dial, insist on TLS, and log in with the injected credentials.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

use super::io::{read_backend, write_frontend};
use crate::auth::{
    AuthError, AuthRequest, ChannelBindingPolicy, Nonce, TlsServerEndPoint, UpstreamAction,
    UpstreamAuth, UpstreamLogin, UpstreamTransport,
};
use crate::codec::{
    Authentication, BackendDecoder, BackendMessage, BackendPhase, FrontendMessage, Limits,
    PasswordMessage, SaslInitialResponse, SaslResponse, Secret, StartupMessage,
};
use crate::error::ProxyError;

/// How to reach a database: its address, the name its certificate must carry, and the TLS
/// policy (CA, verification mode). Used for sessions and for forwarding cancellations.
#[derive(Clone)]
pub struct UpstreamEndpoint {
    pub(crate) addr: String,
    pub(crate) server_name: ServerName<'static>,
    pub(crate) tls: Arc<ClientConfig>,
    pub(crate) connect_timeout: Duration,
}

impl fmt::Debug for UpstreamEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamEndpoint")
            .field("addr", &self.addr)
            .field("server_name", &self.server_name)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// A database connection after TLS and login, with what it sent beyond the login.
pub(super) struct Upstream {
    pub(super) stream: TlsStream<TcpStream>,
    pub(super) buf: BytesMut,
    pub(super) decoder: BackendDecoder,
    /// Messages to pass to the client before `AuthenticationOk` would be out of order, so they
    /// wait here (NegotiateProtocolVersion, notices).
    pub(super) early: Vec<BackendMessage>,
}

impl UpstreamEndpoint {
    /// The address dialed (`host:port`).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// TCP (within the connect timeout), SSLRequest, then TLS: the database must accept TLS.
    pub(crate) async fn dial_tls(&self) -> Result<TlsStream<TcpStream>, ProxyError> {
        let addr = self.addr.clone();
        let mut tcp = tokio::time::timeout(self.connect_timeout, TcpStream::connect(&self.addr))
            .await
            .map_err(|_| ProxyError::ConnectTimeout {
                addr: addr.clone(),
                timeout: self.connect_timeout,
            })?
            .map_err(|source| ProxyError::Connect {
                addr: addr.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        write_frontend(&mut tcp, &FrontendMessage::SslRequest).await?;
        let mut decoder = BackendDecoder::new(Limits::default());
        decoder.set_phase(BackendPhase::SslResponse);
        let mut buf = BytesMut::new();
        let answer = tokio::time::timeout(
            self.connect_timeout,
            read_backend(&mut tcp, &mut buf, &mut decoder),
        )
        .await
        .map_err(|_| ProxyError::ConnectTimeout {
            addr: addr.clone(),
            timeout: self.connect_timeout,
        })??;
        match answer {
            BackendMessage::SslResponse { accepted: true } if buf.is_empty() => {}
            BackendMessage::SslResponse { accepted: true } => {
                // Bytes after 'S' were not protected by TLS (CVE-2021-23222).
                return Err(ProxyError::UnexpectedUpstreamMessage {
                    what: "unencrypted data after accepting TLS",
                });
            }
            BackendMessage::SslResponse { accepted: false } => {
                let _ = tcp.shutdown().await;
                return Err(ProxyError::UpstreamNoTls { addr });
            }
            BackendMessage::ErrorResponse(fields) => {
                return Err(ProxyError::UpstreamRejected {
                    fields: Box::new(fields),
                    hint: None,
                });
            }
            _ => {
                return Err(ProxyError::UnexpectedUpstreamMessage {
                    what: "an unexpected answer to SSLRequest",
                });
            }
        }
        TlsConnector::from(self.tls.clone())
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|source| ProxyError::UpstreamTls { addr, source })
    }

    /// Connect and log in as `login` with the client's `startup` parameters (user replaced),
    /// until the database says `AuthenticationOk`.
    pub(super) async fn login(
        &self,
        startup: &StartupMessage,
        login: UpstreamLogin,
        nonce: Nonce,
        limits: Limits,
        channel_binding: ChannelBindingPolicy,
    ) -> Result<Upstream, ProxyError> {
        let mut stream = self.dial_tls().await?;
        let server_end_point = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|der| TlsServerEndPoint::from_certificate_der(der.as_ref()).ok());
        let mut startup = startup.clone();
        startup
            .set("user", login.user.clone())
            .map_err(|source| ProxyError::ClientProtocol { source })?;
        write_frontend(&mut stream, &FrontendMessage::Startup(startup)).await?;
        let mut auth = UpstreamAuth::new(login, UpstreamTransport::Tls { server_end_point }, nonce)
            .channel_binding(channel_binding);
        let mut upstream = Upstream {
            stream,
            buf: BytesMut::new(),
            decoder: BackendDecoder::new(limits),
            early: Vec::new(),
        };
        loop {
            let message = read_backend(
                &mut upstream.stream,
                &mut upstream.buf,
                &mut upstream.decoder,
            )
            .await?;
            let request = match message {
                BackendMessage::Authentication(request) => request,
                BackendMessage::ErrorResponse(fields) => {
                    return Err(ProxyError::UpstreamRejected {
                        fields: Box::new(fields),
                        hint: None,
                    });
                }
                early @ (BackendMessage::NoticeResponse(_)
                | BackendMessage::NegotiateProtocolVersion(_)) => {
                    upstream.early.push(early);
                    continue;
                }
                _ => {
                    return Err(ProxyError::UnexpectedUpstreamMessage {
                        what: "a message other than an authentication request",
                    });
                }
            };
            let action =
                step(&mut auth, &request).map_err(|source| ProxyError::UpstreamAuth { source })?;
            let reply = match action {
                UpstreamAction::Done => {
                    tracing::debug!(method = ?auth.method(), "database accepted the login");
                    return Ok(upstream);
                }
                UpstreamAction::AwaitNext => continue,
                UpstreamAction::SendPassword(secret) => {
                    FrontendMessage::Password(PasswordMessage {
                        password: Secret::new(Bytes::copy_from_slice(secret.expose())),
                    })
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
            write_frontend(&mut upstream.stream, &reply).await?;
        }
    }
}

/// Feed one `Authentication*` message to the login exchange.
fn step(auth: &mut UpstreamAuth, request: &Authentication) -> Result<UpstreamAction, AuthError> {
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
