//! The admin API's database handlers, as plain functions over a [`Catalog`] for the admin router to
//! mount: each takes the request's body or path parameter and returns the HTTP status and a JSON body.
//!
//! | route | function |
//! |---|---|
//! | `POST /v1/databases` (body: one `kind: db` document, YAML or JSON) | [`create_database`] |
//! | `GET /v1/databases` | [`list_databases`] |
//! | `DELETE /v1/databases/{name}` | [`delete_database`] |
//! | part of `GET /readyz` | [`readiness`] |
//!
//! Errors are `{"error": {"code": ..., "message": ...}}`; match on `code`.

use std::time::Duration;

use iamwire_core::{Error as CoreError, Problem};
use serde_json::{Value, json};

use super::admit::{Admitted, admit};
use super::store::{MAX_DOCUMENT, StoreError};
use super::{Catalog, CatalogEntry};

/// How long a handler waits for this replica to serve (or stop serving) what it changed.
pub(crate) const APPLY_WAIT: Duration = Duration::from_secs(5);

/// An HTTP status and a JSON body.
pub(crate) type Reply = (u16, Value);

fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
    (
        status,
        json!({"error": {"code": code, "message": message.into()}}),
    )
}

/// `POST /v1/databases`: validate the document as `check-resource` does, apply this replica's
/// `db_service.resources` selectors, keep it in the store, and answer once it is served here (201).
///
/// Codes: `invalid_resource` / `account_mismatch` / `missing_account_id` (400), `name_taken` (409, a
/// static or discovered database), `exists` (409, a dynamic one), `too_large` (413),
/// `store_unavailable` (503).
pub(crate) async fn create_database(catalog: &Catalog, body: &[u8]) -> Reply {
    if body.len() > MAX_DOCUMENT {
        return error(413, "too_large", "a document is at most 64 KiB");
    }
    let Ok(document) = std::str::from_utf8(body) else {
        return error(400, "invalid_resource", "the document is not UTF-8");
    };
    let admitted = match admit(body, catalog.selectors()) {
        Ok(a) => a,
        Err(e) => return error(400, core_code(&e), e.to_string()),
    };
    let name = admitted.database().name.clone();
    if let Some(entry) = catalog.current().databases.get(&name)
        && entry.origin != super::Origin::Dynamic
    {
        return error(
            409,
            "name_taken",
            format!("a {:?} database is named {name:?}", entry.origin).to_lowercase(),
        );
    }
    if let Err(e) = catalog.store().create(&name, document).await {
        return store_error(&e);
    }
    // Answer once this replica has taken the change in (served, or known as not selected).
    let applied = catalog
        .wait_for(APPLY_WAIT, |d| {
            d.databases.contains_key(&name)
                || d.status.not_selected.contains(&name)
                || d.status.rejected.contains_key(&name)
        })
        .await;
    let current = catalog.current();
    match (&admitted, current.databases.get(&name)) {
        (Admitted::Served { .. }, Some(entry)) => (
            201,
            json!({"database": entry_json(catalog, entry), "served": true}),
        ),
        (Admitted::Served { .. }, None) => (
            201,
            json!({
                "name": name,
                "served": false,
                "warning": match current.status.rejected.get(&name) {
                    Some(why) => format!("stored, but not served: {why}"),
                    None if !applied => "stored; this replica has not applied it yet".to_owned(),
                    None => "stored, but not served".to_owned(),
                },
            }),
        ),
        (Admitted::NotSelected { .. }, _) => (
            201,
            json!({
                "name": name,
                "served": false,
                "warning": "stored, but no db_service.resources selector of this replica matches its labels, so it is not served here",
            }),
        ),
    }
}

/// `DELETE /v1/databases/{name}`: remove a dynamic database from the store; answers once this replica
/// stops serving it. Codes: `not_found` (404), `not_dynamic` (409: static and discovered databases are
/// changed in the config or in AWS), `store_unavailable` (503).
pub(crate) async fn delete_database(catalog: &Catalog, name: &str) -> Reply {
    match catalog.store().delete(name).await {
        Ok(true) => {
            let gone = catalog
                .wait_for(APPLY_WAIT, |d| {
                    d.databases
                        .get(name)
                        .is_none_or(|e| e.origin != super::Origin::Dynamic)
                })
                .await;
            (200, json!({"deleted": name, "applied": gone}))
        }
        Ok(false) => match catalog.current().databases.get(name) {
            Some(entry) => error(
                409,
                "not_dynamic",
                format!(
                    "{name:?} is a {} database; only dynamic databases are removed with db rm",
                    origin_str(entry.origin)
                ),
            ),
            None => error(
                404,
                "not_found",
                format!("no dynamic database named {name:?}"),
            ),
        },
        Err(e) => store_error(&e),
    }
}

fn origin_str(origin: super::Origin) -> &'static str {
    match origin {
        super::Origin::Static => "static",
        super::Origin::Discovered => "discovered",
        super::Origin::Dynamic => "dynamic",
    }
}

/// One database for `db ls` (never an external ID's value).
fn entry_json(catalog: &Catalog, entry: &CatalogEntry) -> Value {
    let db = &entry.database;
    json!({
        "name": db.name,
        "origin": origin_str(entry.origin),
        "protocol": db.protocol.as_str(),
        "uri": db.uri,
        "account": db.aws.account_id,
        "region": db.aws.region,
        "role": db.aws.assume_role_arn,
        "external_id": db.aws.external_id.is_some(),
        "labels": db.labels,
        "description": db.description,
        "listen": catalog.listening(&db.name).map(|a| a.to_string()),
    })
}

fn core_code(e: &CoreError) -> &'static str {
    match e {
        CoreError::Database {
            problem: Problem::AccountMismatch { .. },
            ..
        } => "account_mismatch",
        CoreError::Database {
            problem: Problem::MissingAccountId,
            ..
        } => "missing_account_id",
        _ => "invalid_resource",
    }
}

fn store_error(e: &StoreError) -> Reply {
    match e {
        StoreError::Exists { .. } => error(409, "exists", e.to_string()),
        StoreError::Limit { .. } => error(413, "too_large", e.to_string()),
        _ => error(503, "store_unavailable", e.to_string()),
    }
}
