//! The client's side of the handshake: TLS, OPTIONS / SUPPORTED, STARTUP / AUTHENTICATE, and the SASL
//! PLAIN AUTH_RESPONSE that names the database user.

use iamwire_core::Secret;
use iamwire_proxy::scram::ScramSecret;
use iamwire_proxy::{ClientConn, Hello, SessionError};

use super::io::{read_request, send_response};
use super::{Cql, CqlState, PASSWORD_AUTHENTICATOR, Result};
use crate::codec::{Malformed, Request, Response, flags, opcode};
use crate::error::CqlError;

/// The most OPTIONS a client may send before STARTUP.
const MAX_OPTIONS: usize = 8;
/// The longest database user name accepted (an IAM role ARN is at most 2048 characters).
const MAX_USER_LEN: usize = 2048;

pub(super) async fn hello(
    cql: &Cql,
    client: &mut ClientConn,
    state: &mut CqlState,
) -> Result<Hello<()>> {
    client.start_tls().await?;
    let mut options = 0;
    loop {
        let (frame, request) =
            read_request(client, &mut state.client, &cql.limits, cql.max_version).await?;
        state.stream = frame.stream;
        check_frame(cql, state, frame.version, frame.flags)?;
        let version = frame.version;
        match request {
            Request::Options if options < MAX_OPTIONS => {
                options += 1;
                let supported = supported(cql);
                send_response(client, &state.client, &supported, version, frame.stream).await?;
            }
            Request::Startup(startup) => {
                if let Some((_, name)) = startup
                    .iter()
                    .find(|(k, v)| k.eq_ignore_ascii_case("COMPRESSION") && !v.is_empty())
                {
                    return Err(CqlError::Compression { name: name.clone() }.into());
                }
                state.startup = startup;
                let authenticate = Response::Authenticate(PASSWORD_AUTHENTICATOR.to_owned());
                send_response(client, &state.client, &authenticate, version, frame.stream).await?;
                if version >= 5 {
                    state.client.switch_to_segments();
                }
                break;
            }
            other => {
                return Err(CqlError::UnexpectedClientMessage {
                    opcode: opcode_of(&other, frame.opcode),
                    expected: "OPTIONS or STARTUP",
                }
                .into());
            }
        }
    }
    let (frame, request) =
        read_request(client, &mut state.client, &cql.limits, cql.max_version).await?;
    state.stream = frame.stream;
    check_frame(cql, state, frame.version, frame.flags)?;
    let Request::AuthResponse(Some(token)) = request else {
        return Err(CqlError::UnexpectedClientMessage {
            opcode: frame.opcode,
            expected: "AUTH_RESPONSE with a user name and password",
        }
        .into());
    };
    let (user, password) = plain(&token).ok_or(CqlError::BadPlainToken)?;
    state.password = Some(password);
    state.user.clone_from(&user);
    Ok(Hello::Session {
        db_user: user,
        db_name: None,
    })
}

/// The client's PLAIN password against the proxy's stored secret.
pub(super) fn check_password(state: &mut CqlState, secret: &ScramSecret) -> Result<()> {
    let password = state.password.take().unwrap_or_default();
    if secret.verify_password(password.expose()) {
        return Ok(());
    }
    Err(SessionError::from(CqlError::BadPassword {
        user: state.user.clone(),
    }))
}

/// Every frame of the handshake: the version the session started with (one the proxy speaks), and no
/// flag but the beta marker (nothing is compressed, traced or carries a payload yet).
fn check_frame(cql: &Cql, state: &mut CqlState, version: u8, frame_flags: u8) -> Result<()> {
    if version > cql.max_version {
        return Err(CqlError::UnsupportedVersion {
            version,
            max: cql.max_version,
        }
        .into());
    }
    match state.version {
        None => state.version = Some(version),
        Some(v) if v != version => {
            return Err(CqlError::ClientProtocol {
                cause: Malformed::Version(version),
            }
            .into());
        }
        Some(_) => {}
    }
    if frame_flags & !flags::USE_BETA != 0 {
        return Err(CqlError::ClientProtocol {
            cause: Malformed::Flags(frame_flags),
        }
        .into());
    }
    Ok(())
}

fn supported(cql: &Cql) -> Response {
    let versions = (3..=cql.max_version)
        .map(|v| {
            if v == 5 {
                "5/v5".to_owned()
            } else {
                format!("{v}/v{v}")
            }
        })
        .collect();
    Response::Supported(vec![
        ("CQL_VERSION".to_owned(), vec![cql.cql_version.clone()]),
        ("COMPRESSION".to_owned(), Vec::new()),
        ("PROTOCOL_VERSIONS".to_owned(), versions),
    ])
}

fn opcode_of(request: &Request, raw: u8) -> u8 {
    match request {
        Request::Options => opcode::OPTIONS,
        Request::AuthResponse(_) => opcode::AUTH_RESPONSE,
        _ => raw,
    }
}

/// SASL PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd`; the user is the authcid.
fn plain(token: &[u8]) -> Option<(String, Secret)> {
    iamwire_proxy::sasl::plain(token, MAX_USER_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tokens() {
        let (user, pw) = plain(b"\0reader\0s3cret").unwrap();
        assert_eq!((user.as_str(), pw.expose()), ("reader", &b"s3cret"[..]));
        let (user, pw) = plain(b"admin\0reader\0").unwrap();
        assert_eq!((user.as_str(), pw.expose()), ("reader", &b""[..]));
        assert_eq!(
            plain(b"\0reader\0pw\0more").unwrap().1.expose(),
            b"pw\0more"
        );
        for bad in [
            &b""[..],
            b"reader",
            b"\0\0pw",
            b"\0re\nader\0pw",
            b"\0\xff\0pw",
        ] {
            assert!(plain(bad).is_none(), "{bad:?}");
        }
    }
}
