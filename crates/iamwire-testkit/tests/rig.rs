//! Self-tests of the rig: each would fail if the rig lied (accepted what the real service refuses, or
//! refused what it accepts).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns may unwrap too
use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};
use iamwire_testkit::moto::{AwsSetup, Moto, RoleSpec, UserSpec, allow, trust_policy};
use iamwire_testkit::postgres::{self, PgOptions, Postgres};
use iamwire_testkit::redis::Redis;
use iamwire_testkit::{TestCa, TokenPolicy};

const REGION: &str = "us-west-2";

fn policy_for(moto: &Moto) -> TokenPolicy {
    TokenPolicy {
        moto_url: Some(moto.endpoint()),
        region: Some(REGION.into()),
        ..TokenPolicy::default()
    }
}

#[test]
fn psql_verify_full_reaches_postgres_and_wrong_password_is_refused() {
    let ca = TestCa::new().unwrap();
    let pg = Postgres::start(&ca, PgOptions::default()).unwrap();
    let dsn = postgres::verify_full_dsn(&pg, "scram_user", "app");
    let who = postgres::psql(
        &dsn,
        Some("scram-pass"),
        "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .unwrap();
    assert_eq!(who, "scram_user true");
    assert!(postgres::psql(&dsn, Some("wrong"), "SELECT 1").is_err());
    // verify-full really verifies: another CA's certificate is refused.
    let other = TestCa::new().unwrap();
    let other_ca = pg.dir().join("other-ca.crt");
    std::fs::write(&other_ca, other.cert_pem()).unwrap();
    let dsn = format!(
        "{} sslrootcert={}",
        postgres::verify_full_dsn(&pg, "scram_user", "app"),
        other_ca.display()
    );
    let err = postgres::psql(&dsn, Some("scram-pass"), "SELECT 1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("certificate verify failed"), "{err}");
    // md5 and cleartext users log in with their methods.
    for (user, pass, _) in postgres::PASSWORD_USERS {
        let dsn = postgres::verify_full_dsn(&pg, user, "app");
        assert_eq!(
            postgres::psql(&dsn, Some(pass), "SELECT current_user").unwrap(),
            *user
        );
    }
}

#[test]
fn trust_users_log_in_over_tls_only_and_max_connections_is_set() {
    let ca = TestCa::new().unwrap();
    let pg = Postgres::start(
        &ca,
        PgOptions {
            trust_users: vec!["bench".into()],
            max_connections: Some(321),
            ..PgOptions::default()
        },
    )
    .unwrap();
    let dsn = postgres::verify_full_dsn(&pg, "bench", "app");
    assert_eq!(
        postgres::psql(
            &dsn,
            None,
            "SELECT current_user || ' ' || current_setting('max_connections')"
        )
        .unwrap(),
        "bench 321"
    );
    // Without TLS the same user is refused: trust is for `hostssl` only.
    let plain = format!(
        "host=127.0.0.1 port={} user=bench dbname=app sslmode=disable",
        pg.port()
    );
    assert!(postgres::psql(&plain, None, "SELECT 1").is_err());
    // Other users still need their passwords.
    let scram = postgres::verify_full_dsn(&pg, "scram_user", "app");
    assert!(postgres::psql(&scram, Some("wrong"), "SELECT 1").is_err());
}

#[test]
fn assumed_role_rds_token_logs_in_to_postgres_and_mariadb_and_tampered_is_refused() {
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let pg = Postgres::start(
        &ca,
        PgOptions {
            tokens: policy_for(&moto),
            ..PgOptions::default()
        },
    )
    .unwrap();
    let my = MariaDb::start(
        &ca,
        MariaDbOptions {
            tokens: policy_for(&moto),
        },
    )
    .unwrap();
    let setup = moto.cross_account("rds-connect", "ext-123").unwrap();
    let creds = moto
        .assume_role(&setup.proxy, &setup.role_arn, Some("ext-123"))
        .unwrap()
        .unwrap();

    // Postgres: token for localhost:<port>, as the IAM user, over verify-full TLS.
    let token = moto
        .rds_token(
            &creds,
            "localhost",
            pg.port(),
            postgres::IAM_USER,
            REGION,
            None,
        )
        .unwrap();
    assert!(
        token.contains("X-Amz-Security-Token="),
        "an assumed-role token carries a session token"
    );
    assert!(token.len() > 600, "token length {}", token.len());
    let dsn = postgres::verify_full_dsn(&pg, postgres::IAM_USER, "app");
    let login = postgres::psql(&dsn, Some(&token), "SELECT current_user");
    assert_eq!(
        login.ok().as_deref(),
        Some(postgres::IAM_USER),
        "{:?}\n{}",
        pg.pam().decisions(),
        pg.log()
    );
    for bad in tampered(&token) {
        assert!(
            postgres::psql(&dsn, Some(&bad), "SELECT 1").is_err(),
            "tampered token accepted"
        );
    }
    let expired = moto
        .rds_token(
            &creds,
            "localhost",
            pg.port(),
            postgres::IAM_USER,
            REGION,
            Some("2020-01-01T00:00:00"),
        )
        .unwrap();
    assert!(
        postgres::psql(&dsn, Some(&expired), "SELECT 1").is_err(),
        "expired token accepted"
    );
    let other_port = moto
        .rds_token(
            &creds,
            "localhost",
            pg.port() ^ 1,
            postgres::IAM_USER,
            REGION,
            None,
        )
        .unwrap();
    assert!(
        postgres::psql(&dsn, Some(&other_port), "SELECT 1").is_err(),
        "token for another endpoint accepted"
    );
    let decisions = pg.pam().decisions();
    assert!(
        decisions
            .iter()
            .any(|d| d.contains("reason=signature does not match")),
        "{decisions:?}"
    );
    assert!(
        decisions.iter().any(|d| d.contains("reason=token expired")),
        "{decisions:?}"
    );
    assert!(
        decisions.iter().all(|d| !d.contains("X-Amz")),
        "the verifier log must not hold tokens"
    );

    // MariaDB: the same flow through auth_pam + mysql_clear_password.
    let token = moto
        .rds_token(
            &creds,
            "localhost",
            my.port(),
            mariadb::IAM_USER,
            REGION,
            None,
        )
        .unwrap();
    let who =
        mariadb::mariadb_client(&my, mariadb::IAM_USER, &token, "SELECT CURRENT_USER()").unwrap();
    assert_eq!(who, "iam_user@%");
    for bad in tampered(&token) {
        assert!(mariadb::mariadb_client(&my, mariadb::IAM_USER, &bad, "SELECT 1").is_err());
    }
    let (native, pass) = mariadb::NATIVE_USER;
    assert_eq!(
        mariadb::mariadb_client(&my, native, pass, "SELECT 1").unwrap(),
        "1"
    );
    assert!(mariadb::mariadb_client(&my, native, "wrong", "SELECT 1").is_err());
}

/// Copies of `token` with one character of the signature, the user or the session token changed.
fn tampered(token: &str) -> Vec<String> {
    let flip = |s: &str, at: usize| {
        let mut b = s.as_bytes().to_vec();
        b[at] = if b[at] == b'a' { b'b' } else { b'a' };
        String::from_utf8(b).unwrap()
    };
    let sig = token.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let tok = token.find("X-Amz-Security-Token=").unwrap() + "X-Amz-Security-Token=".len() + 10;
    vec![
        flip(token, sig + 5),
        flip(token, tok),
        token.replacen("DBUser=iam_user", "DBUser=iam_usex", 1),
    ]
}

#[test]
fn redis_refuses_a_wrong_acl_password_over_tls() {
    let ca = TestCa::new().unwrap();
    let redis = Redis::start(&ca).unwrap();
    assert_eq!(redis.cli("app", "app-pass", &["PING"]).unwrap(), "PONG");
    let refused = redis.cli("app", "wrong-pass", &["PING"]).unwrap();
    assert!(refused.contains("WRONGPASS"), "{refused}");
    let denied = redis.cli("app", "app-pass", &["GET", "other:key"]).unwrap();
    assert!(denied.contains("NOPERM"), "{denied}");
}

#[test]
fn moto_refuses_wrong_external_id_and_untrusted_principal_and_counts_calls() {
    let moto = Moto::start().unwrap();
    let setup = moto.cross_account("example-role", "right-id").unwrap();
    let stranger = moto
        .setup(&AwsSetup {
            users: vec![UserSpec {
                account: "333333333333".into(),
                name: "stranger".into(),
                policies: vec![allow(&["sts:AssumeRole"], "*")],
            }],
            roles: vec![RoleSpec {
                account: "444444444444".into(),
                name: "open-role".into(),
                trust: trust_policy("arn:aws:iam::333333333333:user/stranger", None),
                policies: vec![],
            }],
        })
        .unwrap();
    let stranger_user = &stranger.users["stranger"];
    let before = moto.count("AssumeRole").unwrap();

    let ok = moto
        .assume_role(&setup.proxy, &setup.role_arn, Some("right-id"))
        .unwrap()
        .unwrap();
    assert!(ok.session_token.is_some());
    for ext in [Some("wrong-id"), None] {
        let err = moto
            .assume_role(&setup.proxy, &setup.role_arn, ext)
            .unwrap()
            .unwrap_err();
        assert_eq!(err.code, "AccessDenied");
        assert!(err.message.contains(&setup.role_arn), "{}", err.message);
    }
    let err = moto
        .assume_role(stranger_user, &setup.role_arn, Some("right-id"))
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.code, "AccessDenied",
        "an untrusted principal must be refused"
    );
    // The stranger's own trust works, so the refusal above is about trust, not about the stranger's key.
    assert!(
        moto.assume_role(stranger_user, &stranger.roles["open-role"].arn, None)
            .unwrap()
            .is_ok()
    );
    // A wrong secret is a signature failure, not a pass.
    let mut forged = setup.proxy.clone();
    forged.secret_access_key = "not-the-secret".into();
    let err = moto
        .assume_role(&forged, &setup.role_arn, Some("right-id"))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code, "SignatureDoesNotMatch");

    assert_eq!(moto.count("AssumeRole").unwrap() - before, 6);
    let ids: Vec<_> = moto
        .requests()
        .unwrap()
        .iter()
        .filter(|r| r.action().as_deref() == Some("AssumeRole"))
        .map(|r| r.param("ExternalId"))
        .collect();
    assert!(ids.contains(&Some("wrong-id".to_string())) && ids.contains(&None));
}
