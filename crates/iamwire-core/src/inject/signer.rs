//! Credentials rather than a password: the [`ChallengeSigner`] an injector puts into an
//! [`UpstreamLogin`](crate::UpstreamLogin) when the database does not take a password but asks the
//! client to prove, challenge by challenge, that it holds credentials (AWS SigV4 for Amazon Keyspaces).
//!
//! The protocol crate drives the exchange on its wire and never sees the credentials: it hands each
//! [`Challenge`] to the signer and sends the [`Answer`] back in its own framing. The signer is made by
//! the injector (in `iamwire-aws`) with the credentials it fetched for this session, so a protocol crate
//! needs no AWS crate, and the signing itself stays a pure function of credentials, time and challenge.
//!
//! How the mechanisms fit:
//!
//! - **Amazon Keyspaces** (CQL `SigV4` authenticator): the mechanism's tokens are opaque to the protocol.
//!   The CQL crate asks for [`Challenge::Start`] (the answer is the first `AUTH_RESPONSE` body, `SigV4\0\0`)
//!   and passes each `AUTH_CHALLENGE` body as [`Challenge::Token`] (the answer is the next `AUTH_RESPONSE`
//!   body, `signature=…,access_key=…,amzdate=…`), until the server says `AUTH_SUCCESS`.
//! - **MongoDB `MONGODB-AWS`** (DocumentDB): the SASL payloads are BSON the MongoDB crate encodes and
//!   checks itself (client nonce, server nonce prefix and length). What needs the credentials is one
//!   step: signing `sts:GetCallerIdentity` for the STS host the server named, with the server nonce and
//!   the GS2 flag in its headers. The MongoDB crate passes [`Challenge::StsGetCallerIdentity`] and gets
//!   [`Answer::Headers`] (`authorization`, `x-amz-date`, and `x-amz-security-token` if the credentials
//!   have one), which it puts into its BSON reply. A signer given a challenge it does not know answers
//!   [`InjectErrorKind::Internal`](crate::InjectErrorKind::Internal).
//! - **Per-request signing** (DynamoDB, OpenSearch over HTTP) is the same idea with the request as the
//!   challenge: a `Challenge::HttpRequest` variant (method, URI, signed headers, payload hash) answered
//!   with headers. The HTTP crate signs every request of a long session, so it asks the injector for a
//!   fresh `UpstreamLogin` per request (the injector's credential cache makes that cheap, and a signer
//!   never outlives the credentials it was made with by more than one request).
//!
//! A signer holds credentials: its `Debug` must never show them, and neither may any error it returns.

use std::fmt;

use crate::{InjectError, Secret};

/// A challenge from the database, as the protocol received it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge<'a> {
    /// Before the server has challenged: what the client sends first, if the mechanism opens with a
    /// message of its own (Keyspaces: `SigV4\0\0`).
    Start,
    /// A server's challenge token, exactly as it arrived (Keyspaces: an `AUTH_CHALLENGE` body,
    /// `nonce=<hex>`).
    Token(&'a [u8]),
    /// MongoDB `MONGODB-AWS`: sign an STS `GetCallerIdentity` request for `host` that carries the
    /// server's nonce (`X-MongoDB-Server-Nonce`, base64) and the GS2 channel-binding flag
    /// (`X-MongoDB-GS2-CB-Flag`); the answer is [`Answer::Headers`]. The protocol has already checked
    /// that the nonce extends its own; the signer checks the host and derives the region from it.
    StsGetCallerIdentity {
        /// The server's nonce, raw (64 bytes in MONGODB-AWS).
        server_nonce: &'a [u8],
        /// The STS host the server named (`sts.amazonaws.com`).
        host: &'a str,
        /// The GS2 channel-binding flag the client sent (`b'n'`: no channel binding).
        gs2_cb_flag: u8,
    },
}

/// What the protocol sends back.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Answer {
    /// Bytes to send as the response token, as they are. A secret: they may carry a session token.
    Token(Secret),
    /// Headers of a signed request, as lowercase names and their values (all kept as secrets: the
    /// session token is one, and the rest need not be shown either).
    Headers(Vec<(String, Secret)>),
}

/// Answers a database's authentication challenges with proofs made from credentials the protocol never
/// sees. Made per session by an [`AuthInjector`](crate::AuthInjector) and handed to the protocol inside
/// [`UpstreamLogin::signed`](crate::UpstreamLogin::signed). Pure: no I/O, the time comes from the
/// injector's clock.
pub trait ChallengeSigner: fmt::Debug + Send + Sync {
    /// A short name for the mechanism, for logs and errors (`keyspaces-sigv4`).
    fn mechanism(&self) -> &'static str;

    /// The answer to `challenge`.
    ///
    /// # Errors
    /// An [`InjectError`] (safe to show a client) for a challenge this signer cannot answer: malformed,
    /// of a kind it does not know, or one it could not sign.
    fn answer(&self, challenge: Challenge<'_>) -> Result<Answer, InjectError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InjectErrorKind, UpstreamLogin};
    use std::sync::Arc;

    #[derive(Debug)]
    struct Echo;

    impl ChallengeSigner for Echo {
        fn mechanism(&self) -> &'static str {
            "echo"
        }

        fn answer(&self, challenge: Challenge<'_>) -> Result<Answer, InjectError> {
            match challenge {
                Challenge::Start => Ok(Answer::Token(Secret::new(b"hello".to_vec()))),
                Challenge::Token(t) if !t.is_empty() => {
                    Ok(Answer::Token(Secret::new([t, b"-signed"].concat())))
                }
                Challenge::StsGetCallerIdentity {
                    server_nonce, host, ..
                } => Ok(Answer::Headers(vec![(
                    "authorization".to_owned(),
                    Secret::new([host.as_bytes(), server_nonce].concat()),
                )])),
                _ => Err(InjectError::new(
                    InjectErrorKind::Internal,
                    "empty challenge",
                )),
            }
        }
    }

    #[test]
    fn a_signed_login_carries_its_signer_and_no_password() {
        let login = UpstreamLogin::signed("reader", Arc::new(Echo));
        assert_eq!(login.user, "reader");
        assert!(login.secret.is_empty());
        let signer = login.signer.as_deref().expect("a signer");
        let Answer::Token(t) = signer.answer(Challenge::Token(b"n")).unwrap() else {
            panic!("a token");
        };
        assert_eq!(t.expose(), b"n-signed");
        let Answer::Token(t) = signer.answer(Challenge::Start).unwrap() else {
            panic!("a token");
        };
        assert_eq!(t.expose(), b"hello");
        assert!(signer.answer(Challenge::Token(b"")).is_err());
        let sts = Challenge::StsGetCallerIdentity {
            server_nonce: b"nonce",
            host: "sts.amazonaws.com",
            gs2_cb_flag: b'n',
        };
        let Answer::Headers(headers) = signer.answer(sts).unwrap() else {
            panic!("headers");
        };
        assert_eq!(headers[0].1.expose(), b"sts.amazonaws.comnonce");
        assert!(!format!("{headers:?}").contains("nonce"));
        assert!(format!("{login:?}").contains("Echo"));
        assert!(UpstreamLogin::new("u", "pw").signer.is_none());
    }
}
