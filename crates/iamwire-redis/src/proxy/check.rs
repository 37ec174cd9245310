//! [`Redis::check_login`]: one login upstream, as a session makes it, then `PING` — for a tool that
//! checks a database's setup (`iamwire doctor`) without a client in front.

use bytes::BytesMut;
use iamwire_core::UpstreamLogin;
use iamwire_proxy::{SessionError, UpstreamConn};

use super::{AuthForm, Redis, Result, login_command, read_reply, wipe};
use crate::codec::{Reply, ReplyKind};
use crate::error::RedisError;

impl Redis {
    /// Log in on `upstream` (TLS already up) with `AUTH <user> <secret>` from `login`, exactly as a
    /// session does, then send `PING` and expect `PONG`. The connection is left logged in.
    ///
    /// # Errors
    /// [`RedisError::UpstreamRejected`] with the database's code (`WRONGPASS`, `NOPERM`, ...) if it refuses
    /// the login or the `PING`; I/O and protocol errors as in a session.
    pub async fn check_login(
        &self,
        upstream: &mut UpstreamConn,
        login: &UpstreamLogin,
    ) -> Result<()> {
        let mut out = BytesMut::new();
        login_command(&AuthForm::Auth, login, &mut out);
        let sent = upstream.send(&out).await;
        wipe(&mut out);
        sent.map_err(|source| SessionError::UpstreamIo { source })?;
        self.expect_reply(upstream, None).await?;
        upstream
            .send(b"*1\r\n$4\r\nPING\r\n")
            .await
            .map_err(|source| SessionError::UpstreamIo { source })?;
        self.expect_reply(upstream, Some(b"+PONG\r\n")).await
    }

    /// The next reply: an error reply is the database's refusal; with `want`, anything else is unexpected.
    async fn expect_reply(&self, upstream: &mut UpstreamConn, want: Option<&[u8]>) -> Result<()> {
        let reply = read_reply(self.limits, upstream).await?;
        match Reply::decode(reply.clone(), false) {
            ReplyKind::Error { code, message } => {
                Err(RedisError::UpstreamRejected { code, message }.into())
            }
            ReplyKind::Pubsub { .. } | ReplyKind::OtherPush => {
                Err(RedisError::UnexpectedUpstream { what: "a push" }.into())
            }
            ReplyKind::Other if want.is_some_and(|w| reply[..] != *w) => {
                Err(RedisError::UnexpectedUpstream {
                    what: "a reply other than PONG to PING",
                }
                .into())
            }
            ReplyKind::Other => Ok(()),
        }
    }
}
