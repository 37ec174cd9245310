//! The periodic re-AUTH in the [`Flow`]: where it may go (nothing owed, no transaction, not a RESP2
//! subscriber, no other login in progress), and what goes with it (`ASKING` again after a client's).

use iamwire_core::UpstreamLogin;

use super::{Entry, Flow, Internal};
use crate::codec::encode_command;
use crate::proxy::{AuthForm, login_command};

impl Flow {
    /// Whether a ready re-AUTH holds commands back now: never inside a transaction (AWS refuses AUTH
    /// there) nor on a RESP2 subscribed connection (where Redis refuses it).
    pub(super) fn reauth_may_hold(&self) -> bool {
        !(self.in_tx || (self.proto == 2 && self.subs.any()))
    }

    /// A re-AUTH login is in hand (`true`) or not: when in hand, commands are held at the next point
    /// where it may go.
    pub(crate) fn set_reauth_ready(&mut self, ready: bool) {
        self.reauth_ready = ready;
    }

    /// Whether the re-AUTH may be sent now: nothing owed, no transaction, not a RESP2 subscriber, no
    /// other login in progress.
    pub(crate) fn can_reauth(&self) -> bool {
        self.reauth_ready
            && self.queue.is_empty()
            && self.reauth_may_hold()
            && !self.waiting
            && self.need.is_none()
            && !self.is_done_reading()
    }

    /// Send the re-AUTH (as `AUTH user token`, valid in either protocol version). Right after the
    /// client's `ASKING`, which the `AUTH` uses up, the proxy sends `ASKING` again behind it.
    pub(crate) fn send_reauth(&mut self, login: &UpstreamLogin) {
        login_command(&AuthForm::Auth, login, &mut self.to_upstream);
        self.queue.push_back(Entry::Swallow(Internal::ReAuth));
        if self.asking {
            encode_command(&[b"ASKING"], &mut self.to_upstream);
            self.queue.push_back(Entry::Swallow(Internal::Asking));
        }
        self.reauth_ready = false;
    }

    /// How the last re-AUTH went, once its reply arrived: `Err` carries the database's error line.
    pub(crate) fn take_reauth_outcome(&mut self) -> Option<Result<(), String>> {
        self.reauth_outcome.take()
    }
}
