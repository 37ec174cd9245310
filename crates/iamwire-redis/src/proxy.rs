//! Redis on the iamwire-proxy framework: [`Redis`] fills in the framework's phases.
//!
//! - **hello**: TLS at once (Redis over TLS has no negotiation); then commands until the client names
//!   its database user with `AUTH user pass`, `AUTH pass` (user `default`) or `HELLO <2|3> AUTH user
//!   pass [SETNAME name]`. Before that every other command gets `-NOAUTH`, as from a Redis that requires
//!   authentication, under Redis's own caps for unauthenticated clients (10 arguments, 16 KiB each). With
//!   [`Redis::default_user`], a client with a certificate may skip `AUTH`.
//! - **password** (when the authenticator asks for one): the password the client gave, checked against
//!   the proxy's stored secret. It is never sent to the database.
//! - **connect**: TLS, verify-full by default.
//! - **login**: `AUTH <user> <token>`, or `HELLO <ver> AUTH <user> <token> [SETNAME name]` when the client
//!   used `HELLO`, with the injected credentials.
//! - **welcome**: the database's answer (`+OK`, or its `HELLO` map) reaches the client only now.
//! - **relay**: message-aware, see [`crate::relay`](crate#long-sessions-re-auth-and-the-order-of-replies).

mod auth_args;
mod check;
mod handshake;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use iamwire_core::{Secret, SessionRequest, UpstreamLogin};
use iamwire_proxy::scram::ScramSecret;
use iamwire_proxy::{
    ClientConn, Cx, Hello, Protocol, Registration, RelayEnd, SessionError, StopSignal, UpstreamConn,
};
use tokio::net::TcpStream;

pub(crate) use auth_args::{
    AuthForm, AuthRequest, hello_auth, login_command, parse_auth, parse_hello,
};
pub(crate) use handshake::{Before, before_login, read_reply, wipe};

use crate::cluster::{ClusterConfig, ClusterShared};
use crate::codec::Limits;
use crate::error::{RedisError, error_reply};

/// A Redis proxy for one database: the framework's [`Proxy`](iamwire_proxy::Proxy) speaking [`Redis`].
pub type RedisProxy = iamwire_proxy::Proxy<Redis>;

/// The interval between re-authentications of a long session by default: an hour, far inside
/// ElastiCache's and MemoryDB's 12 hours.
pub const DEFAULT_REAUTH_INTERVAL: Duration = Duration::from_secs(3600);

/// The Redis protocol as the framework's phases, with its settings.
#[derive(Debug, Clone)]
pub struct Redis {
    pub(crate) limits: Limits,
    pub(crate) reauth: Option<Duration>,
    pub(crate) default_user: Option<String>,
    pub(crate) cluster: Option<Arc<ClusterShared>>,
}

impl Default for Redis {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            reauth: Some(DEFAULT_REAUTH_INTERVAL),
            default_user: None,
            cluster: None,
        }
    }
}

impl Redis {
    /// Default limits, re-AUTH every hour, `AUTH` required.
    pub fn new() -> Self {
        Self::default()
    }

    /// Codec limits for both sides.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Re-authenticate each database connection this often with fresh credentials (`None`: never).
    /// ElastiCache and MemoryDB close IAM-authenticated connections 12 hours after their last `AUTH`.
    #[must_use]
    pub fn reauth_interval(mut self, interval: Option<Duration>) -> Self {
        self.reauth = interval.filter(|d| !d.is_zero());
        self
    }

    /// Let a client that presents a certificate skip `AUTH`: it is logged in as `user` (if authorized).
    #[must_use]
    pub fn default_user(mut self, user: impl Into<String>) -> Self {
        self.default_user = Some(user.into());
        self
    }

    /// Serve the database as a cluster (its address is the configuration endpoint): node addresses in
    /// redirections and topology replies are rewritten to the proxy's, one per node, served by
    /// [`RedisCluster`](crate::RedisCluster). See [cluster mode](crate#cluster-mode).
    #[must_use]
    pub fn cluster(mut self, config: ClusterConfig) -> Self {
        self.cluster = Some(Arc::new(ClusterShared::new(config)));
        self
    }
}

/// What a Redis session carries from phase to phase.
#[derive(Debug, Default)]
pub struct RedisState {
    /// How the client logged in (and so how the proxy logs in upstream).
    pub(crate) form: Option<AuthForm>,
    /// The password the client gave, kept only until the proxy-password check.
    pub(crate) password: Option<Secret>,
    /// The database's answer to the login, for the client.
    pub(crate) login_reply: Option<Bytes>,
    /// The database user the session is authorized for.
    pub(crate) db_user: String,
    /// The protocol version in force (2 or 3).
    pub(crate) proto: u8,
    /// Set by the relay: a reply is owed to the client.
    pub(crate) awaiting_reply: bool,
    /// Set by the relay: part of a frame has reached the client, so nothing may be added now.
    pub(crate) mid_reply: bool,
}

type Result<T> = std::result::Result<T, SessionError<RedisError>>;

impl Protocol for Redis {
    type State = RedisState;
    type OutOfBand = ();
    type Registered = ();
    type Error = RedisError;

    fn name(&self) -> &'static str {
        "redis"
    }

    fn client_speaks_first(&self) -> bool {
        true
    }

    async fn hello(
        &self,
        _cx: &Cx<'_, ()>,
        client: &mut ClientConn,
        state: &mut RedisState,
    ) -> Result<Hello<()>> {
        handshake::hello(self, client, state).await
    }

    async fn prove_password(
        &self,
        _cx: &Cx<'_, ()>,
        _client: &mut ClientConn,
        state: &mut RedisState,
        secret: &ScramSecret,
    ) -> Result<()> {
        let password = state.password.take();
        match password {
            Some(p) if secret.verify_password(p.expose()) => Ok(()),
            _ => Err(RedisError::WrongPass {
                user: state.db_user.clone(),
            }
            .into()),
        }
    }

    async fn connect(
        &self,
        cx: &Cx<'_, ()>,
        _state: &mut RedisState,
        tcp: TcpStream,
    ) -> Result<UpstreamConn> {
        UpstreamConn::start_tls(cx.endpoint, tcp, &[])
            .await
            .map_err(|source| SessionError::upstream_tls(cx.endpoint.addr(), source))
    }

    async fn login(
        &self,
        _cx: &Cx<'_, ()>,
        _client: &mut ClientConn,
        state: &mut RedisState,
        upstream: &mut UpstreamConn,
        login: UpstreamLogin,
        want: &SessionRequest<'_>,
    ) -> Result<()> {
        state.password = None;
        handshake::login(self, state, upstream, &login, want).await
    }

    async fn welcome(
        &self,
        _cx: &Cx<'_, ()>,
        client: &mut ClientConn,
        state: &mut RedisState,
        _upstream: &mut UpstreamConn,
        _registration: &Registration<()>,
    ) -> Result<()> {
        let reply = match (state.form.as_ref(), state.login_reply.take()) {
            (Some(AuthForm::Implicit), _) => return Ok(()),
            (_, Some(reply)) => reply,
            (_, None) => Bytes::from_static(b"+OK\r\n"),
        };
        client
            .send(&reply)
            .await
            .map_err(|source| SessionError::ClientIo { source })
    }

    async fn relay(
        &self,
        cx: &Cx<'_, ()>,
        client: ClientConn,
        state: &mut RedisState,
        upstream: UpstreamConn,
        stop: StopSignal<'_>,
    ) -> RelayEnd {
        crate::relay::run(self, cx, client, state, upstream, stop).await
    }

    fn refusal(&self, state: &RedisState, error: &SessionError<RedisError>) -> Option<Vec<u8>> {
        let ending = matches!(error, SessionError::ShuttingDown | SessionError::Killed);
        // An idle client would take an unasked-for error as the reply to its next command: it just
        // sees the connection close. A client owed a reply gets the reason as that reply.
        if state.mid_reply || (ending && !state.awaiting_reply) {
            return None;
        }
        error_reply(error)
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::codec::{CommandDecoder, encode_command};

    #[test]
    fn passwords_never_show_in_debug() {
        let state = RedisState {
            password: Some(Secret::new("hunter2")),
            db_user: "app".into(),
            ..RedisState::default()
        };
        let shown = format!("{state:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("app"),
            "{shown}"
        );
        let mut buf = BytesMut::new();
        encode_command(&[b"AUTH", b"app", b"hunter2"], &mut buf);
        let command = CommandDecoder::new(Limits::default())
            .decode(&mut buf)
            .unwrap()
            .unwrap();
        let shown = format!("{command:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("AUTH"),
            "{shown}"
        );
    }
}
