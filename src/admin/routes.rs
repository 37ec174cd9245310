//! The admin address's routes. Health and metrics are open to whoever reaches the address; `/v1/...`
//! needs a client certificate naming an identity of `proxy.admin.identities`.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::metrics;
use super::state::{AdminState, Readiness};

type Reply = Response<Full<Bytes>>;

/// Answer `request` from a client that proved `identity` (its certificate), if any.
pub(crate) async fn route(
    state: &AdminState,
    identity: Option<&str>,
    request: Request<Incoming>,
) -> Reply {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&method, parts.as_slice()) {
        (&Method::GET, ["livez"]) => text(StatusCode::OK, "ok\n".into()),
        (&Method::GET, ["readyz"]) => readyz(state),
        (&Method::GET, ["metrics"]) => {
            let mut reply = text(StatusCode::OK, metrics::render(state));
            reply.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            reply
        }
        (_, ["v1", rest @ ..]) => match identity {
            None => problem(
                StatusCode::UNAUTHORIZED,
                "no_client_certificate",
                "the admin API needs a client certificate from the proxy's client CA",
            ),
            Some(who) if !state.is_admin(who) => problem(
                StatusCode::FORBIDDEN,
                "not_an_admin",
                &format!("{who:?} is not in proxy.admin.identities"),
            ),
            Some(_) => match (&method, rest) {
                (&Method::POST, ["databases"]) => {
                    let (status, body) = super::catalog_routes::create(state, request).await;
                    json_reply(status, &body)
                }
                (&Method::DELETE, ["databases", name]) => {
                    let (status, body) = super::catalog_routes::delete(state, name).await;
                    json_reply(status, &body)
                }
                _ => api(state, &method, rest),
            },
        },
        _ => problem(
            StatusCode::NOT_FOUND,
            "no_route",
            &format!("no such endpoint: {method} {path}"),
        ),
    }
}

fn api(state: &AdminState, method: &Method, path: &[&str]) -> Reply {
    match (method, path) {
        (&Method::GET, ["sessions"]) => json_reply(StatusCode::OK, &sessions(state)),
        (&Method::DELETE, ["sessions", database, id]) => kill(state, database, id),
        (&Method::GET, ["databases"]) => json_reply(StatusCode::OK, &databases(state)),
        (&Method::POST, ["databases", name, action @ ("pause" | "resume")]) => {
            let Some(server) = state.server(name) else {
                return problem(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    &format!("no database named {name:?}"),
                );
            };
            if *action == "pause" {
                server.pause();
            } else {
                server.resume();
            }
            tracing::info!(database = %name, action, "admin: new sessions {action}d");
            json_reply(
                StatusCode::OK,
                &json!({"database": name, "paused": server.is_paused()}),
            )
        }
        _ => problem(
            StatusCode::NOT_FOUND,
            "no_route",
            &format!("no such admin API call: {method} /v1/{}", path.join("/")),
        ),
    }
}

fn readyz(state: &AdminState) -> Reply {
    let max = state.max_connections();
    let problems: Vec<String> = state.with_databases(|databases| {
        if databases.is_empty() {
            return vec!["no database is served".to_owned()];
        }
        databases
            .iter()
            .filter_map(|(name, served)| match &served.readiness {
                Readiness::Ready if served.server.sessions().len() >= max => Some(format!(
                    "{name}: at its session cap ({max} sessions, proxy.max_connections)"
                )),
                Readiness::Ready => None,
                Readiness::Pending => Some(format!("{name}: credentials not obtained yet")),
                Readiness::Failed(why) => Some(format!("{name}: cannot get credentials: {why}")),
            })
            .collect()
    });
    let mut problems = problems;
    let (catalog_problems, warnings) = super::catalog_routes::readiness(state);
    problems.extend(catalog_problems);
    let warnings: String = warnings.iter().map(|w| format!("warning: {w}\n")).collect();
    if problems.is_empty() {
        text(StatusCode::OK, format!("ready\n{warnings}"))
    } else {
        let body: String = problems
            .iter()
            .map(|p| format!("not ready: {p}\n"))
            .collect();
        text(StatusCode::SERVICE_UNAVAILABLE, format!("{body}{warnings}"))
    }
}

fn sessions(state: &AdminState) -> Value {
    let now = SystemTime::now();
    let list: Vec<Value> = state.with_databases(|databases| {
        databases
            .values()
            .flat_map(|served| served.server.sessions())
            .map(|s| {
                let who = s.who();
                json!({
                    "database": s.database(),
                    "id": s.id(),
                    "protocol": s.protocol(),
                    "identity": who.map(|w| w.identity.name()),
                    "db_user": who.map(|w| w.db_user.as_str()),
                    "db_name": who.and_then(|w| w.db_name.as_deref()),
                    "peer": s.peer().map(|p| p.to_string()),
                    "since": s.started().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
                    "age_seconds": now.duration_since(s.started()).map(|d| d.as_secs()).unwrap_or(0),
                    "bytes_up": s.bytes_up.load(std::sync::atomic::Ordering::Relaxed),
                    "bytes_down": s.bytes_down.load(std::sync::atomic::Ordering::Relaxed),
                })
            })
            .collect()
    });
    Value::Array(super::catalog_routes::with_catalog(state, list))
}

fn kill(state: &AdminState, database: &str, id: &str) -> Reply {
    let Some(server) = state.server(database) else {
        return problem(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no database named {database:?}"),
        );
    };
    let Ok(id) = id.parse() else {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad_session_id",
            &format!("{id:?} is not a session id"),
        );
    };
    if server.kill(id) {
        tracing::info!(database = %database, session = id, "admin: session ended");
        json_reply(
            StatusCode::OK,
            &json!({"database": database, "id": id, "ended": true}),
        )
    } else {
        problem(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no live session {id} on database {database:?}"),
        )
    }
}

fn databases(state: &AdminState) -> Value {
    let list: Vec<Value> = state.with_databases(|databases| {
        databases
            .iter()
            .map(|(name, served)| {
                let db = served.server.database();
                json!({
                    "name": name,
                    "origin": "static",
                    "protocol": db.protocol.to_string(),
                    "uri": db.uri,
                    "listen": served.listen,
                    "account": db.aws.account_id,
                    "role": db.aws.assume_role_arn.as_ref().map(ToString::to_string),
                    "labels": db.labels,
                    "paused": served.server.is_paused(),
                    "sessions": served.server.sessions().len(),
                    "ready": served.readiness == Readiness::Ready,
                })
            })
            .collect()
    });
    Value::Array(super::catalog_routes::with_catalog(state, list))
}

fn text(status: StatusCode, body: String) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    reply
}

fn json_reply(status: StatusCode, value: &Value) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(value.to_string())));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    reply
}

/// An error in the one shape every admin API error has: `{"error": {"code": ..., "message": ...}}`
/// (the catalog's handlers answer the same way).
fn problem(status: StatusCode, code: &str, message: &str) -> Reply {
    json_reply(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_json_with_the_status() {
        let reply = problem(StatusCode::FORBIDDEN, "not_an_admin", "no");
        assert_eq!(reply.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            reply.headers()[hyper::header::CONTENT_TYPE],
            "application/json"
        );
    }
}
