//! The message-aware relay: client bytes go through the [`Guard`] (a header and a command name per
//! message; everything else streams), database bytes straight to the client with their message
//! boundaries tracked, so that the guard's refusals — and the drain's goodbye — reach the client
//! between the database's messages, never inside one. Both directions run at once: neither waits on
//! the other.

use std::io;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use bytes::BytesMut;
use iamwire_proxy::relay::Framing;
use iamwire_proxy::{ClientConn, Cx, RelayEnd, SessionError, StopSignal, UpstreamConn};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::io::{Pending, answer};
use super::{MAX_MESSAGE_LEN, MongoState, message_framing};
use crate::codec::{HEADER_LEN, Header};
use crate::error::{MongoError, error_reply};
use crate::guard::{Forwarded, Guard};

const BUF_SIZE: usize = 16 * 1024;
/// Refusals waiting for a message boundary toward the client.
const MAX_QUEUED_REFUSALS: usize = 8;

/// The client's last request passed on, and whether the database has answered it: what a goodbye
/// answers.
#[derive(Debug, Default)]
struct InFlight {
    last: Option<Forwarded>,
    answered: bool,
}

pub(super) async fn relay(
    cx: &Cx<'_, ()>,
    client: ClientConn,
    state: &mut MongoState,
    upstream: UpstreamConn,
    mut stop: StopSignal<'_>,
) -> RelayEnd {
    let (client, client_early) = client.into_parts();
    let (upstream, upstream_early) = upstream.into_parts();
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut up_read, mut up_write) = tokio::io::split(upstream);
    let in_flight = Mutex::new(InFlight::default());
    let mut framing = DownFraming::default();
    let (refusals, mut queued) = mpsc::channel(MAX_QUEUED_REFUSALS);
    let grace = stop.grace();
    let ended = {
        let up = client_to_upstream(
            cx,
            &mut client_read,
            &mut up_write,
            client_early,
            &in_flight,
            &refusals,
        );
        let down = upstream_to_client(
            cx,
            &mut up_read,
            &mut client_write,
            upstream_early,
            &mut framing,
            &mut queued,
            &in_flight,
        );
        tokio::pin!(up, down);
        let mut client_done = false;
        loop {
            tokio::select! {
                end = &mut up, if !client_done => match end {
                    Ok(()) => client_done = true,
                    Err(end) => break Some(end),
                },
                end = &mut down => break Some(end),
                () = std::future::poll_fn(|task| {
                    if stop.poll_fired(task) {
                        std::task::Poll::Ready(())
                    } else {
                        std::task::Poll::Pending
                    }
                }) => break None,
            }
        }
    };
    if let Some(end) = ended {
        return end;
    }
    // Stopped: let the database finish the message in progress (within the grace), then hand the
    // client back for the goodbye, answering its request in flight if it has one.
    let finish = async {
        let mut buf = vec![0u8; BUF_SIZE];
        while !framing.at_boundary() {
            let Ok(n) = up_read.read(&mut buf).await else {
                return;
            };
            if n == 0 {
                return;
            }
            let cut = framing.0.rest_of_message(&buf[..n]).unwrap_or(n);
            framing.advance(&buf[..cut], &in_flight);
            cx.session
                .bytes_down
                .fetch_add(cut as u64, Ordering::Relaxed);
            if client_write.write_all(&buf[..cut]).await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(grace, finish).await;
    let _ = client_write.flush().await;
    if let Ok(in_flight) = in_flight.lock()
        && let Some(last) = in_flight.last
        && !in_flight.answered
    {
        state.pending = Some(Pending {
            request_id: last.request_id,
            legacy: last.legacy,
        });
    }
    RelayEnd::Stopped(client_read.unsplit(client_write))
}

/// Client to database, through the guard. `Ok` when the client has closed (the close passed on).
async fn client_to_upstream<R, W>(
    cx: &Cx<'_, ()>,
    client: &mut R,
    upstream: &mut W,
    early: BytesMut,
    in_flight: &Mutex<InFlight>,
    refusals: &mpsc::Sender<Vec<u8>>,
) -> Result<(), RelayEnd>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut guard = Guard::new(MAX_MESSAGE_LEN);
    let mut buf = vec![0u8; BUF_SIZE];
    let mut forward = BytesMut::with_capacity(BUF_SIZE);
    let mut refused = Vec::new();
    let mut requests = Vec::new();
    let mut chunk = early.to_vec();
    let mut request_id = 0i32;
    loop {
        if chunk.is_empty() {
            let n = match client.read(&mut buf).await {
                Ok(0) => {
                    let _ = upstream.shutdown().await;
                    return Ok(());
                }
                Ok(n) => n,
                Err(e) => return Err(RelayEnd::ClientError(e)),
            };
            chunk.clear();
            chunk.extend_from_slice(&buf[..n]);
        }
        let fed = guard.feed(&chunk, &mut forward, &mut refused, &mut requests);
        chunk.clear();
        if let Some(last) = requests.drain(..).next_back()
            && let Ok(mut in_flight) = in_flight.lock()
        {
            in_flight.last = Some(last);
            in_flight.answered = false;
        }
        if !forward.is_empty() {
            cx.session
                .bytes_up
                .fetch_add(forward.len() as u64, Ordering::Relaxed);
            if let Err(e) = write_flush(upstream, &forward).await {
                return Err(RelayEnd::UpstreamError(e));
            }
            forward.clear();
        }
        for refusal in refused.drain(..) {
            tracing::info!(command = %refusal.command, "refused a client command that would change the session's login");
            if refusal.more_to_come {
                // Nobody waits for an answer, and the client's next messages may depend on this one.
                return Err(RelayEnd::ClientError(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "refused {} sent without waiting for an answer",
                        refusal.command
                    ),
                )));
            }
            request_id = request_id.wrapping_add(1);
            let error = SessionError::from(MongoError::CommandRefused {
                command: refusal.command.clone(),
            });
            let reply = error_reply(&error).unwrap_or_default();
            let to = Pending {
                request_id: refusal.request_id,
                legacy: refusal.legacy,
            };
            let bytes = answer(to, request_id.max(1), reply).to_vec();
            if refusals.send(bytes).await.is_err() {
                return Err(RelayEnd::Closed);
            }
        }
        if let Err(cause) = fed {
            return Err(RelayEnd::ClientError(io::Error::new(
                io::ErrorKind::InvalidData,
                cause.to_string(),
            )));
        }
    }
}

/// Database to client, with refusals put in between the database's messages. Ends when the
/// database closes (or either side fails).
async fn upstream_to_client<R, W>(
    cx: &Cx<'_, ()>,
    upstream: &mut R,
    client: &mut W,
    early: BytesMut,
    framing: &mut DownFraming,
    queued: &mut mpsc::Receiver<Vec<u8>>,
    in_flight: &Mutex<InFlight>,
) -> RelayEnd
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if !early.is_empty() {
        framing.advance(&early, in_flight);
        cx.session
            .bytes_down
            .fetch_add(early.len() as u64, Ordering::Relaxed);
        if let Err(e) = write_flush(client, &early).await {
            return RelayEnd::ClientError(e);
        }
    }
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let between = framing.at_boundary();
        tokio::select! {
            biased;
            Some(reply) = queued.recv(), if between => {
                if let Err(e) = write_flush(client, &reply).await {
                    return RelayEnd::ClientError(e);
                }
            }
            read = upstream.read(&mut buf) => {
                let n = match read {
                    Ok(0) => {
                        let _ = client.shutdown().await;
                        return RelayEnd::Closed;
                    }
                    Ok(n) => n,
                    Err(e) => return RelayEnd::UpstreamError(e),
                };
                framing.advance(&buf[..n], in_flight);
                cx.session.bytes_down.fetch_add(n as u64, Ordering::Relaxed);
                if let Err(e) = write_flush(client, &buf[..n]).await {
                    return RelayEnd::ClientError(e);
                }
            }
        }
    }
}

async fn write_flush<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}

/// The database's message boundaries, and the `responseTo` of each message, to know whether the
/// client's last request has its answer.
struct DownFraming(iamwire_proxy::LengthPrefixed, HeaderTap);

impl Default for DownFraming {
    fn default() -> Self {
        Self(message_framing(), HeaderTap::default())
    }
}

impl DownFraming {
    fn at_boundary(&self) -> bool {
        self.0.rest_of_message(&[]) == Some(0)
    }

    fn advance(&mut self, bytes: &[u8], in_flight: &Mutex<InFlight>) {
        let mut rest = bytes;
        while !rest.is_empty() {
            // Bytes that start a message go through the header tap.
            let at_start = self.at_boundary() || self.1.have > 0;
            let cut = if at_start {
                (HEADER_LEN - self.1.have).min(rest.len())
            } else {
                self.0.rest_of_message(rest).unwrap_or(rest.len()).max(1)
            };
            if at_start
                && let Some(header) = self.1.push(&rest[..cut])
                && let Ok(mut in_flight) = in_flight.lock()
                && in_flight
                    .last
                    .is_some_and(|l| l.request_id == header.response_to)
            {
                in_flight.answered = true;
            }
            self.0.advance(&rest[..cut]);
            rest = &rest[cut..];
        }
    }
}

/// Collects the first [`HEADER_LEN`] bytes of each message.
#[derive(Default)]
struct HeaderTap {
    bytes: [u8; HEADER_LEN],
    have: usize,
}

impl HeaderTap {
    fn push(&mut self, bytes: &[u8]) -> Option<Header> {
        let n = bytes.len().min(HEADER_LEN - self.have);
        self.bytes[self.have..self.have + n].copy_from_slice(&bytes[..n]);
        self.have += n;
        if self.have < HEADER_LEN {
            return None;
        }
        self.have = 0;
        Header::parse(&self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_and_answers_are_found_at_every_split() {
        let mut stream = Vec::new();
        let mut ends = vec![0];
        for (id, len) in [(7i32, 40usize), (9, 16), (11, 300)] {
            let mut message = vec![0u8; len];
            message[..4].copy_from_slice(&u32::try_from(len).unwrap().to_le_bytes());
            message[8..12].copy_from_slice(&id.to_le_bytes());
            stream.extend_from_slice(&message);
            ends.push(stream.len());
        }
        for split in 0..=stream.len() {
            let in_flight = Mutex::new(InFlight {
                last: Some(Forwarded {
                    request_id: 9,
                    legacy: false,
                }),
                answered: false,
            });
            let mut framing = DownFraming::default();
            let (a, b) = stream.split_at(split);
            framing.advance(a, &in_flight);
            assert_eq!(
                framing.at_boundary(),
                ends.contains(&split),
                "split {split}"
            );
            framing.advance(b, &in_flight);
            assert!(framing.at_boundary());
            assert!(in_flight.lock().unwrap().answered, "split {split}");
        }
    }
}
