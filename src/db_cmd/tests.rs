//! `iamwire db create | rm` against a stand-in admin server: HTTPS that requires a client
//! certificate from the test CA, with the catalog's handlers mounted at the API's routes (the real
//! admin router is the lead's; these routes and bodies are the agreed shape).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use iamwire_core::Config;
use iamwire_testkit::{LOCAL_NAMES, TestCa};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{AdminArgs, create, rm};
use crate::catalog::store::FileStore;
use crate::catalog::{Catalog, CatalogConfig, api};

/// Route one request to the catalog's handlers.
async fn route(
    catalog: Catalog,
    request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let path = parts.uri.path();
    let (status, json) = match (parts.method.as_str(), path) {
        ("POST", "/v1/databases") => api::create_database(&catalog, &body).await,
        ("DELETE", p) if p.starts_with("/v1/databases/") => {
            api::delete_database(&catalog, &p["/v1/databases/".len()..]).await
        }
        _ => (
            404,
            serde_json::json!({"error": {"code": "no_route", "message": path}}),
        ),
    };
    Ok(http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(json.to_string())))
        .unwrap())
}

/// The stand-in admin server on 127.0.0.1; its port.
async fn admin_server(ca: &TestCa, dir: &std::path::Path, catalog: Catalog) -> u16 {
    let files = ca
        .write(dir, "admin", &ca.server(LOCAL_NAMES).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&files.ca).unwrap())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_file(&files.cert).unwrap()],
            PrivateKeyDer::from_pem_file(&files.key).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, catalog) = (acceptor.clone(), catalog.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |r| route(catalog.clone(), r));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_ls_rm_through_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "db_service:\n  databases:\n    - name: local\n      protocol: postgres\n      uri: localhost:5432\n  resources:\n    - labels: { env: prod }\n      aws:\n        assume_role_arn: arn:aws:iam::222222222222:role/db-access\n        external_id: ext-cli-1\n";
    let service = Config::from_yaml(yaml.as_bytes()).unwrap().db_service;
    let catalog = Catalog::start(
        CatalogConfig {
            static_databases: service.databases,
            selectors: service.resources,
            ..CatalogConfig::default()
        },
        Arc::new(FileStore::open(&dir.path().join("db.json")).unwrap()),
        None,
        None,
    );
    let ca = TestCa::new().unwrap();
    let port = admin_server(&ca, dir.path(), catalog.clone()).await;
    let operator = ca
        .write(dir.path(), "operator", &ca.client("operator", &[]).unwrap())
        .unwrap();
    let admin = AdminArgs {
        url: format!("https://localhost:{port}"),
        ca: operator.ca.clone(),
        cert: operator.cert.clone(),
        key: operator.key.clone(),
    };
    let good = dir.path().join("orders.yaml");
    std::fs::write(
        &good,
        crate::catalog::tests::document(
            "orders",
            "{ env: prod, team: payments }",
            "{ region: us-east-1 }",
        ),
    )
    .unwrap();
    let bad = dir.path().join("billing.yaml");
    std::fs::write(
        &bad,
        crate::catalog::tests::document(
            "billing",
            "{ env: prod }",
            "{ account_id: \"333333333333\" }",
        ),
    )
    .unwrap();

    // Both files are tried; the one with a mismatched account fails naming both accounts.
    let err = create(&admin, &[good.clone(), bad.clone()])
        .await
        .unwrap_err();
    assert!(
        err.contains("billing.yaml") && err.contains("account_mismatch"),
        "{err}"
    );
    assert!(
        err.contains("333333333333") && err.contains("222222222222"),
        "{err}"
    );
    assert!(catalog.current().databases.contains_key("orders"));
    assert!(!catalog.current().databases.contains_key("billing"));

    let err = rm(&admin, "local").await.unwrap_err();
    assert!(err.contains("not_dynamic"), "{err}");
    assert_eq!(rm(&admin, "orders").await.unwrap(), "removed orders\n");
    assert!(!catalog.current().databases.contains_key("orders"));
    let err = rm(&admin, "orders").await.unwrap_err();
    assert!(err.contains("not_found"), "{err}");

    // A certificate from another CA is not an admin identity: the TLS handshake fails.
    let stranger = TestCa::new().unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let files = stranger
        .write(other_dir.path(), "x", &stranger.client("x", &[]).unwrap())
        .unwrap();
    let outsider = AdminArgs {
        cert: files.cert,
        key: files.key,
        ..admin.clone()
    };
    assert!(
        create(&outsider, std::slice::from_ref(&good))
            .await
            .is_err()
    );
    let plain = AdminArgs {
        url: format!("http://localhost:{port}"),
        ..admin
    };
    assert!(rm(&plain, "orders").await.unwrap_err().contains("https"));
}
