//! Names of discovered databases: stable, valid (`^[a-z]([-a-z0-9]*[a-z0-9])?$`, at most 63
//! characters), and unique across types, regions and accounts.

use sha2::{Digest, Sha256};

/// The longest database name.
const MAX_NAME_LEN: usize = 63;
/// Hex digits of the hash added to a name that had to be shortened or changed.
const HASH_LEN: usize = 8;

/// How discovered databases are named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameStyle {
    /// `<resource>-<type>-<region>-<account>`, e.g. `orders-rds-us-east-1-222222222222`: unique across
    /// every matcher, region and account, so the same database found twice gets the same name. The
    /// default.
    #[default]
    Qualified,
    /// `<resource>` alone, e.g. `orders` (Teleport's Database Service style): short, but two resources
    /// with the same identifier in different regions or accounts collide, and the second is left out
    /// with a [`DiscoveryError::NameTaken`](super::DiscoveryError::NameTaken).
    Plain,
}

/// The name of a discovered database.
///
/// `resource` is the resource part (`orders`, `orders-reader`, `orders-custom-analytics`), `token` the
/// kind of resource (`rds`, `aurora`, `rdsproxy`, ...). A resource part that is not already a valid name
/// is lower-cased and its other characters turned into `-`; a name that changed that way, or that is too
/// long and had to be cut, ends in 8 hex digits of a SHA-256 of everything it stands for, so it stays
/// unique and the same from run to run.
pub(crate) fn database_name(
    style: NameStyle,
    resource: &str,
    token: &str,
    region: &str,
    account: &str,
) -> String {
    let suffix = match style {
        NameStyle::Qualified => format!("-{token}-{region}-{account}"),
        NameStyle::Plain => String::new(),
    };
    let clean = sanitize(resource);
    let changed = clean != resource;
    if !changed && clean.len() + suffix.len() <= MAX_NAME_LEN {
        return format!("{clean}{suffix}");
    }
    let hash = short_hash(&[resource, token, region, account]);
    let room = MAX_NAME_LEN.saturating_sub(suffix.len() + HASH_LEN + 1);
    let mut base: String = clean.chars().take(room).collect();
    while base.ends_with('-') {
        base.pop();
    }
    if base.is_empty() {
        base.push_str("db");
    }
    let name = format!("{base}-{hash}{suffix}");
    // Only a pathological token/region/account could make this longer; cut it, it stays valid.
    let mut name: String = name.chars().take(MAX_NAME_LEN).collect();
    while name.ends_with('-') {
        name.pop();
    }
    name
}

/// Lower case; anything but `a-z0-9` becomes `-`; no leading, trailing or doubled `-`; starts with a
/// letter (`db-` is put in front otherwise).
fn sanitize(resource: &str) -> String {
    let mut out = String::with_capacity(resource.len());
    for c in resource.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with('-') {
        out.pop();
    }
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert_str(0, if out.is_empty() { "db" } else { "db-" });
    }
    out
}

fn short_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    digest
        .iter()
        .take(HASH_LEN / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(name: &str) -> bool {
        let b = name.as_bytes();
        !b.is_empty()
            && b.len() <= MAX_NAME_LEN
            && b[0].is_ascii_lowercase()
            && b.last()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    }

    #[test]
    fn qualified_names_carry_type_region_and_account() {
        let q = NameStyle::Qualified;
        assert_eq!(
            database_name(q, "orders", "rds", "us-east-1", "222222222222"),
            "orders-rds-us-east-1-222222222222"
        );
        assert_ne!(
            database_name(q, "orders", "rds", "us-east-1", "222222222222"),
            database_name(q, "orders", "rds", "us-west-2", "222222222222")
        );
        assert_ne!(
            database_name(q, "orders", "rds", "us-east-1", "222222222222"),
            database_name(q, "orders", "aurora", "us-east-1", "222222222222")
        );
        assert_eq!(
            database_name(NameStyle::Plain, "orders", "rds", "us-east-1", "1"),
            "orders"
        );
    }

    #[test]
    fn long_or_odd_names_stay_valid_unique_and_stable() {
        let q = NameStyle::Qualified;
        let long = "a".repeat(63);
        let longer = format!("{long}b");
        let a = database_name(q, &long, "elasticache", "ap-southeast-4", "222222222222");
        let b = database_name(q, &longer, "elasticache", "ap-southeast-4", "222222222222");
        assert!(valid(&a) && valid(&b), "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(
            a,
            database_name(q, &long, "elasticache", "ap-southeast-4", "222222222222")
        );
        assert!(a.ends_with("-elasticache-ap-southeast-4-222222222222"));
        // Upper case and odd characters: changed, so hashed, so `Orders` and `orders` differ.
        let upper = database_name(q, "Orders_DB", "redshift", "us-east-1", "1");
        assert!(valid(&upper), "{upper}");
        assert_ne!(
            upper,
            database_name(q, "orders-db", "redshift", "us-east-1", "1")
        );
        for odd in [
            "",
            "-",
            "9lives",
            "--x--",
            "ünïcode",
            "a..b",
            "x".repeat(500).as_str(),
        ] {
            for style in [NameStyle::Qualified, NameStyle::Plain] {
                let name = database_name(style, odd, "rds", "us-east-1", "222222222222");
                assert!(valid(&name), "{odd:?} -> {name:?}");
            }
        }
    }
}
