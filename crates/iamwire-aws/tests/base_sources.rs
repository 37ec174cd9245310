//! Every source of the base credential chain, proven against the rig's emulator with an explicit
//! environment (the process environment is never consulted).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

#[path = "sts_support/common.rs"]
mod common;

use std::path::Path;

use aws_credential_types::provider::ProvideCredentials;
use iamwire_aws::base::{BaseCredentials, BaseCredentialsConfig};
use iamwire_aws::role::{CachingRoleProvider, RoleChain, RoleProvider};
use iamwire_core::ExternalId;
use iamwire_testkit::moto::{AwsSetup, Moto, RoleSpec, trust_policy};

use common::{REGION, assume_role_requests, cache, open_auth_window};

const EXT: &str = "ext-base-91d2";

/// An environment that finds nothing by itself: an empty HOME, missing shared files, no IMDS;
/// every STS call goes to the emulator through `AWS_ENDPOINT_URL`.
fn isolated(moto: &Moto, home: &Path) -> BaseCredentialsConfig {
    BaseCredentialsConfig::from_env([
        ("HOME", home.display().to_string()),
        (
            "AWS_CONFIG_FILE",
            home.join("no-config").display().to_string(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            home.join("no-credentials").display().to_string(),
        ),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_REGION", REGION.to_owned()),
    ])
}

async fn arn_of(base: &BaseCredentials) -> String {
    base.caller_identity().await.unwrap().arn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_variables_and_the_chain_plugs_into_the_role_provider() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("db-access", EXT).unwrap();
    let home = tempfile::tempdir().unwrap();
    let base = isolated(&moto, home.path())
        .var("AWS_ACCESS_KEY_ID", &setup.proxy.access_key_id)
        .var("AWS_SECRET_ACCESS_KEY", &setup.proxy.secret_access_key)
        .load()
        .await;
    assert_eq!(base.region(), Some(REGION));
    assert_eq!(arn_of(&base).await, setup.proxy.arn);

    // The base chain goes straight into CachingRoleProvider::new, with the env's STS endpoint.
    let provider = CachingRoleProvider::new(base.sts().unwrap(), base.clone(), cache());
    let chain = RoleChain::builder()
        .assume_role(setup.role_arn.parse().unwrap())
        .external_id(ExternalId::new(EXT))
        .session_name("env")
        .build()
        .unwrap();
    let creds = provider.credentials(&chain).await.unwrap();
    let who = common::whoami(&moto, &creds).await;
    assert_eq!(
        who.arn,
        "arn:aws:sts::222222222222:assumed-role/db-access/env"
    );
    // And role_provider() builds the same thing.
    let provider = base.role_provider(cache()).unwrap();
    assert!(provider.credentials(&chain).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_credentials_file() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("db-access", EXT).unwrap();
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("credentials");
    std::fs::write(
        &file,
        format!(
            "[default]\naws_access_key_id = AKIDNOTTHISONE\naws_secret_access_key = nope\n\n\
             [proxy]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            setup.proxy.access_key_id, setup.proxy.secret_access_key
        ),
    )
    .unwrap();
    let base = isolated(&moto, home.path())
        .var("AWS_SHARED_CREDENTIALS_FILE", file.display().to_string())
        .var("AWS_PROFILE", "proxy")
        .load()
        .await;
    assert_eq!(arn_of(&base).await, setup.proxy.arn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_profile_with_role_arn_source_profile_and_external_id() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("db-access", EXT).unwrap();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile proxy]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n\
             [profile db]\nrole_arn = {}\nsource_profile = proxy\nexternal_id = {EXT}\n\
             role_session_name = from-profile\n",
            setup.proxy.access_key_id, setup.proxy.secret_access_key, setup.role_arn
        ),
    )
    .unwrap();
    let base = isolated(&moto, home.path())
        .var("AWS_CONFIG_FILE", config.display().to_string())
        .var("AWS_PROFILE", "db")
        .load()
        .await;
    assert_eq!(
        arn_of(&base).await,
        "arn:aws:sts::222222222222:assumed-role/db-access/from-profile"
    );
    // The profile's AssumeRole went to the emulator (the env's endpoint) with the external id.
    let sent = assume_role_requests(&moto);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].param("ExternalId").as_deref(), Some(EXT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_token_file_and_role_arn() {
    let moto = Moto::start().unwrap();
    let created = moto
        .setup(&AwsSetup {
            users: vec![],
            roles: vec![RoleSpec {
                account: "111111111111".into(),
                name: "irsa-proxy".into(),
                trust: trust_policy("*", None),
                policies: vec![],
            }],
        })
        .unwrap();
    let role_arn = &created.roles["irsa-proxy"].arn;
    let home = tempfile::tempdir().unwrap();
    let token = home.path().join("token");
    std::fs::write(
        &token,
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2ln",
    )
    .unwrap();
    let base = isolated(&moto, home.path())
        .var("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string())
        .var("AWS_ROLE_ARN", role_arn)
        .var("AWS_ROLE_SESSION_NAME", "irsa")
        .load()
        .await;
    // AssumeRoleWithWebIdentity is unsigned (the token is the proof); the rig's emulator demands a
    // signature on every request, so let exactly that one call through.
    open_auth_window(&moto, 1);
    let creds = base.provide_credentials().await.unwrap();
    let who = common::whoami(&moto, &creds).await;
    assert_eq!(
        who.arn,
        "arn:aws:sts::111111111111:assumed-role/irsa-proxy/irsa"
    );
    let calls: Vec<_> = moto
        .requests()
        .unwrap()
        .into_iter()
        .filter(|r| r.action().as_deref() == Some("AssumeRoleWithWebIdentity"))
        .collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].param("RoleArn").as_deref(),
        Some(role_arn.as_str())
    );
    assert!(calls[0].param("WebIdentityToken").is_some());
}
