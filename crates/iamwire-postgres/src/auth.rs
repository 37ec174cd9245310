//! Authentication exchanges on both sides of the proxy, as sans-IO state machines that take
//! and return message payloads (the connection driver does the framing and the I/O):
//!
//! - [`ScramServer`]: the proxy verifying a client's proxy-side password with
//!   SCRAM-SHA-256 or SCRAM-SHA-256-PLUS, as PostgreSQL does (including a mock exchange for
//!   unknown users that fails like a wrong password).
//! - [`UpstreamAuth`]: the proxy logging in to the database with an injected credential
//!   (RDS IAM token, Redshift temporary password, static password) by cleartext, MD5 or
//!   SCRAM, refusing cleartext without TLS and verifying the server's SCRAM signature.
//!
//! Randomness (nonces, salts, the mock key) is always an input.
//!
//! ```
//! use iamwire_postgres::auth::{
//!     AuthRequest, Nonce, SaslClientMessage, ScramSecret, ScramServer, ServerAction,
//!     UpstreamAction, UpstreamAuth, UpstreamLogin, UpstreamTransport, DEFAULT_ITERATIONS,
//! };
//!
//! # fn main() -> Result<(), iamwire_postgres::auth::AuthError> {
//! // A SCRAM server holding alice's secret, and the proxy's login to it.
//! let secret = ScramSecret::from_password(b"s3cret", b"0123456789abcdef", DEFAULT_ITERATIONS);
//! let mut server = ScramServer::new(secret, Nonce::from_random_bytes([1; 18]), None);
//! let transport = UpstreamTransport::Tls { server_end_point: None };
//! let mut login = UpstreamAuth::new(
//!     UpstreamLogin::new("alice", "s3cret"),
//!     transport,
//!     Nonce::from_random_bytes([2; 18]),
//! );
//!
//! let UpstreamAction::SendSaslInitialResponse { mechanism, data } =
//!     login.step(AuthRequest::Sasl { mechanisms: server.mechanisms() })?
//! else { unreachable!() };
//! let ServerAction::Continue(server_first) =
//!     server.step(SaslClientMessage::Initial { mechanism, data: &data })?
//! else { unreachable!() };
//! let UpstreamAction::SendSaslResponse { data } =
//!     login.step(AuthRequest::SaslContinue { data: &server_first })?
//! else { unreachable!() };
//! let ServerAction::Final(server_final) = server.step(SaslClientMessage::Response { data: &data })?
//! else { unreachable!() };
//! login.step(AuthRequest::SaslFinal { data: &server_final })?;
//! assert!(matches!(login.step(AuthRequest::Ok)?, UpstreamAction::Done));
//! # Ok(())
//! # }
//! ```

mod client;
mod endpoint;
mod error;
mod fuzz;
mod md5_password;
mod scram;
mod server;
mod upstream;

pub use endpoint::TlsServerEndPoint;
pub use error::{AuthError, AuthMethod, MutualAuthFailure, ScramMessage, ScramServerError};
pub use iamwire_core::{Secret, UpstreamLogin};
pub use iamwire_proxy::scram::MockKey;
pub use scram::{DEFAULT_ITERATIONS, Nonce, SCRAM_SHA_256, SCRAM_SHA_256_PLUS, ScramSecret};
pub use server::{SaslClientMessage, ScramServer, ServerAction};
pub use upstream::{
    AuthRequest, ChannelBindingPolicy, DEFAULT_MAX_ITERATIONS, UpstreamAction, UpstreamAuth,
    UpstreamTransport,
};

/// Drive both machines with arbitrary bytes (see `fuzz.rs` for the input format); must
/// never panic.
pub(crate) fn fuzz(data: &[u8]) {
    fuzz::run(data);
}
