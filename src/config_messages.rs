//! Config errors as the command line says them: the file, the line and the key at fault, and for an
//! unknown key the nearest valid one.

use std::path::Path;

use crate::proxy_config::ConfigError;

/// `error` on one line, naming `path`.
pub(crate) fn describe(path: &Path, error: &ConfigError) -> String {
    format!("{}: {}", path.display(), crate::proxy_config::chain(error))
}
