//! The admin handlers over a catalog with a file store: create → served at once, mismatched account
//! refused naming both, names unique across origins, rm, and the resource surviving a restart.

use std::sync::Arc;

use iamwire_core::Config;

use super::document;
use crate::catalog::store::FileStore;
use crate::catalog::{Catalog, CatalogConfig, Origin, api};

fn catalog(path: &std::path::Path) -> Catalog {
    let yaml = "db_service:\n  databases:\n    - name: local\n      protocol: postgres\n      uri: localhost:5432\n  resources:\n    - labels: { env: prod }\n      aws:\n        assume_role_arn: arn:aws:iam::222222222222:role/db-access\n        external_id: ext-api-1\n";
    let service = Config::from_yaml(yaml.as_bytes()).unwrap().db_service;
    Catalog::start(
        CatalogConfig {
            static_databases: service.databases,
            selectors: service.resources,
            ..CatalogConfig::default()
        },
        Arc::new(FileStore::open(path).unwrap()),
        None,
        None,
    )
}

#[tokio::test]
async fn create_list_remove_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("databases.json");
    let catalog = catalog(&path);
    let mut desired = catalog.subscribe();

    let doc = document("orders", "{ env: prod }", "{ region: us-east-1 }");
    let (code, body) = api::create_database(&catalog, doc.as_bytes()).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["served"], true);
    assert_eq!(body["database"]["origin"], "dynamic");
    assert_eq!(body["database"]["account"], "222222222222");
    assert_eq!(
        body["database"]["role"],
        "arn:aws:iam::222222222222:role/db-access"
    );
    assert_eq!(body["database"]["external_id"], true);
    assert!(!body.to_string().contains("ext-api-1"));
    // Published on the channel the supervisor watches, already when the handler answers.
    assert!(desired.has_changed().unwrap());
    assert!(desired.borrow_and_update().databases.contains_key("orders"));

    let (code, body) = api::create_database(&catalog, doc.as_bytes()).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("exists"))
    );
    let (code, body) = api::create_database(
        &catalog,
        document("local", "{ env: prod }", "{}").as_bytes(),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("name_taken"))
    );
    let mismatched = document(
        "billing",
        "{ env: prod }",
        "{ account_id: \"333333333333\" }",
    );
    let (code, body) = api::create_database(&catalog, mismatched.as_bytes()).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("account_mismatch"))
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("333333333333") && message.contains("222222222222"),
        "{message}"
    );
    let (code, body) = api::create_database(&catalog, b"kind: db\nversion: v2\n").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("invalid_resource"))
    );
    let unselected = document("scratch", "{ env: dev }", "{}");
    let (code, body) = api::create_database(&catalog, unselected.as_bytes()).await;
    assert_eq!(
        (code, &body["served"]),
        (201, &serde_json::json!(false)),
        "{body}"
    );

    catalog.set_listening("orders", Some("127.0.0.1:15432".parse().unwrap()));
    let desired = catalog.current();
    let names: Vec<(&str, Origin)> = desired
        .databases
        .values()
        .map(|e| (e.database.name.as_str(), e.origin))
        .collect();
    assert_eq!(
        names,
        [("local", Origin::Static), ("orders", Origin::Dynamic)]
    );
    assert_eq!(
        catalog.listening("orders"),
        Some("127.0.0.1:15432".parse().unwrap())
    );
    assert!(desired.status.not_selected.contains("scratch"));
    assert!(desired.status.ready());

    // A restart: a new process over the same store serves it again.
    drop(catalog);
    let catalog = self::catalog(&path);
    assert!(catalog.current().databases.contains_key("orders"));

    let (code, body) = api::delete_database(&catalog, "local").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("not_dynamic"))
    );
    let (code, body) = api::delete_database(&catalog, "orders").await;
    assert_eq!(code, 200, "{body}");
    assert!(!catalog.current().databases.contains_key("orders"));
    let (code, body) = api::delete_database(&catalog, "orders").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    assert!(catalog.current().status.ready());
}
