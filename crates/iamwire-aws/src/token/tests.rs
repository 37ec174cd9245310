use std::time::UNIX_EPOCH;

use super::*;

fn creds(token: Option<&str>) -> Credentials {
    Credentials::new(
        "AKIDEXAMPLE",
        "secret/key+x=",
        token.map(str::to_owned),
        None,
        "test",
    )
}

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000) // 2023-11-14T22:13:20Z
}

#[test]
fn debug_redacts_the_token_value() {
    let token = rds_auth_token(
        &creds(Some("TOKEN")),
        "db.example.com",
        5432,
        "app",
        "us-east-1",
        t0(),
    )
    .unwrap();
    let dbg = format!("{token:?}");
    assert!(dbg.contains("** redacted **"), "{dbg}");
    assert!(!dbg.contains("db.example.com"), "{dbg}");
    assert!(!dbg.contains("X-Amz"), "{dbg}");
}

#[test]
fn rds_token_layout_matches_botocore() {
    let token = rds_auth_token(
        &creds(Some("a/b+c=")),
        "DB.Example.com",
        3306,
        "a b",
        "eu-west-1",
        t0(),
    )
    .unwrap();
    let s = token.as_str();
    let prefix = "DB.Example.com:3306/?Action=connect&DBUser=a%20b&X-Amz-Algorithm=AWS4-HMAC-SHA256\
                  &X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Frds-db%2Faws4_request\
                  &X-Amz-Date=20231114T221320Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
                  &X-Amz-Security-Token=a%2Fb%2Bc%3D&X-Amz-Signature=";
    assert!(s.starts_with(prefix), "{s}");
    assert_eq!(s.len(), prefix.len() + 64);
    assert_eq!(token.issued_at(), t0());
    assert_eq!(token.expires_at(), t0() + Duration::from_secs(900));
}

#[test]
fn tokens_are_deterministic_and_depend_on_every_input() {
    let c = creds(None);
    let base = rds_auth_token(&c, "h", 5432, "u", "us-east-1", t0()).unwrap();
    assert_eq!(
        base,
        rds_auth_token(&c, "h", 5432, "u", "us-east-1", t0()).unwrap()
    );
    let variants = [
        rds_auth_token(&c, "h2", 5432, "u", "us-east-1", t0()),
        rds_auth_token(&c, "h", 5433, "u", "us-east-1", t0()),
        rds_auth_token(&c, "h", 5432, "v", "us-east-1", t0()),
        rds_auth_token(&c, "h", 5432, "u", "us-east-2", t0()),
        rds_auth_token(
            &c,
            "h",
            5432,
            "u",
            "us-east-1",
            t0() + Duration::from_secs(1),
        ),
        rds_auth_token(&creds(Some("t")), "h", 5432, "u", "us-east-1", t0()),
    ];
    let sig = |t: &AuthToken| t.as_str().rsplit('=').next().unwrap_or_default().to_owned();
    for v in variants {
        assert_ne!(sig(&v.unwrap()), sig(&base));
    }
}

#[test]
fn elasticache_and_memorydb_layouts() {
    let c = creds(None);
    let rg = elasticache_auth_token(
        &c,
        "my-group",
        ElastiCacheKind::ReplicationGroup,
        "alice",
        "us-east-1",
        t0(),
    )
    .unwrap();
    assert!(
        rg.as_str()
            .starts_with("my-group/?Action=connect&User=alice&X-Amz-Algorithm="),
        "{}",
        rg.as_str()
    );
    assert!(rg.as_str().contains("%2Felasticache%2Faws4_request"));
    let sl = elasticache_auth_token(
        &c,
        "my-cache",
        ElastiCacheKind::Serverless,
        "alice",
        "us-east-1",
        t0(),
    )
    .unwrap();
    assert!(
        sl.as_str()
            .starts_with("my-cache/?Action=connect&User=alice&ResourceType=ServerlessCache&X-Amz-")
    );
    let mdb = memorydb_auth_token(&c, "my-cluster", "alice", "us-east-1", t0()).unwrap();
    assert!(
        mdb.as_str()
            .starts_with("my-cluster/?Action=connect&User=alice&X-Amz-")
    );
    assert!(mdb.as_str().contains("%2Fmemorydb%2Faws4_request"));
    assert!(!mdb.as_str().contains("X-Amz-Security-Token"));
}

#[test]
fn rejects_inputs_that_would_change_the_url_shape() {
    let c = creds(None);
    for (host, user, region, field) in [
        ("", "u", "us-east-1", "host"),
        ("h/evil", "u", "us-east-1", "host"),
        ("h:1", "u", "us-east-1", "host"),
        ("h?x", "u", "us-east-1", "host"),
        ("h", "", "us-east-1", "user"),
        ("h", "u", "", "region"),
        ("h", "u", "us/east", "region"),
    ] {
        let err = rds_auth_token(&c, host, 1, user, region, t0()).unwrap_err();
        assert!(
            matches!(err, SigV4Error::InvalidInput { field: f, .. } if f == field),
            "{host} {user} {region}: {err:?}"
        );
    }
    let long = "u".repeat(MAX_USER_LEN + 1);
    assert!(memorydb_auth_token(&c, "c", &long, "us-east-1", t0()).is_err());
    assert!(
        rds_auth_token(
            &c,
            "h",
            1,
            "u",
            "us-east-1",
            UNIX_EPOCH - Duration::from_secs(1)
        )
        .is_err()
    );
}

#[test]
fn reuse_keeps_a_margin_and_distrusts_a_clock_that_went_back() {
    let policy = TokenReuse::default();
    assert!(policy.margin() >= Duration::from_secs(60));
    let at = |s: u64| t0() + Duration::from_secs(s);
    assert!(policy.can_reuse(t0(), t0()));
    assert!(policy.can_reuse(t0(), at(900 - 121)));
    assert!(!policy.can_reuse(t0(), at(900 - 120)));
    assert!(!policy.can_reuse(t0(), at(900)));
    assert!(!policy.can_reuse(t0(), at(100_000)));
    assert!(!policy.can_reuse(t0(), t0() - Duration::from_secs(1)));

    let tight = TokenReuse::with_margin(Duration::from_secs(60));
    assert!(tight.can_reuse(t0(), at(839)));
    assert!(!tight.can_reuse(t0(), at(840)));
    let token = rds_auth_token(&creds(None), "h", 1, "u", "us-east-1", t0()).unwrap();
    assert!(token.is_reusable(tight, at(839)));
    assert!(!token.is_reusable(tight, at(840)));
}

#[test]
fn a_token_is_not_reused_past_the_expiry_of_the_credentials_that_signed_it() {
    // Role credentials with 5 minutes left sign a token good for 15: AWS refuses the token once the
    // credentials expire, so it is reused only while they have more than the margin left.
    let expiring = Credentials::new(
        "ASIAEXAMPLE",
        "secret",
        Some("session".into()),
        Some(t0() + Duration::from_secs(300)),
        "test",
    );
    let token = rds_auth_token(&expiring, "db", 5432, "app", "us-east-1", t0()).unwrap();
    assert_eq!(token.expires_at(), t0() + Duration::from_secs(300));
    let reuse = TokenReuse::default();
    assert!(token.is_reusable(reuse, t0() + Duration::from_secs(100)));
    assert!(!token.is_reusable(reuse, t0() + Duration::from_secs(200)));
    assert!(!token.is_reusable(reuse, t0() + Duration::from_secs(400)));
    // Long-lived credentials leave the token's own lifetime in charge.
    let lasting = rds_auth_token(&creds(None), "db", 5432, "app", "us-east-1", t0()).unwrap();
    assert!(lasting.is_reusable(reuse, t0() + Duration::from_secs(700)));
    assert_eq!(lasting.expires_at(), t0() + Duration::from_secs(900));
}
