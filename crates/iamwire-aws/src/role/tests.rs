//! Unit tests of role chains, session names and role errors.

use std::collections::BTreeMap;
use std::time::Duration;

use iamwire_core::{ArnError, Aws, ExternalId, Partition, RoleArn};

use super::*;

const SECRET_ID: &str = "s3cr3t-external-id";

fn arn(s: &str) -> RoleArn {
    s.parse().unwrap()
}

fn db_role() -> RoleArn {
    arn("arn:aws:iam::123456789012:role/db-access")
}

#[test]
fn session_names_keep_valid_characters_and_replace_the_rest() {
    assert_eq!(
        SessionName::new("alice@example.com").as_str(),
        "alice@example.com"
    );
    assert_eq!(
        SessionName::new("a+b=c,d.e@f_g-h").as_str(),
        "a+b=c,d.e@f_g-h"
    );
    assert_eq!(
        SessionName::new("CN=alice/O=ops:x").as_str(),
        "CN=alice-O=ops-x"
    );
    assert_eq!(SessionName::new("zoë").as_str(), "zo-");
    assert_eq!(SessionName::new("").as_str(), "iamwire");
    assert_eq!(SessionName::new("x").as_str(), "iamwire-x");
    assert_eq!(SessionName::default().as_str(), DEFAULT_SESSION_NAME);
}

#[test]
fn long_session_names_are_shortened_with_a_stable_hash() {
    let raw = format!("user:{}@example.com", "a".repeat(80));
    let name = SessionName::new(&raw);
    // Pinned: the mapping is part of the cache key and of CloudTrail, so it must not drift.
    assert_eq!(
        name.as_str(),
        "user-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-3c9cd8c937a70279"
    );
    assert_eq!(name.as_str().len(), MAX_SESSION_NAME_LEN);
    assert!(SessionName::is_valid(name.as_str()));
    assert_eq!(SessionName::new(&raw), name);
    // Names that share the kept prefix stay apart.
    let other = SessionName::new(&format!("user:{}@example.org", "a".repeat(80)));
    assert_ne!(other, name);
    // Exactly 64 valid characters are kept as they are.
    let exact = "b".repeat(64);
    assert_eq!(SessionName::new(&exact).as_str(), exact);
}

#[test]
fn every_session_name_is_valid() {
    for raw in [
        "",
        "x",
        "ü",
        "a b",
        &"é".repeat(70),
        &"/".repeat(200),
        "alice",
    ] {
        let name = SessionName::new(raw);
        assert!(SessionName::is_valid(name.as_str()), "{raw:?} -> {name}");
    }
    assert!(!SessionName::is_valid("a"));
    assert!(!SessionName::is_valid("a b"));
    assert!(!SessionName::is_valid(&"c".repeat(65)));
}

#[test]
fn the_external_id_is_on_hop_one_when_assume_role_is_set() {
    let chain = RoleChain::builder()
        .assume_role(db_role())
        .external_id(ExternalId::new(SECRET_ID))
        .session_tag("team", "a")
        .then_user_role("reader")
        .build()
        .unwrap();
    let [first, second] = chain.hops() else {
        panic!("two hops expected")
    };
    assert_eq!(first.kind(), HopKind::DatabaseRole);
    assert_eq!(first.external_id().map(ExternalId::expose), Some(SECRET_ID));
    assert_eq!(first.session_tags().len(), 1);
    assert_eq!(second.kind(), HopKind::UserRole);
    assert_eq!(
        second.role_arn(),
        &arn("arn:aws:iam::123456789012:role/reader")
    );
    assert!(second.external_id().is_none());
    assert!(second.session_tags().is_empty());
}

#[test]
fn the_external_id_is_on_the_user_role_without_assume_role() {
    let chain = RoleChain::builder()
        .account(Partition::AwsCn, "123456789012")
        .external_id(ExternalId::new(SECRET_ID))
        .then_user_role("reader")
        .build()
        .unwrap();
    let [only] = chain.hops() else {
        panic!("one hop expected")
    };
    assert_eq!(
        only.role_arn(),
        &arn("arn:aws-cn:iam::123456789012:role/reader")
    );
    assert_eq!(only.external_id().map(ExternalId::expose), Some(SECRET_ID));
}

#[test]
fn user_roles_must_be_in_the_databases_account_and_partition() {
    let build = |user: &str| {
        RoleChain::builder()
            .assume_role(db_role())
            .then_user_role(user)
            .build()
    };
    let full = build("arn:aws:iam::123456789012:role/app/reader").unwrap();
    assert_eq!(full.hops()[1].role_arn().path(), "/app/");
    assert!(matches!(
        build("arn:aws:iam::999999999999:role/reader"),
        Err(ChainError::UserRoleOutsideAccount { account_id, .. }) if account_id == "123456789012"
    ));
    assert!(matches!(
        build("arn:aws-cn:iam::123456789012:role/reader"),
        Err(ChainError::UserRoleOutsideAccount {
            partition: Partition::Aws,
            ..
        })
    ));
    assert!(matches!(
        build("not a role"),
        Err(ChainError::BadUserRole {
            source: ArnError::BadNameChar { ch: ' ' },
            ..
        })
    ));
    assert!(matches!(
        RoleChain::builder().then_user_role("reader").build(),
        Err(ChainError::NoAccount { .. })
    ));
    assert!(matches!(
        RoleChain::builder()
            .assume_role(db_role())
            .account(Partition::Aws, "999999999999")
            .build(),
        Err(ChainError::AccountMismatch { .. })
    ));
}

#[test]
fn sts_limits_are_checked_when_building() {
    let one_hop = || RoleChain::builder().assume_role(db_role());
    assert!(matches!(
        one_hop().duration(Duration::from_secs(899)).build(),
        Err(ChainError::BadDuration { .. })
    ));
    assert!(
        one_hop()
            .duration(Duration::from_secs(43_200))
            .build()
            .is_ok()
    );
    assert!(matches!(
        one_hop()
            .duration(Duration::from_secs(7200))
            .then_user_role("reader")
            .build(),
        Err(ChainError::ChainedDurationTooLong { .. })
    ));
    let many: BTreeMap<String, String> = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
    assert!(matches!(
        one_hop().session_tags(many).build(),
        Err(ChainError::TooManyTags { count: 51 })
    ));
    assert!(matches!(
        one_hop().session_tag("", "v").build(),
        Err(ChainError::BadTagKey { .. })
    ));
    assert!(matches!(
        one_hop().session_tag("k", "v".repeat(257)).build(),
        Err(ChainError::TagValueTooLong { len: 257, .. })
    ));
    assert!(matches!(
        one_hop().transitive_tag_key("k").build(),
        Err(ChainError::TransitiveKeyNotTagged { .. })
    ));
    assert!(matches!(
        RoleChain::builder()
            .external_id(ExternalId::new("x"))
            .build(),
        Err(ChainError::NoRole {
            setting: "external_id"
        })
    ));
    assert!(RoleChain::builder().build().unwrap().is_empty());
}

#[test]
fn prefix_keys_cover_the_whole_prefix() {
    let chain = RoleChain::builder()
        .assume_role(db_role())
        .external_id(ExternalId::new(SECRET_ID))
        .then_user_role("reader")
        .build()
        .unwrap();
    let other_id = RoleChain::builder()
        .assume_role(db_role())
        .external_id(ExternalId::new("another"))
        .then_user_role("reader")
        .build()
        .unwrap();
    // Same last hop, different first hop: different keys for hop 2 as well.
    assert_eq!(chain.hops()[1], other_id.hops()[1]);
    assert_ne!(chain.key(), other_id.key());
    assert_ne!(chain.prefix_key(1), other_id.prefix_key(1));
    assert_eq!(chain.prefix_key(0), Some(ChainKey::base()));
    assert_eq!(chain.prefix_key(2), Some(chain.key()));
    assert_eq!(chain.prefix_key(3), None);
    assert_eq!(chain.prefix(1).key(), chain.prefix_key(1).unwrap());
}

#[test]
fn debug_never_shows_the_external_id() {
    let chain = RoleChain::builder()
        .assume_role(db_role())
        .external_id(ExternalId::new(SECRET_ID))
        .then_user_role("reader")
        .build()
        .unwrap();
    for rendered in [
        format!("{chain:?}"),
        format!("{:#?}", chain.key()),
        format!("{:?}", chain.hops()[0]),
        format!(
            "{:?}",
            RoleChain::builder().external_id(ExternalId::new(SECRET_ID))
        ),
    ] {
        assert!(!rendered.contains(SECRET_ID), "{rendered}");
        assert!(rendered.contains("redacted"), "{rendered}");
    }
}

#[test]
fn role_errors_scrub_the_external_id_and_say_what_to_do() {
    let chain = RoleChain::builder()
        .assume_role(db_role())
        .external_id(ExternalId::new(SECRET_ID))
        .session_tag("team", "a")
        .build()
        .unwrap();
    let hop = &chain.hops()[0];
    let err = RoleError::assume_role(
        hop,
        Some("AccessDenied"),
        format!("Value '{SECRET_ID}' at 'externalId' is not authorized"),
        false,
    );
    let text = err.to_string();
    assert!(!text.contains(SECRET_ID), "{text}");
    assert!(!format!("{err:?}").contains(SECRET_ID));
    assert!(text.contains("trust policy of arn:aws:iam::123456789012:role/db-access"));
    assert!(text.contains("sts:ExternalId"));
    assert!(text.contains("sts:TagSession"));
    assert_eq!(err.code(), Some("AccessDenied"));
    assert_eq!(err.role_arn(), Some(&db_role()));
    assert!(!err.is_retryable());
    let throttled = RoleError::assume_role(hop, Some("Throttling"), "Rate exceeded", true);
    assert!(throttled.is_retryable());
    assert!(throttled.to_string().contains("try again"));
}

#[test]
fn a_databases_aws_settings_make_its_chain() {
    let mut aws = Aws::default();
    aws.assume_role_arn = Some("arn:aws-us-gov:iam::123456789012:role/db".into());
    aws.account_id = Some("123456789012".into());
    aws.external_id = Some(ExternalId::new(SECRET_ID));
    aws.session_tags.insert("env".into(), "prod".into());
    let chain = RoleChain::for_database(&aws, Some("reader"), "alice").unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(
        chain.last_role_arn(),
        Some(&arn("arn:aws-us-gov:iam::123456789012:role/reader"))
    );
    assert_eq!(chain.hops()[0].session_name().as_str(), "alice");

    let mut same_account = Aws::default();
    same_account.region = Some("cn-north-1".into());
    same_account.account_id = Some("123456789012".into());
    let chain = RoleChain::for_database(&same_account, Some("reader"), "alice").unwrap();
    assert_eq!(
        chain.last_role_arn(),
        Some(&arn("arn:aws-cn:iam::123456789012:role/reader"))
    );
    assert!(
        RoleChain::for_database(&Aws::default(), None, "alice")
            .unwrap()
            .is_empty()
    );

    aws.assume_role_arn = Some("arn:aws:iam::123456789012:user/nope".into());
    assert!(matches!(
        RoleChain::for_database(&aws, None, "alice"),
        Err(ChainError::BadAssumeRole { .. })
    ));
}

#[test]
fn scrubbing_replaces_whole_occurrences_only() {
    let chain = RoleChain::builder()
        .assume_role(db_role())
        .external_id(ExternalId::new("ro"))
        .build()
        .unwrap();
    let hop = &chain.hops()[0];
    let text = RoleError::assume_role(
        hop,
        None,
        "io error: connection error; Value 'ro' at 'externalId' (ro)",
        true,
    )
    .to_string();
    assert!(text.contains("io error: connection error"), "{text}");
    assert!(text.contains("Value '** redacted **' at"), "{text}");
    assert!(text.contains("(** redacted **)"), "{text}");
    assert!(!text.contains("'ro'"), "{text}");
    assert_eq!(
        super::error::scrub("a-ro ro-b ro", "ro"),
        "a-ro ro-b ** redacted **"
    );
    assert_eq!(super::error::scrub("x", "x"), "x");
}
