//! The database-to-client half of [`Flow`]: each frame is matched with the entry at the front of the
//! queue (or recognised as a push / pub/sub message, which owes nothing), in arrival order.

use bytes::{Bytes, BytesMut};

use super::{Entry, Flow, Internal, Mode, Track};
use crate::codec::{Reply, ReplyKind, RespViolation, Scan};
use crate::relay::pubsub::SubKind;

impl Flow {
    /// Process what the database sent, while the client's buffer has room. Frames the client is owed
    /// as they are stream through; the few the proxy must understand are buffered whole first.
    ///
    /// # Errors
    /// The database's bytes are not RESP or break a limit.
    pub(crate) fn upstream_input(&mut self, buf: &mut BytesMut) -> Result<(), RespViolation> {
        while !buf.is_empty() && self.accepts_replies() {
            if self.mode == Mode::Between {
                self.mode = self.mode_for(buf[0]);
            }
            match self.replies.scan(buf)? {
                Scan::Partial(n) => {
                    self.take(buf, n)?;
                    return Ok(());
                }
                Scan::Complete(n) => {
                    self.take(buf, n)?;
                    self.frame_done();
                }
            }
        }
        Ok(())
    }

    /// How to handle a frame that starts with `first`.
    fn mode_for(&self, first: u8) -> Mode {
        if first == b'>'
            || (first == b'*' && self.resp2_pubsub_possible())
            || self.cluster_inspects(first)
        {
            return Mode::Inspect;
        }
        match self.queue.front() {
            Some(Entry::Reply(Track::None)) => Mode::Stream,
            _ => Mode::Inspect,
        }
    }

    /// In RESP2, an array may be a pub/sub frame once subscriptions exist or one is being confirmed.
    fn resp2_pubsub_possible(&self) -> bool {
        self.proto == 2
            && (self.subs.any() || matches!(self.queue.front(), Some(Entry::Pubsub { .. })))
    }

    fn take(&mut self, buf: &mut BytesMut, n: usize) -> Result<(), RespViolation> {
        let bytes = buf.split_to(n);
        match self.mode {
            Mode::Stream => self.to_client.extend_from_slice(&bytes),
            _ => {
                self.inspect.extend_from_slice(&bytes);
                if self.inspect.len() > self.limits.max_inspected_len {
                    return Err(RespViolation::ReplyTooLong {
                        max: self.limits.max_inspected_len,
                    });
                }
            }
        }
        Ok(())
    }

    fn frame_done(&mut self) {
        match std::mem::replace(&mut self.mode, Mode::Between) {
            Mode::Stream => {
                self.queue.pop_front();
                self.drain_locals();
            }
            _ => {
                let frame = self.inspect.split().freeze();
                self.inspected(frame);
            }
        }
    }

    fn inspected(&mut self, frame: Bytes) {
        let first = frame.first().copied().unwrap_or_default();
        let pubsub_frame = first == b'>' || (first == b'*' && self.resp2_pubsub_possible());
        let resp3 = first == b'>'
            || self.proto == 3
            || matches!(
                self.queue.front(),
                Some(Entry::Reply(Track::Hello { proto: 3 }))
                    | Some(Entry::Reply(Track::Auth { proto: Some(3), .. }))
            );
        let kind = Reply::decode(frame.clone(), resp3);
        if pubsub_frame {
            match &kind {
                ReplyKind::Pubsub { kind: name, count } => {
                    self.pubsub(&frame, name, *count);
                    return;
                }
                ReplyKind::OtherPush => {
                    self.to_client.extend_from_slice(&frame);
                    return;
                }
                _ => {}
            }
        }
        if let Some(frame) = self.for_cluster(frame, &kind, false) {
            self.reply(&frame, &kind);
        }
    }

    /// A pub/sub frame: a confirmation the front entry waits for counts toward it; messages and
    /// unasked-for confirmations owe nothing.
    fn pubsub(&mut self, frame: &Bytes, name: &str, count: Option<i64>) {
        self.to_client.extend_from_slice(frame);
        let Some(kind) = SubKind::of(name.as_bytes()) else {
            return;
        };
        if let Some(count) = count {
            self.subs.confirmed(kind, count);
        }
        let left_of_family = self.subs.of(kind.family);
        if let Some(Entry::Pubsub {
            kind: expected,
            left,
        }) = self.queue.front_mut()
            && *expected == kind
        {
            let done = match left {
                Some(n) => {
                    *n = n.saturating_sub(1);
                    *n == 0
                }
                None => left_of_family == 0,
            };
            if done {
                self.queue.pop_front();
                self.drain_locals();
            }
        }
    }

    /// A reply: for the entry at the front of the queue.
    pub(super) fn reply(&mut self, frame: &Bytes, kind: &ReplyKind) {
        let is_error = matches!(kind, ReplyKind::Error { .. });
        match self.queue.pop_front() {
            None => {
                tracing::debug!("the database sent a reply nobody asked for; passed on");
                self.to_client.extend_from_slice(frame);
            }
            Some(Entry::Reply(track)) => {
                self.learn(track, is_error);
                self.to_client.extend_from_slice(frame);
            }
            Some(Entry::Pubsub { .. }) => self.to_client.extend_from_slice(frame),
            Some(Entry::Swallow(why)) => self.swallowed(why, kind),
            Some(Entry::Replace(bytes)) => self.to_client.extend_from_slice(&bytes),
            Some(Entry::Local(bytes)) => {
                // Locals never wait at the front; should one, it goes first.
                self.to_client.extend_from_slice(&bytes);
                self.to_client.extend_from_slice(frame);
            }
        }
        self.drain_locals();
    }

    fn learn(&mut self, track: Track, is_error: bool) {
        match track {
            Track::None | Track::Topology(_) => {}
            Track::Multi { was_in_tx } => {
                if is_error && !was_in_tx {
                    self.in_tx = false;
                }
            }
            Track::Hello { proto } if !is_error => self.proto = proto,
            Track::Auth { user, proto } if !is_error => {
                self.user = user;
                if let Some(proto) = proto {
                    self.proto = proto;
                }
            }
            Track::Reset if !is_error => {
                self.proto = 2;
                (self.in_tx, self.poisoned) = (false, false);
                self.subs.clear();
            }
            Track::Hello { .. } | Track::Auth { .. } | Track::Reset => {}
        }
    }

    fn swallowed(&mut self, why: Internal, kind: &ReplyKind) {
        let outcome = match kind {
            ReplyKind::Error { code, message } => Err(format!("{code} {message}")),
            _ => Ok(()),
        };
        match why {
            Internal::ReAuth => self.reauth_outcome = Some(outcome),
            Internal::AfterReset => {
                if let Err(error) = outcome {
                    tracing::warn!(%error, "the database refused the login after RESET");
                }
            }
            Internal::Asking => {
                if let Err(error) = outcome {
                    tracing::warn!(%error, "the database refused ASKING after a re-AUTH");
                }
            }
        }
    }
}
