//! The relay's logic, without I/O: client bytes become forwarded commands (or the proxy's own answers),
//! database bytes become replies in the order the client asked for them. See the crate docs for the
//! rules; the driver in `relay.rs` only moves bytes and awaits logins.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use iamwire_core::{Denied, UpstreamLogin};
use iamwire_proxy::SessionError;

use super::pubsub::{SubKind, Subscriptions};
use crate::cluster::rewrite::Topology;
use crate::codec::{
    Command, CommandDecoder, FrameScanner, Limits, Profile, ReplyKind, RespViolation,
    encode_command, error_line,
};
use crate::error::{RedisError, error_reply};
use crate::proxy::{AuthForm, AuthRequest, hello_auth, login_command, parse_auth, parse_hello};

/// How many bytes may wait for a slow peer in each direction before the proxy stops reading the other.
pub(crate) const HIGH_WATER: usize = 256 * 1024;

/// What a reply the database owes is for, in the order the commands were sent.
#[derive(Debug)]
enum Entry {
    /// One reply for the client; learn what it says.
    Reply(Track),
    /// (Un)subscribe confirmations: one per argument, or (`left: None`, unsubscribe from all) until
    /// none of the family is left.
    Pubsub { kind: SubKind, left: Option<usize> },
    /// The reply to the proxy's own command: not for the client.
    Swallow(Internal),
    /// The reply is not for the client: it gets these bytes instead.
    Replace(Bytes),
    /// The proxy's own answer to a command it did not forward, sent when its turn comes.
    Local(Bytes),
}

/// What a reply can change about the connection.
#[derive(Debug)]
enum Track {
    None,
    /// `MULTI`: an error leaves the transaction state as it was.
    Multi {
        was_in_tx: bool,
    },
    /// `HELLO <proto>` without `AUTH`.
    Hello {
        proto: u8,
    },
    /// The proxy's login for a client `AUTH` / `HELLO AUTH`.
    Auth {
        user: String,
        proto: Option<u8>,
    },
    /// `RESET`: back to RESP2, no transaction, no subscriptions.
    Reset,
    /// A cluster topology query (cluster mode): its reply names nodes, rewritten.
    Topology(Topology),
}

/// The proxy's own commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Internal {
    /// The periodic re-authentication.
    ReAuth,
    /// The login after a client's `RESET` (which logs the connection out).
    AfterReset,
    /// `ASKING` again after a re-AUTH that came between the client's `ASKING` and its next command.
    Asking,
}

/// How the frame in progress from the database is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Between,
    /// Passed on as it arrives.
    Stream,
    /// Buffered whole, then looked into.
    Inspect,
}

/// A login the driver must fetch before more commands are read.
#[derive(Debug)]
pub(crate) struct Need {
    /// The database user to log in as (already authorized).
    pub(crate) user: String,
    /// What the login is for.
    pub(crate) then: Then,
}

/// What a fetched login is for.
#[derive(Debug)]
pub(crate) enum Then {
    /// A client's `AUTH` or `HELLO AUTH`, sent in the client's form.
    Client(AuthForm),
    /// Logging in again after `RESET`.
    AfterReset,
}

/// The relay's state.
pub(crate) struct Flow {
    limits: Limits,
    commands: CommandDecoder,
    replies: FrameScanner,
    mode: Mode,
    inspect: BytesMut,
    queue: VecDeque<Entry>,
    /// Bytes for the database.
    pub(crate) to_upstream: BytesMut,
    /// Bytes for the client.
    pub(crate) to_client: BytesMut,
    proto: u8,
    in_tx: bool,
    poisoned: bool,
    /// The last command forwarded was `ASKING`: the database serves the next one for a slot it is
    /// importing. Any command uses the flag up, the proxy's `AUTH` too.
    asking: bool,
    subs: Subscriptions,
    user: String,
    need: Option<Need>,
    waiting: bool,
    reauth_ready: bool,
    reauth_outcome: Option<Result<(), String>>,
    quit: bool,
    violation: Option<RespViolation>,
    cluster: Option<ClusterView>,
    held: Option<(Bytes, ReplyKind)>,
    refresh: Option<u64>,
}

impl Flow {
    /// A session logged in as `user` speaking RESP`proto`.
    pub(crate) fn new(limits: Limits, proto: u8, user: String) -> Self {
        Self {
            limits,
            commands: CommandDecoder::new(limits),
            replies: FrameScanner::new(Profile::Reply, limits),
            mode: Mode::Between,
            inspect: BytesMut::new(),
            queue: VecDeque::new(),
            to_upstream: BytesMut::new(),
            to_client: BytesMut::new(),
            proto: if proto == 3 { 3 } else { 2 },
            in_tx: false,
            poisoned: false,
            asking: false,
            subs: Subscriptions::default(),
            user,
            need: None,
            waiting: false,
            reauth_ready: false,
            reauth_outcome: None,
            quit: false,
            violation: None,
            cluster: None,
            held: None,
            refresh: None,
        }
    }

    /// The database user the connection is logged in as.
    pub(crate) fn user(&self) -> &str {
        &self.user
    }

    /// The protocol version in force.
    pub(crate) fn proto(&self) -> u8 {
        self.proto
    }

    /// Whether a reply is owed to the client.
    pub(crate) fn awaiting_reply(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Whether part of a frame has gone to the client (nothing may be added until it ends).
    pub(crate) fn mid_reply(&self) -> bool {
        self.mode == Mode::Stream
    }

    /// Whether the client sent `QUIT` or broke the protocol: no more commands will be read.
    pub(crate) fn is_done_reading(&self) -> bool {
        self.quit || self.violation.is_some()
    }

    /// The client's protocol violation, if it made one.
    pub(crate) fn violation(&self) -> Option<RespViolation> {
        self.violation
    }

    /// Whether commands may be read now (a login is not awaited, the queue and buffers have room, and
    /// no re-AUTH is waiting for this point).
    pub(crate) fn accepts_commands(&self) -> bool {
        !(self.waiting
            || self.is_done_reading()
            || self.queue.len() >= self.limits.max_pending
            || self.to_upstream.len() >= HIGH_WATER
            || (self.reauth_ready && self.reauth_may_hold()))
    }

    /// Whether replies may be read now.
    pub(crate) fn accepts_replies(&self) -> bool {
        self.to_client.len() < HIGH_WATER && !self.holding()
    }

    /// Process the complete commands at the front of `buf`, while commands may be read. `authorize`
    /// decides whether the session's identity may log in as a database user.
    pub(crate) fn client_input(
        &mut self,
        buf: &mut BytesMut,
        authorize: &dyn Fn(&str) -> Result<(), Denied>,
    ) {
        while self.accepts_commands() {
            match self.commands.decode(buf) {
                Ok(Some(command)) => self.command(&command, authorize),
                Ok(None) => return,
                Err(violation) => {
                    self.violation = Some(violation);
                    let error = SessionError::from(RedisError::ClientProtocol { violation });
                    self.local(error_reply(&error).unwrap_or_default().into());
                    return;
                }
            }
        }
    }

    fn command(&mut self, cmd: &Command, authorize: &dyn Fn(&str) -> Result<(), Denied>) {
        let name = cmd.name();
        let sub = SubKind::of(&name);
        if self.in_tx && (cmd.is("AUTH") || cmd.is("HELLO") || sub.is_some()) {
            // Queued, AWS would refuse it at EXEC; refuse it now and abort the transaction, as Redis
            // does for a command it cannot queue.
            self.poisoned = true;
            let shown = String::from_utf8_lossy(&name).into_owned();
            let text = format!("'{shown}' inside MULTI is not supported through this proxy");
            self.local(error_line("ERR", &text).into());
            return;
        }
        match &name[..] {
            b"AUTH" => match parse_auth(cmd) {
                Ok(request) => self.client_auth(request, authorize),
                Err(line) => self.local(line.into()),
            },
            b"HELLO" => match parse_hello(cmd) {
                Err(line) => self.local(line.into()),
                Ok(args) => {
                    let track = args
                        .proto
                        .map_or(Track::None, |proto| Track::Hello { proto });
                    match hello_auth(args) {
                        Ok(Some(request)) => self.client_auth(request, authorize),
                        Ok(None) => self.forward(cmd, Entry::Reply(track)),
                        Err(line) => self.local(line.into()),
                    }
                }
            },
            b"MULTI" => {
                let was_in_tx = std::mem::replace(&mut self.in_tx, true);
                self.forward(cmd, Entry::Reply(Track::Multi { was_in_tx }));
            }
            b"EXEC" if self.poisoned => {
                encode_command(&[b"DISCARD"], &mut self.to_upstream);
                let line = error_line(
                    "EXECABORT",
                    "Transaction discarded because of previous errors.",
                );
                self.queue.push_back(Entry::Replace(line.into()));
                (self.in_tx, self.poisoned, self.asking) = (false, false, false);
            }
            b"EXEC" | b"DISCARD" => {
                (self.in_tx, self.poisoned) = (false, false);
                self.forward(cmd, Entry::Reply(Track::None));
            }
            b"RESET" => {
                (self.in_tx, self.poisoned) = (false, false);
                self.forward(cmd, Entry::Reply(Track::Reset));
                // RESET logs the connection out: log in again before anything else is sent.
                self.need = Some(Need {
                    user: self.user.clone(),
                    then: Then::AfterReset,
                });
                self.waiting = true;
            }
            b"QUIT" => {
                self.quit = true;
                self.forward(cmd, Entry::Reply(Track::None));
            }
            b"MONITOR" | b"SYNC" | b"PSYNC" | b"REPLCONF" => {
                let shown = String::from_utf8_lossy(&name).into_owned();
                let text = format!(
                    "'{shown}' is not supported through this proxy: it turns the connection into a \
                     stream that is not replies; connect to the database directly"
                );
                self.local(error_line("ERR", &text).into());
            }
            b"CLUSTER" if self.cluster.is_some() => {
                let track = cluster::topology_of(cmd).map_or(Track::None, Track::Topology);
                self.forward(cmd, Entry::Reply(track));
            }
            b"CLIENT" if is_reply_off(cmd) => self.local(
                error_line(
                    "ERR",
                    "CLIENT REPLY OFF|SKIP is not supported through this proxy",
                )
                .into(),
            ),
            _ => match sub {
                Some(kind) if cmd.args().len() > 1 || !kind.subscribe => {
                    let n = cmd.args().len() - 1;
                    let left = (n > 0).then_some(n);
                    self.forward(cmd, Entry::Pubsub { kind, left });
                }
                _ => self.forward(cmd, Entry::Reply(Track::None)),
            },
        }
    }

    /// A client `AUTH` / `HELLO AUTH`: authorized for the session's identity, then logged in with
    /// fresh credentials. The client's password is dropped here: it never reaches the database.
    fn client_auth(
        &mut self,
        request: AuthRequest,
        authorize: &dyn Fn(&str) -> Result<(), Denied>,
    ) {
        if let Err(reason) = authorize(&request.user) {
            let error = SessionError::<RedisError>::Denied { reason };
            self.local(error_reply(&error).unwrap_or_default().into());
            return;
        }
        self.need = Some(Need {
            user: request.user,
            then: Then::Client(request.form),
        });
        self.waiting = true;
    }

    /// The login the driver must fetch before more commands are read, if one is needed.
    pub(crate) fn take_need(&mut self) -> Option<Need> {
        self.need.take()
    }

    /// The login asked for by [`take_need`](Self::take_need) is here (or failed).
    pub(crate) fn login_done(
        &mut self,
        need: Need,
        login: Result<UpstreamLogin, SessionError<RedisError>>,
    ) {
        self.waiting = false;
        match (need.then, login) {
            (Then::Client(form), Ok(login)) => {
                login_command(&form, &login, &mut self.to_upstream);
                self.asking = false;
                let proto = match form {
                    AuthForm::Hello { proto, .. } => Some(proto),
                    _ => None,
                };
                let track = Track::Auth {
                    user: need.user,
                    proto,
                };
                self.queue.push_back(Entry::Reply(track));
            }
            (Then::Client(_), Err(error)) => {
                self.local(error_reply(&error).unwrap_or_default().into());
            }
            (Then::AfterReset, Ok(login)) => {
                login_command(&AuthForm::Auth, &login, &mut self.to_upstream);
                self.asking = false;
                self.queue.push_back(Entry::Swallow(Internal::AfterReset));
            }
            (Then::AfterReset, Err(error)) => {
                tracing::warn!(error = %error, "could not log in again after RESET");
            }
        }
    }

    fn forward(&mut self, cmd: &Command, entry: Entry) {
        self.asking = cmd.is("ASKING");
        self.to_upstream.extend_from_slice(cmd.raw());
        self.queue.push_back(entry);
    }

    /// An answer of the proxy's own: now if nothing is owed before it, else when its turn comes.
    fn local(&mut self, bytes: Bytes) {
        if self.queue.is_empty() {
            self.to_client.extend_from_slice(&bytes);
        } else {
            self.queue.push_back(Entry::Local(bytes));
        }
    }

    fn drain_locals(&mut self) {
        while let Some(Entry::Local(_)) = self.queue.front() {
            if let Some(Entry::Local(bytes)) = self.queue.pop_front() {
                self.to_client.extend_from_slice(&bytes);
            }
        }
    }
}

fn is_reply_off(cmd: &Command) -> bool {
    cmd.arg(1).is_some_and(|a| a.eq_ignore_ascii_case(b"REPLY"))
        && cmd.arg(2).is_some_and(|a| !a.eq_ignore_ascii_case(b"ON"))
}

mod cluster;
mod reauth;
mod replies;

pub(crate) use cluster::ClusterView;

#[cfg(test)]
mod tests;
