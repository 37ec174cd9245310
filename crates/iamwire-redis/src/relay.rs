//! The message-aware relay: moves bytes both ways through a [`Flow`], fetches the logins the flow asks
//! for (a client's `AUTH`, the login after `RESET`, the periodic re-AUTH), and ends the session when
//! either side does or the proxy stops it. How order is kept is explained in the crate docs.

mod flow;
mod pubsub;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use iamwire_core::{Denied, SessionRequest, UpstreamLogin};
use iamwire_proxy::{ClientConn, Cx, RelayEnd, SessionError, StopSignal, UpstreamConn};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::time::Instant;

use crate::error::RedisError;
use crate::proxy::{Redis, RedisState};
pub(crate) use flow::{ClusterView, Flow, Need};

type LoginResult = Result<UpstreamLogin, SessionError<RedisError>>;
type LoginFuture<'a> = Pin<Box<dyn Future<Output = LoginResult> + Send + 'a>>;

/// How long to wait before trying again after a re-AUTH failed.
const REAUTH_RETRY: Duration = Duration::from_secs(60);
/// A re-AUTH login older than this when its moment comes is fetched again (tokens live 15 minutes).
const REAUTH_MAX_AGE: Duration = Duration::from_secs(300);

/// The state of the periodic re-AUTH.
enum ReAuth<'a> {
    Off,
    /// Next one due at.
    Idle(Instant),
    /// Fetching the login for a database user.
    Fetching(LoginFuture<'a>, String),
    /// The login is in hand (for which database user, since when), waiting for a point where it may be
    /// sent.
    Ready(UpstreamLogin, String, Instant),
}

/// Fetch a login for `user` with the session's injector, within the credential timeout.
fn fetch<'a>(cx: &'a Cx<'_, ()>, user: String) -> LoginFuture<'a> {
    let timeout = cx.timeouts.credentials;
    Box::pin(async move {
        let want = SessionRequest {
            database: cx.database,
            db_user: &user,
            db_name: None,
        };
        match tokio::time::timeout(timeout, cx.injector.login(&want)).await {
            Ok(Ok(login)) => Ok(login),
            Ok(Err(source)) => Err(SessionError::Credentials { source }),
            Err(_) => Err(SessionError::CredentialTimeout { timeout }),
        }
    })
}

/// Relay until either side ends, the client quits, or `stop` fires (then: until no reply is owed, at
/// most the signal's grace).
pub(crate) async fn run(
    redis: &Redis,
    cx: &Cx<'_, ()>,
    client: ClientConn,
    state: &mut RedisState,
    upstream: UpstreamConn,
    mut stop: StopSignal<'_>,
) -> RelayEnd {
    let (client, mut from_client) = client.into_parts();
    let (upstream, mut from_upstream) = upstream.into_parts();
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut ur, mut uw) = tokio::io::split(upstream);
    let mut flow = Flow::new(redis.limits, state.proto, state.db_user.clone());
    if let Some(shared) = &redis.cluster {
        flow.set_cluster(ClusterView {
            shared: Arc::clone(shared),
            own_host: cx.endpoint.host().to_owned(),
        });
    }
    let mut refresh: Option<Pin<Box<dyn Future<Output = ()> + Send + '_>>> = None;
    let identity = cx.session.who().map(|w| w.identity.clone());
    let authorize = |user: &str| -> Result<(), Denied> {
        let identity = identity.as_ref().ok_or_else(|| Denied::UnknownIdentity {
            identity: "(none)".to_owned(),
        })?;
        let want = SessionRequest {
            database: cx.database,
            db_user: user,
            db_name: None,
        };
        cx.authorizer.authorize(identity, &want)
    };
    let mut reauth = match redis.reauth {
        Some(every) => ReAuth::Idle(Instant::now() + every),
        None => ReAuth::Off,
    };
    let mut login: Option<(Need, LoginFuture<'_>)> = None;
    let (mut client_eof, mut upstream_eof) = (false, false);
    let (mut dirty_up, mut dirty_client) = (false, false);
    let mut stopping: Option<Instant> = None;
    let (bytes_up, bytes_down) = (&cx.session.bytes_up, &cx.session.bytes_down);

    let end = loop {
        // Take in what has arrived, as far as the flow lets.
        if stopping.is_none() {
            flow.client_input(&mut from_client, &authorize);
        }
        if let Err(violation) = flow.upstream_input(&mut from_upstream) {
            break RelayEnd::UpstreamError(io::Error::new(
                io::ErrorKind::InvalidData,
                RedisError::UpstreamProtocol { violation },
            ));
        }
        if login.is_none()
            && let Some(need) = flow.take_need()
        {
            let fut = fetch(cx, need.user.clone());
            login = Some((need, fut));
        }
        if refresh.is_none()
            && let Some(seen) = flow.take_refresh()
            && let Some(shared) = &redis.cluster
        {
            let user = flow.user().to_owned();
            let limits = redis.limits;
            refresh = Some(Box::pin(async move {
                shared.refresh_after(seen, cx, &user, limits).await;
            }));
        }
        match &reauth {
            ReAuth::Ready(ready, for_user, since) if flow.can_reauth() => {
                if since.elapsed() > REAUTH_MAX_AGE || for_user != flow.user() {
                    let user = flow.user().to_owned();
                    reauth = ReAuth::Fetching(fetch(cx, user.clone()), user);
                    flow.set_reauth_ready(false);
                } else {
                    flow.send_reauth(ready);
                    tracing::debug!(
                        db_user = flow.user(),
                        "re-authenticating the database connection"
                    );
                    reauth = ReAuth::Idle(Instant::now() + redis.reauth.unwrap_or(REAUTH_RETRY));
                }
                continue;
            }
            _ => {}
        }
        match flow.take_reauth_outcome() {
            Some(Ok(())) => tracing::info!(
                db_user = flow.user(),
                "re-authenticated the database connection"
            ),
            Some(Err(error)) => {
                tracing::warn!(db_user = flow.user(), %error, "the database refused the re-AUTH; retrying");
                reauth = ReAuth::Idle(
                    Instant::now() + REAUTH_RETRY.min(redis.reauth.unwrap_or(REAUTH_RETRY)),
                );
            }
            None => {}
        }
        state.proto = flow.proto();
        state.awaiting_reply = flow.awaiting_reply();
        state.mid_reply = flow.mid_reply();

        // When to end.
        let drained = flow.to_client.is_empty() && !dirty_client;
        if upstream_eof && drained {
            break RelayEnd::Closed;
        }
        if flow.is_done_reading() && !flow.awaiting_reply() && drained {
            break match flow.violation() {
                Some(v) => RelayEnd::ClientError(io::Error::new(
                    io::ErrorKind::InvalidData,
                    RedisError::ClientProtocol { violation: v },
                )),
                None => RelayEnd::Closed,
            };
        }
        if let Some(since) = stopping
            && ((!flow.awaiting_reply() && drained) || since.elapsed() >= stop.grace())
        {
            let stream = cr.unsplit(cw);
            return RelayEnd::Stopped(stream);
        }
        if client_eof {
            // Redis itself drops a client's pending replies when it hangs up; so does the proxy.
            break RelayEnd::Closed;
        }

        let read_client = stopping.is_none() && flow.accepts_commands();
        let read_upstream = !upstream_eof && flow.accepts_replies();
        let write_up = !flow.to_upstream.is_empty() || dirty_up;
        let write_client = !flow.to_client.is_empty() || dirty_client;
        let reauth_due = match &reauth {
            ReAuth::Idle(at) => Some(*at),
            _ => None,
        };
        let grace_end = stopping.map(|since| since + stop.grace());
        release_idle(&mut flow, &mut from_client, &mut from_upstream);
        tokio::select! {
            biased;
            () = std::future::poll_fn(|c| if stop.poll_fired(c) { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }),
                if stopping.is_none() => {
                stopping = Some(Instant::now());
            }
            r = write_some(&mut uw, &mut flow.to_upstream, &mut dirty_up), if write_up => match r {
                Ok(n) => { bytes_up.fetch_add(n as u64, Ordering::Relaxed); }
                Err(e) => break RelayEnd::UpstreamError(e),
            },
            r = write_some(&mut cw, &mut flow.to_client, &mut dirty_client), if write_client => match r {
                Ok(n) => { bytes_down.fetch_add(n as u64, Ordering::Relaxed); }
                Err(e) => break RelayEnd::ClientError(e),
            },
            r = read_some(&mut ur, &mut from_upstream), if read_upstream => match r {
                Ok(0) => upstream_eof = true,
                Ok(_) => {}
                Err(e) => break RelayEnd::UpstreamError(e),
            },
            r = read_some(&mut cr, &mut from_client), if read_client => match r {
                Ok(0) => client_eof = true,
                Ok(_) => {}
                // Clients that just close their socket (redis-cli does) skip TLS close_notify.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => client_eof = true,
                Err(e) => break RelayEnd::ClientError(e),
            },
            result = async { match login.as_mut() { Some((_, fut)) => fut.await, None => std::future::pending().await } },
                if login.is_some() => {
                if let Some((need, _)) = login.take() {
                    flow.login_done(need, result);
                }
            },
            result = async { match &mut reauth { ReAuth::Fetching(fut, user) => (fut.await, std::mem::take(user)), _ => std::future::pending().await } },
                if matches!(reauth, ReAuth::Fetching(..)) => match result {
                (Ok(ready), user) => {
                    reauth = ReAuth::Ready(ready, user, Instant::now());
                    flow.set_reauth_ready(true);
                }
                (Err(error), _) => {
                    tracing::warn!(error = %iamwire_proxy::error_chain(&error), "could not get credentials to re-authenticate; retrying");
                    reauth = ReAuth::Idle(Instant::now() + REAUTH_RETRY);
                }
            },
            () = sleep_until(reauth_due), if reauth_due.is_some() => {
                let user = flow.user().to_owned();
                reauth = ReAuth::Fetching(fetch(cx, user.clone()), user);
            }
            () = async { match refresh.as_mut() { Some(fut) => fut.await, None => std::future::pending().await } },
                if refresh.is_some() => {
                refresh = None;
                flow.refreshed();
            }
            () = sleep_until(grace_end), if grace_end.is_some() => {}
        }
    };
    state.awaiting_reply = flow.awaiting_reply();
    state.mid_reply = flow.mid_reply();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = cw.write_all(&flow.to_client).await;
        let _ = cw.shutdown().await;
    })
    .await;
    end
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Read what is there (at most 16 KiB at a time) and append it to `buf`; 0 at the end of the stream.
/// Read through the framework's per-thread buffer pool: waiting for the next bytes costs no buffer
/// (`buf` itself is freed whenever it is empty, see [`release_idle`]).
async fn read_some<R: AsyncRead>(r: &mut ReadHalf<R>, buf: &mut BytesMut) -> io::Result<usize> {
    std::future::poll_fn(|cx| iamwire_proxy::relay::poll_read_pooled(Pin::new(&mut *r), cx, buf))
        .await
}

/// Free every buffer the session is not using right now: an idle connection keeps none (each would
/// otherwise keep the capacity of its largest burst).
fn release_idle(flow: &mut Flow, from_client: &mut BytesMut, from_upstream: &mut BytesMut) {
    use iamwire_proxy::relay::release_if_empty;
    release_if_empty(from_client);
    release_if_empty(from_upstream);
    release_if_empty(&mut flow.to_client);
    release_if_empty(&mut flow.to_upstream);
}

/// Write some of `buf` (cancel-safe: nothing is written if cancelled), or flush once it is empty.
async fn write_some<W: AsyncWrite>(
    w: &mut WriteHalf<W>,
    buf: &mut BytesMut,
    dirty: &mut bool,
) -> io::Result<usize> {
    if buf.is_empty() {
        w.flush().await?;
        *dirty = false;
        return Ok(0);
    }
    let n = w.write(buf).await?;
    if n == 0 {
        return Err(io::ErrorKind::WriteZero.into());
    }
    buf.advance(n);
    *dirty = true;
    Ok(n)
}

/// Feed arbitrary bytes through a [`Flow`] as the database's side of a busy session.
pub(crate) fn fuzz_flow(data: &[u8]) {
    let limits = crate::codec::Limits {
        max_bulk_len: 1 << 16,
        max_aggregate_len: 1 << 10,
        max_depth: 16,
        max_line_len: 1 << 10,
        max_command_len: 1 << 18,
        max_inspected_len: 1 << 18,
        max_pending: 64,
    };
    let proto = if data.first().is_some_and(|b| b % 2 == 0) {
        2
    } else {
        3
    };
    let mut flow = Flow::new(limits, proto, "app".into());
    let allow = |_: &str| Ok(());
    let mut commands = BytesMut::from(
        &b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nEXEC\r\n\
           *3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n*1\r\n$11\r\nUNSUBSCRIBE\r\n\
           *1\r\n$4\r\nPING\r\n*1\r\n$7\r\nMONITOR\r\n"[..],
    );
    flow.client_input(&mut commands, &allow);
    let mut replies = BytesMut::new();
    for chunk in data.chunks(7) {
        replies.extend_from_slice(chunk);
        if flow.upstream_input(&mut replies).is_err() {
            return;
        }
        flow.to_client.clear();
    }
}
