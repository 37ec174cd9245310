//! The PostgreSQL wire codec (protocol 3.x) for the handshake, both directions, without I/O.
//!
//! - [`FrontendDecoder`] reads what a client sends: startup packets, then the authentication
//!   exchange; [`FrontendMessage::encode`] writes the same messages toward an upstream.
//! - [`BackendDecoder`] reads what a server sends during the handshake;
//!   [`BackendMessage::encode`] writes the same messages toward a client.
//!
//! Decoders follow the `postgres-protocol` convention: `decode(&mut BytesMut)` returns
//! `Ok(None)` when more bytes are needed (consuming nothing), and every length is checked against
//! [`Limits`] as soon as its header arrives, before the body is buffered.
//!
//! ```
//! use bytes::BytesMut;
//! use iamwire_postgres::codec::{FrontendDecoder, FrontendMessage, StartupMessage};
//!
//! let startup = StartupMessage::new("alice")?.with("database", "orders")?;
//! let mut buf = BytesMut::new();
//! FrontendMessage::from(startup.clone()).encode(&mut buf)?;
//!
//! let mut decoder = FrontendDecoder::default();
//! assert_eq!(decoder.decode(&mut buf)?, Some(FrontendMessage::Startup(startup)));
//! # Ok::<(), iamwire_postgres::codec::CodecError>(())
//! ```

mod backend;
mod error;
mod error_fields;
mod frontend;
mod limits;
mod secret;
pub mod sqlstate;
mod wire;

#[cfg(test)]
mod tests;

pub use backend::{
    Authentication, BackendDecoder, BackendKeyData, BackendMessage, BackendPhase,
    NegotiateProtocolVersion, ParameterStatus, TransactionStatus,
};
pub use error::CodecError;
pub use error_fields::{ErrorFields, Severity};
pub use frontend::{
    AuthResponseKind, CANCEL_REQUEST_CODE, CancelRequest, FrontendDecoder, FrontendMessage,
    FrontendPhase, GSSENC_REQUEST_CODE, PasswordMessage, ProtocolVersion, SSL_REQUEST_CODE,
    SaslInitialResponse, SaslResponse, StartupMessage,
};
pub use iamwire_core::Secret;
pub use limits::Limits;
pub use secret::CancelKey;

use bytes::BytesMut;

/// Every frontend phase, for the fuzz entry point and tests.
const FRONTEND_PHASES: [FrontendPhase; 4] = [
    FrontendPhase::Startup,
    FrontendPhase::Authentication(AuthResponseKind::Password),
    FrontendPhase::Authentication(AuthResponseKind::SaslInitialResponse),
    FrontendPhase::Authentication(AuthResponseKind::SaslResponse),
];

/// Every backend phase, for the fuzz entry point and tests.
const BACKEND_PHASES: [BackendPhase; 3] = [
    BackendPhase::Messages,
    BackendPhase::SslResponse,
    BackendPhase::GssEncResponse,
];

/// Decodes `data` as client messages in every phase, then once more moving through the phases
/// of a SCRAM handshake (startup, SASLInitialResponse, SASLResponse) as messages arrive. Each
/// message decoded must re-encode to bytes that decode to the same message. Panics (a fuzz
/// finding) when that fails.
pub(crate) fn fuzz_frontend(data: &[u8]) {
    for phase in FRONTEND_PHASES.into_iter().map(Some).chain([None]) {
        let mut decoder = FrontendDecoder::default();
        decoder.set_phase(phase.unwrap_or_default());
        let mut buf = BytesMut::from(data);
        while let Ok(Some(message)) = decoder.decode(&mut buf) {
            let mut encoded = BytesMut::new();
            if let Err(error) = message.encode(&mut encoded) {
                panic!("decoded {message:?} but could not re-encode it: {error}");
            }
            let again = decoder.decode(&mut encoded);
            assert_eq!(
                again,
                Ok(Some(message.clone())),
                "frontend round trip in {phase:?}"
            );
            assert!(
                encoded.is_empty(),
                "re-encoded bytes left over in {phase:?}"
            );
            if phase.is_none() {
                let next = match message {
                    FrontendMessage::Startup(_) => AuthResponseKind::SaslInitialResponse,
                    FrontendMessage::SaslInitialResponse(_) => AuthResponseKind::SaslResponse,
                    _ => continue,
                };
                decoder.set_phase(FrontendPhase::Authentication(next));
            }
        }
    }
}

/// Decodes `data` as server messages in every phase; each message decoded must re-encode to
/// bytes that decode to the same message. Panics (a fuzz finding) when that fails.
pub(crate) fn fuzz_backend(data: &[u8]) {
    for phase in BACKEND_PHASES {
        let mut decoder = BackendDecoder::default();
        decoder.set_phase(phase);
        let mut buf = BytesMut::from(data);
        while let Ok(Some(message)) = decoder.decode(&mut buf) {
            let mut encoded = BytesMut::new();
            if let Err(error) = message.encode(&mut encoded) {
                panic!("decoded {message:?} but could not re-encode it: {error}");
            }
            let again = decoder.decode(&mut encoded);
            assert_eq!(again, Ok(Some(message)), "backend round trip in {phase:?}");
            assert!(
                encoded.is_empty(),
                "re-encoded bytes left over in {phase:?}"
            );
        }
    }
}
