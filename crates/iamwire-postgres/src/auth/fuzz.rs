//! The `pg_auth` fuzz target's body: one input drives a [`ScramServer`] and an
//! [`UpstreamAuth`] with the same sequence of peer messages.
//!
//! Input: one flags byte, then messages `[kind][len: u16 BE][payload]` (a short final
//! payload is truncated). Flags: bit 0 = channel binding data known (server offers PLUS,
//! upstream has the cert hash), bit 1 = upstream over TLS, bit 2 = unknown (mock) user,
//! bits 4-5 = channel binding policy (0 prefer, 1 disable, 2+ require).
//! Kind bits 0-2 pick the upstream request (0 Ok, 1 cleartext, 2 MD5 with the payload's
//! first 4 bytes as salt, 3 SASL with NUL-separated mechanisms, 4 SASLContinue, 5 SASLFinal,
//! 6 unsupported with the payload's first byte as code, 7 Ok); kind bits 4-5 pick the client
//! message for the server (0 initial SCRAM-SHA-256, 1 initial PLUS, 2 initial with an
//! unknown mechanism, 3 response).

use std::num::NonZeroU32;

use super::{
    AuthRequest, ChannelBindingPolicy, MockKey, Nonce, SCRAM_SHA_256, SCRAM_SHA_256_PLUS,
    SaslClientMessage, ScramSecret, ScramServer, TlsServerEndPoint, UpstreamAuth, UpstreamLogin,
    UpstreamTransport,
};

/// The RFC 7677 test user's secret (password `pencil`).
pub(crate) const RFC7677_SECRET: &str = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$\
    WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
/// The RFC 7677 server nonce part.
pub(crate) const RFC7677_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
/// The upstream's client nonce in fuzz runs.
pub(crate) const FUZZ_CLIENT_NONCE: &str = "fuzzclientnonce";
/// The fake certificate hash used for channel binding in fuzz runs.
pub(crate) const FUZZ_CERT_HASH: [u8; 32] = [0x5a; 32];
/// Kept low so that a fuzzed `i=` cannot make one run slow.
const FUZZ_MAX_ITERATIONS: NonZeroU32 = match NonZeroU32::new(64) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// How far each machine got.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) server_done: bool,
    pub(crate) upstream_done: bool,
}

pub(crate) fn run(data: &[u8]) -> Outcome {
    let Some((&flags, mut rest)) = data.split_first() else {
        return Outcome::default();
    };
    let (mut server, mut upstream) = machines(flags);
    while let Some((kind, payload)) = next_message(&mut rest) {
        let message = match (kind >> 4) & 3 {
            0 => SaslClientMessage::Initial {
                mechanism: SCRAM_SHA_256,
                data: payload,
            },
            1 => SaslClientMessage::Initial {
                mechanism: SCRAM_SHA_256_PLUS,
                data: payload,
            },
            2 => SaslClientMessage::Initial {
                mechanism: "SCRAM-SHA-1",
                data: payload,
            },
            _ => SaslClientMessage::Response { data: payload },
        };
        let _ = server.step(message).map_err(|e| e.to_string());
        let mechanisms: Vec<&str> = payload
            .split(|b| *b == 0)
            .filter_map(|m| std::str::from_utf8(m).ok())
            .collect();
        let request = match kind & 7 {
            1 => AuthRequest::CleartextPassword,
            2 => AuthRequest::Md5Password {
                salt: match payload {
                    [a, b, c, d, ..] => [*a, *b, *c, *d],
                    _ => [0; 4],
                },
            },
            3 => AuthRequest::Sasl {
                mechanisms: &mechanisms,
            },
            4 => AuthRequest::SaslContinue { data: payload },
            5 => AuthRequest::SaslFinal { data: payload },
            6 => AuthRequest::Unsupported {
                code: payload.first().map_or(2, |c| i32::from(*c)),
            },
            _ => AuthRequest::Ok,
        };
        let _ = upstream.step(request).map_err(|e| e.to_string());
    }
    Outcome {
        server_done: server.is_done(),
        upstream_done: upstream.is_done(),
    }
}

fn machines(flags: u8) -> (ScramServer, UpstreamAuth) {
    let end_point = (flags & 1 != 0).then(|| TlsServerEndPoint::from_hash(FUZZ_CERT_HASH));
    let server_nonce =
        Nonce::new(RFC7677_SERVER_NONCE).unwrap_or_else(|_| Nonce::from_random_bytes([0; 18]));
    let server = match ScramSecret::parse(RFC7677_SECRET) {
        Ok(secret) if flags & 4 == 0 => ScramServer::new(secret, server_nonce, end_point.clone()),
        _ => ScramServer::mock(
            &MockKey::from_random_bytes([0x42; 32]),
            "user",
            super::DEFAULT_ITERATIONS,
            server_nonce,
            end_point.clone(),
        ),
    };
    let transport = if flags & 2 != 0 {
        UpstreamTransport::Tls {
            server_end_point: end_point,
        }
    } else {
        UpstreamTransport::Plain
    };
    let policy = match (flags >> 4) & 3 {
        0 => ChannelBindingPolicy::Prefer,
        1 => ChannelBindingPolicy::Disable,
        _ => ChannelBindingPolicy::Require,
    };
    let client_nonce =
        Nonce::new(FUZZ_CLIENT_NONCE).unwrap_or_else(|_| Nonce::from_random_bytes([0; 18]));
    let upstream = UpstreamAuth::new(
        UpstreamLogin::new("user", "pencil"),
        transport,
        client_nonce,
    )
    .channel_binding(policy)
    .max_iterations(FUZZ_MAX_ITERATIONS);
    (server, upstream)
}

fn next_message<'a>(rest: &mut &'a [u8]) -> Option<(u8, &'a [u8])> {
    let (&kind, after) = rest.split_first()?;
    let (len, after) = match after {
        [hi, lo, after @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), after),
        _ => (0, &[][..]),
    };
    let (payload, after) = after.split_at(len.min(after.len()));
    *rest = after;
    Some((kind, payload))
}

/// Encode messages in the input format (for seeds and tests).
#[cfg(test)]
pub(crate) fn encode(flags: u8, messages: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = vec![flags];
    for (kind, payload) in messages {
        out.push(*kind);
        out.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
        out.extend_from_slice(payload);
    }
    out
}

#[cfg(test)]
mod tests;
