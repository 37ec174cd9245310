//! `--iamwire-before PATH`: another `iamwire` binary (a build of the base commit, say) run as a target of
//! its own, `iamwire (before)`, next to this build's `iamwire run` in the same interleaved rounds, so a
//! before/after comparison is paired under the same machine load. The tables then carry a throughput
//! ratio and a proxy CPU ratio to it (medians of the per-round ratios).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static EXE: OnceLock<PathBuf> = OnceLock::new();

/// The target's name in the tables.
pub(crate) const NAME: &str = "iamwire (before)";

/// Run `path` as the `before` target alongside this build's.
pub(crate) fn set(path: PathBuf) {
    assert!(
        path.is_file(),
        "--iamwire-before {}: no such binary",
        path.display()
    );
    let _ = EXE.set(path);
}

/// The `before` binary, if one was given.
pub(crate) fn exe() -> Option<&'static Path> {
    EXE.get().map(PathBuf::as_path)
}

/// This build (`false`), and the `before` binary (`true`) if one was given: the `iamwire` targets to run.
pub(crate) fn builds() -> Vec<bool> {
    let mut v = vec![false];
    if exe().is_some() {
        v.push(true);
    }
    v
}
