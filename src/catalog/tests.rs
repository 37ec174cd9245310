//! Tests of the catalog: the stores (a file; a real PostgreSQL shared by three replicas, killed and
//! restarted), admission of dynamic resources, the reconciler against moto discovery, and the admin
//! handlers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admit;
mod api;
mod discovery;
mod file_store;
mod pg_store;

/// A `kind: db` document.
pub(crate) fn document(name: &str, labels: &str, aws: &str) -> String {
    format!(
        "kind: db\nversion: v3\nmetadata:\n  name: {name}\n  labels: {labels}\nspec:\n  protocol: postgres\n  uri: {name}.cluster.example:5432\n  aws: {aws}\n"
    )
}
