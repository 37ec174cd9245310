//! PostgreSQL on the iamwire-proxy framework: [`Postgres`] fills in the framework's phases.
//!
//! - **hello**: GSSENCRequest is declined, SSLRequest leads to TLS (bytes sent before the TLS handshake
//!   are refused), a StartupMessage must come inside TLS; a CancelRequest is an out-of-band request.
//!   The database name the Authorizer sees is the one the server will use: no `database` means the
//!   user's name, as PostgreSQL itself decides.
//! - **password** (when the authenticator asks for one): SCRAM-SHA-256 against the proxy's own stored
//!   secret.
//! - **connect**: SSLRequest, then TLS (verify-full by default); a database that refuses TLS never sees
//!   a credential.
//! - **login**: the client's startup parameters with the injected user and the authorized database
//!   name, then cleartext (only over TLS), MD5 or SCRAM(-PLUS) with the injected secret.
//! - **welcome**: `AuthenticationOk` only now, then whatever the database sends up to ReadyForQuery,
//!   with its BackendKeyData replaced by a proxy-made key (registered for cancel forwarding).
//! - **relay**: bytes, with Postgres message framing so a session ended at the drain deadline gets its
//!   `57P01` between messages.

mod cancel;
mod client;
mod io;
mod upstream;

use bytes::BytesMut;
use iamwire_core::{SessionRequest, UpstreamLogin};
use iamwire_proxy::scram::ScramSecret;
use iamwire_proxy::{
    ClientConn, Cx, Framing, Hello, LengthPrefixed, Protocol, Registration, SessionError,
    UpstreamConn,
};
use tokio::net::TcpStream;

use crate::auth::ChannelBindingPolicy;
use crate::codec::{
    BackendDecoder, BackendKeyData, BackendMessage, CancelKey, CancelRequest, FrontendDecoder,
    Limits, StartupMessage,
};
use crate::error::{PgError, error_fields};

/// A Postgres proxy for one database: the framework's [`Proxy`](iamwire_proxy::Proxy) speaking
/// [`Postgres`].
pub type PgProxy = iamwire_proxy::Proxy<Postgres>;

/// The PostgreSQL wire protocol as the framework's phases, with its settings: codec limits for both
/// sides and the channel-binding policy toward the database.
#[derive(Debug, Clone, Default)]
pub struct Postgres {
    limits: Limits,
    channel_binding: ChannelBindingPolicy,
}

impl Postgres {
    /// Default limits, channel binding preferred.
    pub fn new() -> Self {
        Self::default()
    }

    /// Codec limits for both sides.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether to use SCRAM channel binding with the database (default: prefer it).
    #[must_use]
    pub fn channel_binding(mut self, policy: ChannelBindingPolicy) -> Self {
        self.channel_binding = policy;
        self
    }
}

/// What a Postgres session carries from phase to phase.
#[derive(Debug, Default)]
pub struct PgState {
    frontend: FrontendDecoder,
    backend: BackendDecoder,
    startup: Option<StartupMessage>,
    /// Messages from the database before `AuthenticationOk` (NegotiateProtocolVersion, notices): they
    /// reach the client just before it.
    early: Vec<BackendMessage>,
}

/// What the registry keeps per session for cancel forwarding: the key the client was given, and the
/// database's own (never shown to the client).
#[derive(Clone)]
pub struct CancelTarget {
    client_secret: CancelKey,
    upstream: BackendKeyData,
}

impl std::fmt::Debug for CancelTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelTarget")
            .field("upstream_process_id", &self.upstream.process_id)
            .finish_non_exhaustive()
    }
}

type Result<T> = std::result::Result<T, SessionError<PgError>>;

impl Protocol for Postgres {
    type State = PgState;
    type OutOfBand = CancelRequest;
    type Registered = CancelTarget;
    type Error = PgError;

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn client_speaks_first(&self) -> bool {
        true
    }

    async fn hello(
        &self,
        _cx: &Cx<'_, CancelTarget>,
        client: &mut ClientConn,
        state: &mut PgState,
    ) -> Result<Hello<CancelRequest>> {
        client::hello(self, client, state).await
    }

    async fn prove_password(
        &self,
        cx: &Cx<'_, CancelTarget>,
        client: &mut ClientConn,
        state: &mut PgState,
        secret: &ScramSecret,
    ) -> Result<()> {
        client::scram(cx, client, state, secret).await
    }

    async fn connect(
        &self,
        cx: &Cx<'_, CancelTarget>,
        _state: &mut PgState,
        tcp: TcpStream,
    ) -> Result<UpstreamConn> {
        upstream::connect(cx, tcp).await
    }

    async fn login(
        &self,
        cx: &Cx<'_, CancelTarget>,
        _client: &mut ClientConn,
        state: &mut PgState,
        upstream: &mut UpstreamConn,
        login: UpstreamLogin,
        want: &SessionRequest<'_>,
    ) -> Result<()> {
        upstream::login(self, cx, state, upstream, login, want).await
    }

    async fn welcome(
        &self,
        cx: &Cx<'_, CancelTarget>,
        client: &mut ClientConn,
        state: &mut PgState,
        upstream: &mut UpstreamConn,
        registration: &Registration<CancelTarget>,
    ) -> Result<()> {
        upstream::welcome(cx, client, state, upstream, registration).await
    }

    fn framing(&self, _state: &PgState) -> Option<Box<dyn Framing>> {
        Some(Box::new(LengthPrefixed::postgres()))
    }

    /// The default relay (bytes both ways) logs nothing: no span to enter per wake-up.
    fn quiet_relay(&self) -> bool {
        true
    }

    async fn out_of_band(
        &self,
        cx: &Cx<'_, CancelTarget>,
        target: Option<CancelTarget>,
        request: CancelRequest,
    ) -> Result<()> {
        cancel::forward(cx, target, request).await
    }

    fn refusal(&self, _state: &PgState, error: &SessionError<PgError>) -> Option<Vec<u8>> {
        let fields = error_fields(error)?;
        let mut buf = BytesMut::new();
        BackendMessage::ErrorResponse(fields)
            .encode(&mut buf)
            .ok()?;
        Some(buf.to_vec())
    }
}
