//! `GetClusterCredentialsWithIAM` and Redshift Serverless `GetCredentials` (not in moto) against a stand-in
//! that verifies the SigV4 signature with the caller's key, checks the action and parameters, and answers in
//! the real services' shapes (query/XML and JSON 1.1).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod redshift_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use iamwire_aws::aws_api::{ApiError, Call};
use iamwire_aws::redshift::{
    ClusterIamCredentialsRequest, ServerlessCredentialsRequest, get_cluster_credentials_with_iam,
    get_serverless_credentials,
};
use redshift_support::{Protocol, Received, Reply, StandIn, plaintext_client, wrong_secret};

const PASSWORD: &str = "AmazonRedshift&temporary+pass/word=";

fn role_creds() -> Credentials {
    Credentials::builder()
        .access_key_id("ASIAREDSHIFTROLE0001")
        .secret_access_key("role/secret+key=")
        .session_token("role-session-token/+=")
        .account_id("222222222222")
        .provider_name("test")
        .build()
}

fn expiry() -> SystemTime {
    SystemTime::now() + Duration::from_secs(900)
}

fn iso(t: SystemTime) -> String {
    aws_smithy_types::DateTime::from(t)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap()
}

fn provisioned(r: &Received) -> Reply {
    let p = r.params();
    if p.get("Action").map(String::as_str) != Some("GetClusterCredentialsWithIAM")
        || p.get("Version").map(String::as_str) != Some("2012-12-01")
    {
        return (400, vec![], "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>bad action</Message></Error><RequestId>x</RequestId></ErrorResponse>".into());
    }
    if p.get("ClusterIdentifier").map(String::as_str) != Some("analytics") {
        return (404, vec![], "<ErrorResponse xmlns=\"http://redshift.amazonaws.com/doc/2012-12-01/\"><Error><Type>Sender</Type><Code>ClusterNotFound</Code><Message>Cluster not found.</Message></Error><RequestId>x</RequestId></ErrorResponse>".into());
    }
    let body = format!(
        "<GetClusterCredentialsWithIAMResponse xmlns=\"http://redshift.amazonaws.com/doc/2012-12-01/\">\n  <GetClusterCredentialsWithIAMResult>\n    <DbUser>IAMR:db-reader</DbUser>\n    <Expiration>{}</Expiration>\n    <DbPassword>{}</DbPassword>\n    <NextRefreshTime>{}</NextRefreshTime>\n  </GetClusterCredentialsWithIAMResult>\n  <ResponseMetadata>\n    <RequestId>4b3d3f4a-1111</RequestId>\n  </ResponseMetadata>\n</GetClusterCredentialsWithIAMResponse>",
        iso(expiry()),
        PASSWORD.replace('&', "&amp;"),
        iso(expiry()),
    );
    (200, vec![], body)
}

fn serverless(r: &Received) -> Reply {
    if r.header("x-amz-target") != Some("RedshiftServerless.GetCredentials")
        || r.header("content-type") != Some("application/x-amz-json-1.1")
    {
        return (
            400,
            vec![("x-amzn-ErrorType", "UnknownOperationException".into())],
            "{}".into(),
        );
    }
    let body = r.json();
    if body["workgroupName"] != "etl" {
        return (
            400,
            vec![(
                "x-amzn-ErrorType",
                "ResourceNotFoundException:http://internal.amazon.com/".into(),
            )],
            r#"{"message":"Workgroup not found"}"#.into(),
        );
    }
    let exp = expiry().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    let reply = serde_json::json!({
        "dbUser": "IAMR:db-reader",
        "dbPassword": PASSWORD,
        "expiration": exp,
        "nextRefreshTime": exp,
    });
    (200, vec![], reply.to_string())
}

#[tokio::test]
async fn with_iam_returns_the_role_user() {
    let creds = role_creds();
    let standin = StandIn::start(
        Protocol::Query,
        "redshift",
        vec![creds.clone()],
        provisioned,
    )
    .await;
    let client = plaintext_client();
    let call = Call::new(&creds, "eu-west-1", SystemTime::now()).endpoint(&standin.endpoint);
    let request = ClusterIamCredentialsRequest::new("analytics")
        .db_name("dev")
        .duration(Duration::from_secs(1800));
    let login = get_cluster_credentials_with_iam(&client, call, &request)
        .await
        .unwrap();
    assert_eq!(login.user(), "IAMR:db-reader");
    assert_eq!(login.password(), PASSWORD);
    assert!(login.expiration() > SystemTime::now());
    assert!(!format!("{login:?}").contains(PASSWORD));

    let got = standin.received();
    assert_eq!(got.len(), 1);
    let p = got[0].params();
    assert_eq!(p["ClusterIdentifier"], "analytics");
    assert_eq!(p["DbName"], "dev");
    assert_eq!(p["DurationSeconds"], "1800");
    assert!(!p.contains_key("DbUser"));
    assert_eq!(got[0].region, "eu-west-1");
    assert_eq!(
        got[0].header("x-amz-security-token"),
        Some("role-session-token/+=")
    );
}

#[tokio::test]
async fn with_iam_surfaces_aws_error_codes() {
    let creds = role_creds();
    let standin = StandIn::start(
        Protocol::Query,
        "redshift",
        vec![creds.clone()],
        provisioned,
    )
    .await;
    let client = plaintext_client();

    let bad = wrong_secret(&creds);
    let call = Call::new(&bad, "us-east-1", SystemTime::now()).endpoint(&standin.endpoint);
    let err = get_cluster_credentials_with_iam(
        &client,
        call,
        &ClusterIamCredentialsRequest::new("analytics"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
    assert!(matches!(&err, ApiError::Service(e) if e.status == 403));
    assert_eq!(standin.refused(), 1);

    let call = Call::new(&creds, "us-east-1", SystemTime::now()).endpoint(&standin.endpoint);
    let err =
        get_cluster_credentials_with_iam(&client, call, &ClusterIamCredentialsRequest::new("nope"))
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some("ClusterNotFound"));
    let text = err.to_string();
    assert!(text.contains("cluster nope"), "{text}");
    assert!(text.contains("check the cluster identifier"), "{text}");
}

#[tokio::test]
async fn serverless_returns_the_role_user() {
    let creds = role_creds();
    let standin = StandIn::start(
        Protocol::Json,
        "redshift-serverless",
        vec![creds.clone()],
        serverless,
    )
    .await;
    let client = plaintext_client();
    let call = Call::new(&creds, "us-west-2", SystemTime::now()).endpoint(&standin.endpoint);
    let request = ServerlessCredentialsRequest::new("etl").db_name("dev");
    let login = get_serverless_credentials(&client, call, &request)
        .await
        .unwrap();
    assert_eq!(login.user(), "IAMR:db-reader");
    assert_eq!(login.password(), PASSWORD);
    assert!(login.expiration() > SystemTime::now());

    let got = standin.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].json(),
        serde_json::json!({"workgroupName": "etl", "dbName": "dev", "durationSeconds": 900})
    );
}

#[tokio::test]
async fn serverless_surfaces_aws_error_codes() {
    let creds = role_creds();
    let standin = StandIn::start(
        Protocol::Json,
        "redshift-serverless",
        vec![creds.clone()],
        serverless,
    )
    .await;
    let client = plaintext_client();

    let bad = wrong_secret(&creds);
    let call = Call::new(&bad, "us-east-1", SystemTime::now()).endpoint(&standin.endpoint);
    let err = get_serverless_credentials(&client, call, &ServerlessCredentialsRequest::new("etl"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"));
    assert!(
        err.to_string()
            .contains("check the credentials and the clock")
    );

    let call = Call::new(&creds, "us-east-1", SystemTime::now()).endpoint(&standin.endpoint);
    let err =
        get_serverless_credentials(&client, call, &ServerlessCredentialsRequest::new("other"))
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert!(err.to_string().contains("workgroup other"));
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error() {
    let creds = role_creds();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let call = Call::new(&creds, "us-east-1", SystemTime::now()).endpoint(&endpoint);
    let err = get_serverless_credentials(
        &plaintext_client(),
        call,
        &ServerlessCredentialsRequest::new("etl"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ApiError::Transport { .. }), "{err:?}");
}
