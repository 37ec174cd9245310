//! What `iamwire check-config` says about a full proxy config file: listeners, identities, TLS mode.
//! It names files, never their contents.

use std::fmt::Write as _;

use iamwire_core::tls::ClientAuth;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::LoadedConfig;

/// Just enough of a config file to tell the two forms apart.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    proxy: Option<IgnoredAny>,
}

/// Whether `yaml` has a top-level `proxy` key (the demo proxy's full file) rather than only `db_service`;
/// malformed YAML is the parser's error, with its line.
pub(crate) fn has_proxy_section(yaml: &[u8]) -> Result<bool, iamwire_core::Error> {
    iamwire_core::parse_yaml::<Probe>(yaml, &iamwire_core::YamlLimits::default())
        .map(|probe| probe.proxy.is_some())
}

/// Just enough of a config file to see whether `db_service.enabled` is written at all.
#[derive(Deserialize)]
struct EnabledProbe {
    #[serde(default)]
    db_service: Option<ServiceProbe>,
}

#[derive(Deserialize)]
struct ServiceProbe {
    #[serde(default)]
    enabled: Option<IgnoredAny>,
}

/// Whether `db_service.enabled` is written in `yaml` (absent and written-false mean different things to
/// `iamwire run`).
pub(crate) fn enabled_is_written(yaml: &[u8]) -> bool {
    iamwire_core::parse_yaml::<EnabledProbe>(yaml, &iamwire_core::YamlLimits::default())
        .is_ok_and(|probe| probe.db_service.is_some_and(|s| s.enabled.is_some()))
}

/// A human-readable summary of a loaded config file, without the database section (the caller describes
/// databases the way it does for every config form).
pub(crate) fn report(config: &LoadedConfig) -> String {
    let mut out = String::new();
    let tls = &config.tls_summary;
    let mode = match tls.client_auth {
        ClientAuth::None => "TLS, no client certificates",
        ClientAuth::Optional => "TLS, client certificates optional (mTLS)",
        ClientAuth::Required => "mTLS, client certificates required",
    };
    let _ = writeln!(out, "proxy TLS: {mode}");
    let _ = writeln!(out, "  certificate: {}", tls.cert_file.display());
    let _ = writeln!(out, "  key: {}", tls.key_file.display());
    if let Some(ca) = &tls.client_ca_file {
        let _ = writeln!(out, "  client CA: {}", ca.display());
    }
    let t = &config.timeouts;
    let _ = writeln!(
        out,
        "timeouts: handshake {}, credentials {}, connect {}, login {}, shutdown {}",
        humane(t.handshake),
        humane(t.credentials),
        humane(t.connect),
        humane(t.login),
        humane(config.limits.listener.shutdown_timeout)
    );
    let l = &config.limits;
    let _ = writeln!(
        out,
        "limits per listener: {} sessions, {} handshakes, {} per client",
        l.max_connections,
        l.listener.max_handshakes,
        l.listener
            .max_per_peer
            .map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
    );
    let _ = writeln!(out, "listeners: {}", config.listeners.len());
    for listener in &config.listeners {
        let _ = writeln!(
            out,
            "  - {} -> {} ({}, upstream TLS {})",
            listener.listen,
            listener.database.name,
            listener.database.protocol,
            crate::config_messages::tls_mode(listener.database.tls.mode)
        );
    }
    let _ = writeln!(out, "identities: {}", config.identities.len());
    for rule in &config.identities {
        let labels: Vec<String> = rule
            .db_labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str()))
            .collect();
        let _ = writeln!(
            out,
            "  - {}: databases labelled {labels:?}, users {:?}, names {:?}",
            rule.name,
            globs(&rule.db_users),
            globs(&rule.db_names)
        );
    }
    if config.tls_summary.client_auth == ClientAuth::None && !config.identities.is_empty() {
        let _ = writeln!(
            out,
            "  note: without client certificates no client can prove these identities"
        );
    }
    let aws = &config.aws;
    if let Some(region) = &aws.region {
        let _ = writeln!(out, "aws region: {region}");
    }
    if let Some(env_file) = &aws.env_file {
        let _ = writeln!(out, "aws env file: {}", env_file.display());
    }
    out
}

fn globs(list: &[iamwire_core::Glob]) -> Vec<&str> {
    list.iter().map(iamwire_core::Glob::as_str).collect()
}

/// `30s`, `1m30s`, `500ms`: how the file would say it.
fn humane(d: std::time::Duration) -> String {
    if d.subsec_millis() != 0 || d.as_secs() == 0 {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}
