//! The connection framework of iamwire: everything a database wire proxy does that is not about one
//! protocol.
//!
//! A [`Proxy`] serves one database. It owns the order of a session's phases and each wire protocol
//! fills them in by implementing [`Protocol`]:
//!
//! ```text
//! accept ─▶ hello (negotiation, TLS, what the client asks for)      ┐ handshake timeout,
//!        ─▶ identify (ClientAuthenticator: mTLS or proxy password)  ┘ bound on handshakes
//!        ─▶ authorize (Authorizer: identity × database × user × name, protocol defaults applied)
//!        ─▶ credentials (AuthInjector: role chain, token)             credential timeout
//!        ─▶ connect (Dialer, then the protocol's negotiation + TLS)   connect timeout
//!        ─▶ login + welcome ("you are in" only after the database)    login timeout
//!        ─▶ relay (bytes, or messages where a protocol needs them)    drain / operator stop
//! ```
//!
//! The framework also owns the listener ([`listener::serve`]: accept errors retried with backoff, a
//! bound on handshakes taken before TLS, an optional per-address bound, drain on shutdown), the session
//! cap, the [`SessionRegistry`] of live sessions with a bound on out-of-band requests (cancel
//! forwarding), the per-session tracing span with one line per outcome, and the classification of
//! failures by [`Phase`] and [`Side`] in [`SessionError`]. A protocol crate holds its codec, its
//! exchanges, and the one function ([`Protocol::refusal`]) that puts a `SessionError` on its wire.
//!
//! HTTP-based protocols reuse [`listener::serve`] with their own [`listener::Handler`], together with
//! the [`ClientAuthenticator`], the [`Authorizer`](iamwire_core::Authorizer) and the [`Dialer`],
//! without the session phases.
//!
//! A complete (if tiny) protocol: the client sends `user@db\n`, the proxy logs in to the database by
//! sending `login <user> <password>\n` and waiting for `ok\n`, then relays.
//!
//! ```
//! use iamwire_core::{SessionRequest, UpstreamLogin};
//! use iamwire_proxy::{ClientConn, Cx, Hello, Protocol, ProtocolError, Registration, SessionError,
//!     Side, UpstreamConn};
//! use tokio::net::TcpStream;
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("the database said no")]
//! struct Refused;
//! impl ProtocolError for Refused {
//!     fn side(&self) -> Side { Side::Upstream }
//!     fn is_login_rejected(&self) -> bool { true }
//! }
//!
//! struct Lines;
//! impl Protocol for Lines {
//!     type State = ();
//!     type OutOfBand = ();
//!     type Registered = ();
//!     type Error = Refused;
//!     fn name(&self) -> &'static str { "lines" }
//!     async fn hello(&self, _: &Cx<'_, ()>, client: &mut ClientConn, _: &mut ())
//!         -> Result<Hello<()>, SessionError<Refused>> {
//!         client.start_tls().await?;
//!         let line = loop {
//!             if let Some(end) = client.buf.iter().position(|b| *b == b'\n') {
//!                 break String::from_utf8_lossy(&client.buf.split_to(end + 1)).trim().to_owned();
//!             }
//!             client.fill().await.map_err(|source| SessionError::ClientIo { source })?;
//!         };
//!         let (user, db) = line.split_once('@').unwrap_or((&line, ""));
//!         Ok(Hello::Session { db_user: user.into(), db_name: Some(db.into()) })
//!     }
//!     async fn connect(&self, cx: &Cx<'_, ()>, _: &mut (), tcp: TcpStream)
//!         -> Result<UpstreamConn, SessionError<Refused>> {
//!         UpstreamConn::start_tls(cx.endpoint, tcp, &[]).await.map_err(|source|
//!             SessionError::UpstreamTls { addr: cx.endpoint.addr().into(), source })
//!     }
//!     async fn login(&self, _: &Cx<'_, ()>, _: &mut ClientConn, _: &mut (), up: &mut UpstreamConn,
//!         login: UpstreamLogin, _: &SessionRequest<'_>) -> Result<(), SessionError<Refused>> {
//!         let mut line = format!("login {} ", login.user).into_bytes();
//!         line.extend_from_slice(login.secret.expose());
//!         line.push(b'\n');
//!         up.send(&line).await.map_err(|source| SessionError::UpstreamIo { source })?;
//!         while !up.buf.ends_with(b"\n") {
//!             up.fill().await.map_err(|source| SessionError::UpstreamIo { source })?;
//!         }
//!         if &up.buf[..] != b"ok\n" { return Err(Refused.into()); }
//!         up.buf.clear();
//!         Ok(())
//!     }
//!     async fn welcome(&self, _: &Cx<'_, ()>, client: &mut ClientConn, _: &mut (), _: &mut UpstreamConn,
//!         _: &Registration<()>) -> Result<(), SessionError<Refused>> {
//!         client.send(b"welcome\n").await.map_err(|source| SessionError::ClientIo { source })
//!     }
//!     fn refusal(&self, _: &(), error: &SessionError<Refused>) -> Option<Vec<u8>> {
//!         Some(format!("error {error}\n").into_bytes())
//!     }
//! }
//! ```
//!
//! Serve it with `Proxy::builder(Lines, database, server_tls, authorizer, injector).build()?.serve(
//! listener, shutdown)`; the tests of this crate run exactly that against a fake database.
#![forbid(unsafe_code)]

pub mod authn;
mod conn;
mod error;
pub mod listener;
mod local;
pub mod metrics;
mod protocol;
mod proxy;
mod registry;
pub mod relay;
pub mod sasl;
pub mod scram;
mod session;
mod shutdown;
mod upstream;

#[doc(hidden)]
pub mod fuzzing;

pub use authn::{
    ClientAuthenticator, ClientCheck, ClientHello, MtlsAuthenticator, ProxyPasswordAuthenticator,
};
pub use conn::{ClientConn, ClientStream, StartTlsError, Transport, UpstreamConn};
pub use error::{Phase, ProtocolError, Seconds, SessionError, Side, error_chain};
pub use listener::{ConnGuard, Incoming, Listener, ListenerLimits};
pub use local::LocalUser;
pub use metrics::{MetricsSnapshot, ProxyMetrics};
pub use protocol::{Cx, Hello, Protocol};
pub use proxy::{Limits, Proxy, ProxyBuilder, Timeouts};
pub use registry::{Registration, SessionId, SessionInfo, SessionRegistry, SessionWho};
pub use relay::{
    ClientGuard, Endian, Framing, LengthPrefixed, RelayEnd, StopSignal, relay_bytes,
    relay_bytes_guarded,
};
pub use shutdown::{Drain, Stage};
pub use upstream::{DialFuture, Dialer, EndpointError, TcpDialer, UpstreamEndpoint};
