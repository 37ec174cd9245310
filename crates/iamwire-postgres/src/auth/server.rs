//! The SCRAM-SHA-256(-PLUS) server: the proxy verifying a client's proxy-side password.

use std::fmt;
use std::num::NonZeroU32;

use super::scram::{
    Gs2Flag, TLS_SERVER_END_POINT, b64_decode, b64_encode, ct_eq, hmac, is_printable, sha256,
    take_attr,
};
use super::{
    AuthError, AuthMethod, MockKey, Nonce, SCRAM_SHA_256, SCRAM_SHA_256_PLUS, ScramMessage,
    ScramSecret, TlsServerEndPoint,
};

/// A SASL message from the client, as carried by `SASLInitialResponse` / `SASLResponse`.
#[derive(Debug, Clone, Copy)]
pub enum SaslClientMessage<'a> {
    /// `SASLInitialResponse`: the chosen mechanism and the client-first message.
    Initial {
        /// The mechanism the client chose.
        mechanism: &'a str,
        /// The client-first message (empty if the client sent none).
        data: &'a [u8],
    },
    /// `SASLResponse`: the client-final message.
    Response {
        /// The client-final message.
        data: &'a [u8],
    },
}

/// What the SCRAM server wants sent to the client next.
#[derive(Clone, PartialEq, Eq)]
pub enum ServerAction {
    /// Send `AuthenticationSASLContinue` with this server-first message.
    Continue(Vec<u8>),
    /// The client is authenticated: send `AuthenticationSASLFinal` with this server-final
    /// message, then (once the upstream accepted) `AuthenticationOk`.
    Final(Vec<u8>),
}

impl fmt::Debug for ServerAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerAction::Continue(d) => write!(f, "Continue({} bytes)", d.len()),
            ServerAction::Final(d) => write!(f, "Final({} bytes)", d.len()),
        }
    }
}

enum State {
    AwaitingClientFirst,
    AwaitingClientFinal {
        method: AuthMethod,
        gs2: Gs2Flag,
        /// `client-first-message-bare "," server-first-message ","`: the AuthMessage prefix.
        auth_message_prefix: String,
        combined_nonce: String,
    },
    Done,
    Failed,
}

/// The server side of SCRAM-SHA-256 as PostgreSQL implements it, sans I/O: feed it the
/// client's SASL messages, it says what to answer.
///
/// The user name in the SCRAM message is ignored (Postgres uses the startup packet's);
/// the caller looks the user up first and builds the server with [`ScramServer::new`], or
/// with [`ScramServer::mock`] if there is no such user, which fails at the proof exactly
/// like a wrong password.
pub struct ScramServer {
    secret: ScramSecret,
    mock: bool,
    server_nonce: Nonce,
    channel_binding: Option<TlsServerEndPoint>,
    state: State,
}

impl ScramServer {
    /// A server for a user with `secret`. `server_nonce` is random, from the caller.
    /// With `channel_binding` (this connection's `tls-server-end-point` data, i.e. the
    /// proxy's own certificate hash), SCRAM-SHA-256-PLUS is offered as well.
    pub fn new(
        secret: ScramSecret,
        server_nonce: Nonce,
        channel_binding: Option<TlsServerEndPoint>,
    ) -> Self {
        ScramServer {
            secret,
            mock: false,
            server_nonce,
            channel_binding,
            state: State::AwaitingClientFirst,
        }
    }

    /// A server for a user that does not exist, indistinguishable from a real one until
    /// it fails with [`AuthError::InvalidProof`]. `iterations` should be what real users
    /// have.
    pub fn mock(
        key: &MockKey,
        user: &str,
        iterations: NonZeroU32,
        server_nonce: Nonce,
        channel_binding: Option<TlsServerEndPoint>,
    ) -> Self {
        ScramServer {
            mock: true,
            ..ScramServer::new(
                ScramSecret::mock(key, user, iterations),
                server_nonce,
                channel_binding,
            )
        }
    }

    /// The mechanisms to offer in `AuthenticationSASL`, preferred first.
    pub fn mechanisms(&self) -> &'static [&'static str] {
        if self.channel_binding.is_some() {
            &[SCRAM_SHA_256_PLUS, SCRAM_SHA_256]
        } else {
            &[SCRAM_SHA_256]
        }
    }

    /// Whether the client has been authenticated.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Feed the client's next SASL message. After an error the exchange is over and every
    /// further message is rejected.
    pub fn step(&mut self, message: SaslClientMessage<'_>) -> Result<ServerAction, AuthError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let result = match (state, message) {
            (State::AwaitingClientFirst, SaslClientMessage::Initial { mechanism, data }) => {
                self.client_first(mechanism, data)
            }
            (
                State::AwaitingClientFinal {
                    method,
                    gs2,
                    auth_message_prefix,
                    combined_nonce,
                },
                SaslClientMessage::Response { data },
            ) => self.client_final(method, gs2, &auth_message_prefix, &combined_nonce, data),
            (state, message) => Err(AuthError::UnexpectedMessage {
                expected: match state {
                    State::AwaitingClientFirst => "waiting for SASLInitialResponse",
                    State::AwaitingClientFinal { .. } => "waiting for SASLResponse",
                    State::Done => "the SCRAM exchange was complete",
                    State::Failed => "the SCRAM exchange had failed",
                },
                got: match message {
                    SaslClientMessage::Initial { .. } => "SASLInitialResponse",
                    SaslClientMessage::Response { .. } => "SASLResponse",
                },
            }),
        };
        result.map(|(state, action)| {
            self.state = state;
            action
        })
    }

    fn client_first(
        &self,
        mechanism: &str,
        data: &[u8],
    ) -> Result<(State, ServerAction), AuthError> {
        let method = match mechanism {
            SCRAM_SHA_256 => AuthMethod::ScramSha256,
            SCRAM_SHA_256_PLUS if self.channel_binding.is_some() => AuthMethod::ScramSha256Plus,
            _ => return Err(AuthError::UnsupportedMechanism),
        };
        let malformed = |what| AuthError::Malformed {
            method,
            message: ScramMessage::ClientFirst,
            what,
        };
        let text = std::str::from_utf8(data).map_err(|_| malformed("not UTF-8"))?;
        let mut parts = text.splitn(3, ',');
        let flag = parts.next().unwrap_or_default();
        let authzid = parts.next().ok_or(malformed("missing GS2 header"))?;
        let bare = parts.next().ok_or(malformed("missing GS2 header"))?;
        let gs2 = self.check_gs2_flag(method, flag)?;
        if !authzid.is_empty() {
            return Err(AuthError::AuthzidNotSupported { method });
        }

        let mut attrs = bare.split(',').peekable();
        if take_attr(&mut attrs, 'm').is_some() {
            return Err(AuthError::UnsupportedExtension { method });
        }
        // Postgres ignores the SCRAM user name and uses the startup packet's.
        take_attr(&mut attrs, 'n').ok_or(malformed("missing n= attribute"))?;
        let client_nonce = take_attr(&mut attrs, 'r').ok_or(malformed("missing r= attribute"))?;
        if !is_printable(client_nonce) {
            return Err(malformed("client nonce is not printable"));
        }
        // Optional extensions may follow; none are supported, all are ignored (as Postgres).

        let combined_nonce = format!("{client_nonce}{}", self.server_nonce.as_str());
        let server_first = format!(
            "r={combined_nonce},s={},i={}",
            b64_encode(self.secret.salt()),
            self.secret.iterations()
        );
        let auth_message_prefix = format!("{bare},{server_first},");
        Ok((
            State::AwaitingClientFinal {
                method,
                gs2,
                auth_message_prefix,
                combined_nonce,
            },
            ServerAction::Continue(server_first.into_bytes()),
        ))
    }

    /// Check the GS2 channel binding flag against the chosen mechanism and this connection,
    /// as Postgres' `read_client_first_message` does.
    fn check_gs2_flag(&self, method: AuthMethod, flag: &str) -> Result<Gs2Flag, AuthError> {
        let plus = method == AuthMethod::ScramSha256Plus;
        let negotiation = |what| AuthError::ChannelBindingNegotiation { method, what };
        match flag {
            "n" if plus => Err(negotiation(
                "SCRAM-SHA-256-PLUS without channel binding data",
            )),
            "n" => Ok(Gs2Flag::NotSupported),
            "y" if plus => Err(negotiation(
                "SCRAM-SHA-256-PLUS without channel binding data",
            )),
            // PLUS was offered: a client that supports binding must use it.
            "y" if self.channel_binding.is_some() => {
                Err(AuthError::ChannelBindingDowngrade { method })
            }
            "y" => Ok(Gs2Flag::ClientOnly),
            _ => match flag.strip_prefix("p=") {
                Some(_) if self.channel_binding.is_none() => {
                    Err(negotiation("channel binding requested but not offered"))
                }
                Some(_) if !plus => Err(negotiation("channel binding data with SCRAM-SHA-256")),
                Some(TLS_SERVER_END_POINT) => Ok(Gs2Flag::TlsServerEndPoint),
                Some(_) => Err(AuthError::UnsupportedChannelBindingType { method }),
                None => Err(AuthError::Malformed {
                    method,
                    message: ScramMessage::ClientFirst,
                    what: "invalid GS2 channel binding flag",
                }),
            },
        }
    }

    fn client_final(
        &self,
        method: AuthMethod,
        gs2: Gs2Flag,
        auth_message_prefix: &str,
        combined_nonce: &str,
        data: &[u8],
    ) -> Result<(State, ServerAction), AuthError> {
        let malformed = |what| AuthError::Malformed {
            method,
            message: ScramMessage::ClientFinal,
            what,
        };
        let text = std::str::from_utf8(data).map_err(|_| malformed("not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(malformed("missing p= attribute at the end"))?;
        let mut attrs = without_proof.split(',').peekable();
        let cbind = take_attr(&mut attrs, 'c').ok_or(malformed("missing c= attribute"))?;
        let nonce = take_attr(&mut attrs, 'r').ok_or(malformed("missing r= attribute"))?;
        // Extensions between r= and p= are allowed and ignored, as in Postgres.
        if attrs.any(|a| a.len() < 2 || a.as_bytes().get(1) != Some(&b'=')) {
            return Err(malformed("invalid attribute"));
        }
        let cbind = b64_decode(cbind).ok_or(malformed("c= is not base64"))?;
        let proof = b64_decode(proof).ok_or(malformed("p= is not base64"))?;
        let proof: [u8; 32] = proof
            .as_slice()
            .try_into()
            .map_err(|_| malformed("p= is not 32 bytes"))?;

        let expected_cbind = b64_decode(
            &gs2.channel_binding_attr(
                self.channel_binding
                    .as_ref()
                    .map(TlsServerEndPoint::as_bytes)
                    .unwrap_or_default(),
            ),
        )
        .unwrap_or_default();
        if !ct_eq(&cbind, &expected_cbind) {
            return Err(AuthError::ChannelBindingMismatch { method });
        }
        if nonce != combined_nonce {
            return Err(AuthError::NonceMismatch {
                method,
                message: ScramMessage::ClientFinal,
            });
        }

        let auth_message = [auth_message_prefix.as_bytes(), without_proof.as_bytes()];
        let client_signature = hmac(self.secret.stored_key(), &auth_message);
        let mut client_key = proof;
        client_key
            .iter_mut()
            .zip(client_signature.iter())
            .for_each(|(k, s)| *k ^= s);
        // Always compare, also for a mock user, so both take the same time.
        let proof_ok = ct_eq(&sha256(&client_key), self.secret.stored_key());
        if !proof_ok || self.mock {
            return Err(AuthError::InvalidProof { method });
        }
        let server_signature = hmac(self.secret.server_key(), &auth_message);
        let server_final = format!("v={}", b64_encode(&server_signature));
        Ok((State::Done, ServerAction::Final(server_final.into_bytes())))
    }
}

impl fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::AwaitingClientFirst => "AwaitingClientFirst",
            State::AwaitingClientFinal { .. } => "AwaitingClientFinal",
            State::Done => "Done",
            State::Failed => "Failed",
        };
        // `mock` is deliberately not shown: logs must not tell real users from fake ones.
        f.debug_struct("ScramServer")
            .field("state", &state)
            .field("mechanisms", &self.mechanisms())
            .finish_non_exhaustive()
    }
}
