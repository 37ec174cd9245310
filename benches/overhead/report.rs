//! Samples per scenario, target and round; medians and paired ratios as a Markdown table.

use std::collections::BTreeMap;
use std::fmt;

use crate::idle::Idle;

/// One point of a client load (pgbench, redis-benchmark, sysbench).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Transactions (or operations) per second.
    pub(crate) tps: f64,
    /// Average latency in milliseconds.
    pub(crate) latency_ms: f64,
    /// CPU time of the proxy process per transaction, in µs (none for `direct`).
    pub(crate) proxy_us: Option<f64>,
    /// CPU time of the whole database (postmaster, backends) per transaction, in µs.
    pub(crate) db_us: f64,
}

impl Sample {
    /// A point of `ops` operations that took `proxy` and `db` CPU time.
    pub(crate) fn per_op(
        tps: f64,
        latency_ms: f64,
        ops: u64,
        proxy: Option<std::time::Duration>,
        db: std::time::Duration,
    ) -> Self {
        let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / ops.max(1) as f64;
        Self {
            tps,
            latency_ms,
            proxy_us: proxy.map(per),
            db_us: per(db),
        }
    }
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.0} tps, {:.3} ms", self.tps, self.latency_ms)?;
        if let Some(p) = self.proxy_us {
            write!(f, ", proxy {p:.1} µs/txn")?;
        }
        write!(f, ", db {:.1} µs/txn", self.db_us)
    }
}

/// One load (a pgbench command line) and what each target did under it, round by round.
pub(crate) struct Scenario {
    pub(crate) name: String,
    pub(crate) clients: u32,
    pub(crate) connect: bool,
    /// What one unit of work is called in the table (`txn`, `conn`, `op`).
    pub(crate) unit: &'static str,
    /// Targets every other is divided by, round by round (`direct`, `bare relay`).
    pub(crate) baselines: Vec<&'static str>,
    /// target → round → sample, targets in first-seen order.
    samples: Vec<(&'static str, BTreeMap<u32, Sample>)>,
}

impl Scenario {
    pub(crate) fn new(name: String, clients: u32, connect: bool) -> Self {
        Self {
            name,
            clients,
            connect,
            unit: if connect { "conn" } else { "txn" },
            baselines: vec!["direct"],
            samples: Vec::new(),
        }
    }

    /// The samples of `target`, by round.
    fn of(&self, target: &str) -> Option<&BTreeMap<u32, Sample>> {
        self.samples
            .iter()
            .find(|(t, _)| *t == target)
            .map(|(_, m)| m)
    }

    pub(crate) fn add(&mut self, round: u32, target: &'static str, sample: Sample) {
        match self.samples.iter_mut().find(|(t, _)| *t == target) {
            Some((_, m)) => {
                m.insert(round, sample);
            }
            None => self
                .samples
                .push((target, BTreeMap::from([(round, sample)]))),
        }
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

fn show(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".to_owned(), |x| format!("{x:.digits$}"))
}

/// What the report's header says.
pub(crate) struct Header {
    pub(crate) machine: String,
    pub(crate) command: String,
    pub(crate) load: String,
    pub(crate) seconds: u32,
    pub(crate) rounds: u32,
    pub(crate) scale: u32,
}

/// Print the report's header to stdout.
pub(crate) fn print_header(h: &Header) {
    println!("## Overhead: each client load through each target\n");
    println!("- machine: {}", h.machine);
    println!("- command: `{}`", h.command);
    println!(
        "- pgbench scale {}, {}-second points, {} interleaved rounds; medians; ratios are paired \
         (each round against the same round's baseline)",
        h.scale, h.seconds, h.rounds
    );
    println!("- {}\n", h.load);
}

/// Print one table per scenario to stdout.
pub(crate) fn print_scenarios(scenarios: &[Scenario]) {
    for s in scenarios.iter().filter(|s| !s.samples.is_empty()) {
        println!("### {}\n", s.name);
        // With `--iamwire-before`: throughput and proxy CPU paired against the base build too.
        let before = s.of(crate::before::NAME).map(|_| crate::before::NAME);
        let baselines: Vec<&str> = s.baselines.iter().copied().chain(before).collect();
        let ratios: String = baselines
            .iter()
            .map(|b| format!(" ratio to {b} |"))
            .collect();
        let cpu_ratio = before.map_or(String::new(), |b| format!(" proxy CPU ratio to {b} |"));
        println!(
            "| target | {unit}/s |{ratios} latency ms | proxy CPU µs/{unit} |{cpu_ratio} server CPU µs/{unit} |",
            unit = s.unit
        );
        println!(
            "|---|---|{}---|---|{}---|",
            "---|".repeat(baselines.len()),
            if before.is_some() { "---|" } else { "" }
        );
        for (target, rounds) in &s.samples {
            let col = |f: &dyn Fn(&Sample) -> Option<f64>| {
                median(rounds.values().filter_map(f).collect())
            };
            let ratios: String = baselines
                .iter()
                .map(|b| {
                    let ratio = s.of(b).and_then(|d| {
                        median(
                            rounds
                                .iter()
                                .filter_map(|(r, x)| Some(x.tps / d.get(r)?.tps))
                                .collect(),
                        )
                    });
                    format!(" {} |", show(ratio, 2))
                })
                .collect();
            let cpu_ratio = before.map_or(String::new(), |b| {
                let ratio = s.of(b).and_then(|d| {
                    median(
                        rounds
                            .iter()
                            .filter_map(|(r, x)| Some(x.proxy_us? / d.get(r)?.proxy_us?))
                            .collect(),
                    )
                });
                format!(" {} |", show(ratio, 3))
            });
            println!(
                "| {target} | {} |{ratios} {} | {} |{cpu_ratio} {} |",
                show(col(&|x| Some(x.tps)), 0),
                show(col(&|x| Some(x.latency_ms)), 3),
                show(col(&|x| x.proxy_us), 1),
                show(col(&|x| Some(x.db_us)), 1),
            );
        }
        println!();
    }
}

/// Print a memory table titled `title` to stdout.
pub(crate) fn print_idle(title: &str, idle: &[(&'static str, Idle)]) {
    if !idle.is_empty() {
        println!("### {title}\n");
        println!(
            "| target | connections held | RSS before KiB | RSS holding KiB | KiB per connection | RSS after close KiB | fds holding |"
        );
        println!("|---|---|---|---|---|---|---|");
        for (target, m) in idle {
            println!(
                "| {target} | {} | {} | {} | {:.1} | {} | {} |",
                m.held, m.before_kib, m.holding_kib, m.per_conn_kib, m.after_kib, m.fds
            );
        }
        println!();
    }
}
