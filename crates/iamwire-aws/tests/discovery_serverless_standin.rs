//! Redshift Serverless discovery (moto has no Redshift Serverless) against the stand-in, which verifies
//! each request's SigV4 signature with the caller's key and answers `ListWorkgroups` (two pages),
//! `ListTagsForResource` and `ListEndpointAccess` in the shapes of the Redshift Serverless API
//! reference: the JSON 1.1 pagination path, tags as labels, VPC endpoints.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod redshift_support;

use std::sync::Arc;

use aws_credential_types::Credentials;
use iamwire_aws::discovery::Discoverer;
use iamwire_aws::role::{CredentialsFuture, RoleChain, RoleProvider};
use iamwire_core::{AwsMatcher, DiscoveryType, Protocol as DbProtocol};
use redshift_support::{Protocol, Received, Reply, StandIn, plaintext_client};
use serde_json::json;

const ACCOUNT: &str = "123456789012";

fn creds() -> Credentials {
    Credentials::builder()
        .access_key_id("AKIADISCOVERYSTANDIN")
        .secret_access_key("standin/secret+key=")
        .account_id(ACCOUNT)
        .provider_name("test")
        .build()
}

/// The proxy's own identity (a matcher without a role).
#[derive(Debug)]
struct Base;

impl RoleProvider for Base {
    fn credentials<'a>(&'a self, chain: &'a RoleChain) -> CredentialsFuture<'a> {
        assert!(chain.is_empty());
        Box::pin(async { Ok(creds()) })
    }
}

fn workgroup(name: &str) -> serde_json::Value {
    json!({
        "workgroupName": name, "workgroupId": format!("id-{name}"),
        "workgroupArn": format!("arn:aws:redshift-serverless:us-east-1:{ACCOUNT}:workgroup/id-{name}"),
        "status": "AVAILABLE", "namespaceName": "default",
        "endpoint": {"address": format!("{name}.{ACCOUNT}.us-east-1.redshift-serverless.amazonaws.com"), "port": 5439}
    })
}

fn answer(r: &Received) -> Reply {
    let body = r.json();
    let out = match r.header("x-amz-target").unwrap_or_default() {
        "RedshiftServerless.ListWorkgroups" => match body.get("nextToken").and_then(|t| t.as_str())
        {
            None => json!({"workgroups": [workgroup("analytics")], "nextToken": "page-2"}),
            Some("page-2") => json!({"workgroups": [workgroup("adhoc")]}),
            Some(_) => return (400, vec![], json!({"message": "bad token"}).to_string()),
        },
        "RedshiftServerless.ListTagsForResource" => {
            let arn = body["resourceArn"].as_str().unwrap_or_default();
            let env = if arn.ends_with("id-analytics") {
                "prod"
            } else {
                "dev"
            };
            json!({"tags": [{"key": "env", "value": env}]})
        }
        "RedshiftServerless.ListEndpointAccess" => json!({"endpoints": [{
            "endpointName": "bi", "endpointStatus": "ACTIVE", "workgroupName": "analytics",
            "endpointArn": format!("arn:aws:redshift-serverless:us-east-1:{ACCOUNT}:managedvpcendpoint/0f7c"),
            "address": format!("bi-endpoint-abcdefgh.{ACCOUNT}.us-east-1.redshift-serverless.amazonaws.com"),
            "port": 5439, "vpcEndpoint": {"vpcEndpointId": "vpce-1", "vpcId": "vpc-0def"}
        }]}),
        other => {
            let error = format!("UnknownOperationException:{other}");
            return (400, vec![("x-amzn-ErrorType", error)], "{}".to_owned());
        }
    };
    (200, vec![], out.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workgroups_across_pages_with_tags_and_vpc_endpoints() {
    let standin =
        StandIn::start(Protocol::Json, "redshift-serverless", vec![creds()], answer).await;
    let d = Discoverer::new(plaintext_client(), Arc::new(Base))
        .service_endpoint("redshift-serverless", &standin.endpoint);
    let mut m = AwsMatcher::default();
    m.types = vec!["redshift-serverless".into()];
    m.regions = vec!["us-east-1".into()];
    m.tags.insert("env".into(), vec!["prod".into()]);
    let report = d.discover(0, &m).await;
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert!(report.is_complete("us-east-1", DiscoveryType::RedshiftServerless));
    let names: Vec<&str> = report
        .databases
        .iter()
        .map(|d| d.database.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "analytics-bi-redshift-serverless-us-east-1-123456789012",
            "analytics-redshift-serverless-us-east-1-123456789012",
        ]
    );
    assert_eq!(report.filtered_out, 1, "adhoc (env=dev)");
    let endpoint = &report.databases[0].database;
    assert_eq!(endpoint.protocol, DbProtocol::Postgres);
    assert!(endpoint.uri.starts_with("bi-endpoint-abcdefgh.") && endpoint.uri.ends_with(":5439"));
    let rss = endpoint.aws.redshift_serverless.as_ref().unwrap();
    assert_eq!(rss.workgroup_name.as_deref(), Some("analytics"));
    assert_eq!(rss.endpoint_name.as_deref(), Some("bi"));
    assert_eq!(endpoint.labels["env"], "prod", "the workgroup's tags");
    assert_eq!(endpoint.labels["vpc-id"], "vpc-0def");
    assert!(endpoint.logs_in_as_iam_role());
    assert_eq!(endpoint.aws.account_id.as_deref(), Some(ACCOUNT));
    assert_eq!(endpoint.aws.assume_role_arn, None);

    let received = standin.received();
    let targets: Vec<&str> = received
        .iter()
        .filter_map(|r| r.header("x-amz-target"))
        .collect();
    assert_eq!(
        targets
            .iter()
            .filter(|t| t.ends_with("ListWorkgroups"))
            .count(),
        2,
        "two pages: {targets:?}"
    );
    assert_eq!(received[1].json()["nextToken"], "page-2");
    assert_eq!(received[0].json()["maxResults"], 50);
    assert_eq!(standin.refused(), 0, "every request was signed right");
}
