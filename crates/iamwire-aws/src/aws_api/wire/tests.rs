use std::time::{Duration, UNIX_EPOCH};

use super::*;

const SVC: Service = Service {
    name: "Redshift",
    signing_name: "redshift",
    host_prefix: "redshift",
};

fn answer() -> Answer<'static> {
    Answer {
        service: SVC,
        operation: "GetClusterCredentials",
        resource: "cluster c1",
    }
}

#[test]
fn xml_tree_with_entities_cdata_and_namespaces() {
    let doc = r#"<?xml version="1.0"?><a:Root xmlns:a="urn:x"><B>x &amp; y &#65;&#x42;</B><C/><D><![CDATA[<raw>]]></D></a:Root>"#;
    let root = parse_xml(doc).unwrap_or_default();
    assert_eq!(root.name, "Root");
    assert_eq!(root.text_at(&["B"]), Some("x & y AB"));
    assert!(root.child("C").is_some());
    assert_eq!(root.text_at(&["D"]), Some("<raw>"));
}

#[test]
fn xml_element_budget_is_the_callers() {
    let many = format!("<a>{}</a>", "<b/>".repeat(MAX_XML_ELEMENTS + 1));
    assert!(parse_xml(&many).is_none());
    let root = parse_xml_limited(&many, MAX_XML_ELEMENTS + 2).unwrap_or_default();
    assert_eq!(root.children.len(), MAX_XML_ELEMENTS + 1);
    assert!(parse_xml_limited(&many, 10).is_none());
}

#[test]
fn xml_rejects_garbage_and_deep_nesting() {
    assert!(parse_xml("not xml").is_none());
    assert!(parse_xml("<a><b></a></b>").is_none());
    assert!(parse_xml("<a>&bogus;</a>").is_none());
    let deep = "<a>".repeat(100) + &"</a>".repeat(100);
    assert!(parse_xml(&deep).is_none());
}

#[test]
fn query_error_body() {
    let body = br#"<ErrorResponse xmlns="http://redshift.amazonaws.com/doc/2012-12-01/"><Error><Type>Sender</Type><Code>ClusterNotFound</Code><Message>Cluster c1 not found.</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#;
    let err = answer().query(404, body).err();
    match err {
        Some(ApiError::Service(e)) => {
            assert_eq!(e.code, "ClusterNotFound");
            assert_eq!(e.status, 404);
            assert_eq!(e.request_id.as_deref(), Some("r-1"));
            assert_eq!(e.resource, "cluster c1");
        }
        other => panic!("{other:?}"),
    }
    let wrapped = b"<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>m</Message><Type>Sender</Type></Error></Errors></ErrorResponse>";
    assert_eq!(
        answer()
            .query(403, wrapped)
            .err()
            .and_then(|e| e.code().map(str::to_owned)),
        Some("SignatureDoesNotMatch".to_owned())
    );
    // A body that is not XML still gives a code from the status.
    assert_eq!(
        answer()
            .query(503, b"oops")
            .err()
            .and_then(|e| e.code().map(str::to_owned)),
        Some("HTTP503".to_owned())
    );
}

#[test]
fn query_result_element() {
    let body = b"<GetClusterCredentialsResponse><GetClusterCredentialsResult><DbUser>IAM:u</DbUser></GetClusterCredentialsResult></GetClusterCredentialsResponse>";
    let result = answer().query(200, body).ok();
    assert_eq!(
        result.as_ref().and_then(|r| r.text_at(&["DbUser"])),
        Some("IAM:u")
    );
    assert!(matches!(
        answer().query(200, b"<Other/>"),
        Err(ApiError::Malformed { .. })
    ));
}

#[test]
fn json_errors_by_header_or_type() {
    let e = answer().json(
        400,
        Some("ResourceNotFoundException:http://internal.amazon.com/"),
        Some("rid"),
        br#"{"message":"no such workgroup"}"#,
    );
    assert_eq!(
        e.err().and_then(|e| e.code().map(str::to_owned)).as_deref(),
        Some("ResourceNotFoundException")
    );
    let e = answer().json(
        403,
        None,
        None,
        br#"{"__type":"com.amazon.coral.service#InvalidSignatureException","message":"bad"}"#,
    );
    assert_eq!(
        e.err().and_then(|e| e.code().map(str::to_owned)).as_deref(),
        Some("InvalidSignatureException")
    );
    assert!(matches!(
        answer().json(200, None, None, b"[1]"),
        Err(ApiError::Malformed { .. })
    ));
}

#[test]
fn error_messages_are_trimmed_and_cleaned() {
    let long = format!("{{\"message\":\"a\\nb{}\"}}", "x".repeat(5000));
    match answer().json(400, Some("X"), None, long.as_bytes()) {
        Err(ApiError::Service(e)) => {
            assert!(e.message.len() <= MAX_MESSAGE_CHARS);
            assert!(!e.message.contains('\n'));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn timestamps() {
    let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(parse_timestamp("2023-11-14T22:13:20Z"), Some(t));
    assert_eq!(parse_timestamp("2023-11-14T22:13:20.000Z"), Some(t));
    assert_eq!(parse_timestamp("2023-11-14T22:13:20+00:00"), Some(t));
    assert_eq!(parse_timestamp("2023-11-14T23:13:20+01:00"), Some(t));
    assert_eq!(parse_timestamp("yesterday"), None);
    assert_eq!(json_timestamp(&serde_json::json!(1_700_000_000)), Some(t));
    assert_eq!(json_timestamp(&serde_json::json!(1_700_000_000.0)), Some(t));
    assert_eq!(
        json_timestamp(&serde_json::json!("2023-11-14T22:13:20Z")),
        Some(t)
    );
    assert_eq!(json_timestamp(&serde_json::json!(-1)), None);
    assert_eq!(json_timestamp(&serde_json::json!(1e300)), None);
}

#[test]
fn form_encoding() {
    let mut out = String::new();
    form_encode("a-b_c.d~e f/+é", &mut out);
    assert_eq!(out, "a-b_c.d~e%20f%2F%2B%C3%A9");
}

#[test]
fn error_display_has_code_resource_and_hint() {
    let e = answer()
        .json(403, Some("AccessDenied"), None, b"{}")
        .err()
        .map(|e| e.with_hint(Some("grant x".into())));
    let text = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("AccessDenied"), "{text}");
    assert!(text.contains("cluster c1"), "{text}");
    assert!(text.ends_with("; grant x"), "{text}");
}
