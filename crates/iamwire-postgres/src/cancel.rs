//! Query cancellation through the proxy: clients get a proxy-made cancel key; a CancelRequest
//! with a known key is forwarded to the database, over TLS, with the database's real key.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;

use crate::codec::{BackendKeyData, CancelKey, CancelRequest, FrontendMessage};
use crate::driver::{RandomError, Randomness, UpstreamEndpoint};
use crate::error::ProxyError;

/// The client-facing keys of live sessions, mapped to where and how to cancel for real.
///
/// Owned by the proxy and shared by its sessions (cloning shares the map). Entries are removed
/// when their session ends ([`CancelRegistration`] is dropped).
#[derive(Clone, Default)]
pub struct CancelMap {
    entries: Arc<Mutex<HashMap<ClientKey, CancelTarget>>>,
}

/// The key a client presents: the proxy-made process id and secret.
#[derive(Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    process_id: i32,
    secret: Vec<u8>,
}

/// Where a session's queries run, and the database's own key for it.
#[derive(Clone, Debug)]
pub struct CancelTarget {
    /// How to reach the database (same address and TLS policy as the session).
    pub endpoint: UpstreamEndpoint,
    /// The key the database gave the session (never shown to the client).
    pub key: BackendKeyData,
}

impl fmt::Debug for CancelMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelMap")
            .field("sessions", &self.len())
            .finish()
    }
}

impl CancelMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sessions can currently be cancelled.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether no session is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Register a session's target under a fresh random key from `random`; returns the key to
    /// give the client and a registration that removes the entry when dropped.
    ///
    /// # Errors
    /// [`RandomError`] if the random source fails.
    pub fn register(
        &self,
        target: CancelTarget,
        random: &dyn Randomness,
    ) -> Result<(BackendKeyData, CancelRegistration), RandomError> {
        let mut entries = self.entries.lock().map_err(|_| RandomError)?;
        loop {
            let mut bytes = [0u8; 8];
            random.fill(&mut bytes)?;
            let [a, b, c, d, e, f, g, h] = bytes;
            // Positive process ids, like real backends.
            let process_id = i32::from_be_bytes([a & 0x7f, b, c, d]);
            let key = ClientKey {
                process_id,
                secret: vec![e, f, g, h],
            };
            if entries.contains_key(&key) {
                continue;
            }
            entries.insert(key.clone(), target);
            let data = BackendKeyData {
                process_id,
                secret_key: CancelKey::from_i32(i32::from_be_bytes([e, f, g, h])),
            };
            let registration = CancelRegistration {
                map: self.clone(),
                key,
            };
            return Ok((data, registration));
        }
    }

    /// The target of a client's CancelRequest, if its key is known.
    pub fn lookup(&self, request: &CancelRequest) -> Option<CancelTarget> {
        let key = ClientKey {
            process_id: request.process_id,
            secret: request.secret_key.expose().to_vec(),
        };
        self.entries.lock().ok()?.get(&key).cloned()
    }
}

/// A session's entry in a [`CancelMap`]; removes it when dropped.
pub struct CancelRegistration {
    map: CancelMap,
    key: ClientKey,
}

impl fmt::Debug for CancelRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelRegistration")
            .field("process_id", &self.key.process_id)
            .finish_non_exhaustive()
    }
}

impl Drop for CancelRegistration {
    fn drop(&mut self) {
        if let Ok(mut entries) = self.map.entries.lock() {
            entries.remove(&self.key);
        }
    }
}

/// Forward a cancellation to the database: a new connection, TLS as for the session, then a
/// CancelRequest with the real key. The database answers by closing the connection.
///
/// # Errors
/// Dialing, TLS or I/O failures toward the database.
pub async fn forward_cancel(target: &CancelTarget) -> Result<(), ProxyError> {
    let mut stream = target.endpoint.dial_tls().await?;
    let mut buf = BytesMut::new();
    FrontendMessage::CancelRequest(CancelRequest {
        process_id: target.key.process_id,
        secret_key: target.key.secret_key.clone(),
    })
    .encode(&mut buf)
    .map_err(|source| ProxyError::UpstreamProtocol { source })?;
    stream
        .write_all(&buf)
        .await
        .map_err(|source| ProxyError::UpstreamIo { source })?;
    stream
        .flush()
        .await
        .map_err(|source| ProxyError::UpstreamIo { source })?;
    // Wait for the server to close, so the cancel has been read before we hang up.
    let mut sink = [0u8; 64];
    let _ = tokio::time::timeout(
        target.endpoint.connect_timeout,
        tokio::io::AsyncReadExt::read(&mut stream, &mut sink),
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use iamwire_core::TlsMode;
    use iamwire_core::tls::upstream_config;
    use tokio_rustls::rustls::pki_types::ServerName;

    use super::*;
    use crate::driver::SystemRandom;

    fn target() -> CancelTarget {
        CancelTarget {
            endpoint: UpstreamEndpoint {
                addr: "127.0.0.1:1".into(),
                server_name: ServerName::try_from("localhost").unwrap(),
                tls: upstream_config(TlsMode::Insecure, None, None).unwrap(),
                connect_timeout: Duration::from_secs(1),
            },
            key: BackendKeyData {
                process_id: 42,
                secret_key: CancelKey::from_i32(0x1234_5678),
            },
        }
    }

    #[test]
    fn keys_are_fresh_found_and_removed_with_the_session() {
        let map = CancelMap::new();
        let (ours, registration) = map.register(target(), &SystemRandom).unwrap();
        let (other, _keep) = map.register(target(), &SystemRandom).unwrap();
        assert_ne!(ours, other);
        assert!(ours.process_id >= 0);
        assert_ne!(ours.secret_key, target().key.secret_key);
        let request = CancelRequest {
            process_id: ours.process_id,
            secret_key: ours.secret_key.clone(),
        };
        let found = map.lookup(&request).unwrap();
        assert_eq!(found.key, target().key);
        let wrong = CancelRequest {
            process_id: ours.process_id,
            secret_key: CancelKey::from_i32(ours.secret_key.to_i32().unwrap() ^ 1),
        };
        assert!(map.lookup(&wrong).is_none());
        drop(registration);
        assert!(map.lookup(&request).is_none());
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn debug_never_shows_keys() {
        let map = CancelMap::new();
        let (ours, _registration) = map.register(target(), &SystemRandom).unwrap();
        let shown = format!(
            "{map:?} {:?}",
            map.lookup(&CancelRequest {
                process_id: ours.process_id,
                secret_key: ours.secret_key.clone(),
            })
        );
        assert!(!shown.contains(&format!("{}", 0x1234_5678)), "{shown}");
    }
}
