use super::*;

#[test]
fn debug_shows_variable_names_never_values() {
    let config = BaseCredentialsConfig::from_env([
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG"),
        ("AWS_SESSION_TOKEN", "session-token-value"),
    ])
    .region("eu-west-1");
    let debug = format!("{config:?}");
    assert!(debug.contains("AWS_SECRET_ACCESS_KEY"), "{debug}");
    for secret in [
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG",
        "session-token-value",
    ] {
        assert!(!debug.contains(secret), "{debug}");
    }
}

#[tokio::test]
async fn overrides_win_over_the_environment() {
    let base = BaseCredentialsConfig::from_env([
        ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1"),
        ("AWS_REGION", "us-west-2"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ])
    .sts_endpoint("http://127.0.0.1:2")
    .region("eu-central-1")
    .load()
    .await;
    assert_eq!(base.region(), Some("eu-central-1"));
    assert_eq!(base.sts_endpoint(), Some("http://127.0.0.1:2"));
    let sts = base.sts().unwrap();
    assert_eq!(sts.endpoint_url(), Some("http://127.0.0.1:2"));
    assert!(!format!("{base:?}").contains("secret"));
}

#[tokio::test]
async fn the_generic_endpoint_url_reaches_sts_when_there_is_no_sts_one() {
    let base = BaseCredentialsConfig::from_env([("AWS_ENDPOINT_URL", "http://127.0.0.1:3")])
        .region("eu-west-1")
        .load()
        .await;
    assert_eq!(base.sts_endpoint(), Some("http://127.0.0.1:3"));
    assert_eq!(
        base.sts().unwrap().endpoint_url(),
        Some("http://127.0.0.1:3")
    );
}

#[tokio::test]
async fn the_environment_given_is_the_only_one_read() {
    // No HOME, no keys, IMDS disabled: the chain finds nothing, whatever the process environment holds.
    let base = BaseCredentialsConfig::from_env([("AWS_EC2_METADATA_DISABLED", "true")])
        .region("eu-west-1")
        .load()
        .await;
    assert!(base.provide_credentials().await.is_err());
    let env_base = BaseCredentialsConfig::from_env([
        ("AWS_ACCESS_KEY_ID", "AKIDFROMMAP"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ])
    .region("eu-west-1")
    .load()
    .await;
    let creds = env_base.provide_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), "AKIDFROMMAP");
}

#[tokio::test]
async fn no_region_means_no_sts() {
    let base = BaseCredentialsConfig::from_env([("AWS_EC2_METADATA_DISABLED", "true")])
        .load()
        .await;
    assert_eq!(base.region(), None);
    assert_eq!(base.sts().unwrap_err(), StsError::NoRegion);
}

#[tokio::test]
async fn every_aws_call_has_timeouts() {
    let base = BaseCredentialsConfig::from_env([("AWS_EC2_METADATA_DISABLED", "true")])
        .region("us-west-2")
        .load()
        .await;
    let timeouts = base.sdk_config().timeout_config().unwrap();
    assert_eq!(timeouts.connect_timeout(), Some(DEFAULT_CONNECT_TIMEOUT));
    assert_eq!(timeouts.read_timeout(), Some(DEFAULT_READ_TIMEOUT));
    assert_eq!(
        timeouts.operation_attempt_timeout(),
        Some(DEFAULT_ATTEMPT_TIMEOUT)
    );
    assert_eq!(
        timeouts.operation_timeout(),
        Some(DEFAULT_OPERATION_TIMEOUT)
    );
}
