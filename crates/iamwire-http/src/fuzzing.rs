//! Entry points for the fuzz targets in `fuzz/` (not a stable API).

/// A request head (first line: the `Authorization` value; then `name: value` lines) through the head
/// checks, client signature verification and header filtering.
pub fn request_head(data: &[u8]) {
    crate::head::fuzz_head(data);
}

/// Arbitrary bytes as a client's `Authorization` header on an otherwise well-formed DynamoDB request,
/// verified against the proxy's keys: never a panic, never a grant for a signature that was not made
/// with the key's secret.
pub fn client_authorization(data: &[u8]) {
    crate::head::fuzz_authorization(data);
}
