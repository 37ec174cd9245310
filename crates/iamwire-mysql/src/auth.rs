//! The authentication exchanges, sans-IO: the hashes of the password plugins, the proxy's login to
//! the database ([`UpstreamAuth`]: `mysql_clear_password` for RDS IAM, `mysql_native_password`,
//! `caching_sha2_password` fast and full, `sha256_password` over TLS, with AuthSwitchRequest), and
//! how the proxy gets a client's proxy-side password in clear over TLS ([`PasswordServer`]).
//!
//! Passwords and tokens go to the database only over TLS (the proxy's upstream connection is always
//! TLS), so the clear-text forms never need RSA.

use bytes::BytesMut;
use iamwire_core::Secret;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::codec::{AuthSwitchRequest, CodecError, ErrPacket, ServerAuth, put_auth_more_data};
use crate::error::MyError;

/// `mysql_clear_password`: the password itself (RDS and Aurora IAM tokens, PAM).
pub const MYSQL_CLEAR_PASSWORD: &str = "mysql_clear_password";
/// `mysql_native_password`: SHA-1 challenge-response.
pub const MYSQL_NATIVE_PASSWORD: &str = "mysql_native_password";
/// `caching_sha2_password`: SHA-256 challenge-response, full auth in clear over TLS (MySQL 8).
pub const CACHING_SHA2_PASSWORD: &str = "caching_sha2_password";
/// `sha256_password`: the password in clear over TLS.
pub const SHA256_PASSWORD: &str = "sha256_password";

/// `caching_sha2_password`: the server found the hash in its cache, OK follows.
pub const FAST_AUTH_SUCCESS: u8 = 0x03;
/// `caching_sha2_password`: the server wants the password itself.
pub const PERFORM_FULL_AUTH: u8 = 0x04;

/// `mysql_native_password`: `SHA1(password) XOR SHA1(nonce + SHA1(SHA1(password)))`; empty for an
/// empty password.
pub fn native_password(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = Sha1::digest(password);
    let stage2 = Sha1::digest(stage1);
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(stage2);
    let mask = h.finalize();
    stage1.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect()
}

/// `caching_sha2_password`: `SHA256(password) XOR SHA256(SHA256(SHA256(password)) + nonce)`; empty
/// for an empty password.
pub fn caching_sha2_password(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = Sha256::digest(password);
    let stage2 = Sha256::digest(stage1);
    let mut h = Sha256::new();
    h.update(stage2);
    h.update(nonce);
    let mask = h.finalize();
    stage1.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect()
}

/// The password with its terminating NUL, as the clear-text plugins send it.
fn clear(password: &[u8]) -> Secret {
    let mut out = Vec::with_capacity(password.len() + 1);
    out.extend_from_slice(password);
    out.push(0);
    Secret::new(out)
}

/// The response `plugin` gives over `nonce` for `password`.
///
/// # Errors
/// [`MyError::UpstreamAuthPlugin`] for a plugin the proxy does not speak.
pub fn respond(plugin: &str, password: &[u8], nonce: &[u8]) -> Result<Secret, MyError> {
    Ok(match plugin {
        MYSQL_NATIVE_PASSWORD => Secret::new(native_password(password, nonce)),
        CACHING_SHA2_PASSWORD => Secret::new(caching_sha2_password(password, nonce)),
        MYSQL_CLEAR_PASSWORD | SHA256_PASSWORD => clear(password),
        other => {
            return Err(MyError::UpstreamAuthPlugin {
                plugin: other.to_owned(),
            });
        }
    })
}

/// What the proxy does next in its login to the database.
#[derive(Debug)]
pub enum UpstreamStep {
    /// Send this packet payload.
    Send(Secret),
    /// Read the next packet.
    Wait,
    /// Logged in: the database's OK payload.
    Done(Vec<u8>),
    /// Refused: the database's ERR.
    Rejected(ErrPacket),
}

/// The proxy's side of a login (handshake response or COM_CHANGE_USER) with a password or token.
#[derive(Debug)]
pub struct UpstreamAuth {
    password: Secret,
    plugin: String,
    switched: bool,
    full_auth_sent: bool,
}

impl UpstreamAuth {
    /// Start answering `plugin` (the greeting's; `mysql_native_password` if it named none) over
    /// `nonce`; returns the exchange and the first response to send.
    ///
    /// # Errors
    /// [`MyError::UpstreamAuthPlugin`] for a plugin the proxy does not speak.
    pub fn start(
        password: Secret,
        plugin: Option<&str>,
        nonce: &[u8],
    ) -> Result<(Self, Secret), MyError> {
        let plugin = plugin.unwrap_or(MYSQL_NATIVE_PASSWORD).to_owned();
        let first = respond(&plugin, password.expose(), nonce)?;
        Ok((
            Self {
                password,
                plugin,
                switched: false,
                full_auth_sent: false,
            },
            first,
        ))
    }

    /// The plugin in use now.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Feed the database's next packet.
    ///
    /// # Errors
    /// [`MyError`] for an exchange the proxy cannot or will not follow (a second switch, an
    /// unknown plugin, an RSA key request).
    pub fn step(&mut self, message: ServerAuth) -> Result<UpstreamStep, MyError> {
        let bad = |what| MyError::UpstreamProtocol {
            cause: CodecError::Unexpected {
                what,
                expected: "the next step of the login",
            },
        };
        match message {
            ServerAuth::Ok(payload) => Ok(UpstreamStep::Done(payload)),
            ServerAuth::Err(err) => Ok(UpstreamStep::Rejected(err)),
            ServerAuth::Switch(_) if self.switched => Err(bad("a second AuthSwitchRequest")),
            ServerAuth::Switch(switch) => {
                self.switched = true;
                self.plugin.clone_from(&switch.plugin);
                respond(&switch.plugin, self.password.expose(), switch.nonce())
                    .map(UpstreamStep::Send)
            }
            ServerAuth::MoreData(data) if self.plugin == CACHING_SHA2_PASSWORD => {
                match data.as_slice() {
                    [FAST_AUTH_SUCCESS] => Ok(UpstreamStep::Wait),
                    [PERFORM_FULL_AUTH] if !self.full_auth_sent => {
                        self.full_auth_sent = true;
                        Ok(UpstreamStep::Send(clear(self.password.expose())))
                    }
                    _ => Err(bad(
                        "caching_sha2_password data other than fast or full auth",
                    )),
                }
            }
            ServerAuth::MoreData(_) => Err(bad("AuthMoreData for a plugin that takes none")),
        }
    }
}

/// What the proxy does next to get a client's password.
#[derive(Debug)]
pub enum PasswordStep {
    /// Send this packet payload and read the client's answer.
    Send(BytesMut),
    /// Check this password.
    Verify(Secret),
}

/// Gets a client's password in clear over TLS, whatever plugin it started with: a
/// `mysql_clear_password` response is the password; `caching_sha2_password` is asked for full
/// authentication (as MySQL 8 does when its cache is cold); any other plugin is switched to
/// `caching_sha2_password` first.
#[derive(Debug)]
pub struct PasswordServer {
    awaiting_password: bool,
}

impl PasswordServer {
    /// Start with the client's handshake response (`plugin`, `response`); `nonce` (20 bytes, no NUL)
    /// serves a switch.
    ///
    /// # Errors
    /// [`CodecError::Unsupported`] if the client must switch plugins but cannot.
    pub fn start(
        plugin: Option<&str>,
        plugin_auth: bool,
        response: &Secret,
        nonce: &[u8],
    ) -> Result<(Self, PasswordStep), CodecError> {
        let mut out = BytesMut::new();
        match plugin {
            Some(MYSQL_CLEAR_PASSWORD) => {
                return Ok((
                    Self {
                        awaiting_password: false,
                    },
                    PasswordStep::Verify(without_nul(response.expose())),
                ));
            }
            Some(CACHING_SHA2_PASSWORD) if matches!(response.expose(), [] | [0]) => {
                // An empty password: the client sends nothing more.
                return Ok((
                    Self {
                        awaiting_password: false,
                    },
                    PasswordStep::Verify(Secret::new(Vec::new())),
                ));
            }
            Some(CACHING_SHA2_PASSWORD) => {
                put_auth_more_data(&mut out, &[PERFORM_FULL_AUTH]);
                return Ok((
                    Self {
                        awaiting_password: true,
                    },
                    PasswordStep::Send(out),
                ));
            }
            _ if !plugin_auth => {
                return Err(CodecError::Unsupported {
                    what: "a proxy password from a client without auth plugins",
                });
            }
            _ => {}
        }
        let mut data = nonce.to_vec();
        data.push(0);
        AuthSwitchRequest {
            plugin: CACHING_SHA2_PASSWORD.to_owned(),
            data,
        }
        .encode(&mut out)?;
        Ok((
            Self {
                awaiting_password: false,
            },
            PasswordStep::Send(out),
        ))
    }

    /// Feed the client's next packet.
    pub fn step(&mut self, payload: &[u8]) -> PasswordStep {
        if self.awaiting_password {
            return PasswordStep::Verify(without_nul(payload));
        }
        self.awaiting_password = true;
        if matches!(payload, [] | [0]) {
            return PasswordStep::Verify(Secret::new(Vec::new()));
        }
        let mut out = BytesMut::new();
        put_auth_more_data(&mut out, &[PERFORM_FULL_AUTH]);
        PasswordStep::Send(out)
    }
}

/// Arbitrary bytes as the database's packets to a login, and as a client's answers to the proxy's
/// password exchange: never panics, always ends.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let plugins = [
        MYSQL_NATIVE_PASSWORD,
        CACHING_SHA2_PASSWORD,
        MYSQL_CLEAR_PASSWORD,
        SHA256_PASSWORD,
    ];
    let plugin = plugins[usize::from(pick) % plugins.len()];
    if let Ok((mut auth, _)) = UpstreamAuth::start(Secret::new("token"), Some(plugin), data) {
        for packet in data.split(|b| *b == 0xaa).take(8) {
            match ServerAuth::decode(packet).map(|m| auth.step(m)) {
                Ok(Ok(UpstreamStep::Send(_) | UpstreamStep::Wait)) => {}
                _ => break,
            }
        }
    }
    let response = Secret::new(data.get(..20).unwrap_or(data));
    let plugin_auth = pick & 0x80 != 0;
    if let Ok((mut server, mut step)) = PasswordServer::start(
        Some(plugin).filter(|_| pick & 0x40 == 0),
        plugin_auth,
        &response,
        b"n",
    ) {
        for packet in data.split(|b| *b == 0xaa).take(4) {
            match step {
                PasswordStep::Verify(_) => break,
                PasswordStep::Send(_) => step = server.step(packet),
            }
        }
    }
}

fn without_nul(bytes: &[u8]) -> Secret {
    Secret::new(bytes.strip_suffix(&[0]).unwrap_or(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn native_password_matches_the_server_check() {
        // The server keeps SHA1(SHA1(password)) and checks SHA1(response XOR SHA1(nonce + stored)).
        let nonce = b"01234567890123456789";
        let response = native_password(b"secret", nonce);
        let stored = Sha1::digest(Sha1::digest(b"secret"));
        let mut h = Sha1::new();
        h.update(nonce);
        h.update(stored);
        let mask = h.finalize();
        let stage1: Vec<u8> = response
            .iter()
            .zip(mask.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        assert_eq!(hex(&Sha1::digest(&stage1)), hex(&stored));
        assert!(native_password(b"", nonce).is_empty());
    }

    #[test]
    fn the_login_follows_switches_and_full_auth() {
        let (mut auth, first) =
            UpstreamAuth::start(Secret::new("tok"), Some(MYSQL_NATIVE_PASSWORD), b"n").unwrap();
        assert_eq!(first.len(), 20);
        let switch = ServerAuth::Switch(AuthSwitchRequest {
            plugin: MYSQL_CLEAR_PASSWORD.into(),
            data: vec![],
        });
        let UpstreamStep::Send(clear) = auth.step(switch.clone()).unwrap() else {
            panic!("a clear password is sent")
        };
        assert_eq!(clear.expose(), b"tok\0");
        assert!(auth.step(switch).is_err(), "one switch only");

        let (mut auth, _) =
            UpstreamAuth::start(Secret::new("pw"), Some(CACHING_SHA2_PASSWORD), b"n").unwrap();
        assert!(matches!(
            auth.step(ServerAuth::MoreData(vec![3])).unwrap(),
            UpstreamStep::Wait
        ));
        let UpstreamStep::Send(full) = auth.step(ServerAuth::MoreData(vec![4])).unwrap() else {
            panic!("full auth sends the password")
        };
        assert_eq!(full.expose(), b"pw\0");
        assert!(auth.step(ServerAuth::MoreData(vec![1, 2])).is_err());
        assert!(matches!(
            UpstreamAuth::start(Secret::new("pw"), Some("client_ed25519"), b"n"),
            Err(MyError::UpstreamAuthPlugin { .. })
        ));
    }

    #[test]
    fn client_passwords_come_in_clear_whatever_the_plugin() {
        let response = Secret::new("pw\0");
        let (_, step) =
            PasswordServer::start(Some(MYSQL_CLEAR_PASSWORD), true, &response, b"n").unwrap();
        assert!(matches!(step, PasswordStep::Verify(p) if p.expose() == b"pw"));
        let (mut server, step) =
            PasswordServer::start(Some(MYSQL_NATIVE_PASSWORD), true, &response, b"nonce").unwrap();
        let PasswordStep::Send(switch) = step else {
            panic!("a switch")
        };
        assert_eq!(&switch[..], b"\xfecaching_sha2_password\0nonce\0");
        let PasswordStep::Send(more) = server.step(&[9; 32]) else {
            panic!("full auth")
        };
        assert_eq!(&more[..], &[1, 4]);
        assert!(matches!(server.step(b"pw\0"), PasswordStep::Verify(p) if p.expose() == b"pw"));
        assert!(PasswordServer::start(None, false, &response, b"n").is_err());
    }
}
