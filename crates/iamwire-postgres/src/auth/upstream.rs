//! The upstream login: the proxy authenticating to the real database with an injected
//! credential, as a sans-IO state machine.

use std::fmt;
use std::num::NonZeroU32;

use super::client::{ScramClient, ScramClientFinal};
use super::md5_password::md5_response;
use super::scram::Gs2Flag;
use super::{
    AuthError, AuthMethod, MutualAuthFailure, Nonce, SCRAM_SHA_256, SCRAM_SHA_256_PLUS, Secret,
    TlsServerEndPoint, UpstreamLogin,
};

/// The most PBKDF2 iterations a server may ask for by default (Postgres' default is 4096).
pub const DEFAULT_MAX_ITERATIONS: NonZeroU32 = match NonZeroU32::new(100_000) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// What the proxy knows about the transport to the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamTransport {
    /// No TLS: cleartext passwords are refused.
    Plain,
    /// TLS, with the server certificate's `tls-server-end-point` data if the driver has it
    /// (see [`TlsServerEndPoint::from_certificate_der`]); without it, no SCRAM-SHA-256-PLUS.
    Tls {
        /// Channel binding data of the upstream's certificate.
        server_end_point: Option<TlsServerEndPoint>,
    },
}

/// Whether to use SCRAM channel binding with the upstream (like libpq's `channel_binding`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelBindingPolicy {
    /// Never use channel binding.
    Disable,
    /// Use SCRAM-SHA-256-PLUS when the server offers it and the certificate hash is known.
    #[default]
    Prefer,
    /// Only authenticate with SCRAM-SHA-256-PLUS; fail otherwise.
    Require,
}

/// An authentication request from the upstream server (`Authentication*` messages).
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub enum AuthRequest<'a> {
    /// `AuthenticationOk`.
    Ok,
    /// `AuthenticationCleartextPassword`.
    CleartextPassword,
    /// `AuthenticationMD5Password` with its salt.
    Md5Password {
        /// The 4-byte salt.
        salt: [u8; 4],
    },
    /// `AuthenticationSASL` with the offered mechanisms.
    Sasl {
        /// Mechanism names, in the server's order.
        mechanisms: &'a [&'a str],
    },
    /// `AuthenticationSASLContinue` with the server-first message.
    SaslContinue {
        /// The SASL data.
        data: &'a [u8],
    },
    /// `AuthenticationSASLFinal` with the server-final message.
    SaslFinal {
        /// The SASL data.
        data: &'a [u8],
    },
    /// Any other request (Kerberos V5 = 2, SCM = 6, GSS = 7, GSSContinue = 8, SSPI = 9, ...).
    Unsupported {
        /// The request code.
        code: i32,
    },
}

impl AuthRequest<'_> {
    fn name(&self) -> &'static str {
        match self {
            AuthRequest::Ok => "AuthenticationOk",
            AuthRequest::CleartextPassword => "AuthenticationCleartextPassword",
            AuthRequest::Md5Password { .. } => "AuthenticationMD5Password",
            AuthRequest::Sasl { .. } => "AuthenticationSASL",
            AuthRequest::SaslContinue { .. } => "AuthenticationSASLContinue",
            AuthRequest::SaslFinal { .. } => "AuthenticationSASLFinal",
            AuthRequest::Unsupported { .. } => "an unsupported authentication request",
        }
    }
}

/// What to send to the upstream next.
#[derive(Clone)]
pub enum UpstreamAction {
    /// Send a `PasswordMessage` with this payload (without the trailing NUL): the cleartext
    /// password / token, or the MD5 response.
    SendPassword(Secret),
    /// Send a `SASLInitialResponse`.
    SendSaslInitialResponse {
        /// The chosen mechanism.
        mechanism: &'static str,
        /// The client-first message.
        data: Vec<u8>,
    },
    /// Send a `SASLResponse` with the client-final message.
    SendSaslResponse {
        /// The client-final message.
        data: Vec<u8>,
    },
    /// Nothing to send; feed the server's next message.
    AwaitNext,
    /// The upstream accepted the login (`AuthenticationOk`); go on with the startup.
    Done,
}

impl fmt::Debug for UpstreamAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamAction::SendPassword(secret) => {
                f.debug_tuple("SendPassword").field(secret).finish()
            }
            UpstreamAction::SendSaslInitialResponse { mechanism, data } => f
                .debug_struct("SendSaslInitialResponse")
                .field("mechanism", mechanism)
                .field("data_len", &data.len())
                .finish(),
            UpstreamAction::SendSaslResponse { data } => f
                .debug_struct("SendSaslResponse")
                .field("data_len", &data.len())
                .finish(),
            UpstreamAction::AwaitNext => f.write_str("AwaitNext"),
            UpstreamAction::Done => f.write_str("Done"),
        }
    }
}

enum State {
    Start,
    AwaitingOk,
    ScramFirstSent(ScramClient),
    ScramFinalSent(ScramClientFinal),
    ScramVerified,
    Done,
    Failed,
}

/// The proxy's login to the upstream database, sans I/O: feed it each `Authentication*`
/// request, send what it says. Refuses cleartext without TLS, prefers SCRAM-SHA-256-PLUS,
/// and insists that a SCRAM server proves it knows the password.
pub struct UpstreamAuth {
    login: UpstreamLogin,
    transport: UpstreamTransport,
    client_nonce: Nonce,
    channel_binding: ChannelBindingPolicy,
    max_iterations: NonZeroU32,
    method: Option<AuthMethod>,
    state: State,
}

impl UpstreamAuth {
    /// An exchange logging in with `login` over `transport`. `client_nonce` is random,
    /// from the caller; it is used only if the server asks for SCRAM.
    pub fn new(login: UpstreamLogin, transport: UpstreamTransport, client_nonce: Nonce) -> Self {
        UpstreamAuth {
            login,
            transport,
            client_nonce,
            channel_binding: ChannelBindingPolicy::default(),
            max_iterations: DEFAULT_MAX_ITERATIONS,
            method: None,
            state: State::Start,
        }
    }

    /// Set the channel binding policy (default [`ChannelBindingPolicy::Prefer`]).
    pub fn channel_binding(mut self, policy: ChannelBindingPolicy) -> Self {
        self.channel_binding = policy;
        self
    }

    /// Cap the SCRAM iteration count a server may demand (default
    /// [`DEFAULT_MAX_ITERATIONS`]).
    pub fn max_iterations(mut self, max: NonZeroU32) -> Self {
        self.max_iterations = max;
        self
    }

    /// The method the server chose, once it asked for one.
    pub fn method(&self) -> Option<AuthMethod> {
        self.method
    }

    /// Whether the upstream has accepted the login.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Feed the server's next authentication request. After an error the exchange is over
    /// and every further request is rejected.
    pub fn step(&mut self, request: AuthRequest<'_>) -> Result<UpstreamAction, AuthError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let (state, action) = self.transition(state, request)?;
        self.state = state;
        Ok(action)
    }

    fn transition(
        &mut self,
        state: State,
        request: AuthRequest<'_>,
    ) -> Result<(State, UpstreamAction), AuthError> {
        let unexpected = |expected| AuthError::UnexpectedMessage {
            expected,
            got: request.name(),
        };
        match (state, request) {
            (State::Start, AuthRequest::Ok) => {
                if self.channel_binding == ChannelBindingPolicy::Require {
                    return Err(AuthError::ChannelBindingRequired {
                        reason: "the database accepted the login without authenticating",
                    });
                }
                Ok((State::Done, UpstreamAction::Done))
            }
            (State::Start, AuthRequest::CleartextPassword) => {
                self.method = Some(AuthMethod::Cleartext);
                self.refuse_without_binding()?;
                if self.transport == UpstreamTransport::Plain {
                    return Err(AuthError::CleartextWithoutTls);
                }
                let password = self.login.secret.clone();
                Ok((State::AwaitingOk, UpstreamAction::SendPassword(password)))
            }
            (State::Start, AuthRequest::Md5Password { salt }) => {
                self.method = Some(AuthMethod::Md5);
                self.refuse_without_binding()?;
                let response =
                    md5_response(self.login.user.as_bytes(), self.login.secret.expose(), salt);
                Ok((State::AwaitingOk, UpstreamAction::SendPassword(response)))
            }
            (State::Start, AuthRequest::Sasl { mechanisms }) => self.start_scram(mechanisms),
            (State::Start, AuthRequest::Unsupported { code }) => {
                Err(AuthError::UnsupportedMethod { code })
            }
            (State::Start, _) => Err(unexpected("waiting for an authentication request")),
            (State::AwaitingOk, AuthRequest::Ok) | (State::ScramVerified, AuthRequest::Ok) => {
                Ok((State::Done, UpstreamAction::Done))
            }
            (State::AwaitingOk, _) | (State::ScramVerified, _) => {
                Err(unexpected("waiting for AuthenticationOk"))
            }
            (State::ScramFirstSent(client), AuthRequest::SaslContinue { data }) => {
                let (next, data) =
                    client.server_first(self.login.secret.expose(), data, self.max_iterations)?;
                let action = UpstreamAction::SendSaslResponse { data };
                Ok((State::ScramFinalSent(next), action))
            }
            (State::ScramFinalSent(client), AuthRequest::SaslFinal { data }) => {
                client.server_final(data)?;
                Ok((State::ScramVerified, UpstreamAction::AwaitNext))
            }
            (State::ScramFirstSent(_), AuthRequest::Ok)
            | (State::ScramFinalSent(_), AuthRequest::Ok) => Err(AuthError::MutualAuthFailed {
                method: self.method.unwrap_or(AuthMethod::ScramSha256),
                reason: MutualAuthFailure::SkippedFinal,
            }),
            (State::ScramFirstSent(_), _) => {
                Err(unexpected("waiting for AuthenticationSASLContinue"))
            }
            (State::ScramFinalSent(_), _) => Err(unexpected("waiting for AuthenticationSASLFinal")),
            (State::Done, _) => Err(unexpected("the login was complete")),
            (State::Failed, _) => Err(unexpected("the login had failed")),
        }
    }

    /// Under [`ChannelBindingPolicy::Require`], only SCRAM-SHA-256-PLUS will do.
    fn refuse_without_binding(&self) -> Result<(), AuthError> {
        if self.channel_binding == ChannelBindingPolicy::Require {
            return Err(AuthError::ChannelBindingRequired {
                reason: "the database did not ask for SCRAM authentication",
            });
        }
        Ok(())
    }

    fn start_scram(&mut self, mechanisms: &[&str]) -> Result<(State, UpstreamAction), AuthError> {
        let offers = |name: &str| mechanisms.contains(&name);
        let end_point = match &self.transport {
            UpstreamTransport::Tls { server_end_point } => server_end_point.as_ref(),
            UpstreamTransport::Plain => None,
        };
        let tls = self.transport != UpstreamTransport::Plain;
        let use_plus = offers(SCRAM_SHA_256_PLUS)
            && self.channel_binding != ChannelBindingPolicy::Disable
            && end_point.is_some();
        let (method, gs2, cbind_data) = match end_point {
            Some(end_point) if use_plus => (
                AuthMethod::ScramSha256Plus,
                Gs2Flag::TlsServerEndPoint,
                end_point.as_bytes().to_vec(),
            ),
            _ => {
                if self.channel_binding == ChannelBindingPolicy::Require {
                    return Err(AuthError::ChannelBindingRequired {
                        reason: if !offers(SCRAM_SHA_256_PLUS) {
                            "the database did not offer SCRAM-SHA-256-PLUS"
                        } else {
                            "the upstream certificate's channel binding data is not known"
                        },
                    });
                }
                if !offers(SCRAM_SHA_256) {
                    return Err(AuthError::NoCommonMechanism);
                }
                // `y` ("I could bind, but you did not offer it") only when the server really
                // did not offer PLUS; a server that did would take `y` as a downgrade.
                let gs2 = if tls
                    && !offers(SCRAM_SHA_256_PLUS)
                    && self.channel_binding != ChannelBindingPolicy::Disable
                {
                    Gs2Flag::ClientOnly
                } else {
                    Gs2Flag::NotSupported
                };
                (AuthMethod::ScramSha256, gs2, Vec::new())
            }
        };
        self.method = Some(method);
        let (client, data) =
            ScramClient::start(method, gs2, cbind_data, self.client_nonce.clone(), "");
        let mechanism = match method {
            AuthMethod::ScramSha256Plus => SCRAM_SHA_256_PLUS,
            _ => SCRAM_SHA_256,
        };
        Ok((
            State::ScramFirstSent(client),
            UpstreamAction::SendSaslInitialResponse { mechanism, data },
        ))
    }
}

impl fmt::Debug for UpstreamAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Start => "Start",
            State::AwaitingOk => "AwaitingOk",
            State::ScramFirstSent(_) => "ScramFirstSent",
            State::ScramFinalSent(_) => "ScramFinalSent",
            State::ScramVerified => "ScramVerified",
            State::Done => "Done",
            State::Failed => "Failed",
        };
        f.debug_struct("UpstreamAuth")
            .field("login", &self.login)
            .field("transport", &self.transport)
            .field("channel_binding", &self.channel_binding)
            .field("method", &self.method)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
