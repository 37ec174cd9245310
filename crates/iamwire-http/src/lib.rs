//! HTTP databases for iamwire: DynamoDB (with DynamoDB Streams and the DAX API) and OpenSearch, where
//! there is no login and every request is SigV4-signed.
//!
//! A client talks to the proxy with an ordinary AWS SDK or CLI (`--endpoint-url` / `endpoint_url`) and
//! keys that are worth nothing outside it. For each request the proxy
//!
//! 1. reads the head ([`head::inspect`]): the API (`X-Amz-Target` picks DynamoDB, Streams or DAX), the
//!    client's `Authorization` (parsed strictly), the declared payload hash, the length against the cap;
//! 2. knows who the client is: its certificate (mTLS, through the framework's
//!    [`ClientAuthenticator`](iamwire_proxy::ClientAuthenticator)), or the access key it signed with —
//!    keys the proxy issued ([`keys`]), whose grant names the identity *and* the database-user role;
//! 3. asks the [`Authorizer`](iamwire_core::Authorizer) whether that identity may act as that role on
//!    this database, before anything goes upstream;
//! 4. checks the signature over the body's hash — streamed through when the client declared the hash
//!    (`x-amz-content-sha256`, checked as it passes), otherwise hashed while spooled (memory, then an
//!    unnamed temporary file) — and refuses a body over the cap with `413` as soon as it crosses it;
//! 5. gets the credentials of the role chain (`assume_role_arn` with its external ID, then the user
//!    role, session name = the identity, session tags from `aws.session_tags`; cached per chain);
//! 6. drops the client's signature, date, payload hash and session token, and — for a client that
//!    signed with a key, token or not — every header its signature does not cover
//!    ([`head::upstream_headers`] has the rule); sets the upstream host, signs as the role (`dynamodb`,
//!    `dax` or `es`) over every header it forwards, sends through a pooled keep-alive client with
//!    timeouts and a bound on requests in flight, and streams the answer back.
//!
//! Every failure becomes a response in the service's own error shape through one function,
//! [`refusal`].
//!
//! ```
//! use std::sync::Arc;
//! use iamwire_core::{AllowList, Database, Protocol, Secret, SystemRandom, TlsMode};
//! use iamwire_http::{HttpProxy, Service, keys::AccessKeys, refusal, HttpError};
//!
//! // Issue a key for identity "alice" acting as role "orders-rw"; list it, hand out the secret once.
//! let mut keys = AccessKeys::new(Secret::from(vec![42u8; 32]))?;
//! let (id, secret) = keys.mint("alice", "orders-rw", &SystemRandom)?;
//! keys.insert(&id, "alice", "orders-rw")?;
//! assert!(!format!("{keys:?}").contains(secret.expose_str().unwrap()));
//!
//! // Errors come back in the service's shape.
//! let answer = refusal(Service::DynamoDb, &HttpError::BodyTooLarge { limit: 1024 });
//! assert_eq!(answer.status(), 413);
//! # let _ = (Arc::new(AllowList::default()), Database::new("d", Protocol::DynamoDb, "h"), TlsMode::Insecure);
//! # let _: Option<HttpProxy> = None;
//! # Ok::<(), HttpError>(())
//! ```
//!
//! Serve a database with `HttpProxy::builder(database, roles, authorizer).server_tls(..)
//! .access_keys(keys).upstream_tls(..).build()?.serve(listener, shutdown)`; see
//! `examples/dynamodb_proxy.rs`.
#![forbid(unsafe_code)]

mod body;
mod client;
mod error;
pub mod head;
pub mod keys;
mod proxy;
mod route;

#[doc(hidden)]
pub mod fuzzing;

pub use body::ProxyBody;
pub use error::{HttpError, refusal};
pub use proxy::{CheckAnswer, HttpLimits, HttpMetrics, HttpProxy, HttpProxyBuilder, HttpTimeouts};
pub use route::{Api, Routes, Service, Target};
