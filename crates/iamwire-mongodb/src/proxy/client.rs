//! The client's side of the handshake: TLS, the proxy's own `hello`, and the `saslStart` `PLAIN`
//! that names the database user.

use iamwire_proxy::scram::ScramSecret;
use iamwire_proxy::{ClientConn, Cx, Hello, SessionError};

use super::io::{Pending, answer, read_client, send_client};
use super::{Mongo, MongoState, Result};
use crate::bson::{DocBuf, Document, Value};
use crate::codec::{FrontendMessage, flags};
use crate::error::{MongoError, error_reply};

/// The most commands a client may send before it logs in (a driver's monitoring connection sends a
/// `hello` every 10 seconds and never logs in; the handshake timeout ends it first).
const MAX_COMMANDS: usize = 64;
/// The longest database user name accepted (an IAM role ARN is at most 2048 characters).
const MAX_USER_LEN: usize = 2048;
/// MongoDB's largest document.
const MAX_BSON_OBJECT_SIZE: i32 = 16 * 1024 * 1024;
/// An empty document.
const EMPTY: &[u8] = &[5, 0, 0, 0, 0];
/// MongoDB's largest write batch.
const MAX_WRITE_BATCH_SIZE: i32 = 100_000;

pub(super) async fn hello(
    mongo: &Mongo,
    cx: &Cx<'_, ()>,
    client: &mut ClientConn,
    state: &mut MongoState,
) -> Result<Hello<()>> {
    client.start_tls().await?;
    for _ in 0..MAX_COMMANDS {
        let (header, message) = read_client(client, &mongo.limits).await?;
        let (legacy, more_to_come) = match &message {
            FrontendMessage::Msg(m) => (false, m.flags & flags::MORE_TO_COME != 0),
            _ => (true, false),
        };
        state.pending = (!more_to_come).then_some(Pending {
            request_id: header.request_id,
            legacy,
        });
        let command = command_of(&message);
        let name = command.and_then(|c| c.first_key()).unwrap_or("");
        let reply = match name.to_ascii_lowercase().as_str() {
            "hello" | "ismaster" => {
                let command = command.unwrap_or(Document::trusted(EMPTY));
                hello_reply(mongo, cx, &command, name != "hello")
            }
            "ping" | "endsessions" => ok(),
            "saslstart" => {
                let command = command.unwrap_or(Document::trusted(EMPTY));
                return sasl_start(state, &command);
            }
            "authenticate" => {
                let mechanism = command.and_then(|c| c.get_str("mechanism")).unwrap_or("");
                return Err(MongoError::UnsupportedMechanism {
                    mechanism: mechanism.to_owned(),
                }
                .into());
            }
            _ => {
                let error = SessionError::from(MongoError::NotAuthenticated {
                    command: name.chars().take(64).collect(),
                });
                error_reply(&error).unwrap_or_default()
            }
        };
        if let Some(to) = state.pending.take() {
            let id = state.next_id();
            send_client(client, &answer(to, id, reply)).await?;
        }
    }
    Err(MongoError::NotAuthenticated {
        command: format!("more than {MAX_COMMANDS} commands"),
    }
    .into())
}

/// A `saslStart` with `PLAIN`: the user is the database user.
fn sasl_start(state: &mut MongoState, command: &Document<'_>) -> Result<Hello<()>> {
    let mechanism = command.get_str("mechanism").unwrap_or("");
    if mechanism != "PLAIN" {
        return Err(MongoError::UnsupportedMechanism {
            mechanism: mechanism.chars().take(64).collect(),
        }
        .into());
    }
    let payload = command
        .get_binary("payload")
        .ok_or(MongoError::BadPlainPayload)?;
    let (user, password) =
        iamwire_proxy::sasl::plain(payload, MAX_USER_LEN).ok_or(MongoError::BadPlainPayload)?;
    state.password = Some(password);
    state.user.clone_from(&user);
    Ok(Hello::Session {
        db_user: user,
        db_name: None,
    })
}

/// The client's PLAIN password against the proxy's stored secret.
pub(super) fn check_password(state: &mut MongoState, secret: &ScramSecret) -> Result<()> {
    let password = state.password.take().unwrap_or_default();
    if secret.verify_password(password.expose()) {
        return Ok(());
    }
    Err(SessionError::from(MongoError::BadPassword {
        user: state.user.clone(),
    }))
}

/// The database accepted the proxy's login: the client's `saslStart` is done.
pub(super) async fn welcome(client: &mut ClientConn, state: &mut MongoState) -> Result<()> {
    let mut reply = DocBuf::new();
    reply
        .i32("conversationId", 1)
        .bool("done", true)
        .binary("payload", 0, b"")
        .f64("ok", 1.0);
    let Some(to) = state.pending.take() else {
        return Ok(());
    };
    let id = state.next_id();
    send_client(client, &answer(to, id, reply.finish())).await
}

/// The command in a message: an `OP_MSG`'s body, or the query of an `OP_QUERY` on `<db>.$cmd`
/// (unwrapped from `$query` / `query` if it is).
fn command_of(message: &FrontendMessage) -> Option<Document<'_>> {
    match message {
        FrontendMessage::Msg(m) => Some(m.body()),
        FrontendMessage::Query(q) => {
            q.command_db()?;
            let query = q.query.view();
            match query.iter().next() {
                Some(("$query" | "query", Value::Document(inner))) => Some(inner),
                _ => Some(query),
            }
        }
    }
}

/// The proxy's `hello`: a standalone server that offers `PLAIN`, compresses nothing, and speaks
/// the configured wire versions.
fn hello_reply(mongo: &Mongo, cx: &Cx<'_, ()>, command: &Document<'_>, legacy: bool) -> Vec<u8> {
    let mut doc = DocBuf::new();
    if command.get("helloOk").is_some_and(|v| v.is_truthy()) {
        doc.bool("helloOk", true);
    }
    doc.bool(
        if legacy {
            "ismaster"
        } else {
            "isWritablePrimary"
        },
        true,
    );
    let now = mongo
        .clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    doc.i32("maxBsonObjectSize", MAX_BSON_OBJECT_SIZE)
        .i32(
            "maxMessageSizeBytes",
            i32::try_from(super::MAX_MESSAGE_LEN).unwrap_or(i32::MAX),
        )
        .i32("maxWriteBatchSize", MAX_WRITE_BATCH_SIZE)
        .datetime("localTime", now);
    if let Some(minutes) = mongo.session_timeout_minutes {
        doc.i32("logicalSessionTimeoutMinutes", minutes);
    }
    doc.i32(
        "connectionId",
        i32::try_from(cx.session.id()).unwrap_or(i32::MAX),
    )
    .i32("minWireVersion", 0)
    .i32("maxWireVersion", mongo.max_wire_version)
    .bool("readOnly", false);
    if command.get("saslSupportedMechs").is_some() {
        doc.str_array("saslSupportedMechs", ["PLAIN"]);
    }
    doc.f64("ok", 1.0);
    doc.finish()
}

fn ok() -> Vec<u8> {
    let mut doc = DocBuf::new();
    doc.f64("ok", 1.0);
    doc.finish()
}
