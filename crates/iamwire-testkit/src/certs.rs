//! Test certificates: a CA, server certificates for localhost / 127.0.0.1, and client certificates.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use crate::error::Result;
use crate::process::write_file;

/// A throwaway certificate authority that issues server and client certificates.
#[derive(Debug)]
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

/// A certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct CertifiedKey {
    /// The certificate (leaf only).
    pub cert_pem: String,
    /// The PKCS#8 private key.
    pub key_pem: String,
}

impl std::fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("key_pem", &"** redacted **")
            .finish_non_exhaustive()
    }
}

/// Paths of a certificate, its key, and the CA that issued it, as written to disk.
#[derive(Debug, Clone)]
pub struct PemFiles {
    /// The certificate.
    pub cert: PathBuf,
    /// The private key (mode 0600).
    pub key: PathBuf,
    /// The issuing CA's certificate.
    pub ca: PathBuf,
}

impl TestCa {
    /// A new CA named `iamwire test CA <unique>` (unique, so that one CA's certificates never look issued by
    /// another: TLS libraries find issuers by name).
    pub fn new() -> Result<Self> {
        static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            format!("iamwire test CA {}-{n}-{nanos}", std::process::id()),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate()?;
        let pem = params.self_signed(&key)?.pem();
        Ok(Self { params, key, pem })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server(&self, names: &[&str]) -> Result<CertifiedKey> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone())?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate whose subject common name is `common_name`, with `sans` as DNS SANs.
    pub fn client(&self, common_name: &str, sans: &[&str]) -> Result<CertifiedKey> {
        let mut params =
            CertificateParams::new(sans.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, mut params: CertificateParams) -> Result<CertifiedKey> {
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate()?;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(CertifiedKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Write `certified` and this CA into `dir` as `<stem>.crt`, `<stem>.key` (0600) and `ca.crt`.
    pub fn write(&self, dir: &Path, stem: &str, certified: &CertifiedKey) -> Result<PemFiles> {
        let files = PemFiles {
            cert: dir.join(format!("{stem}.crt")),
            key: dir.join(format!("{stem}.key")),
            ca: dir.join("ca.crt"),
        };
        write_file(&files.cert, &certified.cert_pem, 0o644)?;
        write_file(&files.key, &certified.key_pem, 0o600)?;
        write_file(&files.ca, &self.pem, 0o644)?;
        Ok(files)
    }
}

/// The names a local test server's certificate is valid for.
pub const LOCAL_NAMES: &[&str] = &["localhost", "127.0.0.1"];
