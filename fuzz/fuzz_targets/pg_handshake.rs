//! Structure-aware: the PostgreSQL authentication on both sides of the proxy, as a sequence of
//! well-formed-ish messages (arbitrary fields, encoded by the crate's own encoders and decoded by its
//! decoders in the phase the driver puts them in).
//!
//! The client side: a SCRAM client (the crate's `UpstreamAuth`, with the right or a wrong password)
//! against the proxy's `ScramServer` (for a known or an unknown user), each of its messages passed on
//! honestly or tampered with, or replaced by an arbitrary SASL message. The database side: the proxy's
//! `UpstreamAuth` (with the injected token) against an honest SCRAM database, or any authentication
//! request the input makes up (cleartext, MD5, SASL with chosen mechanisms, server-first and
//! server-final messages with arbitrary nonces, salts, iterations, verifiers and errors).
//!
//! The Postgres session driver itself is async over sockets (`proxy/client.rs`, `proxy/upstream.rs`);
//! these are its sans-IO machines, driven as it drives them. Invariants:
//! - never a panic;
//! - the proxy authorises a client (its SCRAM server finishes) only if the client knew the password,
//!   and never an unknown user;
//! - the proxy's login accepts the database's `AuthenticationOk` after SCRAM only once the database has
//!   proved it knows the token (the server-final a server with the token would send for exactly this
//!   exchange, honest or made up), and under `Require` never without binding;
//! - the token goes in clear only over TLS; nothing the proxy sends the database holds the client's
//!   password or proof, nothing it sends the client holds the token;
//! - every message the proxy makes is bounded.
#![no_main]

use std::num::NonZeroU32;

use arbitrary::Arbitrary;
use bytes::BytesMut;
use iamwire_postgres::auth::{
    AuthRequest, ChannelBindingPolicy, MockKey, Nonce, SCRAM_SHA_256, SCRAM_SHA_256_PLUS,
    SaslClientMessage, ScramSecret, ScramServer, ServerAction, TlsServerEndPoint, UpstreamAction,
    UpstreamAuth, UpstreamLogin, UpstreamTransport,
};
use iamwire_postgres::codec::{
    AuthResponseKind, Authentication, BackendDecoder, BackendMessage, FrontendDecoder,
    FrontendMessage, FrontendPhase, Limits, SaslInitialResponse, SaslResponse, Secret,
};

const CLIENT_PASSWORD: &[u8] = b"client-password-Q7";
const TOKEN: &str = "injected-token-Z9";
const ITERATIONS: NonZeroU32 = NonZeroU32::new(16).unwrap();
/// The largest message either machine may make from inputs this size.
const MAX_OUT: usize = 64 * 1024;

#[derive(Arbitrary, Debug)]
struct Input {
    client_knows_password: bool,
    user_known: bool,
    client_side_binding: bool,
    client: Vec<ClientOp>,
    upstream_tls: bool,
    upstream_cert_known: bool,
    policy: u8,
    database_knows_token: bool,
    database: Vec<DbOp>,
}

#[derive(Arbitrary, Debug)]
enum Tamper {
    None,
    Flip { at: u16, xor: u8 },
    Truncate(u16),
    Append(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Mechanism {
    Scram,
    ScramPlus,
    Other(String),
}

impl Mechanism {
    fn name(&self) -> &str {
        match self {
            Mechanism::Scram => SCRAM_SHA_256,
            Mechanism::ScramPlus => SCRAM_SHA_256_PLUS,
            Mechanism::Other(name) => name,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum ClientOp {
    /// The client's next honest message (its SCRAM machine's answer to what the proxy last said).
    Honest(Tamper),
    /// A SASLInitialResponse the input makes up.
    Initial {
        mechanism: Mechanism,
        data: Option<Vec<u8>>,
    },
    /// A SASLResponse the input makes up.
    Response(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum DbOp {
    /// The honest database's answer to what the proxy last sent.
    Honest(Tamper),
    Ok,
    Cleartext,
    Md5([u8; 4]),
    Sasl(Vec<Mechanism>),
    Continue {
        keep_nonce: bool,
        nonce: String,
        salt: Vec<u8>,
        iterations: u32,
        extra: String,
    },
    Final {
        verifier: Option<[u8; 32]>,
        error: Option<String>,
    },
    Other(i32),
}

/// Encode `message` as the proxy would send it to the client and decode it as the client's driver.
fn to_client(message: BackendMessage) -> Option<BackendMessage> {
    let mut buf = BytesMut::new();
    message.encode(&mut buf).ok()?;
    assert!(buf.len() <= MAX_OUT, "an unbounded message to the client");
    assert!(
        !contains(&buf, TOKEN.as_bytes()),
        "the token reached the client"
    );
    BackendDecoder::new(Limits::default())
        .decode(&mut buf)
        .ok()?
}

/// A client message through the wire, read by the proxy's decoder in the phase `kind`.
fn from_client(message: FrontendMessage, kind: AuthResponseKind) -> Option<FrontendMessage> {
    let mut buf = BytesMut::new();
    message.encode(&mut buf).ok()?;
    let mut decoder = FrontendDecoder::new(Limits::default());
    decoder.set_phase(FrontendPhase::Authentication(kind));
    decoder.decode(&mut buf).ok()?
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn tamper(mut data: Vec<u8>, how: &Tamper) -> Vec<u8> {
    match how {
        Tamper::None => {}
        Tamper::Flip { at, xor } => {
            if !data.is_empty() {
                let i = usize::from(*at) % data.len();
                data[i] ^= xor;
            }
        }
        Tamper::Truncate(len) => data.truncate(usize::from(*len)),
        Tamper::Append(more) => data.extend_from_slice(more),
    }
    data
}

fn nonce(s: &str) -> Nonce {
    Nonce::new(s).unwrap_or_else(|_| Nonce::from_random_bytes([7; 18]))
}

/// The client's side: the proxy's SCRAM server against a SCRAM client.
fn client_side(input: &Input) {
    let end_point = TlsServerEndPoint::from_hash([0x5a; 32]);
    let binding = input.client_side_binding.then(|| end_point.clone());
    let stored = ScramSecret::from_password(CLIENT_PASSWORD, b"proxy-salt", ITERATIONS);
    let mut server = if input.user_known {
        ScramServer::new(stored, nonce("proxyservernonce"), binding.clone())
    } else {
        ScramServer::mock(
            &MockKey::from_random_bytes([0x42; 32]),
            "nobody",
            ITERATIONS,
            nonce("proxyservernonce"),
            binding.clone(),
        )
    };
    let password: &[u8] = if input.client_knows_password {
        CLIENT_PASSWORD
    } else {
        b"guess"
    };
    let mut client = UpstreamAuth::new(
        UpstreamLogin::new("alice", Secret::new(password.to_vec())),
        UpstreamTransport::Tls {
            server_end_point: binding,
        },
        nonce("clientnonce"),
    )
    .max_iterations(ITERATIONS);
    // What the proxy last said to the client, as the client's driver decoded it.
    let offer: Vec<String> = server
        .mechanisms()
        .iter()
        .map(|m| (*m).to_owned())
        .collect();
    let mut last = to_client(BackendMessage::Authentication(Authentication::Sasl {
        mechanisms: offer,
    }));
    let mut expect = AuthResponseKind::SaslInitialResponse;
    let mut authorised = false;
    for op in input.client.iter().take(8) {
        let message = match op {
            ClientOp::Honest(how) => {
                let Some(BackendMessage::Authentication(request)) = &last else {
                    return;
                };
                let names: Vec<&str>;
                let request = match request {
                    Authentication::Sasl { mechanisms } => {
                        names = mechanisms.iter().map(String::as_str).collect();
                        AuthRequest::Sasl { mechanisms: &names }
                    }
                    Authentication::SaslContinue(data) => AuthRequest::SaslContinue {
                        data: data.expose(),
                    },
                    Authentication::SaslFinal(data) => AuthRequest::SaslFinal {
                        data: data.expose(),
                    },
                    _ => return,
                };
                match client.step(request) {
                    Ok(UpstreamAction::SendSaslInitialResponse { mechanism, data }) => {
                        FrontendMessage::SaslInitialResponse(SaslInitialResponse {
                            mechanism: mechanism.to_owned(),
                            data: Some(Secret::new(tamper(data, how))),
                        })
                    }
                    Ok(UpstreamAction::SendSaslResponse { data }) => {
                        FrontendMessage::SaslResponse(SaslResponse {
                            data: Secret::new(tamper(data, how)),
                        })
                    }
                    _ => return,
                }
            }
            ClientOp::Initial { mechanism, data } => {
                FrontendMessage::SaslInitialResponse(SaslInitialResponse {
                    mechanism: mechanism.name().to_owned(),
                    data: data.clone().map(Secret::new),
                })
            }
            ClientOp::Response(data) => FrontendMessage::SaslResponse(SaslResponse {
                data: Secret::new(data.clone()),
            }),
        };
        let Some(message) = from_client(message, expect) else {
            return;
        };
        let step = match &message {
            FrontendMessage::SaslInitialResponse(initial) => {
                server.step(SaslClientMessage::Initial {
                    mechanism: &initial.mechanism,
                    data: initial.data.as_ref().map_or(&[][..], Secret::expose),
                })
            }
            FrontendMessage::SaslResponse(response) => server.step(SaslClientMessage::Response {
                data: response.data.expose(),
            }),
            _ => return,
        };
        let reply = match step {
            Ok(ServerAction::Continue(first)) => {
                expect = AuthResponseKind::SaslResponse;
                Authentication::SaslContinue(Secret::new(first))
            }
            Ok(ServerAction::Final(last)) => {
                authorised = true;
                Authentication::SaslFinal(Secret::new(last))
            }
            Err(_) => return,
        };
        last = to_client(BackendMessage::Authentication(reply));
        assert!(
            !authorised || (input.user_known && input.client_knows_password),
            "the proxy authorised a client that did not know the password (user known: {})",
            input.user_known
        );
    }
    assert_eq!(authorised, server.is_done());
}

/// The database's side: the proxy's login against a database.
fn database_side(input: &Input) {
    let end_point = TlsServerEndPoint::from_hash([0x3c; 32]);
    let cert = input.upstream_cert_known.then(|| end_point.clone());
    let transport = if input.upstream_tls {
        UpstreamTransport::Tls {
            server_end_point: cert.clone(),
        }
    } else {
        UpstreamTransport::Plain
    };
    let policy = match input.policy % 3 {
        0 => ChannelBindingPolicy::Prefer,
        1 => ChannelBindingPolicy::Disable,
        _ => ChannelBindingPolicy::Require,
    };
    let mut proxy = UpstreamAuth::new(
        UpstreamLogin::new("iam_user", TOKEN),
        transport,
        nonce("proxyclientnonce"),
    )
    .channel_binding(policy)
    .max_iterations(ITERATIONS);
    let known: &[u8] = if input.database_knows_token {
        TOKEN.as_bytes()
    } else {
        b"another-token"
    };
    let db_binding = (input.upstream_tls && input.upstream_cert_known).then(|| end_point.clone());
    let mut database = ScramServer::new(
        ScramSecret::from_password(known, b"db-salt", ITERATIONS),
        nonce("databasenonce"),
        db_binding.clone(),
    );
    let mut backend = BackendDecoder::new(Limits::default());
    // What the proxy last sent the database, and the client-first it sent (for made-up server-firsts).
    let mut sent: Option<FrontendMessage> = None;
    let mut client_first = String::new();
    let mut scram_started = false;
    let mut proved = false;
    // A server that knows the token and sent exactly the server-first the proxy got, and the
    // server-final it would send for the proxy's client-final: the only final the proxy may accept.
    let mut shadow: Option<ScramServer> = None;
    let mut proof: Option<Vec<u8>> = None;
    for op in input.database.iter().take(8) {
        // (salt, iterations, server nonce) of a server-first, to find the server that would send it.
        let mut first_of: Option<(Vec<u8>, u32, String)> = None;
        let message = match op {
            DbOp::Honest(how) => {
                let step = match &sent {
                    None => Ok(ServerAction::Continue(Vec::new())),
                    Some(FrontendMessage::SaslInitialResponse(i)) => {
                        database.step(SaslClientMessage::Initial {
                            mechanism: &i.mechanism,
                            data: i.data.as_ref().map_or(&[][..], Secret::expose),
                        })
                    }
                    Some(FrontendMessage::SaslResponse(r)) => {
                        database.step(SaslClientMessage::Response {
                            data: r.data.expose(),
                        })
                    }
                    Some(_) => Ok(ServerAction::Final(Vec::new())),
                };
                match (step, &sent) {
                    (Ok(_), None) => Authentication::Sasl {
                        mechanisms: database
                            .mechanisms()
                            .iter()
                            .map(|m| (*m).to_owned())
                            .collect(),
                    },
                    (Ok(ServerAction::Continue(data)), _) => {
                        first_of = Some((
                            b"db-salt".to_vec(),
                            ITERATIONS.get(),
                            "databasenonce".to_owned(),
                        ));
                        Authentication::SaslContinue(Secret::new(tamper(data, how)))
                    }
                    (Ok(ServerAction::Final(data)), Some(FrontendMessage::SaslResponse(_))) => {
                        Authentication::SaslFinal(Secret::new(tamper(data, how)))
                    }
                    (Ok(_), _) => Authentication::Ok,
                    (Err(_), _) => return,
                }
            }
            DbOp::Ok => Authentication::Ok,
            DbOp::Cleartext => Authentication::CleartextPassword,
            DbOp::Md5(salt) => Authentication::Md5Password { salt: *salt },
            DbOp::Sasl(names) => Authentication::Sasl {
                mechanisms: names.iter().take(20).map(|m| m.name().to_owned()).collect(),
            },
            DbOp::Continue {
                keep_nonce,
                nonce,
                salt,
                iterations,
                extra,
            } => {
                let theirs = client_first
                    .split("r=")
                    .nth(1)
                    .unwrap_or("")
                    .split(',')
                    .next()
                    .unwrap_or("");
                let prefix = if *keep_nonce { theirs } else { "" };
                first_of = Some((salt.clone(), *iterations, nonce.clone()));
                let salt = base64(salt);
                Authentication::SaslContinue(Secret::new(format!(
                    "r={prefix}{nonce},s={salt},i={iterations}{extra}"
                )))
            }
            DbOp::Final { verifier, error } => {
                let data = match (verifier, error) {
                    (_, Some(e)) => format!("e={e}"),
                    (Some(v), None) => format!("v={}", base64(v)),
                    (None, None) => String::new(),
                };
                Authentication::SaslFinal(Secret::new(data))
            }
            DbOp::Other(code) => Authentication::Other {
                code: *code,
                data: bytes::Bytes::new(),
            },
        };
        // Through the wire: the database's encoder, the proxy's decoder.
        let mut buf = BytesMut::new();
        if BackendMessage::Authentication(message)
            .encode(&mut buf)
            .is_err()
        {
            return;
        }
        let Ok(Some(BackendMessage::Authentication(request))) = backend.decode(&mut buf) else {
            return;
        };
        let names: Vec<&str>;
        let request = match &request {
            Authentication::Ok => AuthRequest::Ok,
            Authentication::CleartextPassword => AuthRequest::CleartextPassword,
            Authentication::Md5Password { salt } => AuthRequest::Md5Password { salt: *salt },
            Authentication::Sasl { mechanisms } => {
                names = mechanisms.iter().map(String::as_str).collect();
                AuthRequest::Sasl { mechanisms: &names }
            }
            Authentication::SaslContinue(data) => AuthRequest::SaslContinue {
                data: data.expose(),
            },
            Authentication::SaslFinal(data) => AuthRequest::SaslFinal {
                data: data.expose(),
            },
            Authentication::Other { code, .. } => AuthRequest::Unsupported { code: *code },
            _ => return,
        };
        match request {
            AuthRequest::SaslContinue { data } => {
                shadow = first_of
                    .take()
                    .and_then(|(salt, iterations, server_nonce)| {
                        let iterations =
                            NonZeroU32::new(iterations).filter(|i| *i <= ITERATIONS)?;
                        let secret =
                            ScramSecret::from_password(TOKEN.as_bytes(), &salt, iterations);
                        let mut server = ScramServer::new(
                            secret,
                            Nonce::new(server_nonce).ok()?,
                            db_binding.clone(),
                        );
                        let Some(FrontendMessage::SaslInitialResponse(initial)) = &sent else {
                            return None;
                        };
                        let first = server.step(SaslClientMessage::Initial {
                            mechanism: &initial.mechanism,
                            data: initial.data.as_ref().map_or(&[][..], Secret::expose),
                        });
                        matches!(first, Ok(ServerAction::Continue(first)) if first == data)
                            .then_some(server)
                    });
                proof = None;
            }
            AuthRequest::SaslFinal { data } => {
                let final_message = data.to_vec();
                let Ok(_) = proxy.step(request) else { return };
                assert_eq!(
                    Some(final_message),
                    proof.take(),
                    "the proxy accepted a server-final that proves nothing"
                );
                proved = true;
                continue;
            }
            _ => {}
        }
        let Ok(action) = proxy.step(request) else {
            return;
        };
        let reply = match action {
            UpstreamAction::Done => {
                if scram_started {
                    assert!(proved, "AuthenticationOk after SCRAM without proof");
                }
                assert!(
                    policy != ChannelBindingPolicy::Require || scram_started,
                    "Require logged in without binding"
                );
                return;
            }
            UpstreamAction::AwaitNext => continue,
            UpstreamAction::SendPassword(secret) => {
                if secret.expose() == TOKEN.as_bytes() {
                    assert!(input.upstream_tls, "the token in clear without TLS");
                }
                FrontendMessage::Password(iamwire_postgres::codec::PasswordMessage {
                    password: secret,
                })
            }
            UpstreamAction::SendSaslInitialResponse { mechanism, data } => {
                assert!(
                    policy != ChannelBindingPolicy::Require || mechanism == SCRAM_SHA_256_PLUS,
                    "Require without channel binding"
                );
                scram_started = true;
                client_first = String::from_utf8_lossy(&data).into_owned();
                FrontendMessage::SaslInitialResponse(SaslInitialResponse {
                    mechanism: mechanism.to_owned(),
                    data: Some(Secret::new(data)),
                })
            }
            UpstreamAction::SendSaslResponse { data } => {
                proof = shadow.as_mut().and_then(|server| {
                    match server.step(SaslClientMessage::Response { data: &data }) {
                        Ok(ServerAction::Final(last)) => Some(last),
                        _ => None,
                    }
                });
                FrontendMessage::SaslResponse(SaslResponse {
                    data: Secret::new(data),
                })
            }
        };
        let mut out = BytesMut::new();
        if reply.encode(&mut out).is_ok() {
            assert!(out.len() <= MAX_OUT, "an unbounded message to the database");
            assert!(
                !contains(&out, CLIENT_PASSWORD),
                "the client's password reached the database"
            );
        }
        sent = Some(reply);
    }
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

libfuzzer_sys::fuzz_target!(|input: Input| {
    client_side(&input);
    database_side(&input);
});
