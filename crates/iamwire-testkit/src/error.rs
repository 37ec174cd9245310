//! The rig's error type.

use std::path::PathBuf;

/// Why a throwaway server or helper could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RigError {
    /// An I/O step failed.
    #[error("{what}")]
    Io {
        /// What the rig was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A program the rig runs exited unsuccessfully.
    #[error("{program} failed ({status}): {output}")]
    Command {
        /// The program.
        program: String,
        /// Its exit status.
        status: String,
        /// The tail of what it printed.
        output: String,
    },
    /// A program the rig needs is not installed.
    #[error("{program} not found (run scripts/setup.sh)")]
    Missing {
        /// The program or file.
        program: PathBuf,
    },
    /// A server did not come up in time.
    #[error("{what} did not become ready within {seconds} s: {detail}")]
    Timeout {
        /// The server.
        what: String,
        /// How long the rig waited.
        seconds: u64,
        /// What the rig saw last (log tail).
        detail: String,
    },
    /// A helper answered with something the rig could not read.
    #[error("unexpected answer from {what}: {detail}")]
    Protocol {
        /// The helper.
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// Certificate generation failed.
    #[error("certificate generation failed")]
    Certs(#[from] rcgen::Error),
}

impl RigError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| RigError::Io { what, source }
    }
}

/// The rig's result type.
pub type Result<T, E = RigError> = std::result::Result<T, E>;
