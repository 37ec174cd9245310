use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::*;
use crate::error::{ArnError, Error, Problem};
use crate::yaml::{YamlLimits, parse_yaml};

const DISCOVERY: &str = r#"
# discovery: RDS in us-west-1 of account 222222222222, through an external role
db_service:
  enabled: "yes"
  aws:
    - types: ["rds"]
      regions: ["us-west-1"]
      assume_role_arn: "arn:aws:iam::222222222222:role/example-role"
      external_id: "example-external-id"
"#;

const STATIC: &str = r#"
# static database in another account (account_id is derived from the ARN)
db_service:
  enabled: "yes"
  databases:
  - name: "rds-postgres"
    protocol: "postgres"
    uri: "rds-postgres.abcdef012345.us-west-1.rds.amazonaws.com:5432"
    aws:
        assume_role_arn: "arn:aws:iam::222222222222:role/example-role"
        external_id: "example-external-id"
"#;

const DYNAMIC: &str = r#"
# dynamic resource: account_id is NOT derived and must match the ARN's account
kind: db
version: v3
metadata:
  name: "rds-postgres"
  description: "Example dynamic database resource"
  labels:
    env: "dev"
spec:
  protocol: "postgres"
  uri: "rds-postgres.abcdef012345.us-west-1.rds.amazonaws.com:5432"
  aws:
    account_id: "222222222222"
    assume_role_arn: "arn:aws:iam::222222222222:role/example-role"
    external_id: "example-external-id"
"#;

const ROLE: &str = "arn:aws:iam::222222222222:role/example-role";

#[test]
fn discovery_example_parses_and_validates() {
    let config = Config::from_yaml(DISCOVERY.as_bytes()).unwrap();
    assert!(config.db_service.enabled);
    assert!(config.db_service.databases.is_empty());
    let [m] = config.db_service.aws.as_slice() else {
        panic!("one matcher expected")
    };
    assert_eq!(
        m.discovery_types().collect::<Vec<_>>(),
        [DiscoveryType::Rds]
    );
    assert_eq!(m.regions, ["us-west-1"]);
    assert_eq!(m.assume_role_arn.as_deref(), Some(ROLE));
    assert_eq!(
        m.external_id.as_ref().map(ExternalId::expose),
        Some("example-external-id")
    );
}

#[test]
fn static_example_derives_account_id_from_role() {
    let config = Config::from_yaml(STATIC.as_bytes()).unwrap();
    let [db] = config.db_service.databases.as_slice() else {
        panic!("one database expected")
    };
    assert_eq!(db.name, "rds-postgres");
    assert_eq!(db.protocol, Protocol::Postgres);
    assert_eq!(db.tls.mode, TlsMode::VerifyFull);
    assert_eq!(db.aws.account_id.as_deref(), Some("222222222222"));
    let role = db.aws.assume_role().unwrap().unwrap();
    assert_eq!(role.account_id(), "222222222222");
    assert_eq!(role.name(), "example-role");
    assert!(!db.logs_in_as_iam_role());
}

#[test]
fn dynamic_example_parses_and_validates() {
    let db = Database::from_resource_yaml(DYNAMIC.as_bytes()).unwrap();
    assert_eq!(db.name, "rds-postgres");
    assert_eq!(db.description, "Example dynamic database resource");
    assert_eq!(db.labels.get("env").map(String::as_str), Some("dev"));
    assert_eq!(db.aws.account_id.as_deref(), Some("222222222222"));
}

#[test]
fn external_id_is_redacted_in_debug() {
    let config = Config::from_yaml(STATIC.as_bytes()).unwrap();
    let discovery = Config::from_yaml(DISCOVERY.as_bytes()).unwrap();
    for debug in [
        format!("{config:?}"),
        format!("{config:#?}"),
        format!("{discovery:?}"),
    ] {
        assert!(!debug.contains("example-external-id"), "{debug}");
        assert!(debug.contains("** redacted **"), "{debug}");
    }
    assert_eq!(
        format!("{:?}", ExternalId::new("s3cr3t")),
        "ExternalId(** redacted **)"
    );
}

/// A static config holding one database whose entry is `body` (indented 4 spaces).
fn static_db(body: &str) -> Result<Config, Error> {
    let yaml = format!(
        "db_service:\n  enabled: yes\n  databases:\n  - {}\n",
        body.trim()
    );
    let yaml = yaml.replace("\n|", "\n    ");
    Config::from_yaml(yaml.as_bytes())
}

fn db_problem(result: Result<Config, Error>) -> (&'static str, Problem) {
    match result {
        Err(Error::Database { field, problem, .. }) => (field, problem),
        other => panic!("expected Error::Database, got {other:?}"),
    }
}

#[test]
fn enabled_accepts_teleport_spellings() {
    for (value, want) in [
        ("\"yes\"", true),
        ("yes", true),
        ("true", true),
        ("\"true\"", true),
        ("\"on\"", true),
        ("on", true),
        ("\"no\"", false),
        ("false", false),
        ("\"off\"", false),
    ] {
        let yaml = format!("db_service:\n  enabled: {value}\n");
        let config = Config::from_yaml(yaml.as_bytes()).unwrap();
        assert_eq!(config.db_service.enabled, want, "{value}");
    }
    let err = Config::parse(b"db_service:\n  enabled: \"maybe\"\n").unwrap_err();
    assert!(matches!(err, Error::Yaml { .. }), "{err:?}");
    assert!(
        !Config::from_yaml(b"db_service: {}\n")
            .unwrap()
            .db_service
            .enabled
    );
    assert_eq!(Config::from_yaml(b"{}").unwrap(), Config::default());
}

#[test]
fn unknown_fields_are_rejected_with_their_name() {
    let cases = [
        (
            "db_service:\n  enabled: yes\n  databasez: []\n",
            "databasez",
        ),
        ("db_sevice:\n  enabled: yes\n", "db_sevice"),
        (
            "db_service:\n  databases:\n  - name: a\n    protocol: postgres\n    uri: h:1\n    bogus: 1\n",
            "bogus",
        ),
        (
            "db_service:\n  databases:\n  - name: a\n    protocol: postgres\n    uri: h:1\n    aws:\n      bogus: 1\n",
            "bogus",
        ),
        (
            "db_service:\n  databases:\n  - name: a\n    protocol: postgres\n    uri: h:1\n    aws:\n      rds:\n        bogus: 1\n",
            "bogus",
        ),
        (
            "db_service:\n  databases:\n  - name: a\n    protocol: postgres\n    uri: h:1\n    tls:\n      bogus: 1\n",
            "bogus",
        ),
        (
            "db_service:\n  aws:\n  - types: [rds]\n    bogus: 1\n",
            "bogus",
        ),
    ];
    for (yaml, want) in cases {
        match Config::parse(yaml.as_bytes()) {
            Err(Error::UnknownField {
                field, location, ..
            }) => {
                assert_eq!(field, want, "{yaml}");
                assert!(location.is_some(), "{yaml}");
            }
            other => panic!("{yaml}: {other:?}"),
        }
    }
    let resource = DYNAMIC.replace("  protocol:", "  bogus: 1\n  protocol:");
    assert!(matches!(
        DatabaseResource::parse(resource.as_bytes()),
        Err(Error::UnknownField { field, .. }) if field == "bogus"
    ));
    let resource = DYNAMIC.replace("  name:", "  namespace: default\n  name:");
    assert!(matches!(
        DatabaseResource::parse(resource.as_bytes()),
        Err(Error::UnknownField { field, .. }) if field == "namespace"
    ));
}

#[test]
fn teleport_and_brief_field_spellings_are_accepted() {
    let config = static_db(
        r#"name: cache
|protocol: redis
|uri: "master.cache.abc.usw1.cache.amazonaws.com:6379"
|static_labels: { env: prod }
|tls: { mode: verify-ca, server_name: x.example, ca_cert_file: /ca.pem }
|aws:
|  region: us-west-1
|  account_id: "123456789012"
|  session_tags: { team: db }
|  rds: { instance_id: i, cluster_id: c, resource_id: db-1 }
|  rds_proxy: { name: p, custom_endpoint_name: e }
|  redshift: { cluster_id: r }
|  elasticache: { replication_group_id: g, serverless_cache_name: s }
|  memorydb: { cluster_name: m }"#,
    )
    .unwrap();
    let db = &config.db_service.databases[0];
    assert_eq!(db.labels.get("env").map(String::as_str), Some("prod"));
    assert_eq!(db.tls.mode, TlsMode::VerifyCa);
    assert_eq!(
        db.aws.rds_proxy.as_ref().and_then(|p| p.name.as_deref()),
        Some("p")
    );
    assert_eq!(
        db.aws
            .memorydb
            .as_ref()
            .and_then(|m| m.cluster_name.as_deref()),
        Some("m")
    );
    let config = static_db(
        "name: a\n|protocol: postgres\n|uri: h:1\n|labels: {a: b}\n|aws: {rdsproxy: {name: p}}",
    )
    .unwrap();
    assert_eq!(config.db_service.databases[0].labels.len(), 1);
}

#[test]
fn protocols_use_teleport_names() {
    for (name, want) in [
        ("postgres", Protocol::Postgres),
        ("mysql", Protocol::MySql),
        ("redis", Protocol::Redis),
        ("mongodb", Protocol::MongoDb),
        ("cassandra", Protocol::Cassandra),
        ("dynamodb", Protocol::DynamoDb),
        ("opensearch", Protocol::OpenSearch),
    ] {
        let config =
            static_db(&format!("name: a\n|protocol: {name}\n|uri: h.example:443")).unwrap();
        assert_eq!(config.db_service.databases[0].protocol, want);
        assert_eq!(want.as_str(), name);
    }
    // MariaDB is MySQL's protocol, under the name people look for.
    let config = static_db("name: a\n|protocol: mariadb\n|uri: h.example:3306").unwrap();
    assert_eq!(config.db_service.databases[0].protocol, Protocol::MySql);
    assert!(matches!(
        static_db("name: a\n|protocol: oracle-ish\n|uri: h:1"),
        Err(Error::Yaml { .. })
    ));
}

#[test]
fn names_follow_the_dns_label_rule() {
    for good in ["a", "rds-postgres", "a1", "x".repeat(63).as_str()] {
        static_db(&format!("name: \"{good}\"\n|protocol: postgres\n|uri: h:1")).unwrap();
    }
    for bad in ["", "A", "1a", "-a", "a-", "a_b", "a.b", "ä"] {
        let r = static_db(&format!("name: \"{bad}\"\n|protocol: postgres\n|uri: h:1"));
        assert_eq!(db_problem(r), ("name", Problem::BadName), "{bad:?}");
    }
    let long = "x".repeat(64);
    let r = static_db(&format!("name: {long}\n|protocol: postgres\n|uri: h:1"));
    assert_eq!(db_problem(r), ("name", Problem::NameTooLong { len: 64 }));
}

#[test]
fn duplicate_names_are_rejected() {
    let yaml = "db_service:\n  databases:\n  - {name: a, protocol: postgres, uri: 'h:1'}\n  - {name: b, protocol: postgres, uri: 'h:1'}\n  - {name: a, protocol: mysql, uri: 'h:2'}\n";
    match Config::from_yaml(yaml.as_bytes()) {
        Err(Error::Database {
            database,
            field,
            problem,
        }) => {
            assert_eq!(
                (database.as_str(), field, problem),
                ("a", "name", Problem::DuplicateName)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn uris_must_be_host_port_or_https_for_http_protocols() {
    let check = |protocol: &str, uri: &str| {
        static_db(&format!("name: a\n|protocol: {protocol}\n|uri: \"{uri}\"")).map(drop)
    };
    for (protocol, uri) in [
        ("postgres", "db.example.com:5432"),
        ("mysql", "10.0.0.1:3306"),
        ("postgres", "[::1]:5432"),
        ("dynamodb", "https://dynamodb.us-east-1.amazonaws.com"),
        ("dynamodb", "aws://dynamodb.us-east-1.amazonaws.com"),
        (
            "opensearch",
            "https://search-x.us-east-1.es.amazonaws.com:443/",
        ),
        ("opensearch", "search-x.us-east-1.es.amazonaws.com:443"),
    ] {
        check(protocol, uri).unwrap_or_else(|e| panic!("{protocol} {uri}: {e}"));
    }
    let problem = |protocol, uri| db_problem(check(protocol, uri).map(|()| Config::default()));
    assert_eq!(problem("postgres", ""), ("uri", Problem::MissingUri));
    for uri in [
        "db.example.com",
        "https://db.example.com:5432",
        "http://dynamodb.us-east-1.amazonaws.com",
        "postgres://h:5432",
        "aws://h:5432",
        "user@h:5432",
        ":5432",
        "h h:5432",
        "::1:5432",
        "[::1]5432",
    ] {
        assert_eq!(problem("postgres", uri), ("uri", Problem::BadUri), "{uri}");
    }
    assert_eq!(
        problem("dynamodb", "http://dynamodb.us-east-1.amazonaws.com"),
        ("uri", Problem::BadUri)
    );
    for uri in ["h:0", "h:65536", "h:", "h:+80", "h:port", "h:123456"] {
        assert_eq!(problem("postgres", uri), ("uri", Problem::BadPort), "{uri}");
    }
    assert_eq!(
        problem("dynamodb", "https://h:0"),
        ("uri", Problem::BadPort)
    );
}

fn with_aws(aws: &str) -> Result<Config, Error> {
    static_db(&format!(
        "name: a\n|protocol: postgres\n|uri: h:1\n|aws: {aws}"
    ))
}

#[test]
fn account_ids_must_be_twelve_digits() {
    for bad in [
        "\"12345678901\"",
        "\"1234567890123\"",
        "\"12345678901a\"",
        "\" 12345678901\"",
    ] {
        let (field, problem) = db_problem(with_aws(&format!("{{account_id: {bad}}}")));
        assert_eq!(field, "aws.account_id");
        assert!(
            matches!(problem, Problem::BadAccountId { .. }),
            "{bad}: {problem:?}"
        );
    }
    let config = with_aws("{account_id: \"012345678901\"}").unwrap();
    assert_eq!(
        config.db_service.databases[0].aws.account_id.as_deref(),
        Some("012345678901")
    );
}

#[test]
fn static_account_id_must_match_the_role_when_given() {
    with_aws(&format!(
        "{{account_id: \"222222222222\", assume_role_arn: \"{ROLE}\"}}"
    ))
    .unwrap();
    let (field, problem) = db_problem(with_aws(&format!(
        "{{account_id: \"111111111111\", assume_role_arn: \"{ROLE}\"}}"
    )));
    assert_eq!(field, "aws.account_id");
    assert_eq!(
        problem,
        Problem::AccountMismatch {
            account_id: "111111111111".into(),
            role_account_id: "222222222222".into()
        }
    );
}

#[test]
fn role_arns_must_be_iam_roles() {
    for (arn, want) in [
        ("arn:aws:iam::222222222222:user/alice", "NotRole"),
        (
            "arn:aws:sts::222222222222:assumed-role/example-role/s",
            "AssumedRole",
        ),
        ("arn:aws:rds:us-west-1:222222222222:db:x", "NotIam"),
        ("arn:aws:iam::222222222222:role/", "EmptyName"),
        ("arn:aws:iam::222222222222:role/bad!name", "BadNameChar"),
        ("arn:aws-moon:iam::222222222222:role/r", "UnknownPartition"),
        ("not-an-arn", "NotAnArn"),
    ] {
        let (field, problem) = db_problem(with_aws(&format!("{{assume_role_arn: \"{arn}\"}}")));
        assert_eq!(field, "aws.assume_role_arn");
        let Problem::Arn(err) = problem else {
            panic!("{arn}: {problem:?}")
        };
        assert!(format!("{err:?}").starts_with(want), "{arn}: {err:?}");
    }
}

#[test]
fn external_id_needs_a_role_unless_the_database_logs_in_as_a_role() {
    let (field, problem) = db_problem(with_aws("{external_id: example-external-id}"));
    assert_eq!(
        (field, problem),
        ("aws.external_id", Problem::ExternalIdWithoutRole)
    );
    for protocol in ["dynamodb", "opensearch", "cassandra"] {
        let db = format!(
            "name: a\n|protocol: {protocol}\n|uri: h.example:443\n|aws: {{external_id: example-external-id}}"
        );
        let config = static_db(&db).unwrap();
        assert!(config.db_service.databases[0].logs_in_as_iam_role());
    }
    let config =
        with_aws("{external_id: example-external-id, redshift_serverless: {workgroup_name: wg}}")
            .unwrap();
    assert!(config.db_service.databases[0].logs_in_as_iam_role());
    let (field, problem) = db_problem(with_aws("{redshift_serverless: {endpoint_name: e}}"));
    assert_eq!(
        (field, problem),
        ("aws.redshift_serverless.workgroup_name", Problem::Missing)
    );
}

#[test]
fn external_ids_follow_sts_rules() {
    for bad in ["x", "has space", "semi;colon"] {
        let (field, problem) = db_problem(with_aws(&format!(
            "{{assume_role_arn: \"{ROLE}\", external_id: \"{bad}\"}}"
        )));
        assert_eq!(
            (field, problem),
            ("aws.external_id", Problem::BadExternalId),
            "{bad}"
        );
    }
    let long = "x".repeat(1225);
    let (_, problem) = db_problem(with_aws(&format!(
        "{{assume_role_arn: \"{ROLE}\", external_id: {long}}}"
    )));
    assert_eq!(problem, Problem::BadExternalId);
}

#[test]
fn session_tags_follow_sts_limits() {
    let long_key = "k".repeat(129);
    let (field, problem) = db_problem(with_aws(&format!("{{session_tags: {{{long_key}: v}}}}")));
    assert_eq!(
        (field, problem),
        ("aws.session_tags", Problem::BadSessionTag { key: long_key })
    );
    let many: Vec<String> = (0..51).map(|i| format!("k{i}: v")).collect();
    let (_, problem) = db_problem(with_aws(&format!(
        "{{session_tags: {{{}}}}}",
        many.join(", ")
    )));
    assert_eq!(problem, Problem::TooManySessionTags { count: 51 });
}

#[test]
fn regions_must_be_well_formed_and_in_the_role_partition() {
    let (field, problem) = db_problem(with_aws("{region: US-WEST-1}"));
    assert_eq!(field, "aws.region");
    assert!(matches!(problem, Problem::BadRegion { .. }));
    for (region, arn, region_partition) in [
        ("cn-north-1", ROLE, Partition::AwsCn),
        ("us-gov-west-1", ROLE, Partition::AwsUsGov),
        ("us-iso-east-1", ROLE, Partition::AwsIso),
        ("us-isob-east-1", ROLE, Partition::AwsIsoB),
        (
            "us-west-1",
            "arn:aws-cn:iam::222222222222:role/r",
            Partition::Aws,
        ),
    ] {
        let (field, problem) = db_problem(with_aws(&format!(
            "{{region: {region}, assume_role_arn: \"{arn}\"}}"
        )));
        assert_eq!(field, "aws.region");
        assert!(
            matches!(problem, Problem::PartitionMismatch { region_partition: p, .. } if p == region_partition),
            "{region}: {problem:?}"
        );
    }
    for (region, partition) in [
        ("cn-north-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        ("eu-central-1", "aws"),
    ] {
        with_aws(&format!(
            "{{region: {region}, assume_role_arn: \"arn:{partition}:iam::222222222222:role/r\"}}"
        ))
        .unwrap_or_else(|e| panic!("{region}: {e}"));
    }
}

fn matcher_problem(matcher: &str) -> (usize, &'static str, Problem) {
    let yaml =
        format!("db_service:\n  aws:\n  - types: [rds]\n    regions: [us-west-1]\n  - {matcher}\n");
    match Config::from_yaml(yaml.as_bytes()) {
        Err(Error::Matcher {
            index,
            field,
            problem,
        }) => (index, field, problem),
        other => panic!("{matcher}: {other:?}"),
    }
}

#[test]
fn discovery_matchers_are_validated() {
    assert_eq!(
        matcher_problem("{regions: [us-west-1]}"),
        (1, "types", Problem::NoTypes)
    );
    assert_eq!(
        matcher_problem("{types: [rds, dynamo], regions: [us-west-1]}"),
        (
            1,
            "types",
            Problem::UnknownType {
                value: "dynamo".into()
            }
        )
    );
    assert_eq!(
        matcher_problem("{types: [rds]}"),
        (1, "regions", Problem::NoRegions)
    );
    assert!(matches!(
        matcher_problem("{types: [rds], regions: [us-west-1, uswest1]}"),
        (1, "regions", Problem::BadRegion { .. })
    ));
    assert!(matches!(
        matcher_problem(
            "{types: [rds], regions: [us-west-1], assume_role_arn: \"arn:aws:iam::222222222222:user/u\"}"
        ),
        (1, "assume_role_arn", Problem::Arn(ArnError::NotRole { .. }))
    ));
    assert_eq!(
        matcher_problem("{types: [rds], regions: [us-west-1], external_id: example-external-id}"),
        (1, "external_id", Problem::ExternalIdWithoutRole)
    );
    assert!(matches!(
        matcher_problem(&format!(
            "{{types: [rds], regions: [cn-north-1], assume_role_arn: \"{ROLE}\"}}"
        )),
        (1, "regions", Problem::PartitionMismatch { .. })
    ));
}

#[test]
fn discovery_accepts_every_teleport_type_and_tag_forms() {
    let types: Vec<&str> = DiscoveryType::ALL.iter().map(|t| t.as_str()).collect();
    let yaml = format!(
        "db_service:\n  aws:\n  - types: [{}]\n    regions: [us-east-1]\n    tags: {{\"*\": \"*\", env: [dev, prod]}}\n",
        types.join(", ")
    );
    let config = Config::from_yaml(yaml.as_bytes()).unwrap();
    let m = &config.db_service.aws[0];
    assert_eq!(m.discovery_types().count(), DiscoveryType::ALL.len());
    assert_eq!(m.tags.get("*"), Some(&vec!["*".to_owned()]));
    assert_eq!(
        m.tags.get("env"),
        Some(&vec!["dev".to_owned(), "prod".to_owned()])
    );
}

#[test]
fn dynamic_account_mismatch_names_both_accounts() {
    let yaml = DYNAMIC.replace(
        "account_id: \"222222222222\"",
        "account_id: \"111111111111\"",
    );
    let err = Database::from_resource_yaml(yaml.as_bytes()).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Database {
                field: "aws.account_id",
                problem: Problem::AccountMismatch { .. },
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("111111111111"), "{message}");
    assert!(message.contains("222222222222"), "{message}");
    assert!(message.contains("rds-postgres"), "{message}");
}

#[test]
fn dynamic_resource_with_role_must_carry_account_id() {
    let yaml = DYNAMIC.replace("    account_id: \"222222222222\"\n", "");
    let err = Database::from_resource_yaml(yaml.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Database {
                field: "aws.account_id",
                problem: Problem::MissingAccountId,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn dynamic_resource_kind_and_version_are_checked() {
    let other_kind = DYNAMIC.replace("kind: db", "kind: app");
    assert!(matches!(
        Database::from_resource_yaml(other_kind.as_bytes()),
        Err(Error::UnsupportedKind { kind }) if kind == "app"
    ));
    let other_version = DYNAMIC.replace("version: v3", "version: v2");
    assert!(matches!(
        Database::from_resource_yaml(other_version.as_bytes()),
        Err(Error::UnsupportedVersion { version }) if version == "v2"
    ));
    assert!(matches!(
        Database::from_resource_yaml(b"metadata: {name: x}\n"),
        Err(Error::UnsupportedKind { .. })
    ));
    let bad_name = DYNAMIC.replace("name: \"rds-postgres\"", "name: \"RDS\"");
    assert!(matches!(
        Database::from_resource_yaml(bad_name.as_bytes()),
        Err(Error::Database {
            field: "name",
            problem: Problem::BadName,
            ..
        })
    ));
}

#[test]
fn config_and_resource_are_not_confused() {
    assert!(matches!(
        Config::parse(DYNAMIC.as_bytes()),
        Err(Error::UnknownField { .. })
    ));
    assert!(matches!(
        Database::from_resource_yaml(STATIC.as_bytes()),
        Err(Error::UnsupportedKind { .. })
    ));
}

/// Accepts any YAML value, to exercise the limits without a schema in the way.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
#[allow(dead_code)]
enum AnyValue {
    Scalar(String),
    List(Vec<AnyValue>),
    Map(BTreeMap<String, AnyValue>),
}

fn assert_fast_error(input: &[u8]) -> Error {
    let start = Instant::now();
    let result = Config::parse(input);
    let dynamic = Database::from_resource_yaml(input);
    crate::fuzzing::resource_yaml(input);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert!(dynamic.is_err());
    result.unwrap_err()
}

#[test]
fn hostile_yaml_fails_fast_without_panicking() {
    // Deep nesting, flow and block style, where the schema accepts arbitrary values (tags)
    // and where it does not: either the depth limit or a type error stops it, never the stack.
    let open = "[".repeat(100_000);
    let close = "]".repeat(100_000);
    let deep_flow = format!("db_service:\n  aws:\n  - tags: {{k: {open}{close}}}\n");
    let err = assert_fast_error(deep_flow.as_bytes());
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err:?}");
    let deep_flow = format!("db_service: {open}{close}");
    let _ = assert_fast_error(deep_flow.as_bytes());
    let deep_block: String = (0..200)
        .map(|i| format!("{}- \n", "  ".repeat(i)))
        .collect();
    let deep_block = format!("db_service:\n  aws:\n  - tags:\n      k:\n{deep_block}");
    let _ = assert_fast_error(deep_block.as_bytes());

    // Billion laughs: each level refers to the previous one ten times.
    let mut bomb = String::from("a0: &a0 [\"lol\"]\n");
    for i in 1..=9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    // Against the config schema, the first type error already stops the replay...
    let config_bomb = format!(
        "db_service:\n  aws:\n  - tags:\n      {}      k: *a9\n",
        bomb.replace('\n', "\n      ")
    );
    let _ = assert_fast_error(config_bomb.as_bytes());
    // ...and a schema that accepts anything (as a later section might) hits the alias limits.
    bomb.push_str("root: *a9\n");
    let start = Instant::now();
    let err = parse_yaml::<BTreeMap<String, AnyValue>>(bomb.as_bytes(), &YamlLimits::default())
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err:?}");

    // Huge input is refused before parsing.
    let huge = format!(
        "db_service:\n  enabled: yes\n# {}\n",
        "x".repeat(2 * 1024 * 1024)
    );
    assert!(matches!(
        assert_fast_error(huge.as_bytes()),
        Error::InputTooLarge { .. }
    ));

    // Many nodes within the byte limit.
    let wide = format!(
        "db_service:\n  aws:\n  - types: [{}]\n",
        vec!["rds"; 150_000].join(",")
    );
    assert!(matches!(
        assert_fast_error(wide.as_bytes()),
        Error::LimitExceeded { .. } | Error::InputTooLarge { .. }
    ));

    // Not UTF-8, not YAML, several documents.
    for junk in [
        &b"\xff\xfe\x00db_service"[..],
        b"db_service: [",
        b"---\na: 1\n---\nb: 2\n",
        b"\0",
    ] {
        let _ = assert_fast_error(junk);
    }
}

#[test]
fn limits_are_configurable() {
    let limits = YamlLimits {
        max_depth: 3,
        ..YamlLimits::default()
    };
    let err = parse_yaml::<Config>(STATIC.as_bytes(), &limits).unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err:?}");
    let limits = YamlLimits {
        max_bytes: 10,
        ..YamlLimits::default()
    };
    let err = parse_yaml::<Config>(STATIC.as_bytes(), &limits).unwrap_err();
    assert!(
        matches!(err, Error::InputTooLarge { max: 10, .. }),
        "{err:?}"
    );
}

#[test]
fn fuzz_entry_point_survives_seeds_and_mutations() {
    for seed in [DISCOVERY, STATIC, DYNAMIC] {
        let bytes = seed.as_bytes();
        crate::fuzzing::resource_yaml(bytes);
        for cut in 0..bytes.len() {
            crate::fuzzing::resource_yaml(&bytes[..cut]);
        }
    }
}

#[test]
fn fuzz_seeds_parse_and_validate() {
    macro_rules! seed {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fuzz/corpus/resource_yaml/seed-",
                $name,
                ".yaml"
            ))
        };
    }
    assert_eq!(seed!("discovery"), DISCOVERY.trim_start());
    assert_eq!(seed!("static"), STATIC.trim_start());
    assert_eq!(seed!("dynamic"), DYNAMIC.trim_start());
    let config = Config::from_yaml(seed!("full").as_bytes()).unwrap();
    let dbs = &config.db_service.databases;
    assert_eq!(dbs.len(), 3);
    assert!(dbs[1].logs_in_as_iam_role() && dbs[2].logs_in_as_iam_role());
    assert_eq!(dbs[2].aws.account_id.as_deref(), Some("123456789012"));
    let db = Database::from_resource_yaml(seed!("anchors").as_bytes()).unwrap();
    assert_eq!(db.labels.get("owner").map(String::as_str), Some("orders"));
    assert_eq!(db.tls.mode, TlsMode::Insecure);
}

#[test]
fn host_port_forms() {
    use crate::host_port;
    assert_eq!(
        host_port("db.example.com:6543", 5432),
        Some(("db.example.com", 6543))
    );
    assert_eq!(
        host_port("db.example.com", 5432),
        Some(("db.example.com", 5432))
    );
    assert_eq!(host_port("postgres://h:1/app", 5432), Some(("h", 1)));
    assert_eq!(host_port("[::1]:7", 5432), Some(("::1", 7)));
    assert_eq!(host_port("[::1]", 3306), Some(("::1", 3306)));
    assert_eq!(host_port("[]:1", 3306), None);
    assert_eq!(host_port("h:notaport", 5432), None);
    assert_eq!(host_port("h:99999", 5432), None);
    assert_eq!(host_port("", 5432), None);
    let db = Database::new("r", Protocol::Redis, "cache.example.com");
    assert_eq!(db.host_port(), Some(("cache.example.com", 6379)));
}

#[test]
fn an_unknown_key_suggests_the_nearest_valid_one() {
    let err = Config::parse(b"db_service:\n  databses: []\n").unwrap_err();
    match &err {
        Error::UnknownField {
            field, expected, ..
        } => {
            assert_eq!(field, "databses");
            assert!(expected.iter().any(|k| k == "databases"), "{expected:?}");
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("at line 2"), "{text}");
    assert!(text.ends_with("did you mean `databases`?"), "{text}");
    let far = Config::parse(b"db_service:\n  zzzzzzzz: []\n")
        .unwrap_err()
        .to_string();
    assert!(far.contains("valid keys here: "), "{far}");
    assert!(far.contains("databases"), "{far}");
}

#[test]
fn resource_matchers_parse_and_validate() {
    let yaml = "db_service:\n  resources:\n    - labels: { env: [prod, staging], team: payments }\n      aws:\n        assume_role_arn: arn:aws:iam::222222222222:role/db-access\n        external_id: ext-id-1\n    - labels: { \"*\": \"*\" }\n";
    let config = Config::from_yaml(yaml.as_bytes()).unwrap();
    let matchers = &config.db_service.resources;
    assert_eq!(matchers.len(), 2);
    assert_eq!(matchers[0].labels["env"], ["prod", "staging"]);
    assert_eq!(matchers[0].labels["team"], ["payments"]);
    assert_eq!(
        matchers[0].aws.external_id.as_ref().map(|e| e.expose()),
        Some("ext-id-1")
    );
    assert!(!format!("{config:?}").contains("ext-id-1"));
    assert_eq!(matchers[1].aws.assume_role_arn, None);

    let bad_role = "db_service:\n  resources:\n    - labels: { env: prod }\n      aws: { assume_role_arn: not-an-arn }\n";
    assert!(matches!(
        Config::from_yaml(bad_role.as_bytes()),
        Err(Error::ResourceMatcher {
            index: 0,
            field: "aws.assume_role_arn",
            ..
        })
    ));
    let lone_external_id = "db_service:\n  resources:\n    - labels: { env: prod }\n      aws: { external_id: ext-id-1 }\n";
    assert!(matches!(
        Config::from_yaml(lone_external_id.as_bytes()),
        Err(Error::ResourceMatcher {
            field: "aws.external_id",
            problem: Problem::ExternalIdWithoutRole,
            ..
        })
    ));
}
