//! Postgres' MD5 password response.

use md5::{Digest as _, Md5};

use super::Secret;

/// `"md5" + hex(md5(hex(md5(password + user)) + salt))`, the `PasswordMessage` payload
/// for `AuthenticationMD5Password`.
pub(crate) fn md5_response(user: &[u8], password: &[u8], salt: [u8; 4]) -> Secret {
    let mut inner = Md5::new();
    inner.update(password);
    inner.update(user);
    let inner_hex = hex(&inner.finalize());
    let mut outer = Md5::new();
    outer.update(&inner_hex);
    outer.update(salt);
    let mut response = b"md5".to_vec();
    response.extend_from_slice(&hex(&outer.finalize()));
    Secret::new(response)
}

fn hex(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_postgres_protocol() {
        let salt = [0x2a, 0x3d, 0x8f, 0xe0];
        let ours = md5_response(b"md5_user", b"password", salt);
        let theirs = postgres_protocol::authentication::md5_hash(b"md5_user", b"password", salt);
        assert_eq!(ours.expose(), theirs.as_bytes());
        // The value from postgres-protocol's own test.
        assert_eq!(ours.expose(), b"md562af4dd09bbb41884907a838a3233294");
    }
}
