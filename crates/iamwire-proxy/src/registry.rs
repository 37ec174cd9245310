//! The live sessions of a proxy: a bounded map from [`SessionId`] to what is known about each session
//! ([`SessionInfo`]: who, where to, since when, bytes relayed) plus a value the protocol keeps for
//! out-of-band requests (a Postgres cancel key, later a MySQL thread id). Entries leave the map when
//! their [`Registration`] is dropped.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use iamwire_core::ClientIdentity;
use tokio::sync::Notify;

/// A session's number: unique among a proxy's live sessions, in `1..=i32::MAX` (so it can serve as a
/// Postgres process id or a MySQL connection id).
pub type SessionId = u32;

const MAX_ID: SessionId = i32::MAX as SessionId;

/// Who a session is for and what it asked, once known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionWho {
    /// The client identity.
    pub identity: ClientIdentity,
    /// The database user (as authorized).
    pub db_user: String,
    /// The database name (as authorized), where the protocol has one.
    pub db_name: Option<String>,
}

/// What the proxy knows about one live session. Byte counters are plain atomics, updated by the relay.
#[derive(Debug)]
pub struct SessionInfo {
    id: SessionId,
    protocol: &'static str,
    database: String,
    peer: Option<SocketAddr>,
    started: SystemTime,
    who: OnceLock<SessionWho>,
    /// Bytes from the client to the database.
    pub bytes_up: AtomicU64,
    /// Bytes from the database to the client.
    pub bytes_down: AtomicU64,
    killed: AtomicBool,
    kill: Notify,
    out_of_band: AtomicBool,
    /// When the last out-of-band request for this session was let through.
    last_out_of_band: Mutex<Option<Instant>>,
}

impl SessionInfo {
    /// The session's number.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The wire protocol.
    pub fn protocol(&self) -> &'static str {
        self.protocol
    }

    /// The database (resource name).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The client's address (`None` on a unix socket).
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// When the client connected.
    pub fn started(&self) -> SystemTime {
        self.started
    }

    /// Who the session is for, once authorized.
    pub fn who(&self) -> Option<&SessionWho> {
        self.who.get()
    }

    pub(crate) fn set_who(&self, who: SessionWho) {
        let _ = self.who.set(who);
    }

    /// Whether an operator asked to end the session.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Resolves once an operator asks to end the session.
    pub(crate) async fn killed(&self) {
        loop {
            let notified = self.kill.notified();
            if self.is_killed() {
                return;
            }
            notified.await;
        }
    }

    /// Claim the session's out-of-band slot: one request in flight per session, and at most one per
    /// `interval`; `None` if one is running or the last was let through less than `interval` ago.
    pub(crate) fn begin_out_of_band(self: &Arc<Self>, interval: Duration) -> Option<OutOfBandSlot> {
        self.out_of_band
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        let slot = OutOfBandSlot(Arc::clone(self));
        let mut last = self
            .last_out_of_band
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if last.is_some_and(|at| now.saturating_duration_since(at) < interval) {
            return None;
        }
        *last = Some(now);
        Some(slot)
    }
}

/// A session's out-of-band slot, released when dropped.
#[derive(Debug)]
pub(crate) struct OutOfBandSlot(Arc<SessionInfo>);

impl Drop for OutOfBandSlot {
    fn drop(&mut self) {
        self.0.out_of_band.store(false, Ordering::Release);
    }
}

/// The live sessions of a proxy, with a value of type `V` per session for out-of-band requests.
pub struct SessionRegistry<V> {
    state: Mutex<State<V>>,
    capacity: usize,
}

struct State<V> {
    entries: HashMap<SessionId, Entry<V>>,
    next: SessionId,
}

struct Entry<V> {
    info: Arc<SessionInfo>,
    value: Option<V>,
}

impl<V: Clone + Send + 'static> SessionRegistry<V> {
    /// A registry holding at most `capacity` sessions.
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                entries: HashMap::new(),
                next: 1,
            }),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<V>> {
        // Every update is a single map operation, so the state is consistent even after a panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Enter a new session; `None` when the registry is full.
    pub fn register(
        self: &Arc<Self>,
        protocol: &'static str,
        database: &str,
        peer: Option<SocketAddr>,
    ) -> Option<Registration<V>> {
        let mut state = self.lock();
        if state.entries.len() >= self.capacity.min(MAX_ID as usize) {
            return None;
        }
        let mut id = state.next;
        while state.entries.contains_key(&id) {
            id = if id >= MAX_ID { 1 } else { id + 1 };
        }
        state.next = if id >= MAX_ID { 1 } else { id + 1 };
        let info = Arc::new(SessionInfo {
            id,
            protocol,
            database: database.to_owned(),
            peer,
            started: SystemTime::now(),
            who: OnceLock::new(),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            out_of_band: AtomicBool::new(false),
            last_out_of_band: Mutex::new(None),
        });
        state.entries.insert(
            id,
            Entry {
                info: Arc::clone(&info),
                value: None,
            },
        );
        Some(Registration {
            registry: Arc::clone(self),
            info,
        })
    }

    /// The session `id` and its protocol value, if it is live and has one.
    pub fn get(&self, id: SessionId) -> Option<(Arc<SessionInfo>, V)> {
        let state = self.lock();
        let entry = state.entries.get(&id)?;
        Some((Arc::clone(&entry.info), entry.value.clone()?))
    }

    /// What is known about session `id`, if it is live.
    pub fn info(&self, id: SessionId) -> Option<Arc<SessionInfo>> {
        self.lock().entries.get(&id).map(|e| Arc::clone(&e.info))
    }

    /// Every live session, by id.
    pub fn list(&self) -> Vec<Arc<SessionInfo>> {
        let mut all: Vec<_> = self
            .lock()
            .entries
            .values()
            .map(|e| Arc::clone(&e.info))
            .collect();
        all.sort_by_key(|i| i.id);
        all
    }

    /// Ask session `id` to end (its client is told in its protocol). Returns whether it was live.
    pub fn kill(&self, id: SessionId) -> bool {
        let Some(info) = self.info(id) else {
            return false;
        };
        info.killed.store(true, Ordering::Release);
        info.kill.notify_one();
        true
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn set(&self, id: SessionId, value: V) {
        if let Some(entry) = self.lock().entries.get_mut(&id) {
            entry.value = Some(value);
        }
    }

    fn remove(&self, id: SessionId) {
        self.lock().entries.remove(&id);
    }
}

impl<V> fmt::Debug for SessionRegistry<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let live = self.state.lock().map_or(0, |s| s.entries.len());
        f.debug_struct("SessionRegistry")
            .field("live", &live)
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// A session's place in the registry; leaving it (drop) removes the session.
pub struct Registration<V: Clone + Send + 'static> {
    registry: Arc<SessionRegistry<V>>,
    info: Arc<SessionInfo>,
}

impl<V: Clone + Send + 'static> Registration<V> {
    /// The session's number.
    pub fn id(&self) -> SessionId {
        self.info.id
    }

    /// What is known about the session.
    pub fn info(&self) -> &Arc<SessionInfo> {
        &self.info
    }

    /// Keep `value` for out-of-band requests about this session (e.g. where and how to cancel).
    pub fn set(&self, value: V) {
        self.registry.set(self.info.id, value);
    }
}

impl<V: Clone + Send + 'static> Drop for Registration<V> {
    fn drop(&mut self) {
        self.registry.remove(self.info.id);
    }
}

impl<V: Clone + Send + 'static> fmt::Debug for Registration<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("id", &self.info.id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_values_follow_registrations() {
        let registry = Arc::new(SessionRegistry::<u64>::new(3));
        let a = registry.register("test", "db", None).unwrap();
        let b = registry.register("test", "db", None).unwrap();
        assert_ne!(a.id(), b.id());
        assert!(registry.get(a.id()).is_none(), "no value yet");
        a.set(7);
        assert_eq!(registry.get(a.id()).map(|(_, v)| v), Some(7));
        let c = registry.register("test", "db", None).unwrap();
        assert!(registry.register("test", "db", None).is_none(), "full");
        drop(c);
        let d = registry.register("test", "db", None).unwrap();
        let id = a.id();
        drop(a);
        assert!(registry.get(id).is_none());
        assert_eq!(registry.len(), 2);
        assert!(d.id() >= 1);
        assert_eq!(registry.list().len(), 2);
    }

    #[test]
    fn ids_wrap_and_skip_live_ones() {
        let registry = Arc::new(SessionRegistry::<()>::new(10));
        registry.lock().next = MAX_ID;
        let last = registry.register("t", "db", None).unwrap();
        assert_eq!(last.id(), MAX_ID);
        let first = registry.register("t", "db", None).unwrap();
        assert_eq!(first.id(), 1);
    }

    #[tokio::test]
    async fn kill_wakes_the_session_and_out_of_band_is_one_at_a_time() {
        let registry = Arc::new(SessionRegistry::<()>::new(1));
        let r = registry.register("t", "db", None).unwrap();
        assert!(registry.kill(r.id()));
        r.info().killed().await;
        assert!(!registry.kill(r.id() + 1));
        let slot = r.info().begin_out_of_band(Duration::ZERO).unwrap();
        assert!(r.info().begin_out_of_band(Duration::ZERO).is_none());
        drop(slot);
        assert!(r.info().begin_out_of_band(Duration::ZERO).is_some());
        // At most one per interval.
        assert!(
            r.info()
                .begin_out_of_band(Duration::from_secs(60))
                .is_none()
        );
    }
}
