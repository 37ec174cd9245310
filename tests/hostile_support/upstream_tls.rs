//! Upstream TLS fails closed: every database is also served behind a CA that did not issue its
//! certificate and behind a name its certificate does not carry (see [`config`](super::config)); a
//! login there must be refused with the protocol's connection error — never a session — while the same
//! database on its good listener goes on serving.

use std::time::Instant;

use super::config::broken_names;
use super::steady::my_login_at;
use super::{BOUND, CACHE, Closed, DDB, DOCS, KEYSPACES, MY, PG, Rig};
use crate::e2e_run_support::{client_tls, pg_config};
use crate::my_support::{async_code, async_conn};

/// One refused login: what the client got, for the table.
fn refused(protocol: &str, name: &str, result: String, started: Instant) {
    let what = if name.ends_with("wrong-ca") {
        "upstream TLS: the wrong CA"
    } else {
        "upstream TLS: the wrong name"
    };
    let closed = Closed {
        bytes: Vec::new(),
        after: started.elapsed(),
    };
    assert!(
        closed.after < BOUND,
        "{name}: refused after {:?}",
        closed.after
    );
    super::report(protocol, what, &result, &closed);
}

/// Log in through every broken listener; each must be refused.
pub(crate) async fn fails_closed(rig: &Rig) {
    for name in broken_names(PG) {
        let started = Instant::now();
        let error = pg_config(rig.broken[&name])
            .connect(client_tls(rig.dir(), "alice"))
            .await
            .err()
            .unwrap_or_else(|| panic!("{name}: logged in"));
        let code = error.as_db_error().map(|e| e.code().code().to_owned());
        assert_eq!(code.as_deref(), Some("08001"), "{name}: {error:?}");
        refused("postgres", &name, "`08001`".into(), started);
    }
    for name in broken_names(MY) {
        let started = Instant::now();
        let error = async_conn(&my_login_at(rig, rig.broken[&name]))
            .await
            .err()
            .unwrap_or_else(|| panic!("{name}: logged in"));
        // CR_CONN_HOST_ERROR, 08001: what the proxy says whenever the database cannot be reached.
        assert_eq!(async_code(&error), Some(2003), "{name}: {error:?}");
        refused("mysql", &name, "ERR 2003 (08001)".into(), started);
    }
    for name in broken_names(CACHE) {
        let started = Instant::now();
        let answer = super::redis::auth_reply(rig, rig.broken[&name]).await;
        assert!(answer.starts_with("-ERR "), "{name}: {answer}");
        refused("redis", &name, "`-ERR` to AUTH".into(), started);
    }
    for name in broken_names(DOCS) {
        let started = Instant::now();
        let code = super::mongo::login_code(rig, rig.broken[&name]).await;
        assert_eq!(code, Some(6), "{name}: HostUnreachable");
        refused("mongodb", &name, "code 6 (HostUnreachable)".into(), started);
    }
    for name in broken_names(KEYSPACES) {
        let started = Instant::now();
        let (_, op, body) = super::cql::login_at(rig, rig.broken[&name]).await;
        assert_eq!(
            op,
            0,
            "{name}: an ERROR: {:?}",
            String::from_utf8_lossy(&body)
        );
        let code = super::cql::body_code(&body);
        assert_eq!(
            code,
            Some(0x1000),
            "{name}: {:?}",
            String::from_utf8_lossy(&body)
        );
        refused("cql", &name, "ERROR `0x1000` (unavailable)".into(), started);
    }
    for name in broken_names(DDB) {
        let started = Instant::now();
        let status = super::http::list_tables_status(rig, rig.broken[&name]).await;
        assert_eq!(status, 502, "{name}: Bad Gateway");
        refused("http", &name, "`502` (BadGateway)".into(), started);
    }
}
