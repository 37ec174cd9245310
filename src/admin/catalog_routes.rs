//! The catalog's part of the admin address: `POST /v1/databases` and `DELETE /v1/databases/{name}`
//! (dynamic resources, through [`crate::catalog::api`]), each database's origin in `GET /v1/databases`
//! with the discovered and dynamic databases not served yet, and the store and discovery in `/readyz`.

use std::collections::BTreeSet;

use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};

use super::state::AdminState;
use crate::catalog::api;
use crate::catalog::store::MAX_DOCUMENT;

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn no_catalog() -> (StatusCode, Value) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": {"code": "no_catalog", "message": "this proxy runs no catalog"}}),
    )
}

/// `POST /v1/databases`: the body (at most 64 KiB) is one `kind: db` document.
pub(super) async fn create(state: &AdminState, request: Request<Incoming>) -> (StatusCode, Value) {
    let Some(catalog) = state.catalog() else {
        return no_catalog();
    };
    let body = match Limited::new(request.into_body(), MAX_DOCUMENT + 1)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": {"code": "too_large", "message": "a document is at most 64 KiB"}}),
            );
        }
    };
    let (code, mut body) = api::create_database(&catalog, &body).await;
    if body["served"] == true
        && let Some(name) = body["database"]["name"].as_str().map(str::to_owned)
    {
        // Answer once the supervisor listens for it (or has said why it cannot).
        settled(|| catalog.listening(&name).is_some() || state.unserved(&name).is_some()).await;
        body["database"]["listen"] = json!(catalog.listening(&name).map(|a| a.to_string()));
        if let Some(why) = state.unserved(&name) {
            body["served"] = json!(false);
            body["warning"] = json!(format!("stored, but not served: {why}"));
        }
    }
    (status(code), body)
}

/// Wait (a few seconds at most) until `done`: the supervisor applies the catalog's changes just after
/// the catalog publishes them.
async fn settled(done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + api::APPLY_WAIT;
    while !done() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// `DELETE /v1/databases/{name}`.
pub(super) async fn delete(state: &AdminState, name: &str) -> (StatusCode, Value) {
    let Some(catalog) = state.catalog() else {
        return no_catalog();
    };
    let (code, body) = api::delete_database(&catalog, name).await;
    if code == 200 {
        // Answer once the supervisor has stopped accepting for it.
        settled(|| catalog.listening(name).is_none()).await;
    }
    (status(code), body)
}

/// What keeps the replica from being ready (the store lost or not read yet), and what it reports
/// without being unready (a discovery matcher that failed, a dynamic resource not served).
pub(super) fn readiness(state: &AdminState) -> (Vec<String>, Vec<String>) {
    let Some(catalog) = state.catalog() else {
        return (Vec::new(), Vec::new());
    };
    let status = catalog.current().status.clone();
    let mut all = status.problems();
    if status.ready() || all.is_empty() {
        (Vec::new(), all)
    } else {
        let rest = all.split_off(1);
        (all, rest)
    }
}

/// The served databases' list with each one's origin, then the catalog's databases not served.
pub(super) fn with_catalog(state: &AdminState, mut list: Vec<Value>) -> Vec<Value> {
    let Some(catalog) = state.catalog() else {
        return list;
    };
    let desired = catalog.current();
    let mut served = BTreeSet::new();
    for item in &mut list {
        let name = item["name"].as_str().unwrap_or_default().to_owned();
        if let Some(entry) = desired.databases.get(&name) {
            item["origin"] = json!(entry.origin);
        }
        served.insert(name);
    }
    for (name, entry) in &desired.databases {
        if served.contains(name) {
            continue;
        }
        let db = &entry.database;
        list.push(json!({
            "name": name,
            "origin": entry.origin,
            "protocol": db.protocol.to_string(),
            "uri": db.uri,
            "listen": Value::Null,
            "account": db.aws.account_id,
            "role": db.aws.assume_role_arn,
            "labels": db.labels,
            "served": false,
            "reason": state.unserved(name),
        }));
    }
    list
}
