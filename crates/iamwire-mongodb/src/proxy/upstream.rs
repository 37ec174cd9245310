//! The database's side of the handshake: `isMaster`, then the `MONGODB-AWS` conversation —
//! `saslStart` with the proxy's nonce and GS2 flag, the database's nonce and STS host back,
//! `saslContinue` with the signed `GetCallerIdentity` — until `done: true`. A login without a signer
//! (a password) is `PLAIN` on `$external` over the TLS connection instead.

use bytes::BytesMut;
use iamwire_core::{Answer, Challenge, ChallengeSigner, Randomness, UpstreamLogin};
use iamwire_proxy::UpstreamConn;

use super::io::{read_upstream, send_upstream};
use super::{Mongo, MongoState, Result};
use crate::bson::{DocBuf, Document};
use crate::codec::{BackendMessage, OpMsg, RawDocument};
use crate::error::{MongoError, code};

/// The mechanism's name.
pub(crate) const MONGODB_AWS: &str = "MONGODB-AWS";
/// The client nonce's length.
pub(crate) const CLIENT_NONCE_LEN: usize = 32;
/// The server nonce's length: the client's 32 bytes, then the server's.
pub(crate) const SERVER_NONCE_LEN: usize = 64;
/// The GS2 channel-binding flag: none (`n`).
const GS2_CB_FLAG: u8 = b'n';

pub(super) async fn login(
    mongo: &Mongo,
    database: &str,
    random: &dyn Randomness,
    state: &mut MongoState,
    upstream: &mut UpstreamConn,
    login: UpstreamLogin,
) -> Result<()> {
    let mut is_master = DocBuf::new();
    is_master.i32("isMaster", 1).str("$db", "admin");
    let reply = command(mongo, state, upstream, is_master.finish()).await?;
    let hello = reply_ok(&reply, "an isMaster reply")?;
    state.upstream_wire_version = hello
        .get_f64("maxWireVersion")
        .map(|v| v.clamp(0.0, 1000.0) as i32);
    if state
        .upstream_wire_version
        .is_some_and(|v| v < mongo.max_wire_version)
    {
        tracing::warn!(
            %database,
            database_wire_version = state.upstream_wire_version,
            announced = mongo.max_wire_version,
            "the database speaks an older wire version than the proxy announces to clients"
        );
    }

    let Some(signer) = login.signer.as_deref() else {
        return plain(mongo, state, upstream, &login).await;
    };
    let nonce: [u8; CLIENT_NONCE_LEN] = random.array()?;
    let mut first = DocBuf::new();
    first
        .binary("r", 0, &nonce)
        .i32("p", i32::from(GS2_CB_FLAG));
    let mut start = DocBuf::new();
    start
        .i32("saslStart", 1)
        .str("mechanism", MONGODB_AWS)
        .binary("payload", 0, &first.finish())
        .str("$db", "$external");
    let reply = command(mongo, state, upstream, start.finish()).await?;
    let challenge = reply_ok(&reply, "a saslStart reply")?;
    let conversation = challenge.get("conversationId").and_then(|v| v.as_f64());
    let conversation = conversation.map_or(1, |v| v.clamp(0.0, f64::from(i32::MAX)) as i32);
    let payload = sasl_payload(&challenge, mongo)?;
    let server_nonce = payload.get_binary("s").ok_or(MongoError::BadChallenge {
        what: "no server nonce",
    })?;
    check_server_nonce(server_nonce, &nonce)?;
    let host = payload.get_str("h").ok_or(MongoError::BadChallenge {
        what: "no STS host",
    })?;
    let signed = sign(signer, server_nonce, host)?;

    let mut proof = DocBuf::new();
    for (name, value) in &signed {
        let field = match name.as_str() {
            "authorization" => "a",
            "x-amz-date" => "d",
            "x-amz-security-token" => "t",
            _ => continue,
        };
        proof.str(
            field,
            std::str::from_utf8(value.expose()).unwrap_or_default(),
        );
    }
    let mut next = DocBuf::new();
    next.i32("saslContinue", 1)
        .i32("conversationId", conversation)
        .binary("payload", 0, &proof.finish())
        .str("$db", "$external");
    let reply = command(mongo, state, upstream, next.finish()).await?;
    let done = reply_ok(&reply, "a saslContinue reply")?;
    if !done.get("done").is_some_and(|v| v.is_truthy()) {
        return Err(MongoError::UnexpectedUpstreamReply {
            expected: "done: true after the signed GetCallerIdentity",
        }
        .into());
    }
    Ok(())
}

/// `saslStart` `PLAIN` with the injected user and password, done in one step.
async fn plain(
    mongo: &Mongo,
    state: &mut MongoState,
    upstream: &mut UpstreamConn,
    login: &UpstreamLogin,
) -> Result<()> {
    let mut payload = Vec::with_capacity(login.user.len() + login.secret.len() + 2);
    payload.push(0);
    payload.extend_from_slice(login.user.as_bytes());
    payload.push(0);
    payload.extend_from_slice(login.secret.expose());
    let mut start = DocBuf::new();
    start
        .i32("saslStart", 1)
        .str("mechanism", "PLAIN")
        .binary("payload", 0, &payload)
        .str("$db", "$external");
    let reply = command(mongo, state, upstream, start.finish()).await?;
    let done = reply_ok(&reply, "a saslStart reply")?;
    if !done.get("done").is_some_and(|v| v.is_truthy()) {
        return Err(MongoError::UnexpectedUpstreamReply {
            expected: "done: true after PLAIN",
        }
        .into());
    }
    Ok(())
}

/// The server nonce must be 64 bytes and start with ours.
pub(crate) fn check_server_nonce(
    server: &[u8],
    ours: &[u8],
) -> std::result::Result<(), MongoError> {
    if server.len() != SERVER_NONCE_LEN {
        return Err(MongoError::BadChallenge {
            what: "the server nonce is not 64 bytes",
        });
    }
    if !server.starts_with(ours) {
        return Err(MongoError::BadChallenge {
            what: "the server nonce does not start with the proxy's",
        });
    }
    Ok(())
}

fn sign(
    signer: &dyn ChallengeSigner,
    server_nonce: &[u8],
    host: &str,
) -> Result<Vec<(String, iamwire_core::Secret)>> {
    let challenge = Challenge::StsGetCallerIdentity {
        server_nonce,
        host,
        gs2_cb_flag: GS2_CB_FLAG,
    };
    match signer.answer(challenge) {
        Ok(Answer::Headers(headers)) => Ok(headers),
        Ok(_) => Err(MongoError::Signer {
            source: iamwire_core::InjectError::new(
                iamwire_core::InjectErrorKind::Internal,
                format!(
                    "the {} signer answered MONGODB-AWS with something other than headers",
                    signer.mechanism()
                ),
            ),
        }
        .into()),
        Err(source) => Err(MongoError::Signer { source }.into()),
    }
}

/// Send `body` as an `OP_MSG` and read the answer.
pub(super) async fn command(
    mongo: &Mongo,
    state: &mut MongoState,
    upstream: &mut UpstreamConn,
    body: Vec<u8>,
) -> Result<BackendMessage> {
    let id = state.next_id();
    let mut out = BytesMut::new();
    OpMsg::new(RawDocument::from(body)).encode(id, 0, &mut out);
    send_upstream(upstream, &out).await?;
    let (header, reply) = read_upstream(upstream, &mongo.limits).await?;
    if header.response_to != id {
        return Err(MongoError::UnexpectedUpstreamReply {
            expected: "the answer to the proxy's request",
        }
        .into());
    }
    Ok(reply)
}

/// The reply document if it says `ok: 1`; its error (code and message) if it says `ok: 0`.
pub(super) fn reply_ok<'m>(
    reply: &'m BackendMessage,
    expected: &'static str,
) -> std::result::Result<Document<'m>, MongoError> {
    let doc = reply
        .reply()
        .ok_or(MongoError::UnexpectedUpstreamReply { expected })?;
    if doc.get("ok").is_some_and(|v| v.is_truthy()) {
        return Ok(doc);
    }
    let code = doc
        .get("code")
        .and_then(|v| v.as_f64())
        .map_or(code::AUTHENTICATION_FAILED, |c| c as i32);
    let code = if code > 0 {
        code
    } else {
        code::AUTHENTICATION_FAILED
    };
    let message: String = doc
        .get_str("errmsg")
        .unwrap_or("no error message")
        .chars()
        .take(512)
        .collect();
    Err(MongoError::UpstreamRejected { code, message })
}

/// The BSON inside a SASL reply's `payload`.
fn sasl_payload<'d>(
    reply: &Document<'d>,
    mongo: &Mongo,
) -> std::result::Result<Document<'d>, MongoError> {
    let bytes = reply
        .get_binary("payload")
        .ok_or(MongoError::BadChallenge { what: "no payload" })?;
    Document::parse(bytes, mongo.limits.max_depth).map_err(|_| MongoError::BadChallenge {
        what: "the payload is not a BSON document",
    })
}
