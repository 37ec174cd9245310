//! Entry points for the fuzz targets in `fuzz/` (each target is a three-line shim). Not public API.

use crate::cluster::rewrite::{Addresses, Rewriter, Rewritten, Topology};
use crate::cluster::value::Value;
use crate::codec::{CommandDecoder, Limits, Profile, fuzz_stream};
use crate::proxy::{Before, before_login, login_command};

/// Decode arbitrary bytes as client commands (client → proxy); must never panic.
pub fn client(data: &[u8]) {
    fuzz_stream(Profile::Command, data, false);
}

/// Scan and decode arbitrary bytes as server frames (database → proxy), as RESP2 and as RESP3; must
/// never panic.
pub fn upstream(data: &[u8]) {
    fuzz_stream(Profile::Reply, data, false);
    fuzz_stream(Profile::Reply, data, true);
}

/// Run arbitrary bytes through the relay's logic as the database's side of a session (after a few
/// commands that put it in every state: pending replies, a transaction, subscriptions); must never panic.
pub fn relay(data: &[u8]) {
    crate::relay::fuzz_flow(data);
}

/// What [`handshake`] saw.
#[derive(Debug, Default)]
pub struct Handshake {
    /// The error lines the proxy answered, in order.
    pub answers: Vec<Vec<u8>>,
    /// Whether the client said `QUIT`.
    pub quit: bool,
    /// Whether the decoder refused the client's bytes (the session ends there).
    pub refused: bool,
    /// The login, if a command made one.
    pub login: Option<Login>,
}

/// A login [`handshake`] made.
#[derive(Debug)]
pub struct Login {
    /// The database user the client named.
    pub db_user: String,
    /// The password it gave (for a proxy password; never sent on).
    pub password: Vec<u8>,
    /// The arguments of the command sent to the database in its place, as the database decodes it.
    pub upstream: Vec<Vec<u8>>,
    /// Its length on the wire.
    pub upstream_len: usize,
}

/// A client's bytes before its login, command by command through the handshake's sans-IO decision
/// (`implicit`: the client has a certificate and a default user is configured), until one logs in; then
/// the command the proxy logs in with as `login_user` with `token`, decoded as the database would.
pub fn handshake(data: &[u8], implicit: bool, login_user: &str, token: &[u8]) -> Handshake {
    let mut out = Handshake::default();
    let mut decoder = CommandDecoder::new(Limits::default().unauthenticated());
    let mut buf = bytes::BytesMut::from(data);
    loop {
        let command = match decoder.decode(&mut buf) {
            Ok(Some(command)) => command,
            Ok(None) => break,
            Err(_) => {
                out.refused = true;
                break;
            }
        };
        match before_login(&command, || implicit.then(|| "default-user".to_owned())) {
            Before::Answer(line) => out.answers.push(line),
            Before::Quit => {
                out.quit = true;
                break;
            }
            Before::Login(request) => {
                let login = iamwire_core::UpstreamLogin::new(login_user, token.to_vec());
                let mut wire = bytes::BytesMut::new();
                login_command(&request.form, &login, &mut wire);
                let upstream_len = wire.len();
                let upstream = match CommandDecoder::new(Limits::default()).decode(&mut wire) {
                    Ok(Some(command)) => command.args().iter().map(|a| a.to_vec()).collect(),
                    _ => Vec::new(),
                };
                assert!(wire.is_empty(), "more than one login command");
                out.login = Some(Login {
                    db_user: request.user,
                    password: request.password.to_vec(),
                    upstream,
                    upstream_len,
                });
                break;
            }
        }
    }
    out
}

/// Rewrite arbitrary bytes as a redirection and as each kind of cluster topology reply, against a
/// map of two nodes, on a first and a last try; must never panic.
pub fn cluster_rewrite(data: &[u8]) {
    rewrite_all(data);
}

/// Every frame at the front of `data` (as `Value::parse` finds them) through every rewrite, on a
/// first and a last try, against a map of two nodes.
fn rewrite_all(data: &[u8]) {
    struct Two;
    impl Addresses for Two {
        fn proxy_port(&self, host: &[u8], port: u16) -> Option<u16> {
            (host == b"127.0.0.1" && matches!(port, 7001 | 7002)).then_some(port + 1000)
        }
        fn announce(&self) -> &str {
            "proxy"
        }
    }
    let mut rest = data;
    while let Some((_, used)) = Value::parse(rest) {
        let frame = &rest[..used];
        for last_try in [false, true] {
            let rw = Rewriter {
                map: &Two,
                own_host: "127.0.0.1",
                last_try,
            };
            let _ = rw.redirect(frame);
            for kind in [Topology::Slots, Topology::Shards, Topology::Nodes] {
                if let Rewritten::New(out) = rw.topology(kind, frame) {
                    // What is passed on is one whole value again.
                    assert!(Value::parse_whole(&out).is_some(), "{out:?}");
                }
            }
        }
        rest = &rest[used..];
    }
}
