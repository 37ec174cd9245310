use std::path::{Path, PathBuf};
use std::time::Duration;

use iamwire_core::tls::ClientAuth;
use iamwire_core::{Authorizer, ClientIdentity, Denied, SessionRequest, TlsMode};

use super::{ConfigError, LoadedConfig, load};
use crate::certs::{self, ClientArgs, InitArgs};

const VALID: &str = r#"
proxy:
  tls:
    cert_file: pki/server.crt
    key_file: pki/server.key
    client_ca_file: pki/ca.crt
  handshake_timeout: 45s
  listeners:
    - database: rds-postgres
      listen: 127.0.0.1:15432
    - database: local-postgres
      listen: "[::1]:15433"
  identities:
    - name: alice
      db_labels: {env: dev}
      db_users: ["iam_user", "app_*"]
      db_names: ["*"]
    - name: bob
      db_labels: {"*": "*"}
      db_users: ["readonly"]
      db_names: ["reports"]
aws:
  region: us-west-2
  env_file: iamwire.env
db_service:
  enabled: "yes"
  databases:
  - name: "rds-postgres"
    protocol: "postgres"
    uri: "rds-postgres.abcdef012345.us-west-1.rds.amazonaws.com:5432"
    static_labels: {env: dev}
    tls:
      ca_cert_file: pki/ca.crt
    aws:
      assume_role_arn: "arn:aws:iam::222222222222:role/example-role"
      external_id: "example-external-id"
  - name: "local-postgres"
    protocol: "postgres"
    uri: "localhost:5432"
    static_labels: {env: prod}
    tls:
      mode: insecure
  - name: "unlistened"
    protocol: "postgres"
    uri: "localhost:5433"
"#;

/// A temp dir with `pki/` made by `iamwire certs` (CA, server, client `alice`) and `proxy.yaml` = `yaml`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        certs::init(&InitArgs {
            dir: pki.clone(),
            hosts: vec!["localhost".into(), "127.0.0.1".into()],
            force: false,
        })
        .unwrap();
        certs::client(&ClientArgs {
            dir: pki,
            name: "alice".into(),
            out: None,
            force: false,
        })
        .unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn load(&self, yaml: &str) -> Result<LoadedConfig, ConfigError> {
        let path = self.path("proxy.yaml");
        std::fs::write(&path, yaml).unwrap();
        load(&path)
    }

    /// `VALID` with `from` replaced by `to` (which must occur).
    fn load_with(&self, from: &str, to: &str) -> Result<LoadedConfig, ConfigError> {
        assert!(VALID.contains(from), "{from:?} not in the template");
        self.load(&VALID.replacen(from, to, 1))
    }
}

#[test]
fn a_full_file_loads_with_paths_resolved_against_its_directory() {
    let fx = Fixture::new();
    let config = fx.load(VALID).unwrap();
    assert_eq!(config.timeouts.handshake, Duration::from_secs(45));
    let tls = &config.tls_summary;
    assert_eq!(tls.client_auth, ClientAuth::Required);
    assert_eq!(tls.cert_file, fx.path("pki/server.crt"));
    assert_eq!(tls.key_file, fx.path("pki/server.key"));
    assert_eq!(tls.client_ca_file, Some(fx.path("pki/ca.crt")));
    assert_eq!(config.aws.region.as_deref(), Some("us-west-2"));
    assert_eq!(config.aws.env_file, Some(fx.path("iamwire.env")));
    let listeners: Vec<_> = config
        .listeners
        .iter()
        .map(|l| (l.database.name.as_str(), l.listen.to_string()))
        .collect();
    assert_eq!(
        listeners,
        [
            ("rds-postgres", "127.0.0.1:15432".to_string()),
            ("local-postgres", "[::1]:15433".to_string())
        ]
    );
    // The database was validated by the foundation (account derived from the role ARN).
    let rds = &config.listeners[0].database;
    assert_eq!(rds.aws.account_id.as_deref(), Some("222222222222"));
    assert_eq!(config.db_service.databases.len(), 3);
    assert_eq!(config.identities.len(), 2);
}

#[test]
fn the_allow_list_behaves_as_configured() {
    let fx = Fixture::new();
    let config = fx.load(VALID).unwrap();
    let (rds, local) = (&config.listeners[0].database, &config.listeners[1].database);
    let ask = |database, db_user, db_name| SessionRequest {
        database,
        db_user,
        db_name,
    };
    let alice = ClientIdentity::from_certificate(Some("alice".into()), vec![]).unwrap();
    let bob = ClientIdentity::from_certificate(Some("bob".into()), vec![]).unwrap();
    let mallory = ClientIdentity::from_certificate(Some("mallory".into()), vec![]).unwrap();
    let list = &config.allow_list;
    assert_eq!(
        list.authorize(&alice, &ask(rds, "iam_user", Some("app"))),
        Ok(())
    );
    assert_eq!(list.authorize(&alice, &ask(rds, "app_rw", None)), Ok(()));
    assert!(matches!(
        list.authorize(&alice, &ask(rds, "postgres", None)),
        Err(Denied::DbUser { .. })
    ));
    assert!(matches!(
        list.authorize(&alice, &ask(local, "iam_user", None)),
        Err(Denied::Database { .. })
    ));
    assert_eq!(
        list.authorize(&bob, &ask(local, "readonly", Some("reports"))),
        Ok(())
    );
    assert!(matches!(
        list.authorize(&bob, &ask(local, "readonly", Some("app"))),
        Err(Denied::DbName { .. })
    ));
    assert!(matches!(
        list.authorize(&mallory, &ask(rds, "iam_user", None)),
        Err(Denied::UnknownIdentity { .. })
    ));
}

#[test]
fn debug_output_shows_no_secrets() {
    let fx = Fixture::new();
    let config = fx.load(VALID).unwrap();
    let shown = format!("{config:?}");
    assert!(shown.contains("rds-postgres"), "{shown}");
    let key = std::fs::read_to_string(fx.path("pki/server.key")).unwrap();
    let key_body = key.lines().nth(1).unwrap();
    for secret in ["example-external-id", "PRIVATE KEY", key_body] {
        assert!(!shown.contains(secret), "{secret:?} in {shown}");
    }
    let report = super::report(&config);
    assert!(!report.contains("PRIVATE KEY") && !report.contains(key_body));
}

#[test]
fn client_auth_follows_the_client_ca() {
    let fx = Fixture::new();
    let no_ca = fx
        .load_with("    client_ca_file: pki/ca.crt\n", "")
        .unwrap();
    assert_eq!(no_ca.tls_summary.client_auth, ClientAuth::None);
    assert_eq!(no_ca.tls_summary.client_ca_file, None);
    let optional = fx
        .load_with(
            "client_ca_file: pki/ca.crt\n",
            "client_ca_file: pki/ca.crt\n    client_auth: optional\n",
        )
        .unwrap();
    assert_eq!(optional.tls_summary.client_auth, ClientAuth::Optional);
    let none = fx
        .load_with(
            "client_ca_file: pki/ca.crt\n",
            "client_ca_file: pki/missing.crt\n    client_auth: none\n",
        )
        .unwrap();
    // With `none` the CA is not used, so not even read.
    assert_eq!(none.tls_summary.client_auth, ClientAuth::None);
    assert_eq!(none.tls_summary.client_ca_file, None);
    // Defaults.
    let minimal = fx.load_with("  handshake_timeout: 45s\n", "").unwrap();
    assert_eq!(
        minimal.timeouts.handshake,
        iamwire_proxy::Timeouts::default().handshake
    );
}

#[test]
fn absolute_and_parent_relative_paths_resolve() {
    let fx = Fixture::new();
    let conf = fx.path("conf");
    std::fs::create_dir(&conf).unwrap();
    let cert = fx.path("pki/server.crt");
    let yaml = VALID.replace("pki/", "../pki/").replace(
        "cert_file: ../pki/server.crt",
        &format!("cert_file: {}", cert.display()),
    );
    let path = conf.join("proxy.yaml");
    std::fs::write(&path, yaml).unwrap();
    let config = load(&path).unwrap();
    assert_eq!(config.tls_summary.cert_file, cert);
    assert_eq!(config.tls_summary.key_file, conf.join("../pki/server.key"));
}

/// Every validation problem is its own variant.
#[test]
fn each_problem_has_its_variant() {
    let fx = Fixture::new();
    let err = |from: &str, to: &str| fx.load_with(from, to).unwrap_err();
    let path_is = |path: &Path, file: &str| path == fx.path(file);

    assert!(
        matches!(err("key_file: pki/server.key", "key_file: pki/nope.key"),
        ConfigError::Read { ref path, .. } if path_is(path, "pki/nope.key"))
    );
    assert!(matches!(
        err("  handshake_timeout", "  handshake_timout"),
        ConfigError::Parse { .. }
    ));
    assert!(matches!(
        err("\"local-postgres\"\n", "\"Local_Postgres\"\n"),
        ConfigError::DbService { .. }
    ));
    assert!(
        matches!(err("- database: local-postgres", "- database: nowhere"),
        ConfigError::UnknownDatabase { ref database } if database == "nowhere")
    );
    assert!(
        matches!(err("- database: local-postgres", "- database: rds-postgres"),
        ConfigError::DuplicateListener { ref database } if database == "rds-postgres")
    );
    assert!(matches!(err("\"[::1]:15433\"", "localhost:15433"),
        ConfigError::ListenAddress { ref database, .. } if database == "local-postgres"));
    assert!(matches!(
        err("\"[::1]:15433\"", "127.0.0.1:15432"),
        ConfigError::DuplicateListenAddress { .. }
    ));
    for bad in ["30", "0s", "fast", "1.5s"] {
        assert!(
            matches!(
                err("45s", bad),
                ConfigError::Duration {
                    field: "proxy.handshake_timeout",
                    ..
                }
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        err("- name: bob", "- name: \" \""),
        ConfigError::EmptyIdentityName { index: 1 }
    ));
    assert!(matches!(err("- name: bob", "- name: alice"),
        ConfigError::DuplicateIdentity { ref name } if name == "alice"));
    assert!(matches!(
        err(
            "    client_ca_file: pki/ca.crt\n",
            "    client_auth: required\n"
        ),
        ConfigError::ClientAuthNeedsCa { mode: "required" }
    ));
    assert!(matches!(
        err(
            "    client_ca_file: pki/ca.crt\n",
            "    client_auth: optional\n"
        ),
        ConfigError::ClientAuthNeedsCa { mode: "optional" }
    ));
    assert!(
        matches!(err("key_file: pki/server.key", "key_file: pki/server.crt"),
        ConfigError::Pem { ref path, what: "private key", .. } if path_is(path, "pki/server.crt"))
    );
    assert!(
        matches!(err("cert_file: pki/server.crt", "cert_file: pki/server.key"),
        ConfigError::Pem { ref path, what: "certificate", .. } if path_is(path, "pki/server.key"))
    );
    // The client's key does not belong to the server's certificate.
    assert!(matches!(
        err("key_file: pki/server.key", "key_file: pki/alice.key"),
        ConfigError::ServerTls { .. }
    ));
    assert!(matches!(err("    tls:\n      mode: insecure\n", ""),
        ConfigError::UpstreamCaRequired { ref database, mode: TlsMode::VerifyFull } if database == "local-postgres"));
    assert!(matches!(
        err("region: us-west-2", "region: mars"),
        ConfigError::Region { .. }
    ));
}

#[test]
fn errors_name_the_file_on_the_command_line() {
    let fx = Fixture::new();
    let e = fx
        .load_with("key_file: pki/server.key", "key_file: pki/server.crt")
        .unwrap_err();
    let line = super::chain(&e);
    assert!(line.contains("server.crt"), "{line}");
    let e = fx
        .load_with("key_file: pki/server.key", "key_file: pki/alice.key")
        .unwrap_err();
    let line = super::chain(&e);
    assert!(
        line.contains("alice.key") && line.contains("server.crt"),
        "{line}"
    );
}
