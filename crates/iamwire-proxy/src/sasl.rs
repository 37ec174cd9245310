//! SASL PLAIN (RFC 4616): how protocols without SCRAM carry a user name and a proxy password over TLS
//! (CQL's `PasswordAuthenticator`, MongoDB's `PLAIN` mechanism).

use iamwire_core::Secret;

/// `[authzid] NUL authcid NUL passwd`: the user (the authcid) and the password. `None` unless the user
/// is non-empty UTF-8 of at most `max_user_len` bytes without control characters. Everything after the
/// second NUL is the password, NULs included.
pub fn plain(token: &[u8], max_user_len: usize) -> Option<(String, Secret)> {
    let mut parts = token.splitn(3, |b| *b == 0);
    let _authzid = parts.next()?;
    let user = parts.next()?;
    let password = parts.next()?;
    let user = std::str::from_utf8(user).ok()?;
    if user.is_empty() || user.len() > max_user_len || user.chars().any(char::is_control) {
        return None;
    }
    Some((user.to_owned(), Secret::new(password.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn plain_tokens() {
        let (user, pw) = plain(b"\0reader\0s3cret", 64).unwrap();
        assert_eq!((user.as_str(), pw.expose()), ("reader", &b"s3cret"[..]));
        let (user, pw) = plain(b"admin\0reader\0", 64).unwrap();
        assert_eq!((user.as_str(), pw.expose()), ("reader", &b""[..]));
        assert_eq!(
            plain(b"\0reader\0pw\0more", 64).unwrap().1.expose(),
            b"pw\0more"
        );
        for bad in [
            &b""[..],
            b"reader",
            b"\0\0pw",
            b"\0re\nader\0pw",
            b"\0\xff\0pw",
        ] {
            assert!(plain(bad, 64).is_none(), "{bad:?}");
        }
        assert!(plain(b"\0readers\0pw", 6).is_none());
    }
}
