//! One session from accept to its end, in the framework's phase order, each phase under its own timeout,
//! with one log line per outcome (accepted, denied, failed, ended) in the session's span.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use iamwire_core::{ClientIdentity, SessionRequest, UpstreamLogin};
use tokio::io::AsyncWriteExt;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{Span, field};

use crate::authn::{ClientCheck, ClientHello};
use crate::conn::{ClientConn, UpstreamConn};
use crate::error::{Phase, ProtocolError, SessionError, Side, error_chain};
use crate::listener::Incoming;
use crate::protocol::{Cx, Hello, Protocol};
use crate::proxy::Inner;
use crate::registry::{Registration, SessionWho};
use crate::relay::{RelayEnd, StopSignal};
use crate::shutdown::{Stage, StageWatch};
use crate::upstream::UpstreamEndpoint;

/// How long each phase took, for the outcome lines.
#[derive(Debug, Default, Clone, Copy)]
struct Times {
    /// When the connection was accepted: the handshake timeout counts from here.
    accepted: Option<tokio::time::Instant>,
    handshake: Duration,
    credentials: Duration,
    connect: Duration,
    login: Duration,
}

/// The session is established: what the relay needs.
struct Ready {
    upstream: UpstreamConn,
    _session: OwnedSemaphorePermit,
}

/// Why the phases stopped short of a relay.
enum Short<E> {
    /// An out-of-band request, served (or dropped).
    OutOfBand,
    /// A failure to tell the client about.
    Failed(SessionError<E>),
}

impl<E> From<SessionError<E>> for Short<E> {
    fn from(e: SessionError<E>) -> Self {
        Self::Failed(e)
    }
}

pub(crate) async fn run<P: Protocol>(inner: Arc<Inner<P>>, incoming: Incoming) {
    run_at(inner, incoming, None).await;
}

/// A session whose database is reached at `routed` instead of the proxy's endpoint, if given.
pub(crate) async fn run_at<P: Protocol>(
    inner: Arc<Inner<P>>,
    incoming: Incoming,
    routed: Option<UpstreamEndpoint>,
) {
    let db = &inner.database;
    let Some(registration) =
        inner
            .registry
            .register(inner.protocol.name(), &db.name, incoming.peer)
    else {
        tracing::warn!(database = %db.name, "session registry full; connection closed");
        return;
    };
    let span = tracing::info_span!(
        "session",
        id = registration.id(),
        protocol = inner.protocol.name(),
        database = %db.name,
        peer = field::Empty,
        identity = field::Empty,
        db_user = field::Empty,
        db_name = field::Empty,
        upstream = field::Empty,
    );
    if let Some(peer) = incoming.peer {
        span.record("peer", field::display(peer));
    }
    if let Some(endpoint) = &routed {
        span.record("upstream", endpoint.addr());
    }
    inner.metrics.handshake_started();
    let mut in_handshake = HandshakeGauge(Some(&inner.metrics));
    let endpoint = routed.as_ref().unwrap_or(&inner.endpoint);
    let quiet = AtomicBool::new(false);
    let session = pin!(drive(
        &inner,
        endpoint,
        incoming,
        &registration,
        &mut in_handshake,
        &quiet
    ));
    InSpan {
        span,
        quiet: &quiet,
        inner: session,
    }
    .await;
}

/// The session's future with its span entered on every poll ([`tracing::Instrument`]), except while
/// `quiet` is set: during the relay of a protocol whose relay logs nothing ([`Protocol::quiet_relay`]),
/// where entering and leaving the span on every wake-up is all the span would cost.
struct InSpan<'a, F> {
    span: Span,
    quiet: &'a AtomicBool,
    inner: Pin<&'a mut F>,
}

impl<F: Future> Future for InSpan<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if self.quiet.load(Ordering::Relaxed) {
            return self.inner.as_mut().poll(cx);
        }
        let this = &mut *self;
        let _entered = this.span.enter();
        this.inner.as_mut().poll(cx)
    }
}

/// Counts a connection among those in their handshake until it relays or ends.
struct HandshakeGauge<'a>(Option<&'a crate::metrics::ProxyMetrics>);

impl HandshakeGauge<'_> {
    fn done(&mut self) {
        if let Some(metrics) = self.0.take() {
            metrics.handshake_ended();
        }
    }
}

impl Drop for HandshakeGauge<'_> {
    fn drop(&mut self) {
        self.done();
    }
}

async fn drive<P: Protocol>(
    inner: &Inner<P>,
    endpoint: &UpstreamEndpoint,
    incoming: Incoming,
    registration: &Registration<P::Registered>,
    in_handshake: &mut HandshakeGauge<'_>,
    quiet: &AtomicBool,
) {
    let started = Instant::now();
    let Incoming {
        transport,
        peer,
        mut guard,
    } = incoming;
    let stage = guard.stage();
    let mut client = ClientConn::new(transport, peer, inner.acceptor.clone());
    let mut state = P::State::default();
    let cx = Cx {
        database: &inner.database,
        endpoint,
        dialer: &*inner.dialer,
        random: &*inner.random,
        session: registration.info(),
        registry: &inner.registry,
        authorizer: &*inner.authorizer,
        injector: &*inner.injector,
        timeouts: &inner.timeouts,
    };
    let mut times = Times {
        accepted: Some(guard.accepted()),
        ..Times::default()
    };
    let outcome = establish(
        inner,
        &cx,
        &mut client,
        &mut state,
        registration,
        &mut times,
        stage.clone(),
    )
    .await;
    let ready = match outcome {
        Ok(ready) => ready,
        Err(Short::OutOfBand) => {
            inner.metrics.out_of_band();
            return;
        }
        Err(Short::Failed(error)) => {
            match &error {
                SessionError::Denied { .. } => inner.metrics.denied(),
                other => inner.metrics.failed(other.phase()),
            }
            report_failure(&error, &times);
            refuse(inner, &mut client, &state, &error).await;
            return;
        }
    };
    guard.handshake_done();
    in_handshake.done();
    inner.metrics.accepted();
    for (phase, took) in [
        (Phase::ClientHandshake, times.handshake),
        (Phase::Credentials, times.credentials),
        (Phase::Connect, times.connect),
        (Phase::Login, times.login),
    ] {
        inner.metrics.phase(phase, took);
    }
    tracing::info!(
        outcome = "accepted",
        handshake_ms = ms(times.handshake),
        credentials_ms = ms(times.credentials),
        connect_ms = ms(times.connect),
        login_ms = ms(times.login),
        "session accepted"
    );
    let info = registration.info();
    let mut stage_for_stop = stage;
    let mut stopped = pin!(async {
        tokio::select! {
            () = stage_for_stop.reached(Stage::Closing) => {}
            () = info.killed() => {}
        }
    });
    let signal = StopSignal::new(stopped.as_mut(), inner.timeouts.goodbye);
    // A relay that logs nothing is polled outside the span; the span is back for the last line.
    let span = Span::current();
    quiet.store(inner.protocol.quiet_relay(), Ordering::Relaxed);
    let end = inner
        .protocol
        .relay(&cx, client, &mut state, ready.upstream, signal)
        .await;
    quiet.store(false, Ordering::Relaxed);
    let bytes_up = info.bytes_up.load(std::sync::atomic::Ordering::Relaxed);
    let bytes_down = info.bytes_down.load(std::sync::atomic::Ordering::Relaxed);
    inner.metrics.session_bytes(bytes_up, bytes_down);
    let how = match end {
        RelayEnd::Closed => "closed".to_owned(),
        RelayEnd::ClientError(e) => format!("client error: {e}"),
        RelayEnd::UpstreamError(e) => format!("database error: {e}"),
        RelayEnd::Stopped(mut stream) => {
            let error = if info.is_killed() {
                SessionError::Killed
            } else {
                SessionError::ShuttingDown
            };
            if let Some(bytes) = inner.protocol.refusal(&state, &error) {
                let _ = tokio::time::timeout(inner.timeouts.goodbye, async {
                    stream.write_all(&bytes).await?;
                    stream.flush().await?;
                    stream.shutdown().await
                })
                .await;
            }
            error.to_string()
        }
    };
    // In this poll the span may not be entered yet (the relay just ended outside it): name it.
    span.in_scope(|| {
        tracing::info!(
            outcome = "ended",
            duration_ms = ms(started.elapsed()),
            bytes_up,
            bytes_down,
            end = %how,
            "session ended"
        );
    });
}

/// Every phase up to the relay.
async fn establish<P: Protocol>(
    inner: &Inner<P>,
    cx: &Cx<'_, P::Registered>,
    client: &mut ClientConn,
    state: &mut P::State,
    registration: &Registration<P::Registered>,
    times: &mut Times,
    stage: StageWatch,
) -> Result<Ready, Short<P::Error>> {
    let protocol = &inner.protocol;
    let timeouts = inner.timeouts;
    let info = registration.info();
    let mut stop = pin!(stopped(stage, info));

    // Client handshake: negotiation, TLS, what the client asks for, and a proxy password if need be.
    let begun = Instant::now();
    // From accept: a client that took its time to say its first words has used part of it.
    let handshake_deadline =
        times.accepted.unwrap_or_else(tokio::time::Instant::now) + timeouts.handshake;
    let handshake_timeout = || SessionError::HandshakeTimeout {
        timeout: timeouts.handshake,
    };
    let hello = within(
        Bound::At(handshake_deadline),
        handshake_timeout,
        stop.as_mut(),
        protocol.hello(cx, client, state),
    )
    .await
    .map_err(|e| e.in_phase(Phase::ClientHandshake))?;
    let (db_user, db_name) = match hello {
        Hello::Session { db_user, db_name } => (db_user, db_name),
        Hello::OutOfBand { session, request } => {
            out_of_band(inner, cx, session, request).await;
            return Err(Short::OutOfBand);
        }
    };
    if inner.paused.load(std::sync::atomic::Ordering::Acquire) {
        return Err(SessionError::Paused.into());
    }
    let Ok(session_permit) = Arc::clone(&inner.sessions).try_acquire_owned() else {
        return Err(SessionError::TooManyConnections {
            limit: inner.limits.max_connections,
        }
        .into());
    };
    let hello = ClientHello {
        certificate: client.certificate(),
        user: &db_user,
        peer: client.peer(),
        local_user: client.local_user(),
    };
    let identity: ClientIdentity = match inner.authenticator.check(&hello) {
        ClientCheck::Identified(identity) => identity,
        ClientCheck::Password { identity, secret } => {
            within(
                Bound::At(handshake_deadline),
                handshake_timeout,
                stop.as_mut(),
                protocol.prove_password(cx, client, state, &secret),
            )
            .await
            .map_err(|e| e.in_phase(Phase::ClientHandshake))?;
            identity
        }
        _ => return Err(SessionError::NoClientIdentity.into()),
    };
    times.handshake = begun.elapsed();
    let span = Span::current();
    span.record("identity", identity.name());
    span.record("db_user", db_user.as_str());
    if let Some(name) = &db_name {
        span.record("db_name", name.as_str());
    }

    // Authorize exactly what the database will use.
    let want = SessionRequest {
        database: &inner.database,
        db_user: &db_user,
        db_name: db_name.as_deref(),
    };
    inner
        .authorizer
        .authorize(&identity, &want)
        .map_err(|reason| SessionError::Denied { reason })?;
    info.set_who(SessionWho {
        identity: identity.clone(),
        db_user: db_user.clone(),
        db_name: db_name.clone(),
    });

    // Credentials.
    let begun = Instant::now();
    let login: UpstreamLogin = within(
        Bound::For(timeouts.credentials),
        || SessionError::CredentialTimeout {
            timeout: timeouts.credentials,
        },
        stop.as_mut(),
        async {
            inner
                .injector
                .login(&want)
                .await
                .map_err(|source| SessionError::Credentials { source })
        },
    )
    .await?;
    times.credentials = begun.elapsed();

    // Connect: TCP, then the protocol's negotiation and TLS.
    let begun = Instant::now();
    let endpoint = cx.endpoint;
    let mut upstream = within(
        Bound::For(timeouts.connect),
        || SessionError::ConnectTimeout {
            addr: endpoint.addr().to_owned(),
            timeout: timeouts.connect,
        },
        stop.as_mut(),
        async {
            let tcp =
                inner
                    .dialer
                    .dial(endpoint)
                    .await
                    .map_err(|source| SessionError::Connect {
                        addr: endpoint.addr().to_owned(),
                        source,
                    })?;
            protocol
                .connect(cx, state, tcp)
                .await
                .map_err(|e| e.in_phase(Phase::Connect))
        },
    )
    .await?;
    times.connect = begun.elapsed();

    // Login, then tell the client it is in.
    let begun = Instant::now();
    within(
        Bound::For(timeouts.login),
        || SessionError::LoginTimeout {
            timeout: timeouts.login,
        },
        stop.as_mut(),
        async {
            protocol
                .login(cx, client, state, &mut upstream, login, &want)
                .await
                .map_err(|e| with_login_hint(e, inner, &want))?;
            protocol
                .welcome(cx, client, state, &mut upstream, registration)
                .await
                .map_err(|e| with_login_hint(e, inner, &want))
        },
    )
    .await?;
    times.login = begun.elapsed();
    Ok(Ready {
        upstream,
        _session: session_permit,
    })
}

/// A protocol error from the login: in the login phase, with the injector's hint when the database
/// refused the login.
fn with_login_hint<P: Protocol>(
    error: SessionError<P::Error>,
    inner: &Inner<P>,
    want: &SessionRequest<'_>,
) -> SessionError<P::Error> {
    match error.in_phase(Phase::Login) {
        SessionError::Protocol { phase, error, hint } => {
            let hint = if hint.is_none() && error.is_login_rejected() {
                inner.injector.rejected_hint(want)
            } else {
                hint
            };
            SessionError::Protocol { phase, error, hint }
        }
        other => other,
    }
}

/// Resolves when the session must end early: the drain deadline passed, or an operator ended it.
async fn stopped(mut stage: StageWatch, info: &crate::registry::SessionInfo) -> StopCause {
    tokio::select! {
        () = stage.reached(Stage::Closing) => StopCause::Closing,
        () = info.killed() => StopCause::Killed,
    }
}

enum StopCause {
    Closing,
    Killed,
}

enum Bound {
    At(tokio::time::Instant),
    For(Duration),
}

/// Run `phase` until it ends, its time is up, or the session must stop.
async fn within<T, E>(
    bound: Bound,
    on_timeout: impl FnOnce() -> SessionError<E>,
    stop: std::pin::Pin<&mut impl Future<Output = StopCause>>,
    phase: impl Future<Output = Result<T, SessionError<E>>>,
) -> Result<T, SessionError<E>> {
    let deadline = match bound {
        Bound::At(at) => at,
        Bound::For(d) => tokio::time::Instant::now() + d,
    };
    tokio::select! {
        result = tokio::time::timeout_at(deadline, phase) => result.unwrap_or_else(|_| Err(on_timeout())),
        cause = stop => Err(match cause {
            StopCause::Closing => SessionError::ShuttingDown,
            StopCause::Killed => SessionError::Killed,
        }),
    }
}

/// Serve an out-of-band request within the bound on such requests, one per session at a time.
async fn out_of_band<P: Protocol>(
    inner: &Inner<P>,
    cx: &Cx<'_, P::Registered>,
    session: Option<crate::registry::SessionId>,
    request: P::OutOfBand,
) {
    let Ok(_permit) = inner.out_of_band.try_acquire() else {
        tracing::info!(
            limit = inner.limits.max_out_of_band,
            "out-of-band request dropped: too many in flight"
        );
        return;
    };
    let target = session.and_then(|id| inner.registry.get(id));
    let _slot = match &target {
        Some((info, _)) => match info.begin_out_of_band(inner.limits.out_of_band_interval) {
            Some(slot) => Some(slot),
            None => {
                tracing::debug!(
                    "out-of-band request dropped: one is in flight for that session, or was just served"
                );
                return;
            }
        },
        None => None,
    };
    let target = target.map(|(_, value)| value);
    let timeout = inner.timeouts.connect;
    match tokio::time::timeout(timeout, inner.protocol.out_of_band(cx, target, request)).await {
        Ok(Ok(())) => tracing::debug!("out-of-band request served"),
        Ok(Err(error)) => {
            tracing::info!(error = %error_chain(&error), "out-of-band request failed");
        }
        Err(_) => tracing::info!(timeout_ms = ms(timeout), "out-of-band request timed out"),
    }
}

/// Tell the client why (best effort, bounded by the goodbye timeout), then close.
async fn refuse<P: Protocol>(
    inner: &Inner<P>,
    client: &mut ClientConn,
    state: &P::State,
    error: &SessionError<P::Error>,
) {
    if error.is_client_gone() {
        return;
    }
    if let Some(bytes) = inner.protocol.refusal(state, error) {
        let _ = tokio::time::timeout(inner.timeouts.goodbye, client.send(&bytes)).await;
    }
    let _ = tokio::time::timeout(inner.timeouts.goodbye, client.shutdown()).await;
}

/// The outcome line of a session that did not reach its relay.
fn report_failure<E: ProtocolError>(error: &SessionError<E>, times: &Times) {
    let phase = error.phase().as_str();
    let side = error.side().as_str();
    match error {
        SessionError::Denied { reason } => {
            tracing::info!(outcome = "denied", reason = %reason, "session denied");
        }
        SessionError::ClientIo { source } if source.kind() == std::io::ErrorKind::UnexpectedEof => {
            tracing::debug!(
                outcome = "failed",
                phase,
                side,
                "client closed the connection"
            );
        }
        _ if error.side() == Side::Client => {
            tracing::info!(
                outcome = "failed",
                phase,
                side,
                error = %error_chain(error),
                "session failed"
            );
        }
        _ => {
            tracing::warn!(
                outcome = "failed",
                phase,
                side,
                error = %error_chain(error),
                handshake_ms = ms(times.handshake),
                credentials_ms = ms(times.credentials),
                connect_ms = ms(times.connect),
                "session failed"
            );
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
