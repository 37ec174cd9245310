//! `iamwire run` raises its own limit of open files (`RLIMIT_NOFILE`) to the hard limit at start: each
//! proxied session holds two sockets, and the usual soft limit of 1024 would cap a proxy at ~500 sessions
//! however much memory it has. Raising the soft limit up to the hard one needs no privilege.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// What happened to the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FdLimit {
    /// Raised from the first value to the second (the hard limit).
    Raised(u64, u64),
    /// Already at the hard limit (or unlimited).
    Unchanged(Option<u64>),
    /// The kernel refused (the value the limit stays at).
    Refused(Option<u64>),
}

/// Raise the soft `RLIMIT_NOFILE` to the hard limit, and log what was done.
pub(crate) fn raise() -> FdLimit {
    let limit = getrlimit(Resource::Nofile);
    let outcome = match (limit.current, limit.maximum) {
        (Some(soft), hard) if hard.is_none_or(|h| soft < h) => {
            // An unlimited hard limit still has the kernel's ceiling (`fs.nr_open`): ask for that.
            let target = hard.unwrap_or_else(nr_open);
            if target <= soft {
                FdLimit::Unchanged(Some(soft))
            } else {
                let new = Rlimit {
                    current: Some(target),
                    maximum: hard,
                };
                match setrlimit(Resource::Nofile, new) {
                    Ok(()) => FdLimit::Raised(soft, target),
                    Err(e) => {
                        tracing::warn!(
                            soft,
                            target,
                            error = %e,
                            "cannot raise the open files limit (RLIMIT_NOFILE)"
                        );
                        FdLimit::Refused(Some(soft))
                    }
                }
            }
        }
        (soft, _) => FdLimit::Unchanged(soft),
    };
    match outcome {
        FdLimit::Raised(from, to) => {
            tracing::info!(from, to, "raised the open files limit (RLIMIT_NOFILE)");
        }
        FdLimit::Unchanged(Some(at)) => {
            tracing::info!(
                at,
                "open files limit (RLIMIT_NOFILE) already at its hard limit"
            );
        }
        FdLimit::Unchanged(None) | FdLimit::Refused(_) => {}
    }
    outcome
}

/// The kernel's ceiling for open files per process (`/proc/sys/fs/nr_open`; 1048576 if unreadable).
fn nr_open() -> u64 {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1_048_576)
}
