//! The client's side of the handshake (TLS, then commands until it names its user) and the proxy's
//! login upstream.

use bytes::{Bytes, BytesMut};
use iamwire_core::{Secret, SessionRequest, UpstreamLogin};
use iamwire_proxy::{ClientConn, Hello, SessionError, UpstreamConn};

use super::{AuthForm, AuthRequest, Redis, RedisState, Result, hello_auth, login_command};
use super::{parse_auth, parse_hello};
use crate::codec::{
    Command, CommandDecoder, FrameScanner, Limits, Profile, Reply, ReplyKind, Scan, error_line,
};
use crate::error::RedisError;

/// TLS, then commands until the client names its database user.
pub(super) async fn hello(
    redis: &Redis,
    client: &mut ClientConn,
    state: &mut RedisState,
) -> Result<Hello<()>> {
    client.start_tls().await?;
    let mut decoder = CommandDecoder::new(redis.limits.unauthenticated());
    loop {
        let command = next_command(client, &mut decoder).await?;
        match before_login(&command, || implicit_user(redis, client)) {
            Before::Login(request) => {
                if request.form == AuthForm::Implicit {
                    // Put the command back: it is the session's first, relayed once the login is done.
                    let mut buf = BytesMut::from(&command.raw()[..]);
                    buf.extend_from_slice(&client.buf);
                    client.buf = buf;
                }
                state.proto = match request.form {
                    AuthForm::Hello { proto, .. } => proto,
                    _ => 2,
                };
                state.db_user.clone_from(&request.user);
                state.password = Some(Secret::new(request.password.to_vec()));
                state.form = Some(request.form);
                return Ok(Hello::Session {
                    db_user: request.user,
                    db_name: None,
                });
            }
            Before::Answer(line) => client
                .send(&line)
                .await
                .map_err(|source| SessionError::ClientIo { source })?,
            Before::Quit => {
                let _ = client.send(b"+OK\r\n").await;
                return Err(RedisError::Quit.into());
            }
        }
    }
}

/// What the proxy does with a command from a client that has not logged in.
pub(crate) enum Before {
    /// The client names its database user (an implicit login: the command is the session's first).
    Login(AuthRequest),
    /// Answer with this error line and read on.
    Answer(Vec<u8>),
    /// `QUIT`: answer `+OK` and end.
    Quit,
}

/// The decision for one `command` before the login, sans-IO: `AUTH` and `HELLO ... AUTH` log in, a
/// client with a certificate logs in as `implicit_user` with any other command, and everything else is
/// answered with the error Redis gives.
pub(crate) fn before_login(
    command: &Command,
    implicit_user: impl FnOnce() -> Option<String>,
) -> Before {
    let request = if command.is("AUTH") {
        parse_auth(command)
    } else if command.is("HELLO") {
        match parse_hello(command).map(hello_auth) {
            Ok(Ok(Some(request))) => Ok(request),
            Ok(Ok(None)) => Err(error_line(
                "NOAUTH",
                "HELLO must be called with the client already authenticated, otherwise the \
                 HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client \
                 and select the RESP protocol version at the same time",
            )),
            Ok(Err(e)) | Err(e) => Err(e),
        }
    } else if command.is("QUIT") {
        return Before::Quit;
    } else if let Some(user) = implicit_user() {
        Ok(AuthRequest {
            user,
            password: Bytes::new(),
            form: AuthForm::Implicit,
        })
    } else {
        Err(error_line("NOAUTH", "Authentication required."))
    };
    match request {
        Ok(request) => Before::Login(request),
        Err(line) => Before::Answer(line),
    }
}

fn implicit_user(redis: &Redis, client: &ClientConn) -> Option<String> {
    client.certificate()?;
    redis.default_user.clone()
}

async fn next_command(client: &mut ClientConn, decoder: &mut CommandDecoder) -> Result<Command> {
    loop {
        match decoder.decode(&mut client.buf) {
            Ok(Some(command)) => return Ok(command),
            Ok(None) => {}
            Err(violation) => return Err(RedisError::ClientProtocol { violation }.into()),
        }
        client
            .fill()
            .await
            .map_err(|source| SessionError::ClientIo { source })?;
    }
}

/// Log in upstream as `login`, the way the client logged in to the proxy; keep the database's answer
/// for the client.
pub(super) async fn login(
    redis: &Redis,
    state: &mut RedisState,
    upstream: &mut UpstreamConn,
    login: &UpstreamLogin,
    want: &SessionRequest<'_>,
) -> Result<()> {
    let form = state.form.clone().unwrap_or(AuthForm::Auth);
    let mut out = BytesMut::new();
    login_command(&form, login, &mut out);
    let sent = upstream.send(&out).await;
    wipe(&mut out);
    sent.map_err(|source| SessionError::UpstreamIo { source })?;
    let reply = read_reply(redis.limits, upstream).await?;
    let resp3 = matches!(form, AuthForm::Hello { proto: 3, .. });
    match Reply::decode(reply.clone(), resp3) {
        ReplyKind::Error { code, message } => {
            return Err(RedisError::UpstreamRejected { code, message }.into());
        }
        ReplyKind::Pubsub { .. } | ReplyKind::OtherPush => {
            return Err(RedisError::UnexpectedUpstream { what: "a push" }.into());
        }
        ReplyKind::Other => {}
    }
    state.db_user = want.db_user.to_owned();
    if matches!(form, AuthForm::Hello { .. }) {
        state.login_reply = Some(reply);
    }
    Ok(())
}

/// One whole reply frame from the database, within `limits`.
pub(crate) async fn read_reply(limits: Limits, upstream: &mut UpstreamConn) -> Result<Bytes> {
    let mut scanner = FrameScanner::new(Profile::Reply, limits);
    let mut scanned = 0;
    loop {
        match scanner.scan(&upstream.buf[scanned..]) {
            Ok(Scan::Complete(n)) => return Ok(upstream.buf.split_to(scanned + n).freeze()),
            Ok(Scan::Partial(n)) => scanned += n,
            Err(violation) => return Err(RedisError::UpstreamProtocol { violation }.into()),
        }
        if scanned > limits.max_inspected_len {
            return Err(RedisError::UpstreamProtocol {
                violation: crate::codec::RespViolation::ReplyTooLong {
                    max: limits.max_inspected_len,
                },
            }
            .into());
        }
        upstream
            .fill()
            .await
            .map_err(|source| SessionError::UpstreamIo { source })?;
    }
}

/// Overwrite a buffer that held a credential.
pub(crate) fn wipe(buf: &mut BytesMut) {
    buf.iter_mut().for_each(|b| *b = 0);
    buf.clear();
}
