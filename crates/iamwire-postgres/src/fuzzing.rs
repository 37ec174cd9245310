//! Entry points for the fuzz targets in `fuzz/` (each target is a three-line shim). Not public API.

/// Decode arbitrary bytes as frontend (client → proxy) startup-phase messages; must never panic.
pub fn frontend(data: &[u8]) {
    crate::codec::fuzz_frontend(data);
}

/// Decode arbitrary bytes as backend (server → proxy) messages; must never panic.
pub fn backend(data: &[u8]) {
    crate::codec::fuzz_backend(data);
}

/// Feed arbitrary bytes to the SCRAM server and the upstream auth exchange; must never panic.
pub fn auth(data: &[u8]) {
    crate::auth::fuzz(data);
}
