#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests: whatever a peer sends, the exchanges never panic, never leak the secret
//! in an error or a `Debug`, and never accept a tampered exchange.

use std::num::NonZeroU32;

use iamwire_postgres::auth::{
    AuthRequest, ChannelBindingPolicy, MockKey, Nonce, SCRAM_SHA_256, SCRAM_SHA_256_PLUS,
    SaslClientMessage, ScramSecret, ScramServer, ServerAction, TlsServerEndPoint, UpstreamAction,
    UpstreamAuth, UpstreamLogin, UpstreamTransport,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Req {
    Ok,
    Cleartext,
    Md5([u8; 4]),
    Sasl(Vec<String>),
    Continue(Vec<u8>),
    Final(Vec<u8>),
    Unsupported(i32),
}

fn scramish() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        "(r=clientnonce[!-+]{0,8}|[a-z]=[A-Za-z0-9+/=]{0,12})(,[a-z]=[A-Za-z0-9+/=,]{0,16}){0,4}"
            .prop_map(String::into_bytes),
        "[ev]=[A-Za-z0-9+/=-]{0,48}".prop_map(String::into_bytes),
    ]
}

fn req() -> impl Strategy<Value = Req> {
    prop_oneof![
        Just(Req::Ok),
        Just(Req::Cleartext),
        any::<[u8; 4]>().prop_map(Req::Md5),
        proptest::collection::vec(
            prop_oneof![
                Just(SCRAM_SHA_256.to_owned()),
                Just(SCRAM_SHA_256_PLUS.to_owned()),
                ".{0,12}"
            ],
            0..4
        )
        .prop_map(Req::Sasl),
        scramish().prop_map(Req::Continue),
        scramish().prop_map(Req::Final),
        any::<i32>().prop_map(Req::Unsupported),
    ]
}

fn transport() -> impl Strategy<Value = UpstreamTransport> {
    prop_oneof![
        Just(UpstreamTransport::Plain),
        Just(UpstreamTransport::Tls {
            server_end_point: None
        }),
        Just(UpstreamTransport::Tls {
            server_end_point: Some(TlsServerEndPoint::from_hash(vec![9; 32]))
        }),
    ]
}

fn policy() -> impl Strategy<Value = ChannelBindingPolicy> {
    prop_oneof![
        Just(ChannelBindingPolicy::Prefer),
        Just(ChannelBindingPolicy::Disable),
        Just(ChannelBindingPolicy::Require),
    ]
}

proptest! {
    #[test]
    fn upstream_never_panics_nor_leaks_the_secret(
        secret in "SECRET-[A-Za-z0-9]{12}",
        transport in transport(),
        policy in policy(),
        requests in proptest::collection::vec(req(), 0..8),
    ) {
        let plain = transport == UpstreamTransport::Plain;
        let mut up = UpstreamAuth::new(
            UpstreamLogin::new("user", secret.clone()),
            transport,
            Nonce::new("clientnonce").unwrap(),
        )
        .channel_binding(policy)
        .max_iterations(NonZeroU32::new(64).unwrap());
        for request in &requests {
            let mechanisms: Vec<&str> = match request {
                Req::Sasl(m) => m.iter().map(String::as_str).collect(),
                _ => Vec::new(),
            };
            let request = match request {
                Req::Ok => AuthRequest::Ok,
                Req::Cleartext => AuthRequest::CleartextPassword,
                Req::Md5(salt) => AuthRequest::Md5Password { salt: *salt },
                Req::Sasl(_) => AuthRequest::Sasl { mechanisms: &mechanisms },
                Req::Continue(data) => AuthRequest::SaslContinue { data },
                Req::Final(data) => AuthRequest::SaslFinal { data },
                Req::Unsupported(code) => AuthRequest::Unsupported { code: *code },
            };
            match up.step(request) {
                Ok(action) => {
                    let debug = format!("{action:?}");
                    prop_assert!(!debug.contains(&secret));
                    if let UpstreamAction::SendPassword(password) = &action {
                        // Never the cleartext secret over a plain connection.
                        prop_assert!(!(plain && password.expose() == secret.as_bytes()));
                    }
                }
                Err(err) => {
                    let text = format!("{err} {err:?}");
                    prop_assert!(!text.contains(&secret));
                }
            }
            let debug = format!("{up:?}");
            prop_assert!(!debug.contains(&secret));
        }
    }

    #[test]
    fn scram_server_never_panics_nor_accepts_garbage(
        offer_plus in any::<bool>(),
        mock in any::<bool>(),
        messages in proptest::collection::vec(
            (prop_oneof![Just(SCRAM_SHA_256), Just(SCRAM_SHA_256_PLUS), Just("X")], any::<bool>(), scramish()),
            0..6,
        ),
    ) {
        let secret = ScramSecret::from_password(b"pencil", b"salt", NonZeroU32::new(4).unwrap());
        let stored = secret.to_postgres_format();
        let cb = offer_plus.then(|| TlsServerEndPoint::from_hash(vec![1; 32]));
        let nonce = Nonce::new("srv").unwrap();
        let mut server = if mock {
            ScramServer::mock(&MockKey::from_random_bytes([0; 32]), "u", NonZeroU32::new(4).unwrap(), nonce, cb)
        } else {
            ScramServer::new(secret, nonce, cb)
        };
        for (mechanism, is_initial, data) in &messages {
            let message = if *is_initial {
                SaslClientMessage::Initial { mechanism, data }
            } else {
                SaslClientMessage::Response { data }
            };
            match server.step(message) {
                Ok(action) => prop_assert!(matches!(action, ServerAction::Continue(_))),
                Err(err) => {
                    let keys = stored.rsplit('$').next().unwrap();
                    let text = format!("{err} {err:?}");
                    prop_assert!(!text.contains(keys));
                }
            }
        }
        prop_assert!(!server.is_done());
    }

    #[test]
    fn tampered_exchanges_are_never_accepted(
        plus in any::<bool>(),
        target in 0usize..4,
        position in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let cb = plus.then(|| TlsServerEndPoint::from_hash(vec![5; 32]));
        let secret = ScramSecret::from_password(b"pw", b"salt", NonZeroU32::new(8).unwrap());
        let mut server = ScramServer::new(secret, Nonce::new("srv").unwrap(), cb.clone());
        let mut up = UpstreamAuth::new(
            UpstreamLogin::new("u", "pw"),
            UpstreamTransport::Tls { server_end_point: cb },
            Nonce::new("cli").unwrap(),
        );
        let tamper = |i: usize, mut data: Vec<u8>| {
            if i == target && !data.is_empty() {
                let at = position.index(data.len());
                data[at] ^= flip;
            }
            data
        };
        let Ok(UpstreamAction::SendSaslInitialResponse { mechanism, data }) =
            up.step(AuthRequest::Sasl { mechanisms: server.mechanisms() }) else { panic!() };
        let data = tamper(0, data);
        let Ok(ServerAction::Continue(server_first)) = server.step(SaslClientMessage::Initial { mechanism, data: &data }) else {
            return Ok(());
        };
        let server_first = tamper(1, server_first);
        let Ok(UpstreamAction::SendSaslResponse { data }) = up.step(AuthRequest::SaslContinue { data: &server_first }) else {
            return Ok(());
        };
        let data = tamper(2, data);
        let Ok(ServerAction::Final(server_final)) = server.step(SaslClientMessage::Response { data: &data }) else {
            return Ok(());
        };
        let server_final = tamper(3, server_final);
        let accepted = up.step(AuthRequest::SaslFinal { data: &server_final }).is_ok();
        // Exactly one message was tampered with, so someone must have noticed.
        prop_assert!(!accepted || !server.is_done());
    }
}
