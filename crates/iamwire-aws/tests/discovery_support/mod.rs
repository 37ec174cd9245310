//! The rig for discovery and endpoint-check tests: moto in signature-checking mode, a proxy user in
//! the proxy account, a discovery role in the database account that trusts it with an external ID, an
//! admin in the database account (and one in a third account) that creates resources through boto3.

#![allow(dead_code, unreachable_pub, missing_docs)]

#[path = "../redshift_support/mod.rs"]
mod standin;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_credential_types::Credentials;
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_aws::role::RoleProvider;
use iamwire_aws::sts::StsRoleProvider;
use iamwire_core::{AwsMatcher, ExternalId};
use iamwire_testkit::moto::{
    AwsSetup, CreatedUser, DATABASE_ACCOUNT, Moto, PROXY_ACCOUNT, RoleSpec, proxy_trusted_role,
    user,
};
use serde_json::{Value, json};

pub use standin::plaintext_client;

/// A third account, holding resources that are none of the proxy's business.
pub const OTHER_ACCOUNT: &str = "333333333333";
/// The external ID the discovery role's trust policy requires.
pub const EXTERNAL_ID: &str = "discovery-ext-5f1e";

/// What a discovery role may do: list every supported type, read tags, turn IAM auth on.
pub const DISCOVERY_ACTIONS: &[&str] = &[
    "rds:DescribeDBInstances",
    "rds:DescribeDBClusters",
    "rds:DescribeDBClusterEndpoints",
    "rds:DescribeDBProxies",
    "rds:DescribeDBProxyEndpoints",
    "rds:ListTagsForResource",
    "rds:ModifyDBInstance",
    "rds:ModifyDBCluster",
    "elasticache:DescribeReplicationGroups",
    "elasticache:DescribeServerlessCaches",
    "elasticache:ListTagsForResource",
    "memorydb:DescribeClusters",
    "memorydb:ListTags",
    "es:ListDomainNames",
    "es:DescribeDomains",
    "es:DescribeDomain",
    "es:ListTags",
    "redshift:DescribeClusters",
    "rds-db:connect",
];

pub struct Rig {
    pub moto: Moto,
    pub proxy: CreatedUser,
    pub admin: CreatedUser,
    pub other_admin: CreatedUser,
    /// The discovery role (DISCOVERY_ACTIONS, external ID required).
    pub role_arn: String,
    /// A role in the database account that may list RDS only.
    pub rds_only_role_arn: String,
    pub roles: Arc<dyn RoleProvider>,
}

fn role(name: &str, actions: &[&str]) -> RoleSpec {
    proxy_trusted_role(name, Some(EXTERNAL_ID), actions)
}

impl Rig {
    pub fn start() -> Self {
        let moto = Moto::start().unwrap();
        let admin_actions = [
            "rds:*",
            "ec2:*",
            "elasticache:*",
            "memorydb:*",
            "es:*",
            "redshift:*",
        ];
        let created = moto
            .setup(&AwsSetup {
                users: vec![
                    user(
                        PROXY_ACCOUNT,
                        "iamwire-proxy",
                        &["sts:AssumeRole", "sts:TagSession"],
                    ),
                    user(DATABASE_ACCOUNT, "db-admin", &admin_actions),
                    user(OTHER_ACCOUNT, "other-admin", &admin_actions),
                ],
                roles: vec![
                    role("discovery", DISCOVERY_ACTIONS),
                    role("rds-only", &["rds:Describe*", "rds:ListTagsForResource"]),
                ],
            })
            .unwrap();
        let proxy = created.users["iamwire-proxy"].clone();
        let base = Credentials::new(
            &proxy.access_key_id,
            &proxy.secret_access_key,
            None,
            None,
            "rig",
        );
        let cache = CredentialCache::new(CacheConfig::default(), Arc::new(SystemClock));
        let roles = StsRoleProvider::for_region(base, "us-east-1", Some(&moto.endpoint()), cache);
        Self {
            proxy,
            admin: created.users["db-admin"].clone(),
            other_admin: created.users["other-admin"].clone(),
            role_arn: created.roles["discovery"].arn.clone(),
            rds_only_role_arn: created.roles["rds-only"].arn.clone(),
            roles: Arc::new(roles),
            moto,
        }
    }

    /// A boto3 call as `who` in `region`; panics on an AWS error.
    pub fn call(
        &self,
        who: &CreatedUser,
        region: &str,
        service: &str,
        method: &str,
        params: Value,
    ) -> Value {
        self.moto
            .call(who, region, service, method, &params)
            .unwrap_or_else(|e| panic!("{service}.{method}: {e}"))
    }

    /// An RDS instance of `engine`, created by `who` in `region`, with `tags`.
    pub fn instance(
        &self,
        who: &CreatedUser,
        region: &str,
        id: &str,
        engine: &str,
        tags: &[(&str, &str)],
        iam: bool,
    ) -> Value {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect();
        let mut params = json!({
            "DBInstanceIdentifier": id, "Engine": engine, "DBInstanceClass": "db.t3.micro",
            "AllocatedStorage": 20, "MasterUsername": "admin", "MasterUserPassword": "password1234",
            "Tags": tags, "EnableIAMDatabaseAuthentication": iam,
        });
        if engine == "mariadb" {
            // moto 5.2 knows no default MariaDB version or parameter group.
            params["EngineVersion"] = json!("10.11.6");
            params["DBParameterGroupName"] = json!("default.mariadb10.11");
        }
        let answer = self.call(who, region, "rds", "create_db_instance", params);
        answer["DBInstance"].clone()
    }

    /// An Aurora (or other RDS) cluster, created by the database account's admin.
    pub fn cluster(&self, region: &str, id: &str, engine: &str, tags: Value) -> Value {
        let params = json!({
            "DBClusterIdentifier": id, "Engine": engine, "MasterUsername": "admin",
            "MasterUserPassword": "password1234", "Tags": tags,
            "EnableIAMDatabaseAuthentication": engine == "aurora-postgresql",
        });
        self.call(&self.admin, region, "rds", "create_db_cluster", params)
    }

    /// The first two default subnets of `region` (for RDS Proxy).
    pub fn subnets(&self, who: &CreatedUser, region: &str) -> Vec<String> {
        let answer = self.call(who, region, "ec2", "describe_subnets", json!({}));
        answer["Subnets"]
            .as_array()
            .unwrap()
            .iter()
            .take(2)
            .map(|s| s["SubnetId"].as_str().unwrap().to_owned())
            .collect()
    }

    /// A matcher for `types` in `regions` through the discovery role.
    pub fn matcher(
        &self,
        types: &[&str],
        regions: &[&str],
        tags: &[(&str, &[&str])],
    ) -> AwsMatcher {
        matcher(
            types,
            regions,
            tags,
            Some(&self.role_arn),
            Some(EXTERNAL_ID),
        )
    }
}

/// A matcher, as `db_service.aws` would parse it.
pub fn matcher(
    types: &[&str],
    regions: &[&str],
    tags: &[(&str, &[&str])],
    role: Option<&str>,
    external_id: Option<&str>,
) -> AwsMatcher {
    let mut m = AwsMatcher::default();
    m.types = types.iter().map(|t| (*t).to_owned()).collect();
    m.regions = regions.iter().map(|r| (*r).to_owned()).collect();
    m.tags = tags
        .iter()
        .map(|(k, vs)| {
            (
                (*k).to_owned(),
                vs.iter().map(|v| (*v).to_owned()).collect(),
            )
        })
        .collect::<BTreeMap<_, _>>();
    m.assume_role_arn = role.map(str::to_owned);
    m.external_id = external_id.map(ExternalId::new);
    m
}
