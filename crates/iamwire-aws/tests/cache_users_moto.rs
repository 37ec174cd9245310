//! ElastiCache `DescribeUsers` against moto: IAM, password and missing users; the cache saves calls.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "redshift_support/mod.rs"]
mod support;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use iamwire_aws::aws_api::Call;
use iamwire_aws::cache_users::{CacheService, IamUserCache, user_uses_iam};
use iamwire_testkit::moto::{AwsSetup, CreatedUser, DATABASE_ACCOUNT, Moto, UserSpec, allow};
use serde_json::{Value, json};
use support::{plaintext_client, wrong_secret};

fn creds(user: &CreatedUser) -> Credentials {
    Credentials::builder()
        .access_key_id(&user.access_key_id)
        .secret_access_key(&user.secret_access_key)
        .account_id(&user.account)
        .provider_name("moto")
        .build()
}

fn create_user(moto: &Moto, admin: &CreatedUser, id: &str, mode: Value) {
    let answer = moto
        .rig(
            &["call", &moto.endpoint()],
            &json!({
                "service": "elasticache",
                "method": "create_user",
                "creds": admin,
                "params": {
                    "UserId": id,
                    "UserName": id,
                    "Engine": "redis",
                    "AccessString": "on ~* +@all",
                    "AuthenticationMode": mode,
                },
            }),
        )
        .unwrap();
    assert_eq!(answer["UserId"], id, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticache_users_against_moto() {
    let moto = Moto::start().unwrap();
    let created = moto
        .setup(&AwsSetup {
            users: vec![UserSpec {
                account: DATABASE_ACCOUNT.into(),
                name: "cache-admin".into(),
                policies: vec![allow(&["elasticache:*"], "*")],
            }],
            roles: vec![],
        })
        .unwrap();
    let admin = created.users["cache-admin"].clone();
    create_user(&moto, &admin, "app-iam", json!({"Type": "iam"}));
    create_user(
        &moto,
        &admin,
        "app-password",
        json!({"Type": "password", "Passwords": ["a-long-enough-password"]}),
    );

    let client = plaintext_client();
    let endpoint = moto.endpoint();
    let admin_creds = creds(&admin);
    let call = Call::new(&admin_creds, "us-east-1", SystemTime::now()).endpoint(&endpoint);
    let svc = CacheService::ElastiCache;
    assert!(user_uses_iam(&client, call, svc, "app-iam").await.unwrap());
    assert!(
        !user_uses_iam(&client, call, svc, "app-password")
            .await
            .unwrap()
    );
    assert!(!user_uses_iam(&client, call, svc, "missing").await.unwrap());

    let sent = moto.requests().unwrap();
    let described: Vec<_> = sent
        .iter()
        .filter(|r| r.action().as_deref() == Some("DescribeUsers"))
        .collect();
    assert_eq!(described.len(), 3);
    assert_eq!(described[0].param("UserId").as_deref(), Some("app-iam"));

    // Through the cache: one call per user per TTL, then asked again.
    let cache = IamUserCache::new(Duration::from_secs(300));
    let t0 = SystemTime::now();
    for _ in 0..3 {
        let call = Call::new(&admin_creds, "us-east-1", t0).endpoint(&endpoint);
        assert!(
            cache
                .user_uses_iam(&client, call, svc, "app-iam")
                .await
                .unwrap()
        );
    }
    assert_eq!(moto.count("DescribeUsers").unwrap(), 4);
    let later = t0 + Duration::from_secs(301);
    let call = Call::new(&admin_creds, "us-east-1", later).endpoint(&endpoint);
    // (signed "in the future": moto does not check the request time, the cache only sees `later`)
    assert!(
        cache
            .user_uses_iam(&client, call, svc, "app-iam")
            .await
            .unwrap()
    );
    assert_eq!(moto.count("DescribeUsers").unwrap(), 5);

    // A forged signature is an error, and errors are not cached.
    let forged = wrong_secret(&admin_creds);
    let call = Call::new(&forged, "us-east-1", SystemTime::now()).endpoint(&endpoint);
    let err = cache
        .user_uses_iam(&client, call, svc, "app-password")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err}");
    assert!(!err.to_string().contains(&admin.secret_access_key));
}
