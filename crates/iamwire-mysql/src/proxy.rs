//! MySQL on the iamwire-proxy framework: [`MySql`] fills in the framework's phases.
//!
//! - **hello**: the proxy speaks first — a greeting with the session id as connection id, TLS
//!   offered, and the version string of the database behind it with `-iamwire` appended — then
//!   SSLRequest and TLS (a handshake response without TLS is refused), then the handshake response:
//!   its user and database are what the Authorizer sees.
//! - **password** (when the authenticator asks for one): the client's password in clear over TLS —
//!   `caching_sha2_password` full authentication, `mysql_clear_password`, or a switch to the former.
//! - **connect**: the database's greeting (an ERR there is relayed), TLS offered or no credential
//!   is sent, SSLRequest and TLS (verify-full by default), capabilities both hops agree on.
//! - **login**: a handshake response with the injected user and secret and the authorized
//!   database: `mysql_clear_password` (RDS IAM, also after AuthSwitchRequest),
//!   `mysql_native_password`, `caching_sha2_password` (fast path and full auth).
//! - **welcome**: the database's OK, only now, renumbered for the client; the database's thread id
//!   is registered for `KILL`.
//! - **relay**: packets passed on as they arrive, except `COM_CHANGE_USER` (authorized again and
//!   logged in with fresh credentials), `COM_INIT_DB` and a leading `USE` (checked against the
//!   identity's database names), and `KILL` (the proxy's id mapped to the database's thread).

mod client;
mod guard;
mod io;
mod relay;
mod upstream;

use std::sync::{Arc, Mutex, PoisonError};

use bytes::BytesMut;
use iamwire_core::{SessionRequest, UpstreamLogin};
use iamwire_proxy::scram::ScramSecret;
use iamwire_proxy::{
    ClientConn, Cx, Hello, Protocol, Registration, RelayEnd, SessionError, StopSignal, UpstreamConn,
};
use tokio::net::TcpStream;

use crate::codec::{Capabilities, Handshake, HandshakeResponse, Limits, put_packet};
use crate::error::{MyError, error_packet};

/// A MySQL proxy for one database: the framework's [`Proxy`](iamwire_proxy::Proxy) speaking
/// [`MySql`].
pub type MySqlProxy = iamwire_proxy::Proxy<MySql>;

/// The MySQL wire protocol as the framework's phases, with its limits. Clones share what the proxy
/// has learned about the database (its version and capabilities), which it offers clients.
#[derive(Debug, Clone, Default)]
pub struct MySql {
    limits: Limits,
    learned: Arc<Mutex<Option<Learned>>>,
}

/// What the last greeting from the database said.
#[derive(Debug, Clone)]
struct Learned {
    version: String,
    capabilities: Capabilities,
    charset: u8,
}

/// The version string offered before the database has been seen.
const DEFAULT_VERSION: &str = "8.0.0";
/// `utf8mb4_general_ci`, known to MySQL 5.7+ and MariaDB.
const DEFAULT_CHARSET: u8 = 45;

impl MySql {
    /// Default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Limits for both sides.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// What to offer a client: capabilities, version string and collation — the database's own once
    /// the proxy has seen it, else what every supported server has.
    fn offer(&self) -> (Capabilities, String, u8) {
        let learned = self
            .learned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match learned {
            Some(l) => (
                (l.capabilities & Capabilities::RELAYABLE) | Capabilities::PER_HOP,
                format!("{}-iamwire", l.version),
                l.charset,
            ),
            None => (
                Capabilities::DEFAULT_OFFER,
                format!("{DEFAULT_VERSION}-iamwire"),
                DEFAULT_CHARSET,
            ),
        }
    }

    fn learn(&self, greeting: &Handshake) {
        let learned = Learned {
            version: greeting.server_version.clone(),
            capabilities: greeting.capabilities,
            charset: greeting.charset,
        };
        *self.learned.lock().unwrap_or_else(PoisonError::into_inner) = Some(learned);
    }
}

/// What a MySQL session carries from phase to phase. `Debug` redacts auth data.
#[derive(Debug, Default)]
pub struct MyState {
    /// The sequence id due next toward the client.
    client_seq: u8,
    /// Whether the client has the proxy's greeting (it then reads SQLSTATEs in ERR packets).
    greeted: bool,
    /// The capabilities the client and the proxy agreed on.
    client_caps: Capabilities,
    /// The client's handshake response.
    response: Option<HandshakeResponse>,
    /// The client answered the greeting with a `caching_sha2_password` scramble and has not been
    /// asked for more: like MySQL 8 on its fast path, the proxy says "fast auth success" before the
    /// OK (libmariadb, for one, takes an OK alone as a cue to send its password in clear).
    fast_auth: bool,
    /// The database's greeting.
    upstream: Option<Handshake>,
    /// The capabilities the proxy and the database agreed on.
    upstream_caps: Capabilities,
    /// The sequence id due next toward the database.
    upstream_seq: u8,
    /// The database's OK to the login, for the welcome.
    ok: Option<Vec<u8>>,
}

/// What the registry keeps per session for `KILL`: the database's thread id of its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillTarget {
    /// The database's thread (connection) id.
    pub thread_id: u32,
}

type Result<T> = std::result::Result<T, SessionError<MyError>>;

impl Protocol for MySql {
    type State = MyState;
    type OutOfBand = ();
    type Registered = KillTarget;
    type Error = MyError;

    fn name(&self) -> &'static str {
        "mysql"
    }

    async fn hello(
        &self,
        cx: &Cx<'_, KillTarget>,
        client: &mut ClientConn,
        state: &mut MyState,
    ) -> Result<Hello<()>> {
        client::hello(self, cx, client, state).await
    }

    async fn prove_password(
        &self,
        cx: &Cx<'_, KillTarget>,
        client: &mut ClientConn,
        state: &mut MyState,
        secret: &ScramSecret,
    ) -> Result<()> {
        client::password(self, cx, client, state, secret).await
    }

    async fn connect(
        &self,
        cx: &Cx<'_, KillTarget>,
        state: &mut MyState,
        tcp: TcpStream,
    ) -> Result<UpstreamConn> {
        upstream::connect(self, cx, state, tcp).await
    }

    async fn login(
        &self,
        _cx: &Cx<'_, KillTarget>,
        _client: &mut ClientConn,
        state: &mut MyState,
        upstream: &mut UpstreamConn,
        login: UpstreamLogin,
        want: &SessionRequest<'_>,
    ) -> Result<()> {
        upstream::login(self, state, upstream, login, want).await
    }

    async fn welcome(
        &self,
        _cx: &Cx<'_, KillTarget>,
        client: &mut ClientConn,
        state: &mut MyState,
        _upstream: &mut UpstreamConn,
        registration: &Registration<KillTarget>,
    ) -> Result<()> {
        upstream::welcome(client, state, registration).await
    }

    async fn relay(
        &self,
        cx: &Cx<'_, KillTarget>,
        client: ClientConn,
        state: &mut MyState,
        upstream: UpstreamConn,
        stop: StopSignal<'_>,
    ) -> RelayEnd {
        relay::relay(self, cx, client, state, upstream, stop).await
    }

    fn refusal(&self, state: &MyState, error: &SessionError<MyError>) -> Option<Vec<u8>> {
        let err = error_packet(error)?;
        let caps = if state.greeted {
            Capabilities::PROTOCOL_41
        } else {
            Capabilities::NONE
        };
        let mut payload = BytesMut::new();
        err.encode(&mut payload, caps);
        let mut out = BytesMut::new();
        put_packet(&mut out, state.client_seq, &payload);
        Some(out.to_vec())
    }
}
