//! Entry points for the fuzz targets in `fuzz/`; not a stable API.

use crate::resource::{Config, Database};

/// Parses `data` as a configuration file and as a dynamic resource, and validates whatever
/// parses. Must never panic, whatever the bytes.
pub fn resource_yaml(data: &[u8]) {
    if let Ok(mut config) = Config::parse(data) {
        let _ = config.validate();
    }
    let _ = Database::from_resource_yaml(data);
}
