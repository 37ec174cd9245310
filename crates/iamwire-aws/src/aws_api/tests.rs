use std::time::UNIX_EPOCH;

use super::*;

fn creds() -> Credentials {
    Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI", None, None, "test")
}

fn request<'a>(call: Call<'a>) -> ApiRequest<'a> {
    ApiRequest {
        service: Service {
            name: "Redshift",
            signing_name: "redshift",
            host_prefix: "redshift",
        },
        operation: "GetClusterCredentials",
        body: Body::Query {
            action: "GetClusterCredentials",
            version: "2012-12-01",
            params: vec![("DbUser".into(), "a b&c=d".to_owned())],
        },
        call,
    }
}

#[test]
fn regional_endpoints_by_partition() {
    assert_eq!(
        regional_endpoint("redshift", "eu-west-1").ok().as_deref(),
        Some("https://redshift.eu-west-1.amazonaws.com")
    );
    assert_eq!(
        regional_endpoint("memory-db", "cn-north-1").ok().as_deref(),
        Some("https://memory-db.cn-north-1.amazonaws.com.cn")
    );
    for bad in ["", "us-east-1.evil.com/", "US-EAST-1", "a@b"] {
        assert!(matches!(
            regional_endpoint("redshift", bad),
            Err(ApiError::InvalidInput {
                field: "region",
                ..
            })
        ));
    }
}

#[test]
fn endpoint_overrides_are_checked() {
    let c = creds();
    let call = Call::new(&c, "us-east-1", UNIX_EPOCH);
    let ok = request(call.endpoint("http://127.0.0.1:4566"));
    assert_eq!(
        ok.endpoint().map(|u| u.to_string()).ok().as_deref(),
        Some("http://127.0.0.1:4566/")
    );
    for bad in [
        "ftp://x",
        "127.0.0.1:80",
        "https://x/path",
        "https://x/?q=1",
        "not a url",
    ] {
        assert!(
            matches!(
                request(call.endpoint(bad)).endpoint(),
                Err(ApiError::Endpoint { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn query_body_is_form_encoded() {
    let c = creds();
    let req = request(Call::new(&c, "us-east-1", UNIX_EPOCH));
    assert_eq!(
        String::from_utf8(req.body.bytes()).ok().as_deref(),
        Some("Action=GetClusterCredentials&Version=2012-12-01&DbUser=a%20b%26c%3Dd")
    );
}

#[test]
fn call_debug_shows_no_secret() {
    let c = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI",
        Some("tok3n".into()),
        None,
        "t",
    );
    let text = format!("{:?}", Call::new(&c, "us-east-1", UNIX_EPOCH));
    assert!(text.contains("AKIDEXAMPLE"));
    assert!(!text.contains("wJalrXUtnFEMI"));
    assert!(!text.contains("tok3n"));
}

#[tokio::test]
async fn plaintext_is_refused_unless_allowed() {
    let client = crate::test_support::client_without_roots();
    let c = creds();
    let req = request(Call::new(&c, "us-east-1", UNIX_EPOCH).endpoint("http://127.0.0.1:9"));
    assert!(matches!(
        client.send(&req).await,
        Err(ApiError::Endpoint { .. })
    ));
    // Allowed: now it gets as far as the (closed) port.
    let client = client.allow_http(true);
    let err = client.send(&req).await.err();
    assert!(matches!(err, Some(ApiError::Transport { .. })), "{err:?}");
    assert!(err.is_some_and(|e| e.is_retryable()));
}

#[test]
fn rest_bodies_go_to_their_path_with_their_method() {
    let endpoint: Uri = "https://es.us-east-1.amazonaws.com/".parse().unwrap();
    let rest = Body::Rest {
        method: Method::GET,
        path_and_query: "/2021-01-01/tags/?arn=arn%3Aaws%3Aes".to_owned(),
        body: None,
    };
    let (method, target) = rest.method_and_target(&endpoint).unwrap();
    assert_eq!(method, Method::GET);
    assert_eq!(
        target.to_string(),
        "https://es.us-east-1.amazonaws.com/2021-01-01/tags/?arn=arn%3Aaws%3Aes"
    );
    assert!(rest.bytes().is_empty());
    assert_eq!(rest.content_type(), "application/json");
    let with_body = Body::Rest {
        method: Method::POST,
        path_and_query: "/2021-01-01/opensearch/domain-info".to_owned(),
        body: Some(serde_json::json!({"DomainNames": ["a"]})),
    };
    assert_eq!(with_body.bytes(), br#"{"DomainNames":["a"]}"#);
    for bad in ["relative", "/with space", ""] {
        let body = Body::Rest {
            method: Method::GET,
            path_and_query: bad.to_owned(),
            body: None,
        };
        assert!(matches!(
            body.method_and_target(&endpoint),
            Err(ApiError::InvalidInput { field: "path", .. })
        ));
    }
    // Query and JSON bodies still POST to the endpoint itself.
    let query = Body::Query {
        action: "DescribeDBInstances",
        version: "2014-10-31",
        params: vec![],
    };
    assert_eq!(
        query.method_and_target(&endpoint).unwrap(),
        (Method::POST, endpoint.clone())
    );
}
