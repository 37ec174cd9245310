use super::*;

#[test]
fn role_arn_round_trips_with_and_without_path() {
    for s in [
        "arn:aws:iam::222222222222:role/example-role",
        "arn:aws-cn:iam::123456789012:role/team/db/reader",
        "arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f_g-h",
        "arn:aws-iso-b:iam::123456789012:role/aws-service-role/x",
    ] {
        let arn: RoleArn = s.parse().unwrap();
        assert_eq!(arn.to_string(), s);
    }
    let arn: RoleArn = "arn:aws:iam::123456789012:role/team/db/reader"
        .parse()
        .unwrap();
    assert_eq!(arn.partition(), Partition::Aws);
    assert_eq!(arn.account_id(), "123456789012");
    assert_eq!(arn.path(), "/team/db/");
    assert_eq!(arn.name(), "reader");
}

#[test]
fn role_arn_rejects_what_is_not_a_role() {
    type IsExpected = fn(&ArnError) -> bool;
    let cases: &[(&str, IsExpected)] = &[
        ("", |e| matches!(e, ArnError::NotAnArn)),
        ("arn:aws:iam::123456789012", |e| {
            matches!(e, ArnError::NotAnArn)
        }),
        ("urn:aws:iam::123456789012:role/x", |e| {
            matches!(e, ArnError::NotAnArn)
        }),
        ("arn:aws-xx:iam::123456789012:role/x", |e| {
            matches!(e, ArnError::UnknownPartition { .. })
        }),
        (
            "arn:aws:iam::123456789012:user/alice",
            |e| matches!(e, ArnError::NotRole { resource_type } if resource_type == "user"),
        ),
        ("arn:aws:sts::123456789012:assumed-role/r/session", |e| {
            matches!(e, ArnError::AssumedRole)
        }),
        ("arn:aws:s3:::bucket", |e| {
            matches!(e, ArnError::NotIam { .. })
        }),
        ("arn:aws:iam:us-east-1:123456789012:role/x", |e| {
            matches!(e, ArnError::UnexpectedRegion { .. })
        }),
        ("arn:aws:iam::12345678901:role/x", |e| {
            matches!(e, ArnError::BadAccountId { .. })
        }),
        ("arn:aws:iam::12345678901a:role/x", |e| {
            matches!(e, ArnError::BadAccountId { .. })
        }),
        ("arn:aws:iam::123456789012:role/", |e| {
            matches!(e, ArnError::EmptyName)
        }),
        ("arn:aws:iam::123456789012:role/path/", |e| {
            matches!(e, ArnError::EmptyName)
        }),
        ("arn:aws:iam::123456789012:role/bad*name", |e| {
            matches!(e, ArnError::BadNameChar { ch: '*' })
        }),
        ("arn:aws:iam::123456789012:role/bad name", |e| {
            matches!(e, ArnError::BadNameChar { ch: ' ' })
        }),
        ("arn:aws:iam::123456789012:role/p ath/name", |e| {
            matches!(e, ArnError::BadPath)
        }),
        ("arn:aws:iam::123456789012:role", |e| {
            matches!(e, ArnError::NotRole { .. })
        }),
    ];
    for (s, want) in cases {
        let err = s.parse::<RoleArn>().unwrap_err();
        assert!(want(&err), "{s:?} gave {err:?}");
    }
    let long_name = format!("arn:aws:iam::123456789012:role/{}", "n".repeat(65));
    assert!(matches!(
        long_name.parse::<RoleArn>(),
        Err(ArnError::NameTooLong { len: 65 })
    ));
    let long = format!("arn:aws:iam::123456789012:role/{}/x", "p".repeat(2048));
    assert!(matches!(
        long.parse::<RoleArn>(),
        Err(ArnError::TooLong { .. })
    ));
}

#[test]
fn regions_map_to_partitions() {
    assert_eq!(Partition::of_region("us-west-1"), Some(Partition::Aws));
    assert_eq!(Partition::of_region("ap-southeast-3"), Some(Partition::Aws));
    assert_eq!(
        Partition::of_region("cn-northwest-1"),
        Some(Partition::AwsCn)
    );
    assert_eq!(
        Partition::of_region("us-gov-west-1"),
        Some(Partition::AwsUsGov)
    );
    assert_eq!(
        Partition::of_region("us-iso-east-1"),
        Some(Partition::AwsIso)
    );
    assert_eq!(
        Partition::of_region("us-isob-east-1"),
        Some(Partition::AwsIsoB)
    );
    for bad in [
        "",
        "us",
        "us-west",
        "US-WEST-1",
        "us-west-1a",
        "u-west-1",
        "us--1",
        "us-west-",
    ] {
        assert_eq!(Partition::of_region(bad), None, "{bad:?}");
    }
}

#[test]
fn account_ids_are_twelve_ascii_digits() {
    assert!(is_valid_account_id("012345678901"));
    assert!(!is_valid_account_id("01234567890"));
    assert!(!is_valid_account_id("0123456789012"));
    assert!(!is_valid_account_id("01234567890١"));
    assert!(!is_valid_account_id("+12345678901"));
}

#[test]
fn new_checks_its_parts() {
    assert!(RoleArn::new(Partition::Aws, "123456789012", "/", "r").is_ok());
    assert!(matches!(
        RoleArn::new(Partition::Aws, "123456789012", "a/", "r"),
        Err(ArnError::BadPath)
    ));
    assert!(matches!(
        RoleArn::new(Partition::Aws, "1", "/", "r"),
        Err(ArnError::BadAccountId { .. })
    ));
}
