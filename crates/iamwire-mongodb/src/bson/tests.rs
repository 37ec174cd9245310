use super::*;

fn sample() -> Vec<u8> {
    let mut inner = DocBuf::new();
    inner.i32("x", 1).str("y", "two");
    let mut doc = DocBuf::new();
    doc.str("hello", "world")
        .i32("n", -5)
        .i64("big", 1 << 40)
        .f64("ok", 1.0)
        .bool("t", true)
        .binary("payload", 0, b"\0user\0pw")
        .document("sub", &inner.finish())
        .str_array("mechs", ["PLAIN", "SCRAM-SHA-256"])
        .datetime("when", 1_700_000_000_000);
    doc.finish()
}

#[test]
fn what_the_writer_writes_the_reader_reads() {
    let bytes = sample();
    let doc = Document::parse(&bytes, DEFAULT_MAX_DEPTH).unwrap();
    assert_eq!(doc.first_key(), Some("hello"));
    assert_eq!(doc.get_str("hello"), Some("world"));
    assert_eq!(doc.get("n"), Some(Value::Int32(-5)));
    assert_eq!(doc.get("big"), Some(Value::Int64(1 << 40)));
    assert_eq!(doc.get_f64("ok"), Some(1.0));
    assert!(doc.get("t").unwrap().is_truthy());
    assert_eq!(doc.get_binary("payload"), Some(&b"\0user\0pw"[..]));
    let sub = doc.get_document("sub").unwrap();
    assert_eq!(sub.get_str("y"), Some("two"));
    let Some(Value::Array(mechs)) = doc.get("mechs") else {
        panic!("an array")
    };
    let names: Vec<_> = mechs.iter().collect();
    assert_eq!(names[1], ("1", Value::String("SCRAM-SHA-256")));
    assert_eq!(doc.get("when"), Some(Value::DateTime(1_700_000_000_000)));
    // Re-encoding element by element gives the same bytes.
    let mut again = DocBuf::new();
    again.extend(&doc);
    assert_eq!(again.finish(), bytes);
}

#[test]
fn debug_shows_keys_and_sizes_never_values() {
    let bytes = sample();
    let doc = Document::parse(&bytes, DEFAULT_MAX_DEPTH).unwrap();
    let shown = format!("{doc:?} {:?}", doc.get("payload").unwrap());
    assert!(shown.contains("payload") && !shown.contains("user") && !shown.contains("world"));
}

/// pymongo's `bson.encode({"a": 1, "b": [True, None], "c": {"d": "é"}})`.
const PYMONGO: &[u8] =
    b"-\x00\x00\x00\x10a\x00\x01\x00\x00\x00\x04b\x00\x0c\x00\x00\x00\x080\x00\x01\n1\x00\
\x00\x03c\x00\x0f\x00\x00\x00\x02d\x00\x03\x00\x00\x00\xc3\xa9\x00\x00\x00";

#[test]
fn reads_a_document_pymongo_wrote() {
    let doc = Document::parse(PYMONGO, DEFAULT_MAX_DEPTH).unwrap();
    let keys: Vec<_> = doc.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["a", "b", "c"]);
    assert_eq!(doc.get_document("c").unwrap().get_str("d"), Some("é"));
}

#[test]
fn malformed_documents_are_refused_with_what_is_wrong() {
    let good = sample();
    let mut cases: Vec<(Vec<u8>, BsonError)> = vec![
        (vec![], BsonError::Truncated),
        (vec![4, 0, 0, 0, 0], BsonError::BadLength),
        (vec![6, 0, 0, 0, 0], BsonError::Truncated),
        (vec![5, 0, 0, 0, 1], BsonError::Unterminated),
        (vec![0xff, 0xff, 0xff, 0xff, 0], BsonError::BadLength),
        // An unknown type.
        (
            vec![8, 0, 0, 0, 0x42, b'a', 0, 0],
            BsonError::UnknownType(0x42),
        ),
        // A boolean of 2.
        (vec![9, 0, 0, 0, 8, b'a', 0, 2, 0], BsonError::Boolean(2)),
        // A string whose length runs past the document.
        (
            vec![14, 0, 0, 0, 2, b'a', 0, 9, 0, 0, 0, b'x', 0, 0],
            BsonError::Truncated,
        ),
        // A string without its zero.
        (
            vec![13, 0, 0, 0, 2, b'a', 0, 2, 0, 0, 0, b'x', b'y', 0][..13].to_vec(),
            BsonError::Unterminated,
        ),
        // A key that is not UTF-8.
        (vec![8, 0, 0, 0, 10, 0xff, 0, 0], BsonError::Utf8),
        // An element after the terminator position (the length says 5, the element is outside).
        (vec![5, 0, 0, 0, 0, 10, b'a', 0], BsonError::Trailing),
    ];
    let mut trailing = good.clone();
    trailing.push(0);
    cases.push((trailing, BsonError::Trailing));
    for (bytes, want) in cases {
        assert_eq!(
            Document::parse(&bytes, DEFAULT_MAX_DEPTH).unwrap_err(),
            want,
            "{bytes:?}"
        );
    }
}

#[test]
fn nesting_is_bounded() {
    let mut doc = DocBuf::new().finish();
    for _ in 0..10 {
        let mut outer = DocBuf::new();
        outer.document("d", &doc);
        doc = outer.finish();
    }
    // 11 levels of documents.
    assert!(Document::parse(&doc, 11).is_ok());
    assert_eq!(
        Document::parse(&doc, 10).unwrap_err(),
        BsonError::TooDeep { limit: 10 }
    );
}

#[test]
fn every_prefix_of_a_document_is_refused_without_panicking() {
    let bytes = sample();
    for end in 0..bytes.len() {
        assert!(
            Document::parse(&bytes[..end], DEFAULT_MAX_DEPTH).is_err(),
            "{end}"
        );
    }
}
