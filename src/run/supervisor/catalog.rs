//! Serving the catalog's discovered and dynamic databases: each gets a port of `catalog.listen`, the
//! same on every replica that sees the same databases, and logs in only through the endpoint guard.
//!
//! Ports: the databases are taken in name order, and each tries first the port its name hashes to
//! (FNV-1a, the same in every build), then the next free one. Replicas that see the same set of
//! databases therefore agree on every port; a database keeps its port while its name's slot stays
//! free (a collision moves only the later name). Static databases keep their `proxy.listeners`
//! addresses and are not served from here.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use iamwire_aws::role::RoleProvider;
use iamwire_core::TlsMode;

use super::{Socket, Supervisor};
use crate::catalog::{Catalog, CatalogEntry, DesiredSet, PortRange};
use crate::proxy_config::{ListenAddr, Listener, LoadedConfig};
use crate::servers::Server;

impl Supervisor {
    /// Serve the discovered and dynamic databases of `desired` on `catalog.listen`: start the new ones,
    /// replace the changed ones (live sessions go on), stop the ones gone. A database that cannot be
    /// served (no port left, an unusable TLS setting) is logged and
    /// left out; the others are served regardless.
    pub(in crate::run) fn apply_catalog(
        &mut self,
        loaded: &LoadedConfig,
        desired: &DesiredSet,
        catalog: &Catalog,
    ) {
        let range = match loaded.catalog.listen_range() {
            Ok(range) => range,
            Err(error) => {
                tracing::error!(%error, "discovered and dynamic databases are not served");
                None
            }
        };
        let wanted: Vec<&Arc<CatalogEntry>> = desired
            .databases
            .values()
            .filter(|e| e.origin.needs_endpoint_check())
            .filter(|e| !self.running.contains_key(&e.database.name))
            .collect();
        let ports = range.map(|r| assign_ports(r, wanted.iter().map(|e| e.database.name.as_str())));
        let mut keep = BTreeSet::new();
        for entry in wanted {
            let name = &entry.database.name;
            let addr = match (range, &ports) {
                (None, _) | (_, None) => Err(
                    "set catalog.listen (an address and a port range) to serve discovered and \
                     dynamic databases"
                        .to_owned(),
                ),
                (Some(range), Some(ports)) => ports.get(name.as_str()).copied().ok_or_else(|| {
                    format!(
                        "no port left in catalog.listen ({} ports for more databases); widen the range",
                        range.len()
                    )
                }),
            };
            match addr.and_then(|addr| self.serve_entry(loaded, entry, addr, catalog)) {
                Ok(()) => {
                    keep.insert(name.clone());
                    self.unservable.remove(name);
                }
                Err(why) => {
                    if self.unservable.get(name) != Some(&why) {
                        tracing::warn!(database = %name, origin = ?entry.origin, "not served: {why}");
                        self.unservable.insert(name.clone(), why);
                    }
                    self.stop_catalog_entry(name, catalog);
                }
            }
        }
        let gone: Vec<String> = self
            .from_catalog
            .keys()
            .filter(|name| !keep.contains(*name))
            .cloned()
            .collect();
        for name in gone {
            tracing::info!(database = %name, "no longer in the catalog: new sessions are refused; live sessions go on");
            self.stop_catalog_entry(&name, catalog);
        }
        self.unservable
            .retain(|name, _| desired.databases.contains_key(name));
        self.state.set_unserved(self.unservable.clone());
    }

    /// Start or replace the proxy of one catalog entry on `addr`.
    fn serve_entry(
        &mut self,
        loaded: &LoadedConfig,
        entry: &Arc<CatalogEntry>,
        addr: SocketAddr,
        catalog: &Catalog,
    ) -> Result<(), String> {
        let database = &entry.database;
        let Some(guard) = catalog.guard() else {
            return Err("no endpoint guard to confirm its endpoint with".to_owned());
        };
        let listen = ListenAddr::Tcp(addr);
        let fingerprint = format!("{entry:?}|{addr}");
        let previous = self.from_catalog.get(&database.name);
        if previous.is_some_and(|r| r.fingerprint == fingerprint) {
            // Unchanged (a reloaded catalog learns where it is served).
            catalog.set_listening(&database.name, Some(addr));
            return Ok(());
        }
        let mut database = database.clone();
        if database.tls.ca_cert_file.is_none() && database.tls.mode != TlsMode::Insecure {
            let Some(ca) = &loaded.catalog.ca_cert_file else {
                return Err("its tls settings name no CA to verify it with: set \
                            catalog.ca_cert_file (for RDS, the global bundle \
                            rds-global-bundle.pem) or the resource's tls.ca_cert_file"
                    .to_owned());
            };
            database.tls.ca_cert_file = Some(ca.clone());
        }
        let database = &database;
        let listener = Listener {
            database: database.clone(),
            listen: listen.clone(),
            upstream_tls: crate::proxy_config::upstream_tls_for(database, &loaded.path)?,
            reauth_interval: None,
            password: None,
            cluster: None,
        };
        let shared = self.shared(loaded, Some((entry.as_ref(), guard)));
        let server = Server::for_listener(&listener, &shared, previous.map(|r| &r.server))?;
        let socket = match previous {
            Some(r) if r.listen == listen => Arc::clone(&r.socket),
            _ => Arc::new(
                Socket::bind(&listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?,
            ),
        };
        let running = self.start(server, fingerprint, listen, socket)?;
        catalog.set_listening(&database.name, Some(addr));
        if let Some(before) = self.from_catalog.insert(database.name.clone(), running) {
            let _ = before.stop.send(true);
        }
        Ok(())
    }

    /// Stop serving catalog database `name` (its live sessions go on).
    fn stop_catalog_entry(&mut self, name: &str, catalog: &Catalog) {
        if let Some(gone) = self.from_catalog.remove(name) {
            let _ = gone.stop.send(true);
            self.state.remove(name);
            catalog.set_listening(name, None);
        }
    }

    /// Start the catalog `loaded` describes, on this process's roles and AWS client, and show it on
    /// the admin address.
    ///
    /// # Errors
    ///
    /// The `catalog` section is unusable.
    pub(in crate::run) fn start_catalog(&self, loaded: &LoadedConfig) -> Result<Catalog, String> {
        let roles: Arc<dyn RoleProvider> = Arc::clone(&self.roles) as Arc<dyn RoleProvider>;
        let catalog = crate::catalog::start_from_config(loaded, roles, &self.aws_tls, &self.env)?;
        self.state.set_catalog(catalog.clone());
        Ok(catalog)
    }

    /// Whether some catalog database could not be served (a port taken by another program, say):
    /// the supervisor tries again now and then, not only when the catalog changes.
    pub(in crate::run) fn has_unservable(&self) -> bool {
        !self.unservable.is_empty()
    }
}

/// Each name's port in `range`: names in order, each at its hash's slot or the next free one. More
/// names than ports: the last ones get none.
pub(super) fn assign_ports<'a>(
    range: PortRange,
    names: impl Iterator<Item = &'a str>,
) -> BTreeMap<&'a str, SocketAddr> {
    let names: BTreeSet<&str> = names.collect();
    let size = range.len();
    let mut taken = vec![false; size];
    let mut out = BTreeMap::new();
    for name in names {
        let start = usize::try_from(fnv1a(name.as_bytes()) % size as u64).unwrap_or(0);
        if let Some(slot) = (0..size).map(|i| (start + i) % size).find(|s| !taken[*s]) {
            taken[slot] = true;
            out.insert(name, range.addr(slot));
        }
    }
    out
}

/// FNV-1a, 64 bits: stable across builds and platforms (unlike the standard library's hasher).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(first: u16, last: u16) -> PortRange {
        PortRange {
            ip: [127, 0, 0, 1].into(),
            first,
            last,
        }
    }

    #[test]
    fn ports_depend_on_the_set_not_on_the_order_seen() {
        let a = assign_ports(
            range(17000, 17099),
            ["orders", "billing", "users"].into_iter(),
        );
        let b = assign_ports(
            range(17000, 17099),
            ["users", "orders", "billing"].into_iter(),
        );
        assert_eq!(a, b);
        let ports: BTreeSet<u16> = a.values().map(SocketAddr::port).collect();
        assert_eq!(ports.len(), 3);
        assert!(ports.iter().all(|p| (17000..=17099).contains(p)));
    }

    #[test]
    fn a_new_name_leaves_the_others_where_they_were_unless_it_collides() {
        let before = assign_ports(range(17000, 17999), ["orders", "billing"].into_iter());
        let after = assign_ports(
            range(17000, 17999),
            ["orders", "billing", "carts"].into_iter(),
        );
        // With 1,000 ports these three do not collide.
        assert_eq!(before["orders"], after["orders"]);
        assert_eq!(before["billing"], after["billing"]);
    }

    #[test]
    fn a_full_range_serves_the_first_names_only() {
        let got = assign_ports(range(17000, 17001), ["a", "b", "c"].into_iter());
        assert_eq!(got.len(), 2);
        let ports: BTreeSet<u16> = got.values().map(SocketAddr::port).collect();
        assert_eq!(ports, BTreeSet::from([17000, 17001]));
    }
}
