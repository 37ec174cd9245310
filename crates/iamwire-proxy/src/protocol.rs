//! The phase trait every wire protocol implements: [`Protocol`]. The framework calls its methods in a
//! fixed order, with its own timeouts around each, and hands every failure to [`Protocol::refusal`].

use std::future::Future;

use iamwire_core::{AuthInjector, Authorizer, Database, Randomness, SessionRequest, UpstreamLogin};
use tokio::net::TcpStream;

use crate::conn::{ClientConn, UpstreamConn};
use crate::error::{ProtocolError, SessionError};
use crate::proxy::Timeouts;
use crate::registry::{Registration, SessionId, SessionInfo, SessionRegistry};
use crate::relay::{Framing, RelayEnd, StopSignal, relay_bytes};
use crate::scram::ScramSecret;
use crate::upstream::{Dialer, UpstreamEndpoint};

/// What a client asked for at the end of its handshake.
#[derive(Debug)]
pub enum Hello<O> {
    /// A session, as this database user and database name. The protocol's defaults are already applied
    /// (Postgres: no `database` means the user's name): the Authorizer sees exactly what the database
    /// will use.
    Session {
        /// The database user.
        db_user: String,
        /// The database name, where the protocol has one.
        db_name: Option<String>,
    },
    /// A request about another session (Postgres CancelRequest): no session of its own.
    OutOfBand {
        /// The session it is about, if the request names one.
        session: Option<SessionId>,
        /// The request.
        request: O,
    },
}

/// What the phases of one session can see besides their connections and state: the database, how to
/// reach it, the seams (for a protocol that must authorize and log in again mid-session, as MySQL's
/// COM_CHANGE_USER or Redis's AUTH do), the timeouts, and the proxy's live sessions (`R` is what the
/// protocol registers per session).
pub struct Cx<'a, R: Clone + Send + 'static> {
    /// The database this proxy serves.
    pub database: &'a Database,
    /// How to reach it.
    pub endpoint: &'a UpstreamEndpoint,
    /// How TCP connections to it are opened (for out-of-band requests; the session's own connection is
    /// dialed by the framework).
    pub dialer: &'a dyn Dialer,
    /// The random source (nonces, keys).
    pub random: &'a dyn Randomness,
    /// This session's entry in the registry (who, once authorized; bytes; kill signal).
    pub session: &'a SessionInfo,
    /// Every live session of this proxy (for requests about another session, e.g. MySQL `KILL`).
    pub registry: &'a SessionRegistry<R>,
    /// Decides whether an identity may have what it asks for.
    pub authorizer: &'a dyn Authorizer,
    /// Resolves upstream logins (again, for a re-authentication mid-session).
    pub injector: &'a dyn AuthInjector,
    /// The proxy's timeouts (a protocol's own waits in the relay use them too).
    pub timeouts: &'a Timeouts,
}

impl<R: Clone + Send + 'static> std::fmt::Debug for Cx<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cx")
            .field("database", &self.database.name)
            .field("endpoint", self.endpoint)
            .field("session", &self.session.id())
            .finish_non_exhaustive()
    }
}

/// A wire protocol, as a set of phases the framework drives: client handshake → (proxy password) →
/// connect → login → welcome → relay. The framework owns the order, the timeouts, authorization,
/// credentials, dialing, the session registry, logging and drain; the protocol owns its codec and
/// exchanges, and the one function that puts a [`SessionError`] on its wire ([`refusal`](Self::refusal)).
///
/// Methods are `async fn`s (static dispatch); per-session state lives in [`State`](Self::State), which the
/// framework keeps across a timeout so the client can still be told what happened.
pub trait Protocol: Send + Sync + Sized + 'static {
    /// Per-session state: decoders, what the client sent, sequence numbers.
    type State: Default + Send + Sync;
    /// A request that is not a session (Postgres CancelRequest).
    type OutOfBand: Send;
    /// What the registry keeps per session for out-of-band requests (where and how to cancel).
    type Registered: Clone + Send + Sync + 'static;
    /// The protocol's own errors.
    type Error: ProtocolError;

    /// The protocol's name, for logs (`postgres`).
    fn name(&self) -> &'static str;

    /// Whether the client sends the first bytes on a new connection (a TLS ClientHello, a startup
    /// packet) rather than waiting for the server to greet it (MySQL). If so, say so: a connection then
    /// takes a handshake slot only once its first bytes arrive, so connections that never send anything
    /// cannot hold every slot ([`ListenerLimits::max_handshakes`](crate::ListenerLimits)). The default,
    /// `false`, takes the slot at accept.
    fn client_speaks_first(&self) -> bool {
        false
    }

    /// Client handshake: protocol negotiation and TLS ([`ClientConn::start_tls`]), until the client has
    /// said what it wants. Runs under the handshake timeout.
    fn hello(
        &self,
        cx: &Cx<'_, Self::Registered>,
        client: &mut ClientConn,
        state: &mut Self::State,
    ) -> impl Future<Output = Result<Hello<Self::OutOfBand>, SessionError<Self::Error>>> + Send;

    /// The client proves a proxy-side password (when the authenticator asks for one), within the
    /// handshake timeout. The default refuses: the protocol has no way to ask.
    fn prove_password(
        &self,
        cx: &Cx<'_, Self::Registered>,
        client: &mut ClientConn,
        state: &mut Self::State,
        secret: &ScramSecret,
    ) -> impl Future<Output = Result<(), SessionError<Self::Error>>> + Send {
        let _ = (cx, client, state, secret);
        async { Err(SessionError::NoClientIdentity) }
    }

    /// Connect: the TCP connection to the database is up; negotiate and start TLS
    /// ([`UpstreamConn::start_tls`]). Runs under the connect timeout.
    fn connect(
        &self,
        cx: &Cx<'_, Self::Registered>,
        state: &mut Self::State,
        tcp: TcpStream,
    ) -> impl Future<Output = Result<UpstreamConn, SessionError<Self::Error>>> + Send;

    /// Login: authenticate to the database as `login` for the authorized request `want`. The client must
    /// not hear that it is in yet. Runs under the login timeout.
    fn login(
        &self,
        cx: &Cx<'_, Self::Registered>,
        client: &mut ClientConn,
        state: &mut Self::State,
        upstream: &mut UpstreamConn,
        login: UpstreamLogin,
        want: &SessionRequest<'_>,
    ) -> impl Future<Output = Result<(), SessionError<Self::Error>>> + Send;

    /// Welcome: tell the client it is in, and pass on whatever the database sends before the session is
    /// ready; register what out-of-band requests will need (`registration.set`). Runs under the login
    /// timeout.
    fn welcome(
        &self,
        cx: &Cx<'_, Self::Registered>,
        client: &mut ClientConn,
        state: &mut Self::State,
        upstream: &mut UpstreamConn,
        registration: &Registration<Self::Registered>,
    ) -> impl Future<Output = Result<(), SessionError<Self::Error>>> + Send;

    /// Where the database's messages end, so a session that must end mid-stream ends between messages.
    /// `None`: the relay cannot tell, and closes at once.
    fn framing(&self, state: &Self::State) -> Option<Box<dyn Framing>> {
        let _ = state;
        None
    }

    /// Relay: after the welcome, until either side ends or `stop` fires. The default copies bytes both
    /// ways ([`relay_bytes`]) with this protocol's [`framing`](Self::framing); protocols that must see
    /// messages (re-authentication, guarded commands) override it.
    fn relay(
        &self,
        cx: &Cx<'_, Self::Registered>,
        client: ClientConn,
        state: &mut Self::State,
        upstream: UpstreamConn,
        stop: StopSignal<'_>,
    ) -> impl Future<Output = RelayEnd> + Send {
        relay_bytes(client, upstream, self.framing(state), cx.session, stop)
    }

    /// Whether this protocol's [`relay`](Self::relay) never logs (the default, [`relay_bytes`], does
    /// not). When `true`, the framework stops entering the session's span on every poll once the relay
    /// starts — a span enter and exit per wake-up of the session, ~2 % of a relay's CPU — and enters it
    /// again for the session's last line; an event the relay logged anyway would lack the session's
    /// fields. `false` by default.
    fn quiet_relay(&self) -> bool {
        false
    }

    /// Serve an out-of-band request. `target` is what the session it names registered (the framework
    /// found it, holds that session's out-of-band slot and a global out-of-band permit, and times this
    /// out with the connect timeout); `None` if it named no live session.
    fn out_of_band(
        &self,
        cx: &Cx<'_, Self::Registered>,
        target: Option<Self::Registered>,
        request: Self::OutOfBand,
    ) -> impl Future<Output = Result<(), SessionError<Self::Error>>> + Send {
        let _ = (cx, target, request);
        async { Ok(()) }
    }

    /// The one function that turns a session error into this protocol's wire error: the bytes to send the
    /// client before closing, or `None` to close without a word (e.g. no TLS to speak in). The message
    /// says what went wrong and what to do, and never carries a secret.
    fn refusal(&self, state: &Self::State, error: &SessionError<Self::Error>) -> Option<Vec<u8>>;
}
