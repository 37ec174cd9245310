//! Matcher tag filters, and AWS tags as database labels.

use std::collections::BTreeMap;

use iamwire_core::Glob;

/// Label naming the AWS account a discovered database lives in (as Teleport's `account-id`).
pub const LABEL_ACCOUNT_ID: &str = "account-id";
/// Label naming the region.
pub const LABEL_REGION: &str = "region";
/// Label naming the engine (`postgres`, `aurora-mysql`, `redis`, ...).
pub const LABEL_ENGINE: &str = "engine";
/// Label naming the engine version.
pub const LABEL_ENGINE_VERSION: &str = "engine-version";
/// Label naming which endpoint of a resource the database is (`instance`, `primary`, `reader`,
/// `custom`, `configuration`, `READ_WRITE`, ...).
pub const LABEL_ENDPOINT_TYPE: &str = "endpoint-type";
/// Label naming the VPC, when AWS says.
pub const LABEL_VPC_ID: &str = "vpc-id";
/// Label naming the discovery type that found the database (`rds`, `rdsproxy`, ...).
pub const LABEL_DISCOVERY_TYPE: &str = "iamwire.dev/discovery-type";
/// Label saying where the database came from: `cloud` for discovered databases.
pub const LABEL_ORIGIN: &str = "iamwire.dev/origin";
/// Label naming the cloud: `AWS`.
pub const LABEL_CLOUD: &str = "iamwire.dev/cloud";

/// The most tags read from one resource (AWS allows 50).
pub(crate) const MAX_TAGS: usize = 100;
/// The longest tag key kept as a label, in characters (AWS allows 128).
const MAX_KEY_CHARS: usize = 128;
/// The longest tag value kept as a label, in characters (AWS allows 256).
const MAX_VALUE_CHARS: usize = 256;

/// Whether a resource with `tags` passes a matcher's `tags` filter.
///
/// Every key of the filter must match (AND); a key matches when the resource has that tag and its value
/// matches one of the filter's values (OR), where `*` in a value matches any run of characters. The
/// empty filter and `"*": "*"` match everything; `"*": [values]` matches a resource with any tag whose
/// value matches one of `values`.
pub fn tags_match(filter: &BTreeMap<String, Vec<String>>, tags: &[(String, String)]) -> bool {
    filter.iter().all(|(key, values)| {
        let value_matches = |v: &str| values.iter().any(|g| Glob::new(g.as_str()).matches(v));
        if key == "*" {
            values.iter().any(|v| v == "*") || tags.iter().any(|(_, v)| value_matches(v))
        } else {
            tags.iter().any(|(k, v)| k == key && value_matches(v))
        }
    })
}

/// Whether `key` can be a label key (Teleport's rule: letters, digits and `/ . _ : * -`).
pub(crate) fn is_label_key(key: &str) -> bool {
    !key.is_empty()
        && key.chars().count() <= MAX_KEY_CHARS
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._:*-".contains(&b))
}

/// Labels from AWS tags: tags whose key cannot be a label key, or whose value is too long or holds
/// control characters, are left out.
pub(crate) fn from_tags(tags: &[(String, String)]) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|(k, v)| {
            is_label_key(k)
                && v.chars().count() <= MAX_VALUE_CHARS
                && !v.chars().any(char::is_control)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, vs)| {
                (
                    (*k).to_owned(),
                    vs.iter().map(|v| (*v).to_owned()).collect(),
                )
            })
            .collect()
    }

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn filters_and_keys_or_values_with_globs() {
        let prod = tags(&[("env", "prod"), ("team", "payments")]);
        let dev = tags(&[("env", "dev")]);
        let none = tags(&[]);
        assert!(tags_match(&filter(&[]), &none));
        assert!(tags_match(&filter(&[("*", &["*"])]), &none));
        assert!(tags_match(&filter(&[("env", &["prod"])]), &prod));
        assert!(!tags_match(&filter(&[("env", &["prod"])]), &dev));
        assert!(tags_match(&filter(&[("env", &["prod", "dev"])]), &dev));
        assert!(tags_match(&filter(&[("env", &["*"])]), &dev));
        assert!(!tags_match(&filter(&[("env", &["*"])]), &none));
        assert!(tags_match(&filter(&[("team", &["pay*"])]), &prod));
        assert!(!tags_match(
            &filter(&[("env", &["prod"]), ("team", &["search"])]),
            &prod
        ));
        assert!(tags_match(&filter(&[("*", &["payments"])]), &prod));
        assert!(!tags_match(&filter(&[("*", &["payments"])]), &dev));
        // Exact: a prefix is not a match, and keys are case-sensitive as in AWS.
        assert!(!tags_match(&filter(&[("env", &["pro"])]), &prod));
        assert!(!tags_match(&filter(&[("Env", &["prod"])]), &prod));
    }

    #[test]
    fn only_label_safe_tags_become_labels() {
        let long = "x".repeat(300);
        let labels = from_tags(&tags(&[
            ("env", "prod"),
            ("aws:cloudformation:stack-name", "db"),
            ("has space", "x"),
            ("", "x"),
            ("ok", long.as_str()),
            ("bell", "a\u{7}b"),
        ]));
        assert_eq!(
            labels.keys().map(String::as_str).collect::<Vec<_>>(),
            ["aws:cloudformation:stack-name", "env"]
        );
    }
}
