//! Samples per scenario, target and round; medians and paired ratios as a Markdown table.

use std::collections::BTreeMap;
use std::fmt;

use crate::idle::Idle;

/// One pgbench point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Transactions per second.
    pub(crate) tps: f64,
    /// Average latency in milliseconds.
    pub(crate) latency_ms: f64,
    /// CPU time of the proxy process per transaction, in µs (none for `direct`).
    pub(crate) proxy_us: Option<f64>,
    /// CPU time of the whole database (postmaster, backends) per transaction, in µs.
    pub(crate) db_us: f64,
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
    /// target → round → sample, targets in first-seen order.
    samples: Vec<(&'static str, BTreeMap<u32, Sample>)>,
}

impl Scenario {
    pub(crate) fn new(name: String, clients: u32, connect: bool) -> Self {
        Self {
            name,
            clients,
            connect,
            samples: Vec::new(),
        }
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
    pub(crate) idle_count: usize,
}

/// Print the whole report to stdout.
pub(crate) fn print(h: &Header, scenarios: &[Scenario], idle: &[(&'static str, Idle)]) {
    println!("## Overhead: pgbench through each target\n");
    println!("- machine: {}", h.machine);
    println!("- command: `{}`", h.command);
    println!(
        "- pgbench scale {}, {}-second points, {} interleaved rounds; medians; ratios are paired \
         (each round against the same round's `direct`)",
        h.scale, h.seconds, h.rounds
    );
    println!("- {}\n", h.load);
    for s in scenarios {
        println!("### {}\n", s.name);
        println!(
            "| target | tps | ratio to direct | latency ms | proxy CPU µs/{unit} | database CPU µs/{unit} |",
            unit = if s.connect { "conn" } else { "txn" }
        );
        println!("|---|---|---|---|---|---|");
        let direct = s
            .samples
            .iter()
            .find(|(t, _)| *t == "direct")
            .map(|(_, m)| m);
        for (target, rounds) in &s.samples {
            let col = |f: &dyn Fn(&Sample) -> Option<f64>| {
                median(rounds.values().filter_map(f).collect())
            };
            let ratio = direct.and_then(|d| {
                median(
                    rounds
                        .iter()
                        .filter_map(|(r, x)| Some(x.tps / d.get(r)?.tps))
                        .collect(),
                )
            });
            println!(
                "| {target} | {} | {} | {} | {} | {} |",
                show(col(&|x| Some(x.tps)), 0),
                show(ratio, 2),
                show(col(&|x| Some(x.latency_ms)), 3),
                show(col(&|x| x.proxy_us), 1),
                show(col(&|x| Some(x.db_us)), 1),
            );
        }
        println!();
    }
    if !idle.is_empty() {
        println!(
            "### Memory: {} idle connections held through each proxy\n",
            h.idle_count
        );
        println!(
            "| target | RSS before KiB | RSS holding KiB | KiB per connection | RSS after close KiB | fds holding |"
        );
        println!("|---|---|---|---|---|---|");
        for (target, m) in idle {
            println!(
                "| {target} | {} | {} | {:.1} | {} | {} |",
                m.before_kib, m.holding_kib, m.per_conn_kib, m.after_kib, m.fds
            );
        }
        println!();
    }
}
