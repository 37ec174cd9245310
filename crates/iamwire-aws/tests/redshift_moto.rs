//! `GetClusterCredentials` against moto: a cluster created in the database account, called with that
//! account's IAM user key, signature and policy checked by the emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod redshift_support;

use std::time::SystemTime;

use aws_credential_types::Credentials;
use iamwire_aws::aws_api::{ApiError, Call};
use iamwire_aws::redshift::{ClusterCredentialsRequest, get_cluster_credentials};
use iamwire_testkit::moto::{AwsSetup, CreatedUser, DATABASE_ACCOUNT, Moto, UserSpec, allow};
use redshift_support::{plaintext_client, wrong_secret};
use serde_json::json;

fn creds(user: &CreatedUser) -> Credentials {
    Credentials::builder()
        .access_key_id(&user.access_key_id)
        .secret_access_key(&user.secret_access_key)
        .account_id(&user.account)
        .provider_name("moto")
        .build()
}

/// moto with a Redshift-admin user and a no-permission user in the database account, and a cluster.
fn rig() -> (Moto, CreatedUser, CreatedUser) {
    let moto = Moto::start().unwrap();
    let created = moto
        .setup(&AwsSetup {
            users: vec![
                UserSpec {
                    account: DATABASE_ACCOUNT.into(),
                    name: "rs-admin".into(),
                    policies: vec![allow(&["redshift:*"], "*")],
                },
                UserSpec {
                    account: DATABASE_ACCOUNT.into(),
                    name: "nobody".into(),
                    policies: vec![allow(&["s3:ListBucket"], "*")],
                },
            ],
            roles: vec![],
        })
        .unwrap();
    let admin = created.users["rs-admin"].clone();
    let cluster = moto
        .rig(
            &["call", &moto.endpoint()],
            &json!({
                "service": "redshift",
                "method": "create_cluster",
                "creds": admin,
                "params": {
                    "ClusterIdentifier": "analytics",
                    "NodeType": "ra3.xlplus",
                    "MasterUsername": "admin",
                    "MasterUserPassword": "Password123456",
                },
            }),
        )
        .unwrap();
    assert_eq!(
        cluster["Cluster"]["ClusterIdentifier"], "analytics",
        "{cluster}"
    );
    (moto, admin, created.users["nobody"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_cluster_credentials_against_moto() {
    let (moto, admin, nobody) = rig();
    let client = plaintext_client();
    let endpoint = moto.endpoint();
    let admin_creds = creds(&admin);
    let call = Call::new(&admin_creds, "us-east-1", SystemTime::now()).endpoint(&endpoint);

    let login = get_cluster_credentials(
        &client,
        call,
        &ClusterCredentialsRequest::new("analytics", "app").db_name("dev"),
    )
    .await
    .unwrap();
    assert_eq!(login.user(), "IAM:app");
    assert!(!login.password().is_empty());
    assert!(login.expiration() > SystemTime::now());
    assert!(!format!("{login:?}").contains(login.password()));

    let sent: Vec<_> = moto
        .requests()
        .unwrap()
        .into_iter()
        .filter(|r| r.action().as_deref() == Some("GetClusterCredentials"))
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].param("DbUser").as_deref(), Some("app"));
    assert_eq!(sent[0].param("AutoCreate").as_deref(), Some("false"));
    assert_eq!(sent[0].param("DbName").as_deref(), Some("dev"));

    // An unknown cluster: the AWS code and the cluster, and what to check.
    let err = get_cluster_credentials(
        &client,
        call,
        &ClusterCredentialsRequest::new("nope", "app"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some("ClusterNotFound"), "{err}");
    assert!(err.to_string().contains("cluster nope"));

    // A key moto did not issue with this secret: refused on the signature.
    let forged = wrong_secret(&admin_creds);
    let call = Call::new(&forged, "us-east-1", SystemTime::now()).endpoint(&endpoint);
    let err = get_cluster_credentials(
        &client,
        call,
        &ClusterCredentialsRequest::new("analytics", "app"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err}");
    assert!(matches!(&err, ApiError::Service(e) if e.status == 403));

    // A user without the permission: AccessDenied, and the message says what to grant, on what.
    let nobody_creds = creds(&nobody);
    let call = Call::new(&nobody_creds, "us-east-1", SystemTime::now()).endpoint(&endpoint);
    let err = get_cluster_credentials(
        &client,
        call,
        &ClusterCredentialsRequest::new("analytics", "app"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "grant redshift:GetClusterCredentials on arn:aws:redshift:us-east-1:{DATABASE_ACCOUNT}:dbuser:analytics/app"
        )),
        "{text}"
    );
    assert!(!text.contains(&nobody.secret_access_key));
}
