//! What a verified client certificate says about its holder.

use rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::ClientIdentity;

/// The subject facts of a peer certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    /// The subject common name, if present.
    pub common_name: Option<String>,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
}

impl PeerCertificate {
    /// The identity this certificate proves (its CN, else its first DNS SAN), if any.
    pub fn identity(&self) -> Option<ClientIdentity> {
        ClientIdentity::from_certificate(self.common_name.clone(), self.dns_names.clone())
    }
}

/// Read the subject of an already-verified certificate. `None` when it cannot be parsed (the TLS layer
/// verified it, so that would be a bug, never a reason to let the client in).
pub fn peer_certificate(cert: &CertificateDer<'_>) -> Option<PeerCertificate> {
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).ok()?;
    let common_name = parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let dns_names = parsed
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some((*d).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Some(PeerCertificate {
        common_name,
        dns_names,
    })
}
