//! The database's side of the handshake: STARTUP with the client's options, then the database's
//! authenticator — a challenge answered by the login's signer (Keyspaces SigV4), or SASL PLAIN with the
//! injected password — until AUTH_SUCCESS (or READY, for a database without authentication).

use bytes::Bytes;
use iamwire_core::{Answer, Challenge, ChallengeSigner, UpstreamLogin};
use iamwire_proxy::UpstreamConn;

use super::io::{read_response, send_request};
use super::{Cql, CqlState, Result};
use crate::codec::{Request, Response, opcode};
use crate::error::CqlError;

/// The most challenges the proxy answers before it gives up on a database.
pub(super) const MAX_ROUNDS: usize = 8;

pub(super) async fn login(
    cql: &Cql,
    state: &mut CqlState,
    upstream: &mut UpstreamConn,
    login: UpstreamLogin,
) -> Result<()> {
    let version = state.version.unwrap_or(cql.max_version);
    let startup = Request::Startup(state.startup.clone());
    send_request(upstream, &state.upstream, &startup, version).await?;
    let (_, response) = read_response(upstream, &mut state.upstream, &cql.limits).await?;
    match response {
        Response::Ready => {
            if version >= 5 {
                state.upstream.switch_to_segments();
            }
            return Ok(());
        }
        Response::Authenticate(_) => {
            if version >= 5 {
                state.upstream.switch_to_segments();
            }
        }
        other => return Err(unexpected(&other, "AUTHENTICATE or READY")),
    }
    let signer = login.signer.as_deref();
    let first = match signer {
        Some(signer) => answer(signer, Challenge::Start)?,
        None => plain(&login),
    };
    let mut token = first;
    for _ in 0..MAX_ROUNDS {
        let request = Request::AuthResponse(Some(token));
        send_request(upstream, &state.upstream, &request, version).await?;
        let (_, response) = read_response(upstream, &mut state.upstream, &cql.limits).await?;
        match response {
            Response::AuthSuccess(_) => return Ok(()),
            Response::AuthChallenge(challenge) => {
                let Some(signer) = signer else {
                    return Err(unexpected(
                        &Response::AuthChallenge(challenge),
                        "AUTH_SUCCESS after a password",
                    ));
                };
                let challenge = challenge.unwrap_or_default();
                token = answer(signer, Challenge::Token(&challenge))?;
            }
            other => return Err(unexpected(&other, "AUTH_CHALLENGE or AUTH_SUCCESS")),
        }
    }
    Err(CqlError::TooManyRounds { rounds: MAX_ROUNDS }.into())
}

fn answer(signer: &dyn ChallengeSigner, challenge: Challenge<'_>) -> Result<Bytes> {
    match signer.answer(challenge) {
        Ok(Answer::Token(token)) => Ok(Bytes::copy_from_slice(token.expose())),
        Ok(_) => Err(CqlError::Signer {
            source: iamwire_core::InjectError::new(
                iamwire_core::InjectErrorKind::Internal,
                format!(
                    "the {} signer answered with something a CQL token cannot carry",
                    signer.mechanism()
                ),
            ),
        }
        .into()),
        Err(source) => Err(CqlError::Signer { source }.into()),
    }
}

/// SASL PLAIN with the injected user and password.
fn plain(login: &UpstreamLogin) -> Bytes {
    let mut token = Vec::with_capacity(login.user.len() + login.secret.len() + 2);
    token.push(0);
    token.extend_from_slice(login.user.as_bytes());
    token.push(0);
    token.extend_from_slice(login.secret.expose());
    Bytes::from(token)
}

/// An ERROR is the database's refusal, passed on with its own code; anything else is out of place.
fn unexpected(
    response: &Response,
    expected: &'static str,
) -> iamwire_proxy::SessionError<CqlError> {
    let error = match response {
        Response::Error(e) => CqlError::UpstreamRejected {
            code: e.code,
            message: e.message.clone(),
        },
        other => CqlError::UnexpectedUpstreamMessage {
            opcode: opcode_of(other),
            expected,
        },
    };
    error.into()
}

fn opcode_of(response: &Response) -> u8 {
    match response {
        Response::Supported(_) => opcode::SUPPORTED,
        Response::Authenticate(_) => opcode::AUTHENTICATE,
        Response::AuthChallenge(_) => opcode::AUTH_CHALLENGE,
        Response::AuthSuccess(_) => opcode::AUTH_SUCCESS,
        Response::Ready => opcode::READY,
        Response::Error(_) => opcode::ERROR,
        Response::Other(op) => *op,
    }
}
