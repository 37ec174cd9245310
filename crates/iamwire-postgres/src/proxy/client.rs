//! The client side: the first packets, TLS, the StartupMessage, and the proxy-side SCRAM exchange when
//! the authenticator asks for a password.

use iamwire_proxy::scram::ScramSecret;
use iamwire_proxy::{ClientConn, Cx, Hello, SessionError};

use super::io::{read_frontend, send_backend};
use super::{CancelTarget, PgState, Postgres, Result};
use crate::auth::{Nonce, SaslClientMessage, ScramServer, ServerAction};
use crate::codec::{
    AuthResponseKind, Authentication, BackendMessage, CancelRequest, FrontendDecoder,
    FrontendMessage, FrontendPhase, Secret,
};
use crate::error::PgError;

/// Read the first packets: GSSENCRequest is declined (once: a second is refused, as PostgreSQL refuses
/// it, so a client cannot keep the handshake busy with requests), SSLRequest leads to TLS, a
/// StartupMessage must come inside TLS, a CancelRequest is out of band.
pub(super) async fn hello(
    pg: &Postgres,
    client: &mut ClientConn,
    state: &mut PgState,
) -> Result<Hello<CancelRequest>> {
    state.frontend = FrontendDecoder::new(pg.limits);
    let mut gss_declined = false;
    loop {
        match read_frontend(client, &mut state.frontend).await? {
            FrontendMessage::GssEncRequest if !client.is_tls() && !gss_declined => {
                gss_declined = true;
                send_backend(
                    client,
                    &[BackendMessage::GssEncResponse { accepted: false }],
                )
                .await?;
            }
            FrontendMessage::SslRequest if !client.is_tls() => {
                // Bytes after SSLRequest would be taken as if TLS had protected them (CVE-2021-23214).
                if !client.buf.is_empty() {
                    return Err(SessionError::DataBeforeTls);
                }
                send_backend(client, &[BackendMessage::SslResponse { accepted: true }]).await?;
                client.start_tls().await?;
            }
            FrontendMessage::CancelRequest(request) => {
                return Ok(Hello::OutOfBand {
                    session: u32::try_from(request.process_id).ok(),
                    request,
                });
            }
            FrontendMessage::Startup(startup) => {
                // On a unix socket of this host nothing crosses a network, and libpq uses no TLS there.
                if !client.is_tls() && !client.is_local() {
                    return Err(PgError::TlsRequired.into());
                }
                let db_user = startup.user().to_owned();
                // PostgreSQL opens the database named after the user when none is given: authorize that.
                let db_name = startup.database().unwrap_or(&db_user).to_owned();
                state.startup = Some(startup);
                return Ok(Hello::Session {
                    db_user,
                    db_name: Some(db_name),
                });
            }
            _ => {
                return Err(PgError::UnexpectedClientMessage {
                    what: "another request",
                    expected: "a startup packet",
                }
                .into());
            }
        }
    }
}

/// Check the client's proxy-side password with SCRAM-SHA-256. On success the client has been sent
/// `AuthenticationSASLFinal`; `AuthenticationOk` waits for the database.
pub(super) async fn scram(
    cx: &Cx<'_, CancelTarget>,
    client: &mut ClientConn,
    state: &mut PgState,
    secret: &ScramSecret,
) -> Result<()> {
    let user = state
        .startup
        .as_ref()
        .map(|s| s.user().to_owned())
        .unwrap_or_default();
    let fail = |source| PgError::ClientAuth {
        user: user.clone(),
        source,
    };
    let nonce = Nonce::from_random_bytes(cx.random.array()?);
    let mut server = ScramServer::new(secret.clone(), nonce, None);
    let mechanisms = server
        .mechanisms()
        .iter()
        .map(|m| (*m).to_owned())
        .collect();
    send_backend(
        client,
        &[BackendMessage::Authentication(Authentication::Sasl {
            mechanisms,
        })],
    )
    .await?;
    state.frontend.set_phase(FrontendPhase::Authentication(
        AuthResponseKind::SaslInitialResponse,
    ));
    let FrontendMessage::SaslInitialResponse(initial) =
        read_frontend(client, &mut state.frontend).await?
    else {
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
    send_backend(
        client,
        &[BackendMessage::Authentication(
            Authentication::SaslContinue(Secret::new(first)),
        )],
    )
    .await?;
    state.frontend.set_phase(FrontendPhase::Authentication(
        AuthResponseKind::SaslResponse,
    ));
    let FrontendMessage::SaslResponse(response) =
        read_frontend(client, &mut state.frontend).await?
    else {
        return Err(unexpected("SASLResponse"));
    };
    let message = SaslClientMessage::Response {
        data: response.data.expose(),
    };
    let ServerAction::Final(last) = server.step(message).map_err(fail)? else {
        return Err(unexpected("SASLResponse"));
    };
    send_backend(
        client,
        &[BackendMessage::Authentication(Authentication::SaslFinal(
            Secret::new(last),
        ))],
    )
    .await
}

fn unexpected(expected: &'static str) -> SessionError<PgError> {
    PgError::UnexpectedClientMessage {
        what: "another message",
        expected,
    }
    .into()
}
