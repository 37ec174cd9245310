//! `StsAssumeRole` / `StsRoleProvider` against the rig's AWS emulator, which checks signatures and
//! evaluates trust policies across accounts as AWS does.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

#[path = "sts_support/common.rs"]
mod common;

use iamwire_aws::role::{RoleChain, RoleError, RoleProvider};
use iamwire_core::ExternalId;
use iamwire_testkit::moto::{AwsSetup, Moto, RoleSpec, UserSpec, allow, trust_policy};
use tokio::task::JoinSet;

use common::{assume_role_requests, cache, provider, user_creds, whoami};

const RIGHT_ID: &str = "ext-right-7c1f";

fn chain(role_arn: &str, external_id: &str, session: &str) -> RoleChain {
    RoleChain::builder()
        .assume_role(role_arn.parse().unwrap())
        .external_id(ExternalId::new(external_id))
        .session_name(session)
        .build()
        .unwrap()
}

/// An AssumeRole failure as the provider reports it, checked for the role ARN and no external id.
fn assert_access_denied(err: &RoleError, role_arn: &str) {
    assert_eq!(err.code(), Some("AccessDenied"), "{err}");
    assert!(!err.is_retryable(), "{err}");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains(role_arn), "{shown}");
    assert!(!shown.contains(RIGHT_ID), "{shown}");
    assert!(!shown.contains("ext-wrong"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_external_id_assumes_the_cross_account_role() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("db-access", RIGHT_ID).unwrap();
    let provider = provider(&moto, user_creds(&setup.proxy), cache());

    let creds = provider
        .credentials(&chain(&setup.role_arn, RIGHT_ID, "alice"))
        .await
        .unwrap();
    assert!(creds.session_token().is_some());
    assert!(creds.expiry().is_some());

    let who = whoami(&moto, &creds).await;
    assert_eq!(
        who.arn,
        "arn:aws:sts::222222222222:assumed-role/db-access/alice"
    );
    assert_eq!(who.account, "222222222222");
    // The proxy's own identity is still the user in the proxy account.
    let me = whoami(&moto, &user_creds(&setup.proxy)).await;
    assert_eq!(me.account, "111111111111");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_external_id_is_access_denied_naming_the_role_without_the_id() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("db-access", RIGHT_ID).unwrap();
    let provider = provider(&moto, user_creds(&setup.proxy), cache());

    let err = provider
        .credentials(&chain(&setup.role_arn, "ext-wrong-55aa", "alice"))
        .await
        .unwrap_err();
    assert_access_denied(&err, &setup.role_arn);
    // STS was asked, with the (wrong) id: the refusal is the trust policy's.
    let sent = assume_role_requests(&moto);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].param("ExternalId").as_deref(),
        Some("ext-wrong-55aa")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_principal_is_access_denied() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("db-access", RIGHT_ID).unwrap();
    let stranger = moto
        .setup(&AwsSetup {
            users: vec![UserSpec {
                account: "333333333333".into(),
                name: "stranger".into(),
                policies: vec![allow(&["sts:AssumeRole", "sts:TagSession"], "*")],
            }],
            roles: vec![],
        })
        .unwrap();
    let provider = provider(&moto, user_creds(&stranger.users["stranger"]), cache());

    let err = provider
        .credentials(&chain(&setup.role_arn, RIGHT_ID, "mallory"))
        .await
        .unwrap_err();
    assert_access_denied(&err, &setup.role_arn);
    // The stranger's key itself is good: it is the trust policy that refuses.
    let me = whoami(&moto, &user_creds(&stranger.users["stranger"])).await;
    assert_eq!(me.account, "333333333333");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hop_chain_ends_as_the_user_role_and_sends_the_external_id_once() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("db-role", RIGHT_ID).unwrap();
    moto.setup(&AwsSetup {
        users: vec![],
        roles: vec![RoleSpec {
            account: "222222222222".into(),
            name: "reader".into(),
            trust: trust_policy("arn:aws:iam::222222222222:role/db-role", None),
            policies: vec![allow(&["dynamodb:*"], "*")],
        }],
    })
    .unwrap();
    let provider = provider(&moto, user_creds(&setup.proxy), cache());
    let chain = RoleChain::builder()
        .assume_role(setup.role_arn.parse().unwrap())
        .external_id(ExternalId::new(RIGHT_ID))
        .session_name("bob")
        .then_user_role("reader")
        .build()
        .unwrap();

    let creds = provider.credentials(&chain).await.unwrap();
    let who = whoami(&moto, &creds).await;
    assert_eq!(who.arn, "arn:aws:sts::222222222222:assumed-role/reader/bob");

    let sent = assume_role_requests(&moto);
    assert_eq!(sent.len(), 2);
    let with_id: Vec<_> = sent
        .iter()
        .filter_map(|r| Some((r.param("RoleArn")?, r.param("ExternalId")?)))
        .collect();
    assert_eq!(with_id, [(setup.role_arn.clone(), RIGHT_ID.to_owned())]);
    assert_eq!(
        sent[1].param("RoleArn").as_deref(),
        Some("arn:aws:iam::222222222222:role/reader")
    );

    // Without the first hop's trust, the second hop is refused by the reader role's trust policy.
    let err = provider
        .credentials(
            &RoleChain::builder()
                .account(iamwire_core::Partition::Aws, "222222222222")
                .then_user_role("reader")
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_tags_and_transitive_keys_and_duration_are_sent() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("db-access", RIGHT_ID).unwrap();
    let provider = provider(&moto, user_creds(&setup.proxy), cache());
    let chain = RoleChain::builder()
        .assume_role(setup.role_arn.parse().unwrap())
        .external_id(ExternalId::new(RIGHT_ID))
        .session_name("carol@example.com")
        .session_tag("team", "payments")
        .session_tag("tenant", "42")
        .transitive_tag_key("tenant")
        .duration(std::time::Duration::from_secs(900))
        .build()
        .unwrap();

    provider.credentials(&chain).await.unwrap();
    let sent = assume_role_requests(&moto);
    assert_eq!(sent.len(), 1);
    let param = |name: &str| sent[0].param(name);
    assert_eq!(param("Tags.member.1.Key").as_deref(), Some("team"));
    assert_eq!(param("Tags.member.1.Value").as_deref(), Some("payments"));
    assert_eq!(param("Tags.member.2.Key").as_deref(), Some("tenant"));
    assert_eq!(param("Tags.member.2.Value").as_deref(), Some("42"));
    assert_eq!(
        param("TransitiveTagKeys.member.1").as_deref(),
        Some("tenant")
    );
    assert_eq!(param("TransitiveTagKeys.member.2"), None);
    assert_eq!(param("DurationSeconds").as_deref(), Some("900"));
    assert_eq!(
        param("RoleSessionName").as_deref(),
        Some("carol@example.com")
    );
    assert_eq!(param("ExternalId").as_deref(), Some(RIGHT_ID));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_callers_on_a_cold_chain_cause_one_assume_role() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("db-access", RIGHT_ID).unwrap();
    let provider = provider(&moto, user_creds(&setup.proxy), cache());
    let chain = chain(&setup.role_arn, RIGHT_ID, "crowd");
    let before = moto.count("AssumeRole").unwrap();

    let mut callers = JoinSet::new();
    for _ in 0..200 {
        let (provider, chain) = (provider.clone(), chain.clone());
        callers.spawn(async move { provider.credentials(&chain).await });
    }
    let mut keys = std::collections::BTreeSet::new();
    while let Some(joined) = callers.join_next().await {
        keys.insert(joined.unwrap().unwrap().access_key_id().to_owned());
    }
    assert_eq!(keys.len(), 1, "everyone got the same credentials");
    assert_eq!(moto.count("AssumeRole").unwrap() - before, 1);
}
