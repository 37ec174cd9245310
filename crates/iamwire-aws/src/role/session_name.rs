//! STS role session names: sanitized to STS's alphabet and shortened with a stable hash suffix.

use std::fmt;

use sha2::{Digest, Sha256};

/// The longest role session name STS accepts.
pub const MAX_SESSION_NAME_LEN: usize = 64;

/// The shortest role session name STS accepts.
pub const MIN_SESSION_NAME_LEN: usize = 2;

/// Hex characters of the SHA-256 digest appended to a shortened session name.
const HASH_SUFFIX_LEN: usize = 16;

/// The session name used when none (or an empty one) is given.
pub const DEFAULT_SESSION_NAME: &str = "iamwire";

/// A role session name that STS accepts: 2 to 64 characters of `[A-Za-z0-9_+=,.@-]`.
///
/// Built from any string by [`SessionName::new`], which never fails. The mapping is stable (it is part
/// of the credential cache key and shows up in CloudTrail), and is:
///
/// 1. every character outside `[A-Za-z0-9_+=,.@-]` (including any non-ASCII one) becomes `-`;
/// 2. an empty result becomes `iamwire`; a one-character result `c` becomes `iamwire-c`;
/// 3. a result longer than 64 characters keeps its first 47 characters, then `-`, then the first 16 hex
///    digits (lowercase) of the SHA-256 of the *original* string's UTF-8 bytes — 64 characters in all, so
///    distinct long names stay distinct.
///
/// ```
/// use iamwire_aws::role::SessionName;
///
/// assert_eq!(SessionName::new("alice@example.com").as_str(), "alice@example.com");
/// assert_eq!(SessionName::new("CN=alice, O=ops").as_str(), "CN=alice,-O=ops");
/// assert_eq!(SessionName::new(&"x".repeat(100)).as_str().len(), 64);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionName(String);

impl SessionName {
    /// The session name STS will be sent for `raw` (see the type's documentation for the mapping).
    pub fn new(raw: &str) -> Self {
        let sanitized: String = raw
            .chars()
            .map(|c| if is_allowed(c) { c } else { '-' })
            .collect();
        let name = match sanitized.len() {
            0 => DEFAULT_SESSION_NAME.to_owned(),
            1 => format!("{DEFAULT_SESSION_NAME}-{sanitized}"),
            len if len > MAX_SESSION_NAME_LEN => {
                let keep = MAX_SESSION_NAME_LEN - HASH_SUFFIX_LEN - 1;
                let digest = Sha256::digest(raw.as_bytes());
                let mut out = String::with_capacity(MAX_SESSION_NAME_LEN);
                // `sanitized` is ASCII only, so any byte offset is a character boundary.
                out.push_str(sanitized.get(..keep).unwrap_or(&sanitized));
                out.push('-');
                for byte in digest.iter().take(HASH_SUFFIX_LEN / 2) {
                    out.push_str(&format!("{byte:02x}"));
                }
                out
            }
            _ => sanitized,
        };
        Self(name)
    }

    /// Whether STS accepts `name` as it is (length and alphabet).
    pub fn is_valid(name: &str) -> bool {
        (MIN_SESSION_NAME_LEN..=MAX_SESSION_NAME_LEN).contains(&name.len())
            && name.chars().all(is_allowed)
    }

    /// The name to send as `RoleSessionName`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SessionName {
    fn default() -> Self {
        Self(DEFAULT_SESSION_NAME.to_owned())
    }
}

impl fmt::Display for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// STS's `[\w+=,.@-]`, with `\w` read as ASCII word characters.
fn is_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}
