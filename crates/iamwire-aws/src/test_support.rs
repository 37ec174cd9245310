//! Helpers shared by this crate's unit tests.

use std::sync::Arc;

use crate::aws_api::ApiClient;
use crate::role::{CredentialsFuture, RoleChain, RoleError, RoleProvider};

/// An [`ApiClient`] with no trusted roots (for tests that never reach a TLS endpoint).
pub(crate) fn client_without_roots() -> ApiClient {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|b| {
        b.with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    });
    match tls {
        Ok(tls) => ApiClient::new(Arc::new(tls)),
        Err(e) => panic!("rustls config: {e}"),
    }
}

/// A role provider that has no credentials at all.
#[derive(Debug)]
pub(crate) struct NoRoles;

impl RoleProvider for NoRoles {
    fn credentials<'a>(&'a self, _chain: &'a RoleChain) -> CredentialsFuture<'a> {
        Box::pin(async {
            Err(RoleError::BaseCredentials {
                message: "no credentials in unit tests".into(),
                retryable: false,
            })
        })
    }
}
