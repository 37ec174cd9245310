//! The commands that name a database user (`AUTH`, `HELLO ... AUTH ...`), read the way Redis reads them,
//! and the login commands the proxy sends in their place.

use bytes::{Bytes, BytesMut};
use iamwire_core::UpstreamLogin;

use crate::codec::{Command, encode_command, error_line};

/// How the client logs in, so the proxy logs in upstream the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthForm {
    /// `AUTH [user] pass`.
    Auth,
    /// `HELLO <proto> AUTH user pass [SETNAME name]`.
    Hello {
        /// The protocol version asked for (2 or 3).
        proto: u8,
        /// The connection name to set.
        setname: Option<Bytes>,
    },
    /// No `AUTH` at all: a client with a certificate logged in as the configured default user.
    Implicit,
}

/// A client's request to log in: who, how, and the password it gave (for a proxy password only).
pub(crate) struct AuthRequest {
    pub(crate) user: String,
    pub(crate) password: Bytes,
    pub(crate) form: AuthForm,
}

/// `HELLO`'s arguments.
#[derive(Debug, Default)]
pub(crate) struct HelloArgs {
    pub(crate) proto: Option<u8>,
    pub(crate) auth: Option<(Bytes, Bytes)>,
    pub(crate) setname: Option<Bytes>,
}

/// Parse `HELLO [protover [AUTH user pass] [SETNAME name]]`; the error is the RESP error Redis gives.
pub(crate) fn parse_hello(cmd: &Command) -> Result<HelloArgs, Vec<u8>> {
    let args = cmd.args();
    let mut out = HelloArgs::default();
    let Some(version) = args.get(1) else {
        return Ok(out);
    };
    let proto = std::str::from_utf8(version)
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| error_line("ERR", "Protocol version is not an integer or out of range"))?;
    if !(2..=3).contains(&proto) {
        return Err(error_line(
            "NOPROTO",
            "sorry, this protocol version is not supported.",
        ));
    }
    out.proto = u8::try_from(proto).ok();
    let mut i = 2;
    while let Some(option) = args.get(i) {
        let more = args.len() - i - 1;
        if option.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            out.auth = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 3;
        } else if option.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            out.setname = Some(args[i + 1].clone());
            i += 2;
        } else {
            let shown = String::from_utf8_lossy(&option[..option.len().min(64)]).into_owned();
            return Err(error_line(
                "ERR",
                &format!("Syntax error in HELLO option '{shown}'"),
            ));
        }
    }
    Ok(out)
}

/// The user and password of `AUTH [user] pass` (user `default` when only a password is given).
pub(crate) fn parse_auth(cmd: &Command) -> Result<AuthRequest, Vec<u8>> {
    let (user, password) = match cmd.args() {
        [_, pass] => (Bytes::from_static(b"default"), pass.clone()),
        [_, user, pass] => (user.clone(), pass.clone()),
        _ => {
            return Err(error_line(
                "ERR",
                "wrong number of arguments for 'auth' command",
            ));
        }
    };
    Ok(AuthRequest {
        user: user_name(&user)?,
        password,
        form: AuthForm::Auth,
    })
}

/// The login request of a `HELLO` that carries `AUTH`, if it does.
pub(crate) fn hello_auth(hello: HelloArgs) -> Result<Option<AuthRequest>, Vec<u8>> {
    let (Some(proto), Some((user, password))) = (hello.proto, hello.auth) else {
        return Ok(None);
    };
    Ok(Some(AuthRequest {
        user: user_name(&user)?,
        password,
        form: AuthForm::Hello {
            proto,
            setname: hello.setname,
        },
    }))
}

/// A user name: UTF-8 without control characters, at most 256 bytes (ElastiCache allows 40).
fn user_name(raw: &[u8]) -> Result<String, Vec<u8>> {
    std::str::from_utf8(raw)
        .ok()
        .filter(|u| !u.is_empty() && u.len() <= 256 && !u.chars().any(char::is_control))
        .map(str::to_owned)
        .ok_or_else(|| {
            error_line(
                "WRONGPASS",
                "invalid username-password pair or user is disabled.",
            )
        })
}

/// The command that logs in upstream as `login`, in the client's form: `AUTH user token`, or
/// `HELLO <proto> AUTH user token [SETNAME name]`.
pub(crate) fn login_command(form: &AuthForm, login: &UpstreamLogin, out: &mut BytesMut) {
    let user = login.user.as_bytes();
    let secret = login.secret.expose();
    match form {
        AuthForm::Auth | AuthForm::Implicit => encode_command(&[b"AUTH", user, secret], out),
        AuthForm::Hello { proto, setname } => {
            let proto = proto.to_string();
            let mut args: Vec<&[u8]> = vec![b"HELLO", proto.as_bytes(), b"AUTH", user, secret];
            if let Some(name) = setname {
                args.extend([&b"SETNAME"[..], name]);
            }
            encode_command(&args, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::codec::{CommandDecoder, Limits};

    fn command(args: &[&str]) -> Command {
        let mut buf = BytesMut::new();
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        encode_command(&args, &mut buf);
        CommandDecoder::new(Limits::default())
            .decode(&mut buf)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn auth_forms() {
        let req = parse_auth(&command(&["AUTH", "pw"])).unwrap();
        assert_eq!(
            (req.user.as_str(), &req.password[..]),
            ("default", &b"pw"[..])
        );
        let req = parse_auth(&command(&["auth", "app", "pw"])).unwrap();
        assert_eq!(req.user, "app");
        assert!(parse_auth(&command(&["AUTH"])).is_err());
        assert!(parse_auth(&command(&["AUTH", "a", "b", "c"])).is_err());
    }

    #[test]
    fn hello_forms() {
        let hello = parse_hello(&command(&[
            "HELLO", "3", "AUTH", "app", "pw", "SETNAME", "n",
        ]))
        .unwrap();
        let req = hello_auth(hello).unwrap().unwrap();
        assert_eq!(req.user, "app");
        assert_eq!(
            req.form,
            AuthForm::Hello {
                proto: 3,
                setname: Some(Bytes::from_static(b"n"))
            }
        );
        let plain = parse_hello(&command(&["HELLO", "2"])).unwrap();
        assert_eq!(plain.proto, Some(2));
        assert!(hello_auth(plain).unwrap().is_none());
        let no_proto = parse_hello(&command(&["HELLO", "4"])).unwrap_err();
        assert!(no_proto.starts_with(b"-NOPROTO"));
        assert!(parse_hello(&command(&["HELLO", "x"])).is_err());
        let syntax = parse_hello(&command(&["HELLO", "3", "AUTH", "only-user"])).unwrap_err();
        assert!(syntax.starts_with(b"-ERR Syntax error in HELLO option 'AUTH'"));
    }

    #[test]
    fn login_commands_match_the_client_form() {
        let login = UpstreamLogin::new("app", "tok");
        let mut out = BytesMut::new();
        login_command(&AuthForm::Auth, &login, &mut out);
        assert_eq!(&out[..], b"*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$3\r\ntok\r\n");
        let mut out = BytesMut::new();
        let hello = AuthForm::Hello {
            proto: 2,
            setname: Some(Bytes::from_static(b"x")),
        };
        login_command(&hello, &login, &mut out);
        assert_eq!(
            &out[..],
            &b"*7\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$3\r\ntok\r\n$7\r\nSETNAME\r\n$1\r\nx\r\n"[..]
        );
    }
}
