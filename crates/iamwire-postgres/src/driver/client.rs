//! The client side of the handshake: the first packet, TLS, the StartupMessage, and the
//! proxy-side password exchange when the authenticator asks for one.

use bytes::BytesMut;
use iamwire_core::tls::{PeerCertificate, peer_certificate};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::io::{read_frontend, send_error, write_backend};
use crate::auth::{Nonce, SaslClientMessage, ScramSecret, ScramServer, ServerAction};
use crate::codec::{
    AuthResponseKind, Authentication, BackendMessage, CancelRequest, FrontendDecoder,
    FrontendMessage, FrontendPhase, Limits, Secret, StartupMessage,
};
use crate::error::ProxyError;

/// How a client opened its connection.
pub(super) enum Opening {
    /// A session over TLS.
    Session(Box<ClientSession>),
    /// A cancellation (plaintext or inside TLS); the connection ends after it.
    Cancel(CancelRequest),
}

/// A client over TLS that has sent its StartupMessage.
pub(super) struct ClientSession {
    pub(super) stream: TlsStream<TcpStream>,
    pub(super) buf: BytesMut,
    pub(super) decoder: FrontendDecoder,
    pub(super) startup: StartupMessage,
    pub(super) certificate: Option<PeerCertificate>,
}

/// Read the first packets: GSSENCRequest is declined, SSLRequest leads to TLS, a plaintext
/// StartupMessage is refused (TLS is required). Errors that can still be told to the client are.
pub(super) async fn open(
    mut tcp: TcpStream,
    acceptor: &TlsAcceptor,
    limits: Limits,
) -> Result<Opening, ProxyError> {
    let mut buf = BytesMut::new();
    let mut decoder = FrontendDecoder::new(limits);
    loop {
        let message = match read_frontend(&mut tcp, &mut buf, &mut decoder).await {
            Ok(message) => message,
            Err(error) => {
                send_error(&mut tcp, &error).await;
                return Err(error);
            }
        };
        match message {
            FrontendMessage::GssEncRequest => {
                write_backend(
                    &mut tcp,
                    &[BackendMessage::GssEncResponse { accepted: false }],
                )
                .await?;
            }
            FrontendMessage::SslRequest => {
                if !buf.is_empty() {
                    let error = ProxyError::DataAfterSslRequest;
                    send_error(&mut tcp, &error).await;
                    return Err(error);
                }
                write_backend(&mut tcp, &[BackendMessage::SslResponse { accepted: true }]).await?;
                let stream = acceptor
                    .accept(tcp)
                    .await
                    .map_err(|source| ProxyError::ClientTls { source })?;
                return inside_tls(stream, decoder).await;
            }
            FrontendMessage::CancelRequest(cancel) => return Ok(Opening::Cancel(cancel)),
            FrontendMessage::Startup(_) => {
                let error = ProxyError::TlsRequired;
                send_error(&mut tcp, &error).await;
                return Err(error);
            }
            _ => {
                let error = ProxyError::UnexpectedClientMessage {
                    what: "an authentication message",
                    expected: "a startup packet",
                };
                send_error(&mut tcp, &error).await;
                return Err(error);
            }
        }
    }
}

async fn inside_tls(
    mut stream: TlsStream<TcpStream>,
    mut decoder: FrontendDecoder,
) -> Result<Opening, ProxyError> {
    let mut buf = BytesMut::new();
    let message = match read_frontend(&mut stream, &mut buf, &mut decoder).await {
        Ok(message) => message,
        Err(error) => {
            send_error(&mut stream, &error).await;
            return Err(error);
        }
    };
    let startup = match message {
        FrontendMessage::Startup(startup) => startup,
        FrontendMessage::CancelRequest(cancel) => return Ok(Opening::Cancel(cancel)),
        _ => {
            let error = ProxyError::UnexpectedClientMessage {
                what: "another request",
                expected: "a StartupMessage inside TLS",
            };
            send_error(&mut stream, &error).await;
            return Err(error);
        }
    };
    let certificate = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(peer_certificate);
    Ok(Opening::Session(Box::new(ClientSession {
        stream,
        buf,
        decoder,
        startup,
        certificate,
    })))
}

impl ClientSession {
    /// Check the client's proxy-side password with SCRAM-SHA-256. On success the client has
    /// been sent `AuthenticationSASLFinal`; `AuthenticationOk` waits for the database.
    pub(super) async fn scram(
        &mut self,
        secret: ScramSecret,
        nonce: Nonce,
    ) -> Result<(), ProxyError> {
        let user = self.startup.user().to_owned();
        let fail = |source| ProxyError::ClientAuth {
            user: user.clone(),
            source,
        };
        let mut server = ScramServer::new(secret, nonce, None);
        let mechanisms = server
            .mechanisms()
            .iter()
            .map(|m| (*m).to_owned())
            .collect();
        self.send(BackendMessage::Authentication(Authentication::Sasl {
            mechanisms,
        }))
        .await?;
        self.expect(AuthResponseKind::SaslInitialResponse);
        let FrontendMessage::SaslInitialResponse(initial) = self.read().await? else {
            return Err(unexpected("SASLInitialResponse"));
        };
        let data = initial.data.as_ref().map_or(&[][..], Secret::expose);
        let message = SaslClientMessage::Initial {
            mechanism: &initial.mechanism,
            data,
        };
        let ServerAction::Continue(first) = server.step(message).map_err(fail)? else {
            return Err(unexpected("SASLInitialResponse"));
        };
        self.send(BackendMessage::Authentication(
            Authentication::SaslContinue(Secret::new(first)),
        ))
        .await?;
        self.expect(AuthResponseKind::SaslResponse);
        let FrontendMessage::SaslResponse(response) = self.read().await? else {
            return Err(unexpected("SASLResponse"));
        };
        let message = SaslClientMessage::Response {
            data: response.data.expose(),
        };
        let ServerAction::Final(last) = server.step(message).map_err(fail)? else {
            return Err(unexpected("SASLResponse"));
        };
        self.send(BackendMessage::Authentication(Authentication::SaslFinal(
            Secret::new(last),
        )))
        .await
    }

    fn expect(&mut self, kind: AuthResponseKind) {
        self.decoder.set_phase(FrontendPhase::Authentication(kind));
    }

    async fn read(&mut self) -> Result<FrontendMessage, ProxyError> {
        read_frontend(&mut self.stream, &mut self.buf, &mut self.decoder).await
    }

    pub(super) async fn send(&mut self, message: BackendMessage) -> Result<(), ProxyError> {
        write_backend(&mut self.stream, &[message]).await
    }
}

fn unexpected(expected: &'static str) -> ProxyError {
    ProxyError::UnexpectedClientMessage {
        what: "another message",
        expected,
    }
}
