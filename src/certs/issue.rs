//! Certificate generation with rcgen: a local CA, server and client certificates it signs, and reloading
//! the CA from its PEM files.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData as _, SanType,
};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::CertsError;

/// How long the CA is valid.
const CA_VALIDITY: Duration = Duration::days(3650);
/// How long server and client certificates are valid.
const LEAF_VALIDITY: Duration = Duration::days(365);
/// Certificates start this long before now, to tolerate clock skew between machines.
const BACKDATE: Duration = Duration::hours(1);

/// A CA able to sign certificates.
pub(super) struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate (PEM).
    pub(super) cert_pem: String,
    key_pem: String,
}

impl Ca {
    /// The CA's private key (PKCS#8 PEM); write it to a 0600 file only.
    pub(super) fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca")
            .field("key_pem", &"** redacted **")
            .finish_non_exhaustive()
    }
}

/// A signed certificate and its new private key.
pub(super) struct Issued {
    /// The certificate (PEM).
    pub(super) cert_pem: String,
    key_pem: String,
}

impl Issued {
    /// The private key (PKCS#8 PEM); write it to a 0600 file only.
    pub(super) fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("key_pem", &"** redacted **")
            .finish_non_exhaustive()
    }
}

fn generate(what: &'static str) -> impl Fn(rcgen::Error) -> CertsError {
    move |source| CertsError::Generate { what, source }
}

fn validity(params: &mut CertificateParams, lifetime: Duration) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now.saturating_sub(BACKDATE);
    params.not_after = now.saturating_add(lifetime);
}

/// A new CA. Its name carries part of its public key, so that two CAs made by `iamwire certs init` never
/// share a name (TLS libraries find issuers by name).
pub(super) fn new_ca() -> Result<Ca, CertsError> {
    let key = KeyPair::generate().map_err(generate("CA key"))?;
    let tail = key.der_bytes().iter().rev().take(6);
    let suffix: String = tail.map(|b| format!("{b:02x}")).collect();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "iamwire");
    dn.push(DnType::CommonName, format!("iamwire local CA {suffix}"));
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut params, CA_VALIDITY);
    let cert = params
        .self_signed(&key)
        .map_err(generate("CA certificate"))?;
    let key_pem = key.serialize_pem();
    Ok(Ca {
        cert_pem: cert.pem(),
        issuer: Issuer::new(params, key),
        key_pem,
    })
}

/// Reloads a CA from its certificate and key (PEM), checking that the key belongs to the certificate and
/// that the certificate is a CA.
pub(super) fn load_ca(
    cert_path: &Path,
    cert_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
) -> Result<Ca, CertsError> {
    let ca_error = |path: &Path, problem| CertsError::Ca {
        path: path.to_path_buf(),
        problem,
    };
    let cert_pem = std::str::from_utf8(cert_pem).map_err(|_| ca_error(cert_path, "not PEM"))?;
    let key_pem = std::str::from_utf8(key_pem).map_err(|_| ca_error(key_path, "not PEM"))?;
    let key = KeyPair::from_pem(key_pem)
        .map_err(|_| ca_error(key_path, "not a PEM private key rcgen can sign with"))?;
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes())
        .map(|d: rustls::pki_types::CertificateDer<'static>| d)
        .map_err(|_| ca_error(cert_path, "no PEM certificate"))?;
    let (_, parsed) = X509Certificate::from_der(&der)
        .map_err(|_| ca_error(cert_path, "not an X.509 certificate"))?;
    if !parsed.is_ca() {
        return Err(ca_error(cert_path, "not a CA certificate"));
    }
    if parsed.public_key().raw != key.subject_public_key_info().as_slice() {
        return Err(ca_error(
            key_path,
            "this key does not belong to the CA certificate",
        ));
    }
    let issuer = Issuer::from_ca_cert_der(&der, key)
        .map_err(|_| ca_error(cert_path, "cannot be used as an issuer"))?;
    Ok(Ca {
        issuer,
        cert_pem: cert_pem.to_owned(),
        key_pem: key_pem.to_owned(),
    })
}

/// A server certificate for `hosts` (DNS names or IP addresses); CN is the first host.
pub(super) fn server(ca: &Ca, hosts: &[String]) -> Result<Issued, CertsError> {
    let mut params = CertificateParams::default();
    for host in hosts {
        let san = match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) if is_dns_name(host) => SanType::DnsName(
                host.clone()
                    .try_into()
                    .map_err(|_| CertsError::Host { host: host.clone() })?,
            ),
            Err(_) => return Err(CertsError::Host { host: host.clone() }),
        };
        params.subject_alt_names.push(san);
    }
    let mut dn = DistinguishedName::new();
    if let Some(first) = hosts.first() {
        dn.push(DnType::CommonName, first.as_str());
    }
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    issue(ca, params, "server certificate")
}

/// A client certificate whose subject CN is `name` (the identity the proxy's allow-list refers to).
pub(super) fn client(ca: &Ca, name: &str) -> Result<Issued, CertsError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    issue(ca, params, "client certificate")
}

fn issue(ca: &Ca, mut params: CertificateParams, what: &'static str) -> Result<Issued, CertsError> {
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, LEAF_VALIDITY);
    let key = KeyPair::generate().map_err(generate(what))?;
    let cert = params.signed_by(&key, &ca.issuer).map_err(generate(what))?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A DNS name (optionally a `*.` wildcard): dot-separated labels of letters, digits and inner hyphens.
fn is_dns_name(host: &str) -> bool {
    let host = host.strip_prefix("*.").unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let ca = new_ca().unwrap();
        let issued = client(&ca, "alice").unwrap();
        for shown in [format!("{ca:?}"), format!("{issued:?}")] {
            assert!(shown.contains("redacted"), "{shown}");
            assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        }
    }

    #[test]
    fn a_reloaded_ca_must_own_its_key() {
        let ca = new_ca().unwrap();
        let other = new_ca().unwrap();
        let (c, k) = (Path::new("ca.crt"), Path::new("ca.key"));
        let reloaded = load_ca(c, ca.cert_pem.as_bytes(), k, ca.key_pem().as_bytes()).unwrap();
        client(&reloaded, "bob").unwrap();
        let mismatch = load_ca(c, ca.cert_pem.as_bytes(), k, other.key_pem().as_bytes());
        assert!(matches!(mismatch, Err(CertsError::Ca { ref path, .. }) if path == k));
        // A leaf certificate is not a CA.
        let leaf = client(&ca, "carol").unwrap();
        let not_ca = load_ca(c, leaf.cert_pem.as_bytes(), k, leaf.key_pem().as_bytes());
        assert!(matches!(not_ca, Err(CertsError::Ca { ref path, .. }) if path == c));
    }

    #[test]
    fn hosts_are_dns_names_or_ips() {
        let ca = new_ca().unwrap();
        let hosts = ["localhost", "127.0.0.1", "::1", "*.proxy.example.com"].map(String::from);
        server(&ca, &hosts).unwrap();
        for bad in ["bad host", "-x.example", "a..b", ""] {
            assert!(
                matches!(server(&ca, &[bad.to_owned()]), Err(CertsError::Host { .. })),
                "{bad:?}"
            );
        }
    }
}
