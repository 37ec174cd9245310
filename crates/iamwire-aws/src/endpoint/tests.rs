//! Unit tests for input splitting and label checks; the table of endpoint forms lives in
//! `tests/endpoint_table.rs`.

use super::error::{EndpointError, LabelProblem};
use super::host::{self, MAX_INPUT, Suffix};

#[test]
fn split_scheme_port_and_trailing_dot() {
    // (input, host, port, https)
    let cases: &[(&str, &str, Option<u16>, bool)] = &[
        ("Db.Example.COM", "db.example.com", None, false),
        ("db.example.com.", "db.example.com", None, false),
        ("db.example.com.:5432", "db.example.com", Some(5432), false),
        ("db.example.com:1", "db.example.com", Some(1), false),
        ("db.example.com:65535", "db.example.com", Some(65535), false),
        ("https://a.b", "a.b", None, true),
        ("HTTPS://a.b:8443/path?q=1#f", "a.b", Some(8443), true),
        ("https://a.b/", "a.b", None, true),
        ("https://a.b?x", "a.b", None, true),
        ("x", "x", None, false),
    ];
    for (input, want_host, want_port, want_https) in cases {
        let split = host::split(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(split.host, *want_host, "{input}");
        assert_eq!(split.port, *want_port, "{input}");
        assert_eq!(split.https, *want_https, "{input}");
    }
}

#[test]
fn split_rejects() {
    let long_label = format!("{}.com", "a".repeat(64));
    let long_host = ["abcdefghi"; 26].join(".");
    let too_long = "a".repeat(MAX_INPUT + 1);
    let cases: Vec<(&str, EndpointError)> = vec![
        ("", EndpointError::Empty),
        (".", EndpointError::Empty),
        ("https://", EndpointError::Empty),
        (":5432", EndpointError::Empty),
        ("http://a.b", EndpointError::UnsupportedScheme),
        ("redis://a.b:6379", EndpointError::UnsupportedScheme),
        ("://a.b", EndpointError::UnsupportedScheme),
        ("a.b:", EndpointError::InvalidPort),
        ("a.b:0", EndpointError::InvalidPort),
        ("a.b:65536", EndpointError::InvalidPort),
        ("a.b:+80", EndpointError::InvalidPort),
        ("a.b:123456", EndpointError::InvalidPort),
        ("a.b: 80", EndpointError::InvalidPort),
        ("[::1]:5432", label(0, LabelProblem::BadChar)),
        ("::1", label(0, LabelProblem::BadChar)),
        ("a..b", label(1, LabelProblem::Empty)),
        (".a.b", label(0, LabelProblem::Empty)),
        ("a.b..", label(2, LabelProblem::Empty)),
        ("a_b.c", label(0, LabelProblem::BadChar)),
        ("a b.c", label(0, LabelProblem::BadChar)),
        ("user@a.b", label(0, LabelProblem::BadChar)),
        ("a.b/path", label(1, LabelProblem::BadChar)),
        ("-a.b", label(0, LabelProblem::HyphenAtEdge)),
        ("a.b-", label(1, LabelProblem::HyphenAtEdge)),
        ("a.\u{e9}.b", label(1, LabelProblem::BadChar)),
        (&long_label, label(0, LabelProblem::TooLong)),
        (&long_host, EndpointError::HostTooLong { len: 259 }),
        (
            &too_long,
            EndpointError::InputTooLong {
                len: MAX_INPUT + 1,
                max: MAX_INPUT,
            },
        ),
    ];
    for (input, want) in cases {
        assert_eq!(host::split(input).err(), Some(want), "{input:?}");
    }
}

fn label(index: usize, problem: LabelProblem) -> EndpointError {
    EndpointError::InvalidLabel { index, problem }
}

#[test]
fn host_of_253_bytes_is_accepted() {
    // 25 labels of 9 bytes + 24 dots = 249, plus ".abc" = 253.
    let host = format!("{}.abc", ["abcdefghi"; 25].join("."));
    assert_eq!(host.len(), 253);
    assert!(host::split(&host).is_ok());
    assert!(
        host::split(&format!("{host}.")).is_ok(),
        "trailing dot is not counted"
    );
}

/// Labels in, and the labels left in front of the AWS domain with that domain, if any.
type SuffixCase = (
    &'static [&'static str],
    Option<(&'static [&'static str], Suffix)>,
);

#[test]
fn aws_suffix_compares_whole_labels() {
    let cases: &[SuffixCase] = &[
        (&["a", "amazonaws", "com"], Some((&["a"], Suffix::Com))),
        (
            &["a", "amazonaws", "com", "cn"],
            Some((&["a"], Suffix::ComCn)),
        ),
        (&["amazonaws", "com"], Some((&[], Suffix::Com))),
        (&["a", "evilamazonaws", "com"], None),
        (&["a", "amazonaws", "com", "evil", "com"], None),
        (&["a", "amazonaws", "cn"], None),
        (&["com"], None),
    ];
    for (labels, want) in cases {
        assert_eq!(host::strip_aws_suffix(labels), *want, "{labels:?}");
    }
}
