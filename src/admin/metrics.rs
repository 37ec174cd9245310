//! `/metrics`: the process's counters in Prometheus text, read from atomics (and the credential cache's
//! small table) at scrape time.

use super::prom::{Kind, Prom};
use super::state::{AdminState, Readiness};

/// The exposition document.
pub(crate) fn render(state: &AdminState) -> String {
    let mut p = Prom::default();
    sessions(state, &mut p);
    http(state, &mut p);
    aws(state, &mut p);
    let (applied, refused) = state.reloads();
    p.family(
        "iamwire_config_reloads_total",
        Kind::Counter,
        "Configuration reloads (SIGHUP), by result.",
    );
    p.sample(
        "iamwire_config_reloads_total",
        &[("result", "applied")],
        as_f64(applied),
    );
    p.sample(
        "iamwire_config_reloads_total",
        &[("result", "refused")],
        as_f64(refused),
    );
    p.finish()
}

fn sessions(state: &AdminState, p: &mut Prom) {
    let rows: Vec<_> = state.with_databases(|databases| {
        databases
            .iter()
            .filter_map(|(name, served)| {
                let metrics = served.server.metrics()?;
                let protocol = served.server.database().protocol.to_string();
                let live = served.server.sessions().len();
                let paused = served.server.is_paused();
                let ready = served.readiness == Readiness::Ready;
                Some((name.clone(), protocol, metrics, live, paused, ready))
            })
            .collect()
    });
    p.family(
        "iamwire_sessions_total",
        Kind::Counter,
        "Sessions by database, protocol and outcome (accepted: reached the relay; denied: refused by the \
         allow list; failed: ended with an error, by phase).",
    );
    for (db, protocol, m, ..) in &rows {
        let labels = |outcome: &'static str, phase: &'static str| {
            [
                ("database", db.as_str()),
                ("protocol", protocol.as_str()),
                ("outcome", outcome),
                ("phase", phase),
            ]
        };
        p.sample(
            "iamwire_sessions_total",
            &labels("accepted", ""),
            as_f64(m.accepted),
        );
        p.sample(
            "iamwire_sessions_total",
            &labels("denied", "authorize"),
            as_f64(m.denied),
        );
        for (phase, n) in &m.failed {
            p.sample(
                "iamwire_sessions_total",
                &labels("failed", phase.as_str()),
                as_f64(*n),
            );
        }
    }
    gauge(
        p,
        "iamwire_sessions_active",
        "Sessions relaying now.",
        &rows,
        |r| r.3 as u64,
    );
    gauge(
        p,
        "iamwire_handshakes_active",
        "Connections in their handshake now.",
        &rows,
        |r| r.2.handshakes,
    );
    gauge(
        p,
        "iamwire_database_paused",
        "1 while new sessions are paused.",
        &rows,
        |r| u64::from(r.4),
    );
    gauge(
        p,
        "iamwire_database_credentials_ready",
        "1 once the database's role credentials were obtained.",
        &rows,
        |r| u64::from(r.5),
    );
    p.family(
        "iamwire_relayed_bytes_total",
        Kind::Counter,
        "Bytes relayed, by direction (up: client to database).",
    );
    for (db, protocol, m, ..) in &rows {
        for (direction, n) in [("up", m.bytes_up), ("down", m.bytes_down)] {
            p.sample(
                "iamwire_relayed_bytes_total",
                &[
                    ("database", db),
                    ("protocol", protocol),
                    ("direction", direction),
                ],
                as_f64(n),
            );
        }
    }
    p.family(
        "iamwire_out_of_band_requests_total",
        Kind::Counter,
        "Out-of-band requests (e.g. Postgres cancels) seen.",
    );
    for (db, protocol, m, ..) in &rows {
        p.sample(
            "iamwire_out_of_band_requests_total",
            &[("database", db), ("protocol", protocol)],
            as_f64(m.out_of_band),
        );
    }
    p.family(
        "iamwire_phase_duration_seconds",
        Kind::Histogram,
        "How long each phase of a session took (client handshake, credentials, connect, login).",
    );
    for (db, protocol, m, ..) in &rows {
        for (phase, h) in &m.phases {
            p.histogram(
                "iamwire_phase_duration_seconds",
                &[
                    ("database", db),
                    ("protocol", protocol),
                    ("phase", phase.as_str()),
                ],
                h,
            );
        }
    }
}

type Row = (
    String,
    String,
    iamwire_proxy::MetricsSnapshot,
    usize,
    bool,
    bool,
);

fn gauge(p: &mut Prom, name: &str, help: &str, rows: &[Row], value: impl Fn(&Row) -> u64) {
    p.family(name, Kind::Gauge, help);
    for row in rows {
        p.sample(
            name,
            &[("database", &row.0), ("protocol", &row.1)],
            as_f64(value(row)),
        );
    }
}

fn http(state: &AdminState, p: &mut Prom) {
    let rows: Vec<_> = state.with_databases(|databases| {
        databases
            .iter()
            .filter_map(|(name, served)| Some((name.clone(), served.server.http_metrics()?)))
            .collect()
    });
    p.family(
        "iamwire_http_requests_total",
        Kind::Counter,
        "HTTP database requests: re-signed and forwarded, or refused (by the error code returned).",
    );
    for (db, m) in &rows {
        p.sample(
            "iamwire_http_requests_total",
            &[("database", db), ("outcome", "forwarded"), ("code", "")],
            as_f64(m.forwarded),
        );
        for (code, n) in &m.refused {
            p.sample(
                "iamwire_http_requests_total",
                &[("database", db), ("outcome", "refused"), ("code", code)],
                as_f64(*n),
            );
        }
    }
}

fn aws(state: &AdminState, p: &mut Prom) {
    let stats = state.roles().cache().stats();
    let families = [
        (
            "iamwire_sts_calls_total",
            "Credential fetches that succeeded (one STS call per hop; base: the proxy's own credentials), by role.",
        ),
        (
            "iamwire_sts_failures_total",
            "Credential fetches that failed or timed out, by role.",
        ),
        (
            "iamwire_credential_cache_hits_total",
            "Callers served from the credential cache, by role.",
        ),
        (
            "iamwire_credential_refreshes_total",
            "Fetches that refreshed credentials still held, by role.",
        ),
    ];
    for (i, (name, help)) in families.iter().enumerate() {
        p.family(name, Kind::Counter, help);
        for (role, s) in &stats {
            let value = [s.fetches, s.failures, s.hits, s.refreshes][i];
            p.sample(name, &[("role", role)], as_f64(value));
        }
    }
    p.family(
        "iamwire_tokens_total",
        Kind::Counter,
        "Database IAM tokens (RDS, ElastiCache, MemoryDB): minted, or reused while still fresh.",
    );
    let tokens = state.tokens();
    p.sample(
        "iamwire_tokens_total",
        &[("result", "minted")],
        as_f64(tokens.minted()),
    );
    p.sample(
        "iamwire_tokens_total",
        &[("result", "reused")],
        as_f64(tokens.reused()),
    );
}

#[allow(clippy::cast_precision_loss)]
fn as_f64(n: u64) -> f64 {
    n as f64
}
