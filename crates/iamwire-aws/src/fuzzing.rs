//! Entry points for the fuzz targets in `fuzz/` (rustls style: each target is a three-line shim).
//! Not part of the public API.

/// Parse arbitrary bytes as an AWS endpoint host name; must never panic.
pub fn endpoint(data: &[u8]) {
    crate::endpoint::fuzz(data);
}

/// Parse arbitrary bytes as a SigV4 `Authorization` header value; must never panic.
pub fn authorization_header(data: &[u8]) {
    crate::sigv4::fuzz_authorization(data);
}

/// Parse arbitrary bytes as an AWS discovery or Describe answer (XML or JSON); must never panic, and
/// every database name made from what it holds must be valid.
pub fn discovery_answer(data: &[u8]) {
    crate::discovery::fuzz(data);
    crate::endpoint_check::fuzz(data);
}
