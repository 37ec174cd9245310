use std::sync::Mutex;

use aws_credential_types::Credentials;
use iamwire_core::{InjectErrorKind, Protocol, Redshift, RedshiftServerless};

use crate::role::CredentialsFuture;

use super::*;

/// Hands out fixed credentials and records the chains it was asked for.
#[derive(Debug, Default)]
struct FixedRoles(Mutex<Vec<RoleChain>>);

impl RoleProvider for FixedRoles {
    fn credentials<'a>(&'a self, chain: &'a RoleChain) -> CredentialsFuture<'a> {
        if let Ok(mut asked) = self.0.lock() {
            asked.push(chain.clone());
        }
        let creds = Credentials::new("AKIDTEST", "test-secret-key", None, None, "test");
        Box::pin(std::future::ready(Ok(creds)))
    }
}

fn plaintext_api(endpoint: &str) -> RedshiftApi {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    RedshiftApi::new(ApiClient::new(Arc::new(tls)).allow_http(true)).endpoint(endpoint)
}

fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    endpoint
}

fn redshift_db() -> Database {
    let mut db = Database::new("rs", Protocol::Postgres, "localhost:5439");
    db.aws.region = Some("us-west-2".into());
    db.aws.account_id = Some("222222222222".into());
    let mut redshift = Redshift::default();
    redshift.cluster_id = Some("analytics".into());
    db.aws.redshift = Some(redshift);
    db
}

#[test]
fn role_users() {
    assert_eq!(role_user("role/reader"), Some("reader"));
    assert_eq!(
        role_user("arn:aws:iam::222222222222:role/reader"),
        Some("arn:aws:iam::222222222222:role/reader")
    );
    assert_eq!(role_user("app"), None);
    assert_eq!(role_user("arn:aws:iam::222222222222:user/app"), None);
}

#[tokio::test]
async fn selector_picks_by_aws_settings() {
    let roles: Arc<dyn RoleProvider> = Arc::new(FixedRoles::default());
    let api = plaintext_api("http://127.0.0.1:1");
    let rds = Database::new("pg", Protocol::Postgres, "localhost:5432");
    let mut serverless = Database::new("wg", Protocol::Postgres, "localhost:5439");
    serverless.aws.redshift_serverless = Some(RedshiftServerless::default());
    let keyspaces = Database::new(
        "ks",
        Protocol::Cassandra,
        "cassandra.us-west-2.amazonaws.com",
    );
    for (db, name) in [
        (keyspaces, "KeyspacesInjector"),
        (rds, "RdsIamInjector"),
        (redshift_db(), "RedshiftInjector"),
        (serverless, "RedshiftServerlessInjector"),
    ] {
        let shown = format!("{:?}", injector_for(&db, roles.clone(), api.clone()));
        assert!(shown.starts_with(&format!("{name} ")), "{shown}");
    }
}

#[tokio::test]
async fn missing_settings_are_misconfigured_and_unreachable_aws_unavailable() {
    let roles = Arc::new(FixedRoles::default());
    let injector = RedshiftInjector::new(roles.clone(), plaintext_api(&closed_port()));

    let mut no_cluster = redshift_db();
    no_cluster.aws.redshift = Some(Redshift::default());
    let want = SessionRequest {
        database: &no_cluster,
        db_user: "app",
        db_name: Some("dev"),
    };
    let error = injector.login(&want).await.unwrap_err();
    assert_eq!(error.kind(), InjectErrorKind::Misconfigured, "{error:?}");
    assert!(
        error.message().contains("aws.redshift.cluster_id"),
        "{error}"
    );
    assert!(
        roles.0.lock().unwrap().is_empty(),
        "no AWS call without a cluster"
    );

    let db = redshift_db();
    let want = SessionRequest {
        database: &db,
        db_user: "app",
        db_name: Some("dev"),
    };
    let error = injector.login(&want).await.unwrap_err();
    assert_eq!(error.kind(), InjectErrorKind::Unavailable, "{error:?}");
    let source = std::error::Error::source(&error)
        .and_then(|s| s.downcast_ref::<ApiError>())
        .expect("the API error is the source");
    assert!(matches!(source, ApiError::Transport { .. }), "{source:?}");
    assert!(
        error.to_string().contains("could not reach Redshift"),
        "{error}"
    );
    assert!(!format!("{error:?}").contains("test-secret-key"));
    // No assume-role hops: the proxy's own identity asks for IAM:<user>.
    assert!(roles.0.lock().unwrap()[0].is_empty());
}

#[tokio::test]
async fn role_users_are_the_second_hop() {
    let roles = Arc::new(FixedRoles::default());
    let api = plaintext_api(&closed_port());
    let mut db = redshift_db();
    db.aws.assume_role_arn = Some("arn:aws:iam::222222222222:role/db-access".into());
    let want = SessionRequest {
        database: &db,
        db_user: "role/reader",
        db_name: Some("dev"),
    };
    let injector = RedshiftInjector::new(roles.clone(), api.clone());
    assert!(injector.login(&want).await.is_err());
    let mut serverless = db.clone();
    serverless.aws.redshift = None;
    let mut wg = RedshiftServerless::default();
    wg.workgroup_name = Some("etl".into());
    serverless.aws.redshift_serverless = Some(wg);
    let want = SessionRequest {
        database: &serverless,
        db_user: "reader",
        db_name: Some("dev"),
    };
    let injector = RedshiftServerlessInjector::new(roles.clone(), api);
    assert!(injector.login(&want).await.is_err());

    let asked = roles.0.lock().unwrap();
    assert_eq!(asked.len(), 2);
    for chain in asked.iter() {
        let arns: Vec<String> = chain
            .hops()
            .iter()
            .map(|h| h.role_arn().to_string())
            .collect();
        assert_eq!(
            arns,
            [
                "arn:aws:iam::222222222222:role/db-access",
                "arn:aws:iam::222222222222:role/reader"
            ]
        );
    }
}
