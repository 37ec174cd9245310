//! Why `iamwire certs` could not do its job.

use std::path::PathBuf;

/// A `certs` failure; every file problem names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CertsError {
    /// The file exists and `--force` was not given.
    #[error("{} already exists (pass --force to overwrite it)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Reading a file failed.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a file (or creating its directory) failed.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `--hosts` named nothing.
    #[error("--hosts names no host")]
    NoHosts,
    /// A host that is neither an IP address nor a DNS name.
    #[error("{host:?} is not a DNS name or IP address")]
    Host {
        /// The host as given.
        host: String,
    },
    /// A client name that cannot be a file name and certificate CN.
    #[error(
        "{name:?} is not a valid client name (letters, digits, '.', '_', '-', '@'; at most 64)"
    )]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// The CA files are not a PEM certificate and the PEM key that belongs to it.
    #[error("{}: {problem}", path.display())]
    Ca {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong (never the key's contents).
        problem: &'static str,
    },
    /// Certificate generation failed.
    #[error("cannot generate the {what}")]
    Generate {
        /// Which certificate or key.
        what: &'static str,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },
}
