//! The MongoDB wire protocol for iamwire, on the iamwire-proxy framework: clients connect with any
//! MongoDB driver over TLS and log in to the proxy with `PLAIN` (`authSource=$external`) — the user
//! is the database user, for Amazon DocumentDB the IAM role to become, checked against a proxy
//! password or a client certificate — and the proxy logs in upstream with `MONGODB-AWS`, signing the
//! STS `GetCallerIdentity` request with that role's credentials, before relaying messages.
//!
//! - [`bson`]: a small BSON reader (validated once, nesting bounded, no allocation) and writer.
//! - [`codec`]: sans-IO messages — the header, `OP_MSG` (body, document sequences, checksum), the
//!   legacy `OP_QUERY` / `OP_REPLY` — every length checked against [`Limits`](codec::Limits).
//! - [`guard`]: what the relay lets through after the login (no second login, no logout).
//! - [`Mongo`]: the protocol's phases; [`MongoProxy`] serves one database.
//! - [`error_reply`]: the one function that turns a session error into a MongoDB command error
//!   (`AuthenticationFailed` 18, `Unauthorized` 13, ...).
//!
//! This crate knows no AWS: a DocumentDB login arrives as an
//! [`UpstreamLogin`](iamwire_core::UpstreamLogin) carrying a
//! [`ChallengeSigner`](iamwire_core::ChallengeSigner) (made by `iamwire-aws`'s DocumentDB injector),
//! which the login asks for the signed `GetCallerIdentity` headers.
//!
//! A client connects with, for example:
//!
//! ```text
//! mongodb://docs-reader:PROXY_PASSWORD@proxy.example.com:27017/?tls=true&tlsCAFile=ca.crt&authMechanism=PLAIN&authSource=%24external&directConnection=true&retryWrites=false
//! ```
//!
//! ```
//! use bytes::BytesMut;
//! use iamwire_mongodb::bson::DocBuf;
//! use iamwire_mongodb::codec::{FrontendMessage, Limits, MessageDecoder, OpMsg};
//!
//! // A driver's saslStart PLAIN, as the proxy reads it.
//! let mut command = DocBuf::new();
//! command.i32("saslStart", 1).str("mechanism", "PLAIN")
//!     .binary("payload", 0, b"\0docs-reader\0password").str("$db", "$external");
//! let mut wire = BytesMut::new();
//! OpMsg::new(command.finish().into()).encode(1, 0, &mut wire);
//! let raw = MessageDecoder::new(Limits::default().max_message_len).decode(&mut wire)?.expect("whole");
//! let FrontendMessage::Msg(msg) = FrontendMessage::decode(&raw, &Limits::default())? else { panic!() };
//! assert_eq!(msg.body().first_key(), Some("saslStart"));
//! assert_eq!(msg.body().get_str("mechanism"), Some("PLAIN"));
//! # Ok::<(), iamwire_mongodb::codec::Malformed>(())
//! ```
#![forbid(unsafe_code)]

pub mod bson;
pub mod codec;
mod error;
pub mod guard;
mod proxy;

#[doc(hidden)]
pub mod fuzzing;

pub use error::{MongoError, code, error_reply};
pub use proxy::{MAX_MESSAGE_LEN, Mongo, MongoProxy, MongoState};
