//! Entry points for the fuzz targets in `fuzz/` (each target is a three-line shim). Not public API.

/// Decode arbitrary bytes as everything a client sends the proxy; must never panic.
pub fn client(data: &[u8]) {
    crate::codec::fuzz_client(data);
}

/// Decode arbitrary bytes as everything a database sends the proxy; must never panic.
pub fn server(data: &[u8]) {
    crate::codec::fuzz_server(data);
}

/// Feed arbitrary bytes to the auth exchanges as the database's and the client's packets; must never
/// panic.
pub fn auth(data: &[u8]) {
    crate::auth::fuzz(data);
}
