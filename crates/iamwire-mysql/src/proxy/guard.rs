//! The commands the relay does not simply pass on: `COM_CHANGE_USER` (authorized again, logged in
//! with fresh credentials), `COM_INIT_DB` and a leading `USE` (checked against the identity's
//! database names), and `KILL` (the proxy's connection id mapped to the database's thread id, for
//! sessions of the same identity only).

use bytes::{BufMut, BytesMut};
use iamwire_core::SessionRequest;
use iamwire_proxy::{Cx, SessionError};

use super::upstream::authenticate;
use super::{KillTarget, MySql, MyState};
use crate::auth::{CACHING_SHA2_PASSWORD, UpstreamAuth};
use crate::codec::{
    COM_CHANGE_USER, COM_INIT_DB, COM_QUERY, COM_STMT_PREPARE, Capabilities, ChangeUser, ErrPacket,
    Statement, classify,
};
use crate::error::MyError;

type Refusal = SessionError<MyError>;

/// The database user and database a session is on now (they change with COM_CHANGE_USER and
/// COM_INIT_DB).
#[derive(Debug, Clone)]
pub(super) struct Current {
    pub(super) db_user: String,
    pub(super) db_name: Option<String>,
}

/// What to do with a command, from its first bytes.
pub(super) enum Decision {
    /// Pass it on as it arrives.
    Pass,
    /// Read it whole, then [`handle`] it.
    Whole,
    /// Refuse it with this error (the rest of it is dropped).
    Refuse(Refusal),
}

/// What the relay does after [`handle`].
pub(super) enum Outcome {
    /// Send these bytes to the database (the command, possibly rewritten).
    Forward(BytesMut),
    /// Log-in again succeeded: answer the client with the database's OK — after "fast auth success"
    /// if its `COM_CHANGE_USER` carried a `caching_sha2_password` scramble, as MySQL 8 answers it.
    LoggedIn {
        /// The database's OK payload.
        ok: Vec<u8>,
        /// Whether "fast auth success" goes first.
        fast_auth: bool,
    },
    /// Refuse the command with this error (sequence id 1); the session goes on.
    Refuse(Refusal),
    /// The session cannot go on: tell the client why, then end it.
    End(Refusal),
}

fn authorize(cx: &Cx<'_, KillTarget>, db_user: &str, db_name: Option<&str>) -> Result<(), Refusal> {
    let who = cx.session.who().ok_or(SessionError::NoClientIdentity)?;
    let want = SessionRequest {
        database: cx.database,
        db_user,
        db_name,
    };
    cx.authorizer
        .authorize(&who.identity, &want)
        .map_err(|reason| SessionError::Denied { reason })
}

/// Decide from `head` (the first bytes of the payload, command byte included).
pub(super) fn decide(cx: &Cx<'_, KillTarget>, current: &Current, cmd: u8, head: &[u8]) -> Decision {
    match cmd {
        COM_CHANGE_USER | COM_INIT_DB => Decision::Whole,
        COM_QUERY | COM_STMT_PREPARE => match classify(head.get(1..).unwrap_or_default()) {
            Statement::Kill { .. } | Statement::KillOther if cmd == COM_STMT_PREPARE => {
                Decision::Refuse(MyError::KillUnsupported.into())
            }
            Statement::Kill { .. } | Statement::KillOther => Decision::Whole,
            Statement::Use { database } => match authorize(cx, &current.db_user, Some(&database)) {
                Ok(()) => Decision::Pass,
                Err(refusal) => Decision::Refuse(refusal),
            },
            Statement::UseOther => {
                // A name the proxy cannot read (not UTF-8, an open quote) passes only where every
                // name would.
                let text = String::from_utf8_lossy(head.get(1..).unwrap_or_default());
                let name = text.trim().chars().take(64).collect::<String>();
                match authorize(cx, &current.db_user, Some(&name)) {
                    Ok(()) => Decision::Pass,
                    Err(refusal) => Decision::Refuse(refusal),
                }
            }
            Statement::Other | Statement::Undecided => Decision::Pass,
        },
        _ => Decision::Pass,
    }
}

/// Handle a whole command (`payload`, command byte included).
pub(super) async fn handle(
    my: &MySql,
    cx: &Cx<'_, KillTarget>,
    state: &mut MyState,
    upstream: &mut iamwire_proxy::UpstreamConn,
    current: &mut Current,
    payload: BytesMut,
) -> Outcome {
    match payload.first().copied() {
        Some(COM_INIT_DB) => init_db(cx, current, payload),
        Some(COM_CHANGE_USER) => change_user(my, cx, state, upstream, current, &payload).await,
        _ => kill(cx, &payload),
    }
}

fn init_db(cx: &Cx<'_, KillTarget>, current: &mut Current, payload: BytesMut) -> Outcome {
    let name = String::from_utf8_lossy(&payload[1..]).into_owned();
    match authorize(cx, &current.db_user, Some(&name)) {
        Ok(()) => {
            current.db_name = Some(name);
            Outcome::Forward(payload)
        }
        Err(refusal) => Outcome::Refuse(refusal),
    }
}

fn kill(cx: &Cx<'_, KillTarget>, payload: &[u8]) -> Outcome {
    let Statement::Kill { query, id } = classify(payload.get(1..).unwrap_or_default()) else {
        return Outcome::Refuse(MyError::KillUnsupported.into());
    };
    let refused = || Outcome::Refuse(MyError::KillRefused { id }.into());
    let Some((info, target)) = u32::try_from(id).ok().and_then(|id| cx.registry.get(id)) else {
        return refused();
    };
    // Only sessions of the same identity: anyone else's id is as unknown as one that never was.
    let mine = cx.session.who().map(|w| &w.identity);
    if mine.is_none() || mine != info.who().map(|w| &w.identity) {
        tracing::info!(id, "KILL refused: not a session of this identity");
        return refused();
    }
    let scope = if query { "QUERY" } else { "CONNECTION" };
    tracing::info!(
        id,
        thread_id = target.thread_id,
        scope,
        "KILL mapped to the database's thread"
    );
    let mut out = BytesMut::new();
    out.put_u8(COM_QUERY);
    out.put_slice(format!("KILL {scope} {}", target.thread_id).as_bytes());
    Outcome::Forward(out)
}

async fn change_user(
    my: &MySql,
    cx: &Cx<'_, KillTarget>,
    state: &mut MyState,
    upstream: &mut iamwire_proxy::UpstreamConn,
    current: &mut Current,
    payload: &[u8],
) -> Outcome {
    let change = match ChangeUser::decode(payload, state.client_caps) {
        Ok(change) => change,
        Err(cause) => return Outcome::Refuse(MyError::ClientProtocol { cause }.into()),
    };
    if let Err(refusal) = authorize(cx, &change.user, change.database.as_deref()) {
        tracing::info!(db_user = %change.user, "COM_CHANGE_USER refused");
        return Outcome::Refuse(refusal);
    }
    let want = SessionRequest {
        database: cx.database,
        db_user: &change.user,
        db_name: change.database.as_deref(),
    };
    let timeout = cx.timeouts.credentials;
    let login = match tokio::time::timeout(timeout, cx.injector.login(&want)).await {
        Ok(Ok(login)) => login,
        Ok(Err(source)) => return Outcome::Refuse(SessionError::Credentials { source }),
        Err(_) => return Outcome::Refuse(SessionError::CredentialTimeout { timeout }),
    };
    let Some(greeting) = &state.upstream else {
        return Outcome::End(SessionError::NoClientIdentity);
    };
    let (auth, first) = match UpstreamAuth::start(
        login.secret,
        greeting.auth_plugin.as_deref(),
        &greeting.auth_data,
    ) {
        Ok(started) => started,
        Err(error) => return Outcome::Refuse(error.into()),
    };
    let caps = state.upstream_caps;
    let again = ChangeUser {
        user: login.user,
        auth_response: first,
        database: change.database.clone(),
        charset: change
            .charset
            .or(state.response.as_ref().map(|r| u16::from(r.charset))),
        auth_plugin: Some(auth.plugin().to_owned()),
        attributes: change
            .attributes
            .clone()
            .filter(|_| caps.contains(Capabilities::CONNECT_ATTRS)),
    };
    let mut out = BytesMut::new();
    if let Err(cause) = again.encode(&mut out, caps) {
        return Outcome::Refuse(MyError::ClientProtocol { cause }.into());
    }
    let mut seq = 0;
    let timeout = cx.timeouts.login;
    let result =
        tokio::time::timeout(timeout, authenticate(my, upstream, &mut seq, auth, out)).await;
    match result {
        Err(_) => Outcome::End(SessionError::LoginTimeout { timeout }),
        Ok(Err(error)) => Outcome::End(error),
        Ok(Ok(Ok(ok))) => {
            tracing::info!(db_user = %change.user, "COM_CHANGE_USER logged in with fresh credentials");
            let fast_auth = change.auth_plugin.as_deref() == Some(CACHING_SHA2_PASSWORD)
                && !matches!(change.auth_response.expose(), [] | [0]);
            current.db_user = change.user;
            current.db_name = change.database;
            Outcome::LoggedIn { ok, fast_auth }
        }
        Ok(Ok(Err(err))) => {
            let error = MyError::UpstreamRejected { err };
            let hint = if iamwire_proxy::ProtocolError::is_login_rejected(&error) {
                cx.injector.rejected_hint(&want)
            } else {
                None
            };
            Outcome::Refuse(SessionError::Protocol {
                phase: iamwire_proxy::Phase::Relay,
                error,
                hint,
            })
        }
    }
}

/// The ERR payload for `refusal`, for a client with `caps`.
pub(super) fn refusal_payload(refusal: &Refusal, caps: Capabilities) -> Option<BytesMut> {
    let err: ErrPacket = crate::error::error_packet(refusal)?;
    let mut payload = BytesMut::new();
    err.encode(&mut payload, caps);
    Some(payload)
}
