//! Admission of dynamic resources: what check-resource checks, selectors by label, the selector's role
//! for resources that name none, and `account_id` against the role's account.

use iamwire_core::{Config, Error, Problem, ResourceMatcher};

use super::document;
use crate::catalog::admit::{Admitted, admit};

const ROLE: &str = "arn:aws:iam::222222222222:role/db-access";

fn selectors() -> Vec<ResourceMatcher> {
    let yaml = format!(
        "db_service:\n  resources:\n    - labels: {{ env: [prod, stag*] }}\n      aws:\n        assume_role_arn: {ROLE}\n        external_id: ext-selector\n    - labels: {{ team: payments }}\n"
    );
    Config::from_yaml(yaml.as_bytes())
        .unwrap()
        .db_service
        .resources
}

#[test]
fn a_matching_selector_supplies_its_role_and_external_id() {
    let doc = document("orders", "{ env: staging }", "{ region: us-east-1 }");
    let Admitted::Served { database, selector } = admit(doc.as_bytes(), &selectors()).unwrap()
    else {
        panic!("not served")
    };
    assert_eq!(selector, 0);
    assert_eq!(database.aws.assume_role_arn.as_deref(), Some(ROLE));
    assert_eq!(database.aws.account_id.as_deref(), Some("222222222222"));
    assert_eq!(
        database.aws.external_id.as_ref().map(|e| e.expose()),
        Some("ext-selector")
    );
}

#[test]
fn a_resource_with_its_own_role_keeps_it() {
    let own = "arn:aws:iam::444444444444:role/own";
    let doc = document(
        "orders",
        "{ env: prod }",
        &format!("{{ account_id: \"444444444444\", assume_role_arn: {own} }}"),
    );
    let admitted = admit(doc.as_bytes(), &selectors()).unwrap();
    assert_eq!(
        admitted.database().aws.assume_role_arn.as_deref(),
        Some(own)
    );
    assert_eq!(admitted.database().aws.external_id, None);
}

#[test]
fn an_account_id_that_is_not_the_roles_account_is_refused_naming_both() {
    // Against the resource's own role (check-resource refuses it too)...
    let doc = document(
        "orders",
        "{ env: prod }",
        "{ account_id: \"111111111111\", assume_role_arn: \"arn:aws:iam::222222222222:role/x\" }",
    );
    let err = admit(doc.as_bytes(), &selectors()).unwrap_err();
    assert!(matches!(
        &err,
        Error::Database { problem: Problem::AccountMismatch { account_id, role_account_id }, .. }
            if account_id == "111111111111" && role_account_id == "222222222222"
    ));
    let text = err.to_string();
    assert!(
        text.contains("111111111111") && text.contains("222222222222"),
        "{text}"
    );
    assert!(crate::check::resources(&[write(&doc)]).is_err());

    // ...and against the role the selector supplies.
    let doc = document(
        "orders",
        "{ env: prod }",
        "{ account_id: \"333333333333\" }",
    );
    let err = admit(doc.as_bytes(), &selectors()).unwrap_err();
    assert!(matches!(
        &err,
        Error::Database { problem: Problem::AccountMismatch { account_id, role_account_id }, .. }
            if account_id == "333333333333" && role_account_id == "222222222222"
    ));
}

#[test]
fn no_matching_selector_means_not_served_here() {
    let doc = document("orders", "{ env: dev }", "{}");
    assert!(matches!(
        admit(doc.as_bytes(), &selectors()).unwrap(),
        Admitted::NotSelected { .. }
    ));
    assert!(matches!(
        admit(doc.as_bytes(), &[]).unwrap(),
        Admitted::NotSelected { .. }
    ));
    // A selector without its own role serves the resource as written.
    let doc = document("orders", "{ team: payments }", "{}");
    let Admitted::Served { database, selector } = admit(doc.as_bytes(), &selectors()).unwrap()
    else {
        panic!("not served")
    };
    assert_eq!((selector, database.aws.assume_role_arn), (1, None));
}

#[test]
fn what_check_resource_refuses_is_refused() {
    for (doc, want) in [
        ("kind: role\nversion: v3\n".to_owned(), "kind"),
        (document("Bad_Name", "{}", "{}"), "name"),
        (
            document(
                "orders",
                "{}",
                "{ assume_role_arn: \"arn:aws:iam::222222222222:role/x\" }",
            ),
            "account",
        ),
        (
            format!("{}  surprise: 1\n", document("orders", "{}", "{}")),
            "unknown",
        ),
    ] {
        let err = admit(doc.as_bytes(), &selectors()).unwrap_err();
        let checked = crate::check::resources(&[write(&doc)]);
        assert!(
            checked.is_err(),
            "check-resource accepted what admit refused ({want}): {err}"
        );
    }
    // JSON is a document too.
    let json = r#"{"kind":"db","version":"v3","metadata":{"name":"orders","labels":{"env":"prod"}},"spec":{"protocol":"postgres","uri":"h:5432"}}"#;
    assert!(matches!(
        admit(json.as_bytes(), &selectors()).unwrap(),
        Admitted::Served { .. }
    ));
}

fn write(doc: &str) -> tempfile::TempPath {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), doc).unwrap();
    file.into_temp_path()
}
