//! The relay: packets pass on as they arrive, straight from each side's read buffer (long packets
//! stream through, never buffered whole), with the database's stream followed packet by packet so
//! the proxy only ever speaks between packets. Client commands are looked at by their first bytes;
//! the few the proxy guards go through [`guard`](super::guard).

use std::future::poll_fn;
use std::io;
use std::sync::atomic::Ordering;
use std::task::Poll;

use bytes::{Buf, BytesMut};
use iamwire_proxy::{ClientConn, Cx, RelayEnd, SessionError, StopSignal, UpstreamConn};

use super::guard::{self, Current, Decision, Outcome};
use super::{KillTarget, MySql, MyState};
use crate::auth::FAST_AUTH_SUCCESS;
use crate::codec::{
    COM_CHANGE_USER, COM_INIT_DB, Capabilities, CommandSplitter, HEADER_LEN, MAX_PAYLOAD,
    ResponseScanner, Split, put_packet,
};
use crate::error::MyError;

/// Both directions' followers and the session's current user and database.
struct Relay<'a, 'c> {
    my: &'a MySql,
    cx: &'a Cx<'c, KillTarget>,
    splitter: CommandSplitter,
    scanner: ResponseScanner,
    current: Current,
}

enum Flow {
    Go,
    End(RelayEnd),
}

pub(super) async fn relay(
    my: &MySql,
    cx: &Cx<'_, KillTarget>,
    mut client: ClientConn,
    state: &mut MyState,
    mut upstream: UpstreamConn,
    mut stop: StopSignal<'_>,
) -> RelayEnd {
    let who = cx.session.who();
    let mut relay = Relay {
        my,
        cx,
        splitter: CommandSplitter::new(my.limits.statement_window),
        scanner: ResponseScanner::default(),
        current: Current {
            db_user: who.map(|w| w.db_user.clone()).unwrap_or_default(),
            db_name: who.and_then(|w| w.db_name.clone()),
        },
    };
    let grace = stop.grace();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        if !upstream.buf.is_empty() {
            let limit = deadline.map(|_| relay.scanner.packet_end(&upstream.buf));
            if let Flow::End(end) = relay
                .down(&mut client, &mut upstream, limit.flatten())
                .await
            {
                return end;
            }
            if deadline.is_some() && relay.scanner.between_packets() {
                return stopped(client, state, &relay.scanner);
            }
        }
        if deadline.is_none() {
            match relay.up(&mut client, &mut upstream, state).await {
                Flow::Go => {}
                Flow::End(end) => return end,
            }
        }
        let stopping = deadline.is_some();
        let fired = poll_fn(|c| {
            if !stopping && stop.poll_fired(c) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        let at = deadline.unwrap_or_else(tokio::time::Instant::now);
        tokio::select! {
            biased;
            () = fired => {
                // Nothing more from the client; the database finishes its packet in progress.
                deadline = Some(tokio::time::Instant::now() + grace);
                if relay.scanner.between_packets() {
                    return stopped(client, state, &relay.scanner);
                }
            }
            () = tokio::time::sleep_until(at), if stopping => {
                return stopped(client, state, &relay.scanner);
            }
            read = upstream.fill() => match read {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    client.shutdown().await;
                    return RelayEnd::Closed;
                }
                Err(e) => return RelayEnd::UpstreamError(e),
            },
            read = client.fill(), if !stopping => match read {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return RelayEnd::Closed,
                Err(e) => return RelayEnd::ClientError(e),
            },
        }
    }
}

/// The relay was stopped between packets: the goodbye ERR gets the sequence id the client expects.
fn stopped(client: ClientConn, state: &mut MyState, scanner: &ResponseScanner) -> RelayEnd {
    state.client_seq = if scanner.at_rest() {
        // Idle: the ERR answers the client's next command.
        1
    } else {
        scanner.last_seq().wrapping_add(1)
    };
    RelayEnd::Stopped(client.into_parts().0)
}

impl Relay<'_, '_> {
    /// Pass what the database sent on to the client (up to `limit` bytes if given).
    async fn down(
        &mut self,
        client: &mut ClientConn,
        upstream: &mut UpstreamConn,
        limit: Option<usize>,
    ) -> Flow {
        let n = limit.unwrap_or(upstream.buf.len()).min(upstream.buf.len());
        let seen = self.scanner.advance(&upstream.buf[..n]);
        if seen.local_infile {
            self.splitter.local_infile();
        }
        if let Err(e) = client.send(&upstream.buf[..n]).await {
            return Flow::End(RelayEnd::ClientError(e));
        }
        self.cx
            .session
            .bytes_down
            .fetch_add(n as u64, Ordering::Relaxed);
        upstream.buf.advance(n);
        Flow::Go
    }

    /// Work through the client's buffered bytes: pass commands on, handle the guarded ones.
    async fn up(
        &mut self,
        client: &mut ClientConn,
        upstream: &mut UpstreamConn,
        state: &mut MyState,
    ) -> Flow {
        let mut forward = 0usize;
        loop {
            match self.splitter.next(&client.buf[forward..]) {
                Split::NeedMore => break,
                Split::Forward(n) => forward += n,
                Split::Discard(n) => {
                    if let Flow::End(end) = self.pass(client, upstream, &mut forward).await {
                        return Flow::End(end);
                    }
                    client.buf.advance(n);
                }
                Split::Command { cmd, len } => {
                    let start = forward + HEADER_LEN;
                    let avail = client.buf.len() - start;
                    let head = &client.buf[start..start + len.min(avail)];
                    let decision = guard::decide(self.cx, &self.current, cmd, head);
                    match decision {
                        Decision::Pass => self.splitter.pass(len),
                        Decision::Refuse(refusal) => {
                            self.splitter.discard(len);
                            if let Flow::End(end) = self.pass(client, upstream, &mut forward).await
                            {
                                return Flow::End(end);
                            }
                            if let Flow::End(end) = self.refuse(client, state, &refusal).await {
                                return Flow::End(end);
                            }
                        }
                        Decision::Whole
                            if len >= MAX_PAYLOAD || len > self.my.limits.whole_command =>
                        {
                            self.splitter.discard(len);
                            let cause = crate::codec::CodecError::TooLarge {
                                message: command_name(cmd),
                                len,
                                max: self.my.limits.whole_command,
                            };
                            let refusal = MyError::ClientProtocol { cause }.into();
                            if let Flow::End(end) = self.pass(client, upstream, &mut forward).await
                            {
                                return Flow::End(end);
                            }
                            if let Flow::End(end) = self.refuse(client, state, &refusal).await {
                                return Flow::End(end);
                            }
                        }
                        Decision::Whole if avail < len => break,
                        Decision::Whole => {
                            if let Flow::End(end) = self.pass(client, upstream, &mut forward).await
                            {
                                return Flow::End(end);
                            }
                            let mut packet = client.buf.split_to(HEADER_LEN + len);
                            packet.advance(HEADER_LEN);
                            self.splitter.taken();
                            if let Flow::End(end) =
                                self.handle(client, upstream, state, packet).await
                            {
                                return Flow::End(end);
                            }
                        }
                    }
                }
            }
        }
        self.pass(client, upstream, &mut forward).await
    }

    /// Send the first `*forward` buffered client bytes to the database.
    async fn pass(
        &mut self,
        client: &mut ClientConn,
        upstream: &mut UpstreamConn,
        forward: &mut usize,
    ) -> Flow {
        if *forward == 0 {
            return Flow::Go;
        }
        let n = std::mem::take(forward);
        if let Err(e) = upstream.send(&client.buf[..n]).await {
            return Flow::End(RelayEnd::UpstreamError(e));
        }
        self.cx
            .session
            .bytes_up
            .fetch_add(n as u64, Ordering::Relaxed);
        client.buf.advance(n);
        Flow::Go
    }

    async fn handle(
        &mut self,
        client: &mut ClientConn,
        upstream: &mut UpstreamConn,
        state: &mut MyState,
        payload: BytesMut,
    ) -> Flow {
        let outcome = guard::handle(
            self.my,
            self.cx,
            state,
            upstream,
            &mut self.current,
            payload,
        )
        .await;
        match outcome {
            Outcome::Forward(command) => {
                let mut out = BytesMut::new();
                put_packet(&mut out, 0, &command);
                if let Err(e) = upstream.send(&out).await {
                    return Flow::End(RelayEnd::UpstreamError(e));
                }
                self.cx
                    .session
                    .bytes_up
                    .fetch_add(out.len() as u64, Ordering::Relaxed);
                Flow::Go
            }
            Outcome::LoggedIn { ok, fast_auth } => {
                let mut payloads = Vec::with_capacity(2);
                if fast_auth {
                    payloads.push(vec![1, FAST_AUTH_SUCCESS]);
                }
                payloads.push(ok);
                self.answer(client, &payloads).await
            }
            Outcome::Refuse(refusal) => self.refuse(client, state, &refusal).await,
            Outcome::End(refusal) => {
                let _ = self.refuse(client, state, &refusal).await;
                Flow::End(RelayEnd::UpstreamError(io::Error::other(
                    refusal.to_string(),
                )))
            }
        }
    }

    /// Answer the client's command with `payloads` (sequence ids from 1).
    async fn answer<P: AsRef<[u8]>>(&mut self, client: &mut ClientConn, payloads: &[P]) -> Flow {
        let mut out = BytesMut::new();
        let mut seq = 1;
        for payload in payloads {
            seq = put_packet(&mut out, seq, payload.as_ref());
        }
        self.scanner.advance(&out);
        match client.send(&out).await {
            Ok(()) => {
                self.cx
                    .session
                    .bytes_down
                    .fetch_add(out.len() as u64, Ordering::Relaxed);
                Flow::Go
            }
            Err(e) => Flow::End(RelayEnd::ClientError(e)),
        }
    }

    async fn refuse(
        &mut self,
        client: &mut ClientConn,
        state: &MyState,
        refusal: &SessionError<MyError>,
    ) -> Flow {
        let caps = state.client_caps | Capabilities::PROTOCOL_41;
        match guard::refusal_payload(refusal, caps) {
            Some(payload) => self.answer(client, &[payload]).await,
            None => Flow::Go,
        }
    }
}

fn command_name(cmd: u8) -> &'static str {
    match cmd {
        COM_CHANGE_USER => "COM_CHANGE_USER",
        COM_INIT_DB => "COM_INIT_DB",
        _ => "KILL statement",
    }
}
