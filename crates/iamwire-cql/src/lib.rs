//! The Cassandra CQL native protocol for iamwire, on the iamwire-proxy framework: clients connect with
//! any CQL driver over TLS, authenticate to the proxy (client certificate, or a proxy password through
//! the `PasswordAuthenticator` whose user names the database user), and the proxy logs in upstream —
//! to Amazon Keyspaces by answering its SigV4 challenge with the database-user role's credentials, or
//! to Cassandra with a password — before relaying frames untouched.
//!
//! - [`codec`]: sans-IO frames (v3/v4 header, v5 segments with their checksums) and the handshake
//!   messages, every length checked against [`Limits`](codec::Limits).
//! - [`Cql`]: the protocol's phases; [`CqlProxy`] serves one database.
//! - [`error_message`]: the one function that turns a session error into a CQL ERROR (bad credentials
//!   `0x0100`, protocol error `0x000A`, unavailable `0x1000`, ...).
//!
//! This crate knows no AWS: a Keyspaces login arrives as an [`UpstreamLogin`](iamwire_core::UpstreamLogin)
//! carrying a [`ChallengeSigner`](iamwire_core::ChallengeSigner) (made by `iamwire-aws`'s Keyspaces
//! injector), which the login drives through `AUTH_RESPONSE` / `AUTH_CHALLENGE` rounds.
//!
//! ```
//! use bytes::BytesMut;
//! use iamwire_cql::codec::{FrameDecoder, Limits, Request, Response, opcode};
//!
//! // A driver's STARTUP, as the proxy reads it.
//! let startup = Request::Startup(vec![("CQL_VERSION".into(), "3.4.4".into())]);
//! let mut wire = startup.to_frame(4, 1).to_bytes()?;
//! let frame = FrameDecoder::new(Limits::default()).decode(&mut wire)?.expect("a whole frame");
//! assert_eq!((frame.version, frame.stream, frame.opcode), (4, 1, opcode::STARTUP));
//! assert_eq!(Request::decode(&frame, &Limits::default())?, startup);
//! // The proxy's answer on the same stream.
//! let reply = Response::Authenticate("org.apache.cassandra.auth.PasswordAuthenticator".into());
//! assert!(reply.to_frame(4, frame.stream).response);
//! # Ok::<(), iamwire_cql::codec::Malformed>(())
//! ```
#![forbid(unsafe_code)]

pub mod codec;
mod error;
mod proxy;

#[doc(hidden)]
pub mod fuzzing;

pub use error::{CqlError, error_message};
pub use proxy::{Cql, CqlProxy, CqlState, PASSWORD_AUTHENTICATOR};
