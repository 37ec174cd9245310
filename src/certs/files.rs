//! Writing certificates and keys: refuse to overwrite without `--force`, keys readable by the owner only.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::CertsError;

/// A file `certs` is about to write.
#[derive(Debug)]
pub(super) struct Planned {
    /// Where (absolute).
    pub(super) path: PathBuf,
    /// Its permission bits: 0644 for certificates, 0600 for keys.
    mode: u32,
}

impl Planned {
    /// A certificate: anyone may read it.
    pub(super) fn cert(path: PathBuf) -> Self {
        Self { path, mode: 0o644 }
    }

    /// A private key: the owner only.
    pub(super) fn key(path: PathBuf) -> Self {
        Self { path, mode: 0o600 }
    }
}

/// `path` made absolute against the current directory, so reports print paths that work from anywhere.
pub(super) fn absolute(path: &Path) -> Result<PathBuf, CertsError> {
    std::path::absolute(path).map_err(|source| CertsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Fails on the first planned file that exists, unless `force`; checked before anything is written so
/// that a refusal leaves the directory as it was.
pub(super) fn check_free(plan: &[Planned], force: bool) -> Result<(), CertsError> {
    if force {
        return Ok(());
    }
    match plan.iter().find(|p| p.path.symlink_metadata().is_ok()) {
        Some(taken) => Err(CertsError::Exists {
            path: taken.path.clone(),
        }),
        None => Ok(()),
    }
}

/// Creates `dir` and its parents.
pub(super) fn create_dir(dir: &Path) -> Result<(), CertsError> {
    fs::create_dir_all(dir).map_err(|source| CertsError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

/// Reads a file, naming it in the error.
pub(super) fn read(path: &Path) -> Result<Vec<u8>, CertsError> {
    fs::read(path).map_err(|source| CertsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `contents` to `file.path` with `file`'s mode. Without `overwrite` the file must not exist (checked
/// atomically by the open); with it, an existing file is replaced and its mode tightened as well.
pub(super) fn write(file: &Planned, contents: &str, overwrite: bool) -> Result<(), CertsError> {
    let error = |source| CertsError::Write {
        path: file.path.clone(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, file.mode);
    let mut handle = options.open(&file.path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            CertsError::Exists {
                path: file.path.clone(),
            }
        } else {
            error(source)
        }
    })?;
    // `mode` applies only to newly created files; an overwritten key may have had looser permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        handle
            .set_permissions(fs::Permissions::from_mode(file.mode))
            .map_err(error)?;
    }
    handle.write_all(contents.as_bytes()).map_err(error)?;
    handle.sync_all().map_err(error)
}
