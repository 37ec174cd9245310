//! Subscription counts, from the counts the server's own confirmations carry (so nothing per channel is
//! kept), and the kinds of (un)subscribe commands.

/// Which family a (un)subscribe command or confirmation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// `SUBSCRIBE` / `UNSUBSCRIBE`: channels.
    Channels,
    /// `PSUBSCRIBE` / `PUNSUBSCRIBE`: patterns.
    Patterns,
    /// `SSUBSCRIBE` / `SUNSUBSCRIBE`: shard channels.
    Shards,
}

/// A (un)subscribe command or confirmation: its family and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubKind {
    pub(crate) family: Family,
    pub(crate) subscribe: bool,
}

impl SubKind {
    /// The kind of a command or confirmation name (any case), if it is one.
    pub(crate) fn of(name: &[u8]) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        let (subscribe, rest) = match lower.strip_suffix(b"unsubscribe") {
            Some(rest) => (false, rest),
            None => (true, lower.strip_suffix(b"subscribe")?),
        };
        let family = match rest {
            b"" => Family::Channels,
            b"p" => Family::Patterns,
            b"s" => Family::Shards,
            _ => return None,
        };
        Some(Self { family, subscribe })
    }
}

/// How many channels, patterns and shard channels the connection is subscribed to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Subscriptions {
    channels: i64,
    patterns: i64,
    shards: i64,
}

impl Subscriptions {
    /// A confirmation of `kind` said `count` subscriptions remain (channels and patterns together, or
    /// shard channels alone, as Redis counts them).
    pub(crate) fn confirmed(&mut self, kind: SubKind, count: i64) {
        let count = count.max(0);
        match kind.family {
            Family::Channels => self.channels = (count - self.patterns).max(0),
            Family::Patterns => self.patterns = (count - self.channels).max(0),
            Family::Shards => self.shards = count,
        }
    }

    /// Subscriptions of `family` left.
    pub(crate) fn of(&self, family: Family) -> i64 {
        match family {
            Family::Channels => self.channels,
            Family::Patterns => self.patterns,
            Family::Shards => self.shards,
        }
    }

    /// Whether the connection is subscribed to anything (in RESP2, in "subscribed mode").
    pub(crate) fn any(&self) -> bool {
        self.channels + self.patterns + self.shards > 0
    }

    /// `RESET` drops every subscription.
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let k = SubKind::of(b"PUNSUBSCRIBE").unwrap();
        assert_eq!((k.family, k.subscribe), (Family::Patterns, false));
        assert_eq!(SubKind::of(b"ssubscribe").unwrap().family, Family::Shards);
        assert!(SubKind::of(b"message").is_none());
        assert!(SubKind::of(b"xsubscribe").is_none());
    }

    #[test]
    fn counts_follow_confirmations() {
        let mut s = Subscriptions::default();
        let sub = SubKind::of(b"subscribe").unwrap();
        let psub = SubKind::of(b"psubscribe").unwrap();
        let unsub = SubKind::of(b"unsubscribe").unwrap();
        s.confirmed(sub, 1);
        s.confirmed(sub, 2);
        s.confirmed(psub, 3);
        assert_eq!((s.of(Family::Channels), s.of(Family::Patterns)), (2, 1));
        s.confirmed(unsub, 2);
        s.confirmed(unsub, 1);
        assert_eq!((s.of(Family::Channels), s.of(Family::Patterns)), (0, 1));
        assert!(s.any());
        s.clear();
        assert!(!s.any());
    }
}
