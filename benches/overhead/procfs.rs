//! What the harness reads from `/proc`: CPU time of a process (its threads, dead ones included, and
//! optionally its reaped children), resident memory, process trees, and the load average.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`, 100 on Linux).
fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100)
    })
}

/// The fields of `/proc/<pid>/stat` after the command name (field 3 onward), or `None` if the
/// process is gone.
fn stat_fields(pid: u32) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    Some(
        rest.split_whitespace()
            .map(|f| f.parse::<i64>().map_or(0, |v| v.max(0) as u64))
            .collect(),
    )
}

/// CPU time (user + system) of process `pid`, all its threads; with `children`, also the children
/// it has waited for (a postmaster's ended backends).
pub(crate) fn cpu(pid: u32, children: bool) -> Duration {
    let Some(f) = stat_fields(pid) else {
        return Duration::ZERO;
    };
    // Fields 14..17 (1-based, whole line): utime, stime, cutime, cstime; f[0] is field 3.
    let mut ticks = f[11] + f[12];
    if children {
        ticks += f[13] + f[14];
    }
    Duration::from_micros(ticks * 1_000_000 / ticks_per_second())
}

/// CPU time of `root` and every live process below it, plus the children each has reaped: a whole
/// server (Postgres: the postmaster, its backends, those that ended).
pub(crate) fn tree_cpu(root: u32) -> Duration {
    let mut total = cpu(root, true);
    for pid in descendants(root) {
        total += cpu(pid, true);
    }
    total
}

/// The parent of `pid`.
fn parent(pid: u32) -> Option<u32> {
    stat_fields(pid).map(|f| f[1] as u32)
}

/// Every live process below `root`.
pub(crate) fn descendants(root: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let all: Vec<(u32, u32)> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, parent(pid)?)))
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(all.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// Resident memory of `pid` in KiB (`VmRSS`).
pub(crate) fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// How many file descriptors `pid` has open.
pub(crate) fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The 1-minute load average and the whole `/proc/loadavg` line.
pub(crate) fn load() -> (f64, String) {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let one = text
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    (one, text.trim().to_owned())
}

/// The postmaster's pid from a data directory's `postmaster.pid`.
pub(crate) fn postmaster_pid(data: &Path) -> Option<u32> {
    std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// This machine's CPUs (for the report's header).
pub(crate) fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU", str::trim)
        .to_owned();
    let count = info.lines().filter(|l| l.starts_with("processor")).count();
    format!("{count} × {model}")
}
