//! MongoDB on the iamwire-proxy framework: [`Mongo`] fills in the framework's phases.
//!
//! - **hello**: TLS at once (DocumentDB requires it); the client's `hello` / `isMaster` (as `OP_MSG`
//!   or legacy `OP_QUERY`) is answered by the proxy as a standalone server that offers `PLAIN`; `ping`
//!   is answered; other commands get `Unauthorized` until the client logs in with `saslStart`
//!   `PLAIN` (`authSource=$external`), whose user is the database user — for DocumentDB the IAM role
//!   — it wants.
//! - **password** (when the authenticator asks for one): the PLAIN password against the proxy's own
//!   stored secret (with an mTLS identity the password is not used).
//! - **connect**: TLS, verify-full by default.
//! - **login**: `isMaster`, then `saslStart` `MONGODB-AWS` with a fresh client nonce; the database's
//!   nonce must extend it and be 64 bytes; the login's [`ChallengeSigner`](iamwire_core::ChallengeSigner)
//!   signs `GetCallerIdentity` for the STS host the database named; `saslContinue` carries it. A
//!   password login (no signer: a self-managed MongoDB with LDAP) is `PLAIN` on `$external`.
//! - **welcome**: only now does the client's `saslStart` get its `done: true`.
//! - **relay**: messages pass untouched, except a second login, a logout or compressed messages from
//!   the client, which are answered `Unauthorized` and never reach the database ([`crate::guard`]).

mod check;
mod client;
mod io;
mod relay;
mod upstream;

use std::sync::Arc;

use iamwire_core::{Clock, Secret, SessionRequest, SystemClock, UpstreamLogin};
use iamwire_proxy::scram::ScramSecret;
use iamwire_proxy::{
    ClientConn, Cx, Endian, Framing, Hello, LengthPrefixed, Protocol, Registration, RelayEnd,
    SessionError, StopSignal, UpstreamConn,
};
use tokio::net::TcpStream;

use crate::codec::{HEADER_LEN, Limits};
use crate::error::{MongoError, error_reply};
pub(crate) use io::{Pending, answer};

/// A MongoDB proxy for one database: the framework's [`Proxy`](iamwire_proxy::Proxy) speaking
/// [`Mongo`].
pub type MongoProxy = iamwire_proxy::Proxy<Mongo>;

/// MongoDB's largest message (`maxMessageSizeBytes`).
pub const MAX_MESSAGE_LEN: usize = 48_000_000;

/// The MongoDB wire protocol as the framework's phases, with its settings.
#[derive(Debug, Clone)]
pub struct Mongo {
    limits: Limits,
    max_wire_version: i32,
    session_timeout_minutes: Option<i32>,
    clock: Arc<dyn Clock>,
}

impl Default for Mongo {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_wire_version: 13,
            session_timeout_minutes: Some(30),
            clock: Arc::new(SystemClock),
        }
    }
}

impl Mongo {
    /// Default settings: wire version 13 (MongoDB 5.0, as DocumentDB 5.0 reports), sessions of 30
    /// minutes, handshake limits of [`Limits::default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Codec limits for both sides of the handshake.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The `maxWireVersion` the proxy's `hello` announces: the database's (DocumentDB 4.0: 7,
    /// 5.0: 13). Drivers pick commands by it, so announce no more than the database speaks.
    #[must_use]
    pub fn max_wire_version(mut self, version: i32) -> Self {
        self.max_wire_version = version;
        self
    }

    /// The `logicalSessionTimeoutMinutes` the proxy's `hello` announces; `None` tells drivers the
    /// database has no sessions (for databases that do not).
    #[must_use]
    pub fn session_timeout_minutes(mut self, minutes: Option<i32>) -> Self {
        self.session_timeout_minutes = minutes;
        self
    }

    /// The clock for `hello`'s `localTime` (a test seam).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// What a MongoDB session carries from phase to phase.
#[derive(Debug, Default)]
pub struct MongoState {
    /// The client's request the proxy owes an answer (errors answer it).
    pending: Option<Pending>,
    /// The database user the client named.
    user: String,
    /// The PLAIN password, until the proxy has checked it.
    password: Option<Secret>,
    /// The proxy's last request id, toward either side.
    last_id: i32,
    /// The database's `maxWireVersion`, once known.
    upstream_wire_version: Option<i32>,
}

impl MongoState {
    /// A fresh request id.
    fn next_id(&mut self) -> i32 {
        self.last_id = self.last_id.wrapping_add(1).max(1);
        self.last_id
    }
}

type Result<T> = std::result::Result<T, SessionError<MongoError>>;

impl Protocol for Mongo {
    type State = MongoState;
    type OutOfBand = ();
    type Registered = ();
    type Error = MongoError;

    fn name(&self) -> &'static str {
        "mongodb"
    }

    fn client_speaks_first(&self) -> bool {
        true
    }

    async fn hello(
        &self,
        cx: &Cx<'_, ()>,
        client: &mut ClientConn,
        state: &mut MongoState,
    ) -> Result<Hello<()>> {
        client::hello(self, cx, client, state).await
    }

    async fn prove_password(
        &self,
        _cx: &Cx<'_, ()>,
        _client: &mut ClientConn,
        state: &mut MongoState,
        secret: &ScramSecret,
    ) -> Result<()> {
        client::check_password(state, secret)
    }

    async fn connect(
        &self,
        cx: &Cx<'_, ()>,
        state: &mut MongoState,
        tcp: TcpStream,
    ) -> Result<UpstreamConn> {
        state.password = None;
        UpstreamConn::start_tls(cx.endpoint, tcp, &[])
            .await
            .map_err(|source| SessionError::upstream_tls(cx.endpoint.addr(), source))
    }

    async fn login(
        &self,
        cx: &Cx<'_, ()>,
        _client: &mut ClientConn,
        state: &mut MongoState,
        upstream: &mut UpstreamConn,
        login: UpstreamLogin,
        _want: &SessionRequest<'_>,
    ) -> Result<()> {
        upstream::login(self, &cx.database.name, cx.random, state, upstream, login).await
    }

    async fn welcome(
        &self,
        _cx: &Cx<'_, ()>,
        client: &mut ClientConn,
        state: &mut MongoState,
        upstream: &mut UpstreamConn,
        _registration: &Registration<()>,
    ) -> Result<()> {
        if !upstream.buf.is_empty() {
            return Err(MongoError::UnexpectedUpstreamReply {
                expected: "nothing after the login",
            }
            .into());
        }
        client::welcome(client, state).await
    }

    fn framing(&self, _state: &MongoState) -> Option<Box<dyn Framing>> {
        Some(Box::new(message_framing()))
    }

    async fn relay(
        &self,
        cx: &Cx<'_, ()>,
        client: ClientConn,
        state: &mut MongoState,
        upstream: UpstreamConn,
        stop: StopSignal<'_>,
    ) -> RelayEnd {
        relay::relay(cx, client, state, upstream, stop).await
    }

    fn refusal(&self, state: &MongoState, error: &SessionError<MongoError>) -> Option<Vec<u8>> {
        let reply = error_reply(error)?;
        // An answer nobody asked for would confuse a driver: without a request in flight, close.
        let to = state.pending?;
        Some(answer(to, state.last_id.wrapping_add(1).max(1), reply).to_vec())
    }
}

/// Where MongoDB messages end: a 4-byte little-endian length of the whole message at the start.
pub(crate) fn message_framing() -> LengthPrefixed {
    LengthPrefixed::new(HEADER_LEN, 0, 4, Endian::Little, 0)
}

#[cfg(test)]
mod tests;
