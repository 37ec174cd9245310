use super::error::is_retryable_code;
use super::*;

#[test]
fn debug_shows_region_and_endpoint_only() {
    let sts = StsAssumeRole::builder("eu-west-1")
        .endpoint_url("http://127.0.0.1:1")
        .build();
    let debug = format!("{sts:?}");
    assert!(debug.contains("eu-west-1"), "{debug}");
    assert!(debug.contains("http://127.0.0.1:1"), "{debug}");
    assert_eq!(sts.region(), Some("eu-west-1"));
    assert_eq!(sts.endpoint_url(), Some("http://127.0.0.1:1"));
}

#[test]
fn throttling_and_transient_codes_are_retryable_refusals_are_not() {
    for code in [
        "Throttling",
        "RequestLimitExceeded",
        "IDPCommunicationError",
        "InternalFailure",
    ] {
        assert!(is_retryable_code(code), "{code}");
    }
    for code in [
        "AccessDenied",
        "ExpiredToken",
        "ValidationError",
        "InvalidClientTokenId",
    ] {
        assert!(!is_retryable_code(code), "{code}");
    }
}

#[test]
fn sts_error_exposes_code_and_retryability() {
    let err = StsError::Call {
        operation: "GetCallerIdentity",
        code: Some("Throttling".into()),
        message: "Rate exceeded".into(),
        retryable: true,
    };
    assert_eq!(err.code(), Some("Throttling"));
    assert!(err.is_retryable());
    assert!(
        err.to_string()
            .contains("sts:GetCallerIdentity failed (Throttling)")
    );
    assert!(!StsError::NoRegion.is_retryable());
    assert_eq!(StsError::NoRegion.code(), None);
}

#[tokio::test]
async fn unreachable_endpoint_is_a_retryable_failure_naming_the_role() {
    // A port nobody listens on: connection refused, which is transient.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let sts = StsAssumeRole::builder("us-east-1")
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .max_attempts(1)
        .build();
    let chain = crate::role::RoleChain::builder()
        .assume_role("arn:aws:iam::123456789012:role/db".parse().unwrap())
        .external_id(iamwire_core::ExternalId::new("secret-ext-id"))
        .build()
        .unwrap();
    let source = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
    let err = sts
        .assume_role(&source, &chain.hops()[0])
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.code(), None);
    let text = err.to_string();
    assert!(text.contains("arn:aws:iam::123456789012:role/db"), "{text}");
    assert!(!text.contains("secret-ext-id"), "{text}");
}

#[tokio::test]
async fn without_an_override_the_endpoint_is_the_regional_one() {
    use aws_sdk_sts::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
    // The client leaves UseGlobalEndpoint unset (false), so even us-east-1 is regional.
    for (region, url) in [
        ("eu-west-1", "https://sts.eu-west-1.amazonaws.com"),
        ("us-east-1", "https://sts.us-east-1.amazonaws.com"),
        ("cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn"),
    ] {
        let params = Params::builder().region(region).build().unwrap();
        let endpoint = DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .unwrap();
        assert_eq!(endpoint.url(), url);
    }
}
