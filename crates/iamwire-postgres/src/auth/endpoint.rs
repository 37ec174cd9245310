//! `tls-server-end-point` channel binding data (RFC 5929 section 4.1): the hash of the TLS
//! server's certificate, with the hash function of the certificate's signature algorithm
//! (SHA-256 if that is MD5 or SHA-1).

use std::fmt;

use sha2::{Digest as _, Sha224, Sha256, Sha384, Sha512};

use super::AuthError;

/// The `tls-server-end-point` channel binding data of one TLS connection. Not secret: it is
/// derived from the server's public certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsServerEndPoint(Vec<u8>);

impl TlsServerEndPoint {
    /// Compute the binding data from the server certificate (DER), as RFC 5929 specifies.
    /// Fails for malformed DER and for signature algorithms without a single hash function
    /// (Ed25519, Ed448), for which the binding is undefined.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, AuthError> {
        let hash = signature_hash(der)?;
        Ok(TlsServerEndPoint(match hash {
            Hash::Sha224 => Sha224::digest(der).to_vec(),
            Hash::Sha256 => Sha256::digest(der).to_vec(),
            Hash::Sha384 => Sha384::digest(der).to_vec(),
            Hash::Sha512 => Sha512::digest(der).to_vec(),
        }))
    }

    /// Binding data computed elsewhere (e.g. by the TLS library).
    pub fn from_hash(hash: impl Into<Vec<u8>>) -> Self {
        TlsServerEndPoint(hash.into())
    }

    /// The binding data (the certificate hash).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TlsServerEndPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsServerEndPoint(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

const TAG_SEQUENCE: u8 = 0x30;
const TAG_OID: u8 = 0x06;
const TAG_CONTEXT_0: u8 = 0xa0;

// Signature algorithm OIDs (DER content bytes) and the hash RFC 5929 says to use.
const RSA_PKCS1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
const DSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03];
const NIST_SIG: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03];
const NIST_HASH: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];
const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const ED448: &[u8] = &[0x2b, 0x65, 0x71];

fn err(what: &'static str) -> AuthError {
    AuthError::CertificateHash { what }
}

/// The hash function of the certificate's `signatureAlgorithm`, mapped per RFC 5929.
fn signature_hash(der: &[u8]) -> Result<Hash, AuthError> {
    let malformed = || err("the certificate is not valid DER");
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
    let (certificate, _) = read_tlv(der, TAG_SEQUENCE).ok_or_else(malformed)?;
    let (_tbs, rest) = read_tlv(certificate, TAG_SEQUENCE).ok_or_else(malformed)?;
    let (algorithm, _) = read_tlv(rest, TAG_SEQUENCE).ok_or_else(malformed)?;
    let (oid, params) = read_tlv(algorithm, TAG_OID).ok_or_else(malformed)?;

    let unsupported = || err("the certificate's signature algorithm has no single hash function");
    if let Some(last) = oid.strip_prefix(RSA_PKCS1).and_then(single) {
        return match last {
            // md5WithRSA, sha1WithRSA → SHA-256
            4 | 5 => Ok(Hash::Sha256),
            11 => Ok(Hash::Sha256),
            12 => Ok(Hash::Sha384),
            13 => Ok(Hash::Sha512),
            14 => Ok(Hash::Sha224),
            // RSASSA-PSS: the hash is in the parameters.
            10 => pss_hash(params).ok_or_else(unsupported),
            _ => Err(unsupported()),
        };
    }
    match oid.strip_prefix(ECDSA) {
        Some([1]) => return Ok(Hash::Sha256), // ecdsa-with-SHA1
        Some([3, 1]) => return Ok(Hash::Sha224),
        Some([3, 2]) => return Ok(Hash::Sha256),
        Some([3, 3]) => return Ok(Hash::Sha384),
        Some([3, 4]) => return Ok(Hash::Sha512),
        _ => {}
    }
    match oid.strip_prefix(NIST_SIG) {
        // dsa-with-sha224/256, then ecdsa-with-sha3-* and friends (unsupported below)
        Some([1]) => return Ok(Hash::Sha224),
        Some([2]) => return Ok(Hash::Sha256),
        _ => {}
    }
    if oid == DSA_SHA1 {
        return Ok(Hash::Sha256);
    }
    if oid == ED25519 || oid == ED448 {
        return Err(unsupported());
    }
    Err(err("the certificate's signature algorithm is not known"))
}

fn single(rest: &[u8]) -> Option<u8> {
    match rest {
        [b] => Some(*b),
        _ => None,
    }
}

/// `RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... }`
fn pss_hash(params: &[u8]) -> Option<Hash> {
    let (params, _) = read_tlv(params, TAG_SEQUENCE)?;
    let Some((explicit, _)) = read_tlv(params, TAG_CONTEXT_0) else {
        return Some(Hash::Sha256); // default hash SHA-1 → SHA-256
    };
    let (algorithm, _) = read_tlv(explicit, TAG_SEQUENCE)?;
    let (oid, _) = read_tlv(algorithm, TAG_OID)?;
    if oid == SHA1 {
        return Some(Hash::Sha256);
    }
    match oid.strip_prefix(NIST_HASH)? {
        [1] => Some(Hash::Sha256),
        [2] => Some(Hash::Sha384),
        [3] => Some(Hash::Sha512),
        [4] => Some(Hash::Sha224),
        _ => None,
    }
}

/// Read one DER TLV with the expected single-byte tag: `(contents, rest)`.
fn read_tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, input) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len_byte, input) = input.split_first()?;
    let (len, input) = if len_byte < 0x80 {
        (usize::from(len_byte), input)
    } else {
        // Long form: 1 to 4 length bytes; 0x80 (indefinite) is not DER.
        let count = usize::from(len_byte & 0x7f);
        if !(1..=4).contains(&count) {
            return None;
        }
        let bytes = input.get(..count)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, input.get(count..)?)
    };
    Some((input.get(..len)?, input.get(len..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_tlv_checks_lengths() {
        assert_eq!(
            read_tlv(&[0x30, 0x01, 0xaa, 0xbb], 0x30),
            Some((&[0xaa][..], &[0xbb][..]))
        );
        assert_eq!(read_tlv(&[0x30, 0x02, 0xaa], 0x30), None);
        assert_eq!(read_tlv(&[0x30, 0x80, 0xaa], 0x30), None);
        assert_eq!(read_tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], 0x30), None);
        assert_eq!(read_tlv(&[0x31, 0x00], 0x30), None);
        assert_eq!(read_tlv(&[], 0x30), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for der in [
            &b""[..],
            b"\x30",
            b"\x30\x00",
            b"\x30\x02\x30\x00",
            b"\x30\x06\x30\x00\x30\x02\x06\x00",
        ] {
            assert!(matches!(
                TlsServerEndPoint::from_certificate_der(der),
                Err(AuthError::CertificateHash { .. })
            ));
        }
    }
}
