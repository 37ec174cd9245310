use std::time::{Duration, UNIX_EPOCH};

use super::*;

#[test]
fn database_credentials_debug_redacts_the_password() {
    let c = DatabaseCredentials::new("IAM:app", "s3cr3t-Passw0rd", UNIX_EPOCH);
    let text = format!("{c:?}");
    assert!(text.contains("IAM:app"));
    assert!(text.contains("** redacted **"));
    assert!(!text.contains("s3cr3t-Passw0rd"));
    assert_eq!(c.password(), "s3cr3t-Passw0rd");
}

#[test]
fn validity_window() {
    let exp = UNIX_EPOCH + Duration::from_secs(1000);
    let c = DatabaseCredentials::new("u", "p", exp);
    let margin = Duration::from_secs(60);
    assert!(c.is_valid_at(UNIX_EPOCH + Duration::from_secs(900), margin));
    assert!(!c.is_valid_at(UNIX_EPOCH + Duration::from_secs(940), margin));
}

#[test]
fn requests_are_validated_before_sending() {
    let bad_duration = ClusterCredentialsRequest::new("c", "u").duration(Duration::from_secs(899));
    assert!(matches!(
        bad_duration.validate(),
        Err(ApiError::InvalidInput {
            field: "duration",
            ..
        })
    ));
    let fractional =
        ServerlessCredentialsRequest::new("w").duration(Duration::from_millis(1_000_500));
    assert!(fractional.validate().is_err());
    assert!(ClusterIamCredentialsRequest::new("").validate().is_err());
    assert!(
        ClusterCredentialsRequest::new("c", "bad\nuser")
            .validate()
            .is_err()
    );
    assert!(
        ClusterCredentialsRequest::new("c", "u")
            .db_name(&"d".repeat(129))
            .validate()
            .is_err()
    );
    assert!(
        ClusterCredentialsRequest::new("c", "u")
            .db_name("dev")
            .duration(MAX_DURATION)
            .validate()
            .is_ok()
    );
}

#[test]
fn hints_by_code() {
    let service = |code: &str| {
        ApiError::Service(Box::new(crate::aws_api::ServiceError {
            service: "Redshift",
            operation: "GetClusterCredentials",
            resource: "cluster c".into(),
            code: code.into(),
            status: 403,
            message: String::new(),
            request_id: None,
            hint: None,
        }))
    };
    let text = with_hint(service("AccessDenied"), "grant redshift:X on arn").to_string();
    assert!(
        text.contains("grant redshift:X on arn to the calling role"),
        "{text}"
    );
    let text = with_hint(service("SignatureDoesNotMatch"), "g").to_string();
    assert!(
        text.contains("check the credentials and the clock"),
        "{text}"
    );
    let text = with_hint(service("SomethingElse"), "g").to_string();
    assert!(!text.contains("; "), "{text}");
}
