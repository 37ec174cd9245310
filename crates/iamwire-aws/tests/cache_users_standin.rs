//! MemoryDB `DescribeUsers` (not in moto) against a stand-in that verifies the SigV4 signature and answers
//! in MemoryDB's JSON 1.1 shapes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "redshift_support/mod.rs"]
mod support;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use iamwire_aws::aws_api::Call;
use iamwire_aws::cache_users::{CacheService, IamUserCache, user_uses_iam};
use serde_json::json;
use support::{Protocol, Received, Reply, StandIn, plaintext_client, wrong_secret};

fn role_creds() -> Credentials {
    Credentials::new(
        "ASIAMEMORYDBROLE0001",
        "memorydb/secret",
        Some("tok/+=".into()),
        None,
        "t",
    )
}

fn user(name: &str, kind: &str) -> serde_json::Value {
    json!({
        "Name": name,
        "Status": "active",
        "AccessString": "on ~* &* +@all",
        "ACLNames": ["app-acl"],
        "MinimumEngineVersion": "6.2",
        "Authentication": {"Type": kind, "PasswordCount": if kind == "password" { 1 } else { 0 }},
        "ARN": format!("arn:aws:memorydb:us-east-1:222222222222:user/{name}"),
    })
}

fn memorydb(r: &Received) -> Reply {
    if r.header("x-amz-target") != Some("AmazonMemoryDB.DescribeUsers") {
        return (
            400,
            vec![("x-amzn-ErrorType", "UnknownOperationException".into())],
            "{}".into(),
        );
    }
    let name = r.json()["UserName"].as_str().unwrap_or_default().to_owned();
    let users = match name.as_str() {
        "app-iam" => vec![user("app-iam", "iam")],
        "app-password" => vec![user("app-password", "password")],
        _ => {
            return (
                400,
                vec![],
                json!({"__type": "UserNotFoundFault", "message": format!("User {name} not found")})
                    .to_string(),
            );
        }
    };
    (200, vec![], json!({ "Users": users }).to_string())
}

#[tokio::test]
async fn memorydb_users_against_a_verifying_stand_in() {
    let creds = role_creds();
    let standin = StandIn::start(Protocol::Json, "memorydb", vec![creds.clone()], memorydb).await;
    let client = plaintext_client();
    let call = Call::new(&creds, "us-east-1", SystemTime::now()).endpoint(&standin.endpoint);
    let svc = CacheService::MemoryDb;
    assert!(user_uses_iam(&client, call, svc, "app-iam").await.unwrap());
    assert!(
        !user_uses_iam(&client, call, svc, "app-password")
            .await
            .unwrap()
    );
    assert!(!user_uses_iam(&client, call, svc, "missing").await.unwrap());
    let got = standin.received();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].json(), json!({"UserName": "app-iam"}));
    assert_eq!(got[0].service, "memorydb");

    let bad = wrong_secret(&creds);
    let call = Call::new(&bad, "us-east-1", SystemTime::now()).endpoint(&standin.endpoint);
    let err = user_uses_iam(&client, call, svc, "app-iam")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"));
    assert_eq!(standin.refused(), 1);
}

#[tokio::test]
async fn memorydb_cache_asks_once_per_ttl() {
    let creds = role_creds();
    let standin = StandIn::start(Protocol::Json, "memorydb", vec![creds.clone()], memorydb).await;
    let client = plaintext_client();
    let cache = IamUserCache::new(Duration::from_secs(60));
    let now = SystemTime::now();
    for _ in 0..5 {
        let call = Call::new(&creds, "us-east-1", now).endpoint(&standin.endpoint);
        assert!(
            cache
                .user_uses_iam(&client, call, CacheService::MemoryDb, "app-iam")
                .await
                .unwrap()
        );
    }
    assert_eq!(standin.received().len(), 1);
    assert_eq!(cache.len(), 1);
}
