//! TLS configuration (rustls) for both sides of a proxied connection: the proxy's listener, optionally
//! verifying client certificates (mTLS), and upstream connections with `verify-full` (default), `verify-ca` or
//! `insecure`. Inputs are PEM bytes: the binary reads files, the library does not.

mod identity;
mod verify;

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::TlsMode;

pub use identity::{PeerCertificate, peer_certificate};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// PEM input had no certificate / no key, or could not be parsed.
    #[error("{what}: {problem}")]
    Pem {
        /// Which input (e.g. "server certificate").
        what: &'static str,
        /// What was wrong.
        problem: String,
    },
    /// rustls refused the configuration (e.g. the key does not match the certificate).
    #[error("{what}")]
    Rustls {
        /// What was being built.
        what: &'static str,
        /// The rustls error.
        #[source]
        source: rustls::Error,
    },
    /// The client-certificate verifier could not be built (e.g. no usable CA).
    #[error("client certificate verification: {problem}")]
    ClientVerifier {
        /// What was wrong.
        problem: String,
    },
}

/// Whether the listener asks clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Never ask.
    None,
    /// Ask; a client without one may still connect (and must authenticate another way).
    Optional,
    /// Require a certificate from the client CA.
    Required,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn certs(what: &'static str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what,
            problem: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what,
            problem: "no certificate found".into(),
        });
    }
    Ok(certs)
}

fn roots(what: &'static str, pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certs(what, pem)? {
        store
            .add(cert)
            .map_err(|source| TlsError::Rustls { what, source })?;
    }
    Ok(store)
}

/// The proxy's listener: its certificate chain and key, and optionally a CA for client certificates.
pub fn server_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
    client_ca_pem: Option<&[u8]>,
    client_auth: ClientAuth,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certs("server certificate", cert_chain_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem {
        what: "server key",
        problem: e.to_string(),
    })?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Rustls {
            what: "server protocol versions",
            source,
        })?;
    let builder = match (client_auth, client_ca_pem) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (_, None) => {
            return Err(TlsError::ClientVerifier {
                problem: "client auth needs a client CA".into(),
            });
        }
        (mode, Some(ca)) => {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots("client CA", ca)?),
                provider(),
            );
            let verifier = if mode == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|e| TlsError::ClientVerifier {
                problem: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|source| TlsError::Rustls {
            what: "server certificate",
            source,
        })?;
    Ok(Arc::new(config))
}

/// An upstream (client-side) TLS configuration for `mode`, trusting `ca_pem` (the database's CA bundle, e.g.
/// the RDS global bundle). `verify-full` checks the chain and the host name, `verify-ca` only the chain,
/// `insecure` nothing (for tests and explicit operator choice only). An optional client certificate is
/// presented when the upstream asks.
pub fn upstream_config(
    mode: TlsMode,
    ca_pem: Option<&[u8]>,
    client_cert: Option<(&[u8], &[u8])>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Rustls {
            what: "client protocol versions",
            source,
        })?;
    let builder = match mode {
        TlsMode::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verify::AcceptAny::new(provider()))),
        TlsMode::VerifyFull | TlsMode::VerifyCa => {
            let ca = ca_pem.ok_or_else(|| TlsError::Pem {
                what: "upstream CA",
                problem: "required to verify the upstream".into(),
            })?;
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots("upstream CA", ca)?),
                provider(),
            )
            .build()
            .map_err(|e| TlsError::ClientVerifier {
                problem: e.to_string(),
            })?;
            if mode == TlsMode::VerifyCa {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verify::ChainOnly::new(webpki)))
            } else {
                builder.with_webpki_verifier(webpki)
            }
        }
    };
    let config = match client_cert {
        None => builder.with_no_client_auth(),
        Some((cert_pem, key_pem)) => {
            let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem {
                what: "upstream client key",
                problem: e.to_string(),
            })?;
            builder
                .with_client_auth_cert(certs("upstream client certificate", cert_pem)?, key)
                .map_err(|source| TlsError::Rustls {
                    what: "upstream client certificate",
                    source,
                })?
        }
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests;
