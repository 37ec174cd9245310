//! CQL on the iamwire-proxy framework: [`Cql`] fills in the framework's phases.
//!
//! - **hello**: TLS at once (the port speaks TLS, like Keyspaces' 9142); OPTIONS is answered with the
//!   proxy's SUPPORTED (no compression); STARTUP in a version the proxy speaks gets AUTHENTICATE
//!   (`PasswordAuthenticator`); the client's AUTH_RESPONSE is SASL PLAIN whose user is the database
//!   user — for Keyspaces the IAM role — it wants.
//! - **password** (when the authenticator asks for one): the PLAIN password against the proxy's own
//!   stored secret (with an mTLS identity the password is not used).
//! - **connect**: TLS, verify-full by default.
//! - **login**: STARTUP with the client's options, then whatever the database asks: a SigV4 challenge
//!   answered by the login's [`ChallengeSigner`](iamwire_core::ChallengeSigner) (Keyspaces), or SASL
//!   PLAIN with the injected user and password (Cassandra's `PasswordAuthenticator`).
//! - **welcome**: AUTH_SUCCESS to the client only now, on its own stream id.
//! - **relay**: bytes, untouched (stream ids included), with the frame or segment framing so a session
//!   ended at the drain deadline gets its ERROR between frames — except a frame that would log in again
//!   (STARTUP, AUTH_RESPONSE, CREDENTIALS), which never reaches the database: the session ends with a
//!   protocol error on that frame's stream ([`guard`]).

mod check;
mod client;
mod guard;
mod io;
mod upstream;

pub(crate) use guard::fuzz_run as fuzz_login_guard;

use bytes::BytesMut;
use iamwire_core::{Secret, SessionRequest, UpstreamLogin};
use iamwire_proxy::scram::ScramSecret;
use iamwire_proxy::{
    ClientConn, Cx, Endian, Framing, Hello, LengthPrefixed, Protocol, Registration, RelayEnd,
    SessionError, StopSignal, UpstreamConn, relay_bytes_guarded,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::codec::segment::{self, SegmentFraming};
use crate::codec::{HEADER_LEN, Limits, Response};
use crate::error::{CqlError, error_message};

/// How long the ERROR for a refused second login may take to reach the client.
const GOODBYE: std::time::Duration = std::time::Duration::from_secs(5);

/// A CQL proxy for one database: the framework's [`Proxy`](iamwire_proxy::Proxy) speaking [`Cql`].
pub type CqlProxy = iamwire_proxy::Proxy<Cql>;

/// The authenticator class the proxy names in AUTHENTICATE: drivers answer it with user and password.
pub const PASSWORD_AUTHENTICATOR: &str = "org.apache.cassandra.auth.PasswordAuthenticator";

/// The CQL native protocol as the framework's phases, with its settings.
#[derive(Debug, Clone)]
pub struct Cql {
    limits: Limits,
    max_version: u8,
    cql_version: String,
}

impl Default for Cql {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_version: 4,
            cql_version: "3.4.4".to_owned(),
        }
    }
}

impl Cql {
    /// Protocol v3 and v4 (what Amazon Keyspaces speaks), CQL 3.4.4, default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Codec limits for both sides of the handshake.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The highest protocol version offered to clients, 3 to 5 (default 4). Both sides of a session
    /// speak the client's version, so offer 5 only in front of a database that speaks it.
    #[must_use]
    pub fn max_version(mut self, version: u8) -> Self {
        self.max_version = version.clamp(3, 5);
        self
    }

    /// The CQL version the proxy's SUPPORTED names (drivers send it back in STARTUP).
    #[must_use]
    pub fn cql_version(mut self, version: impl Into<String>) -> Self {
        self.cql_version = version.into();
        self
    }
}

/// What a CQL session carries from phase to phase.
#[derive(Debug, Default)]
pub struct CqlState {
    /// The client's protocol version, once known.
    version: Option<u8>,
    /// The stream id of the client's last request (errors answer it).
    stream: i16,
    /// The client's STARTUP options, passed on to the database.
    startup: Vec<(String, String)>,
    /// The database user the client named.
    user: String,
    /// The PLAIN password, until the proxy has checked it.
    password: Option<Secret>,
    client: io::Side,
    upstream: io::Side,
}

type Result<T> = std::result::Result<T, SessionError<CqlError>>;

impl Protocol for Cql {
    type State = CqlState;
    type OutOfBand = ();
    type Registered = ();
    type Error = CqlError;

    fn name(&self) -> &'static str {
        "cassandra"
    }

    fn client_speaks_first(&self) -> bool {
        true
    }

    async fn hello(
        &self,
        _cx: &Cx<'_, ()>,
        client: &mut ClientConn,
        state: &mut CqlState,
    ) -> Result<Hello<()>> {
        client::hello(self, client, state).await
    }

    async fn prove_password(
        &self,
        _cx: &Cx<'_, ()>,
        _client: &mut ClientConn,
        state: &mut CqlState,
        secret: &ScramSecret,
    ) -> Result<()> {
        client::check_password(state, secret)
    }

    async fn connect(
        &self,
        cx: &Cx<'_, ()>,
        state: &mut CqlState,
        tcp: TcpStream,
    ) -> Result<UpstreamConn> {
        state.password = None;
        UpstreamConn::start_tls(cx.endpoint, tcp, &[])
            .await
            .map_err(|source| SessionError::upstream_tls(cx.endpoint.addr(), source))
    }

    async fn login(
        &self,
        _cx: &Cx<'_, ()>,
        _client: &mut ClientConn,
        state: &mut CqlState,
        upstream: &mut UpstreamConn,
        login: UpstreamLogin,
        _want: &SessionRequest<'_>,
    ) -> Result<()> {
        upstream::login(self, state, upstream, login).await
    }

    async fn welcome(
        &self,
        _cx: &Cx<'_, ()>,
        client: &mut ClientConn,
        state: &mut CqlState,
        _upstream: &mut UpstreamConn,
        _registration: &Registration<()>,
    ) -> Result<()> {
        // Frames already taken out of v5 segments are not in the connections' buffers, and the relay
        // would lose them: neither side may send anything before the handshake is over.
        if state.client.has_partial() {
            return Err(CqlError::UnexpectedClientMessage {
                opcode: crate::codec::opcode::AUTH_RESPONSE,
                expected: "nothing before AUTH_SUCCESS",
            }
            .into());
        }
        if state.upstream.has_partial() {
            return Err(CqlError::UnexpectedUpstreamMessage {
                opcode: crate::codec::opcode::AUTH_SUCCESS,
                expected: "nothing after AUTH_SUCCESS",
            }
            .into());
        }
        let version = state.version.unwrap_or(self.max_version);
        io::send_response(
            client,
            &state.client,
            &Response::AuthSuccess(None),
            version,
            state.stream,
        )
        .await
    }

    fn framing(&self, state: &CqlState) -> Option<Box<dyn Framing>> {
        if state.client.segments.is_some() {
            Some(Box::new(SegmentFraming::default()))
        } else {
            // 9-byte header, 4-byte big-endian body length at offset 5.
            Some(Box::new(LengthPrefixed::new(
                HEADER_LEN,
                5,
                4,
                Endian::Big,
                HEADER_LEN as i64,
            )))
        }
    }

    async fn relay(
        &self,
        cx: &Cx<'_, ()>,
        client: ClientConn,
        state: &mut CqlState,
        upstream: UpstreamConn,
        stop: StopSignal<'_>,
    ) -> RelayEnd {
        let mut guard = guard::LoginGuard::new(state.client.segments.is_some());
        let framing = self.framing(state);
        let end = relay_bytes_guarded(
            client,
            upstream,
            framing,
            Some(&mut guard),
            cx.session,
            stop,
        )
        .await;
        let (mut stream, refused) = match (end, guard.refused()) {
            (RelayEnd::Stopped(stream), Some(refused)) => (stream, refused),
            (end, _) => return end,
        };
        tracing::info!(
            opcode = refused.opcode,
            "refused a client frame that would log in again; ending the session"
        );
        state.stream = refused.stream;
        let error = SessionError::from(CqlError::UnexpectedClientMessage {
            opcode: refused.opcode,
            expected: "no second login on a ready connection",
        });
        if let Some(bytes) = self.refusal(state, &error) {
            let _ = tokio::time::timeout(GOODBYE, async {
                stream.write_all(&bytes).await?;
                stream.flush().await?;
                stream.shutdown().await
            })
            .await;
        }
        RelayEnd::ClientError(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            error.to_string(),
        ))
    }

    fn refusal(&self, state: &CqlState, error: &SessionError<CqlError>) -> Option<Vec<u8>> {
        let body = error_message(error)?;
        let version = match (error, state.version) {
            (
                SessionError::Protocol {
                    error: CqlError::UnsupportedVersion { .. },
                    ..
                },
                _,
            )
            | (_, None) => self.max_version,
            (_, Some(v)) => v,
        };
        let frame = Response::Error(body).to_frame(version, state.stream);
        let bytes = frame.to_bytes().ok()?;
        if state.client.segments.is_none() {
            return Some(bytes.to_vec());
        }
        let mut out = BytesMut::new();
        segment::encode(&bytes, &mut out);
        Some(out.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use iamwire_proxy::Protocol as _;

    use super::*;
    use crate::codec::Frame;

    /// The relay's framing ends a drained session only between the database's frames (v4), or between
    /// whole frames of segments (v5).
    #[test]
    fn framing_finds_frame_ends_at_every_split() {
        let frames = [
            Frame::response(4, 1, 0x08, vec![1u8; 300]),
            Response::Ready.to_frame(4, 2),
            Frame::response(4, 3, 0x08, vec![2u8; 20]),
        ];
        let mut stream = BytesMut::new();
        let mut ends = vec![0];
        for f in &frames {
            f.encode(&mut stream).unwrap();
            ends.push(stream.len());
        }
        let cql = Cql::new();
        let mut state = CqlState::default();
        for v5 in [false, true] {
            let stream = if v5 {
                state.client.switch_to_segments();
                let mut out = BytesMut::new();
                let mut v5_ends = vec![0];
                for f in &frames {
                    segment::encode(&f.to_bytes().unwrap(), &mut out);
                    v5_ends.push(out.len());
                }
                ends = v5_ends;
                out
            } else {
                stream.clone()
            };
            for split in 0..=stream.len() {
                let mut framing = cql.framing(&state).unwrap();
                let (a, b) = stream.split_at(split);
                framing.advance(a);
                let expect = ends.iter().find(|e| **e >= split).map(|e| e - split);
                assert_eq!(
                    framing.rest_of_message(b),
                    expect,
                    "v5 {v5}, split at {split}"
                );
            }
        }
    }

    #[test]
    fn refusals_are_frames_on_the_clients_stream_and_version() {
        let cql = Cql::new();
        let mut state = CqlState {
            version: Some(3),
            stream: 42,
            ..CqlState::default()
        };
        let bytes = cql
            .refusal(&state, &SessionError::NoClientIdentity)
            .unwrap();
        assert_eq!(&bytes[..5], &[0x83, 0, 0, 42, 0]);
        let body = i32::from_be_bytes([bytes[9], bytes[10], bytes[11], bytes[12]]);
        assert_eq!(body, crate::codec::error_code::BAD_CREDENTIALS);
        // A version the proxy does not speak is answered in its highest.
        let version = SessionError::from(CqlError::UnsupportedVersion { version: 5, max: 4 });
        assert_eq!(cql.refusal(&state, &version).unwrap()[0], 0x84);
        // After the v5 switch, the refusal is a segment.
        state.version = Some(5);
        state.client.switch_to_segments();
        let segmented = cql.refusal(&state, &SessionError::ShuttingDown).unwrap();
        let mut buf = BytesMut::from(&segmented[..]);
        let seg = segment::SegmentDecoder.decode(&mut buf).unwrap().unwrap();
        assert!(seg.self_contained && buf.is_empty());
        assert_eq!(seg.payload[0], 0x85);
    }
}
