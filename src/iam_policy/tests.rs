//! Golden tests: the printed policies for one configuration per database type, compared with files
//! reviewed against AWS's documentation of each action and resource ARN format:
//!
//! - sts:AssumeRole, sts:TagSession, the sts:ExternalId condition:
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html>,
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html>
//! - rds-db:connect on `arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<user>` (also
//!   `prx-…` for RDS Proxy):
//!   <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html>
//! - redshift:GetClusterCredentials on `dbuser:<cluster>/<user>` and `dbname:<cluster>/<db>`,
//!   redshift:GetClusterCredentialsWithIAM on `dbname:<cluster>/<db>`:
//!   <https://docs.aws.amazon.com/redshift/latest/mgmt/generating-iam-credentials-role-permissions.html>
//! - redshift-serverless:GetCredentials on `workgroup/<workgroup id>`:
//!   <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonredshiftserverless.html>
//! - elasticache:Connect on `replicationgroup:<id>` / `serverlesscache:<name>` and `user:<user id>`:
//!   <https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth-iam.html>
//! - memorydb:Connect on `cluster/<name>` and `user/<user>`:
//!   <https://docs.aws.amazon.com/memorydb/latest/devguide/auth-iam.html>
//! - es:DescribeDomains on `domain/<name>`:
//!   <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonopensearchservice.html>
//! - rds:DescribeDBClusters on `cluster:<id>`:
//!   <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html>
//!
//! Regenerate after a reviewed change with `UPDATE_GOLDEN=1 cargo test --bin iamwire iam_policy`.

use std::path::PathBuf;

use super::{Principal, build, read_config, render};

const PRINCIPAL: &str = "arn:aws:iam::111111111111:role/iamwire-proxy";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/iam_policy")
        .join(name)
}

fn golden(name: &str) {
    let input = read_config(&data(&format!("{name}.yaml"))).unwrap();
    let principal = Principal::parse(PRINCIPAL).unwrap();
    let plan = build(&input, &principal, &[]).unwrap();
    let json = render::json(&plan);
    let path = data(&format!("{name}.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &json).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        json == expected,
        "{name}: the printed policies differ from {}:\n{json}",
        path.display()
    );
    // Terraform renders the same plan; every statement id appears in it.
    let terraform = render::terraform(&plan);
    for (_, policy) in plan.policies() {
        for (statement, _) in &policy.statements {
            assert!(terraform.contains(&format!("sid       = \"{}\"", statement.sid)));
        }
    }
}

macro_rules! goldens {
    ($($name:ident),*) => { $( #[test] fn $name() { golden(stringify!($name)); } )* };
}

goldens!(
    rds,
    rdsproxy,
    redshift,
    redshift_serverless,
    elasticache,
    memorydb,
    dynamodb,
    opensearch,
    keyspaces,
    documentdb,
    discovery
);

#[test]
fn principals_parse_like_aws_prints_them() {
    let role = Principal::parse("arn:aws:sts::111111111111:assumed-role/proxy/i-0abc").unwrap();
    assert_eq!(role.arn, "arn:aws:iam::111111111111:role/proxy");
    assert_eq!(role.account, "111111111111");
    assert!(Principal::parse("arn:aws:iam::111111111111:user/ops/alice").is_some());
    assert!(Principal::parse("arn:aws:s3:::bucket").is_none());
    assert!(Principal::parse("arn:aws:iam::12:role/x").is_none());
}

#[test]
fn only_the_databases_asked_for() {
    let input = read_config(&data("rds.yaml")).unwrap();
    let principal = Principal::parse(PRINCIPAL).unwrap();
    assert!(build(&input, &principal, &["nope".into()]).is_err());
    let plan = build(&input, &principal, &["orders".into()]).unwrap();
    assert_eq!(plan.accounts.len(), 2);
}
