//! `iamwire check-config` and `iamwire check-resource`: validate configuration and say what it means.

use std::fmt::Write as _;
use std::path::Path;

use iamwire_core::{AwsMatcher, Config, Database, DatabaseResource, DbService};

/// Read a file, naming it in the error.
fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Validate a config file; the report lists its databases and discovery matchers, and for the demo proxy's
/// full file (with a `proxy` section) its TLS mode, listeners and identities too, and what `iamwire run`
/// would not serve. Malformed YAML and an empty file fail, as they do for `run`.
pub(crate) fn config(path: &Path) -> Result<String, String> {
    let yaml = read(path)?;
    if crate::config_messages::is_empty(&String::from_utf8_lossy(&yaml)) {
        return Err(crate::config_messages::empty_file(path));
    }
    let has_proxy = crate::proxy_config::has_proxy_section(&yaml)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if has_proxy {
        let loaded = crate::proxy_config::load(path)
            .map_err(|e| crate::config_messages::describe(path, &e))?;
        // `load` refuses a file whose db_service is switched off: a loaded file is served.
        let mut out = db_service(path, &loaded.db_service, "enabled");
        out.push_str(&crate::proxy_config::report(&loaded));
        for note in crate::config_messages::unserved(&loaded) {
            let _ = writeln!(out, "note: {note}");
        }
        return Ok(out);
    }
    let config = Config::from_yaml(&yaml).map_err(|e| format!("{}: {e}", path.display()))?;
    let state = if config.db_service.enabled {
        "enabled"
    } else {
        "disabled"
    };
    let mut out = db_service(path, &config.db_service, state);
    let ignored = config.ignored_sections();
    if !ignored.is_empty() {
        let _ = writeln!(
            out,
            "note: Teleport sections ignored (iamwire reads db_service only): {}",
            ignored.join(", ")
        );
    }
    if !config.db_service.aws.is_empty() {
        let _ = writeln!(
            out,
            "note: db_service.aws: iamwire run serves the databases these matchers find on the ports \
             of catalog.listen (iamwire db ls shows where)"
        );
    }
    Ok(out)
}

/// The `db_service` part of a config report.
fn db_service(path: &Path, service: &DbService, state: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: valid; db_service {state}", path.display());
    let _ = writeln!(out, "databases: {}", service.databases.len());
    for db in &service.databases {
        describe(&mut out, db);
    }
    let _ = writeln!(out, "discovery matchers: {}", service.aws.len());
    for matcher in &service.aws {
        describe_matcher(&mut out, matcher);
    }
    if !service.resources.is_empty() {
        let _ = writeln!(out, "resource selectors: {}", service.resources.len());
        for selector in &service.resources {
            let _ = writeln!(out, "  - labels {:?}", selector.labels);
            if let Some(role) = &selector.aws.assume_role_arn {
                let external = if selector.aws.external_id.is_some() {
                    "with external id"
                } else {
                    "without external id"
                };
                let _ = writeln!(out, "    assumes: {role} ({external})");
            }
        }
    }
    out
}

/// Validate dynamic resources; every file is checked even when an earlier one fails.
pub(crate) fn resources(paths: &[impl AsRef<Path>]) -> Result<String, String> {
    let mut out = String::new();
    let mut errors = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let parsed = read(path).and_then(|yaml| {
            DatabaseResource::parse(&yaml)
                .and_then(DatabaseResource::into_database)
                .map_err(|e| e.to_string())
        });
        match parsed {
            Ok(db) => {
                let _ = writeln!(out, "{}: valid", path.display());
                describe(&mut out, &db);
            }
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        // The files that passed are still worth reporting.
        print!("{out}");
        Err(errors.join("\niamwire: "))
    }
}

fn describe(out: &mut String, db: &Database) {
    let aws = &db.aws;
    let _ = writeln!(
        out,
        "  - {} ({}) at {}",
        db.name,
        db.protocol.as_str(),
        db.uri
    );
    if let Some(account) = &aws.account_id {
        let _ = writeln!(out, "    account: {account}");
    }
    if let Some(role) = &aws.assume_role_arn {
        // Whether an external id is configured matters to an operator; its value is a secret.
        let external = if aws.external_id.is_some() {
            "with external id"
        } else {
            "without external id"
        };
        let _ = writeln!(out, "    assumes: {role} ({external})");
    }
    if db.logs_in_as_iam_role() {
        let _ = writeln!(
            out,
            "    logs in as an IAM role (database users are role names)"
        );
    }
    let _ = writeln!(
        out,
        "    upstream TLS: {}",
        crate::config_messages::tls_mode(db.tls.mode)
    );
}

fn describe_matcher(out: &mut String, m: &AwsMatcher) {
    let types: Vec<_> = m.discovery_types().map(|t| t.as_str()).collect();
    let _ = writeln!(out, "  - types {types:?} in regions {:?}", m.regions);
    if let Some(role) = &m.assume_role_arn {
        let external = if m.external_id.is_some() {
            "with external id"
        } else {
            "without external id"
        };
        let _ = writeln!(out, "    assumes: {role} ({external})");
    }
}
