//! Config errors as the command line says them: `FILE:LINE: key: what is wrong` — the file, the line
//! and the key at fault (an unknown key also gets the nearest valid one, from iamwire-core), with the
//! names the user writes (`verify-full`, not `VerifyFull`). `check-config`, `run` and `doctor` all say
//! them this way.

use std::path::Path;

use iamwire_core::TlsMode;

use crate::proxy_config::{ConfigError, LoadedConfig};

/// `error` on one line, naming `path` and, where the key can be found in the file, its line.
pub(crate) fn describe(path: &Path, error: &ConfigError) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if matches!(error, ConfigError::Parse { .. }) && is_empty(&text) {
        return empty_file(path);
    }
    let message = crate::proxy_config::chain(error);
    match locate(error, &text) {
        Some(line) => format!("{}:{line}: {message}", path.display()),
        None => format!("{}: {message}", path.display()),
    }
}

/// The error for a file with nothing in it (`check-config` and `run` say the same).
pub(crate) fn empty_file(path: &Path) -> String {
    format!(
        "{}: the file is empty: nothing is configured (iamwire run needs proxy.tls, proxy.listeners and \
         db_service.databases; a Teleport file needs db_service)",
        path.display()
    )
}

/// Whether a YAML text holds nothing but blanks, comments and document markers.
pub(crate) fn is_empty(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|line| line.is_empty() || line.starts_with('#') || line == "---" || line == "...")
}

/// The name a `tls.mode` is written with.
pub(crate) fn tls_mode(mode: TlsMode) -> &'static str {
    match mode {
        TlsMode::VerifyFull => "verify-full",
        TlsMode::VerifyCa => "verify-ca",
        TlsMode::Insecure => "insecure",
        _ => "(unknown mode)",
    }
}

/// What `iamwire run` will not serve although the file lists it, one note a line (for `check-config`
/// and for `run`'s log): discovery matchers, and databases without a listener.
pub(crate) fn unserved(loaded: &LoadedConfig) -> Vec<String> {
    let mut notes = Vec::new();
    let matchers = loaded.db_service.aws.len();
    let dynamic = !loaded.db_service.resources.is_empty();
    if (matchers > 0 || dynamic) && loaded.catalog.listen.is_none() {
        notes.push(format!(
            "{matchers} discovery matcher(s) (db_service.aws) and {} resource selector(s) \
             (db_service.resources): iamwire run lists the databases they bring (iamwire db ls) but \
             serves them only with catalog.listen set (an address and a port range)",
            loaded.db_service.resources.len()
        ));
    }
    for db in &loaded.db_service.databases {
        if !loaded.listeners.iter().any(|l| l.database.name == db.name) {
            notes.push(format!(
                "database {:?} has no proxy.listeners entry, so iamwire run does not serve it",
                db.name
            ));
        }
    }
    notes
}

/// The line of the file where the key `error` is about is written, if it can be found.
fn locate(error: &ConfigError, text: &str) -> Option<usize> {
    use ConfigError as E;
    let file = |path: &Path| {
        let name = path.file_name()?.to_str()?;
        position(text, |line| line.contains(name))
    };
    match error {
        E::Duration { field, value } => find(text, last(field), Some(value)),
        E::Zero { field } => find(text, last(field), None),
        E::ListenAddress { value, .. } => find(text, "listen", Some(value)),
        E::UnknownDatabase { database } => find(text, "database", Some(database)),
        E::DuplicateListener { database } => find_last(text, "database", database),
        E::DuplicateListenAddress { addr } => find_last(text, "listen", &addr.to_string()),
        E::DuplicateIdentity { name } => find_last(text, "name", name),
        E::ClientAuthNeedsCa { .. } => find(text, "client_auth", None),
        E::ServerTls { .. } => find(text, "cert_file", None),
        E::Pem { path, .. } | E::EmptyPassword { path } | E::Read { path, .. } => file(path),
        E::UpstreamCaRequired { database, .. } => after_database(text, database, "mode"),
        E::UpstreamTls { database, .. } => after_database(text, database, "ca_cert_file"),
        E::NotForProtocol { field, .. } => find(text, field, None),
        E::Region { region } => find(text, "region", Some(region)),
        E::AccessKeys { .. } => find(text, "access_keys", None),
        E::Disabled => find(text, "enabled", None),
        E::DbService {
            source:
                iamwire_core::Error::Database {
                    database, field, ..
                },
        } => after_database(text, database, last(field)),
        E::DbService {
            source: iamwire_core::Error::Matcher { field, .. },
        } => find(text, last(field), None),
        _ => None,
    }
}

/// The last segment of a dotted key (`proxy.listeners[].reauth_interval` → `reauth_interval`).
fn last(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

/// The 1-based line of the first line that `matches`.
fn position(text: &str, matches: impl Fn(&str) -> bool) -> Option<usize> {
    text.lines()
        .position(matches)
        .map(|index| index.saturating_add(1))
}

/// Whether `line` sets `key` (as a mapping key or a list item's first key), to a value holding `value`.
fn sets(line: &str, key: &str, value: Option<&str>) -> bool {
    let line = line.trim_start();
    let line = line.strip_prefix("- ").unwrap_or(line).trim_start();
    line.strip_prefix(key)
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|rest| value.is_none_or(|v| rest.contains(v)))
}

fn find(text: &str, key: &str, value: Option<&str>) -> Option<usize> {
    position(text, |line| sets(line, key, value))
}

fn find_last(text: &str, key: &str, value: &str) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| sets(line, key, Some(value)))
        .map(|(index, _)| index.saturating_add(1))
        .last()
}

/// The first line setting `key` after the database entry named `database` begins; that entry's line if
/// the key is not written (a missing key is reported where its entry is).
fn after_database(text: &str, database: &str, key: &str) -> Option<usize> {
    let start = position(text, |line| sets(line, "name", Some(database)))?;
    let next_entry = text
        .lines()
        .enumerate()
        .skip(start)
        .find(|(_, line)| line.trim_start().starts_with("- name:"))
        .map_or(usize::MAX, |(index, _)| index);
    text.lines()
        .enumerate()
        .skip(start.saturating_sub(1))
        .take_while(|(index, _)| *index < next_entry)
        .find(|(_, line)| sets(line, key, None))
        .map_or(Some(start), |(index, _)| Some(index.saturating_add(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "proxy:\n  handshake_timeout: 3x\n  listeners:\n    - database: a\n      listen: nowhere\n\
                        db_service:\n  databases:\n  - name: a\n    uri: x:1\n  - name: b\n    tls:\n      mode: verify-full\n";

    #[test]
    fn keys_are_found_on_their_lines() {
        assert_eq!(find(YAML, "handshake_timeout", Some("3x")), Some(2));
        assert_eq!(find(YAML, "listen", Some("nowhere")), Some(5));
        assert_eq!(find(YAML, "database", Some("a")), Some(4));
        assert_eq!(after_database(YAML, "b", "mode"), Some(12));
        // Not written in its entry: the entry's line.
        assert_eq!(after_database(YAML, "a", "mode"), Some(8));
        assert_eq!(last("proxy.listeners[].reauth_interval"), "reauth_interval");
    }

    #[test]
    fn comments_and_blanks_are_an_empty_file() {
        assert!(is_empty(""));
        assert!(is_empty("# nothing\n\n---\n"));
        assert!(!is_empty("proxy: {}\n"));
    }
}
