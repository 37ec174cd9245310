use bytes::BytesMut;

use super::*;
use crate::bson::DocBuf;
use crate::codec::{OpMsg, OpQuery, RawDocument, flags, put_header};

const PYMONGO: &[u8] = include_bytes!("../../tests/data/pymongo_client.bin");

struct Out {
    forward: Vec<u8>,
    refused: Vec<Refused>,
    requests: Vec<Forwarded>,
}

fn run(chunks: &[&[u8]]) -> Result<Out, Malformed> {
    let mut guard = Guard::new(crate::MAX_MESSAGE_LEN);
    let (mut forward, mut refused, mut requests) = (BytesMut::new(), Vec::new(), Vec::new());
    for chunk in chunks {
        guard.feed(chunk, &mut forward, &mut refused, &mut requests)?;
    }
    assert!(guard.at_boundary());
    Ok(Out {
        forward: forward.to_vec(),
        refused,
        requests,
    })
}

fn msg(body: Vec<u8>, id: i32) -> Vec<u8> {
    let mut out = BytesMut::new();
    OpMsg::new(RawDocument::from(body)).encode(id, 0, &mut out);
    out.to_vec()
}

fn command(name: &str) -> Vec<u8> {
    let mut d = DocBuf::new();
    d.i32(name, 1).str("$db", "admin");
    d.finish()
}

#[test]
fn pymongos_stream_passes_but_its_login_at_every_split() {
    let mut messages = Vec::new();
    let mut at = 0;
    while at < PYMONGO.len() {
        let len = Header::parse(&PYMONGO[at..]).unwrap().length as usize;
        messages.push(&PYMONGO[at..at + len]);
        at += len;
    }
    let login = messages[1];
    let expected: Vec<u8> = messages
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .flat_map(|(_, m)| m.to_vec())
        .collect();
    for split in 0..=PYMONGO.len() {
        let out = run(&[&PYMONGO[..split], &PYMONGO[split..]]).unwrap();
        assert_eq!(out.forward, expected, "split {split}");
        assert_eq!(out.refused.len(), 1);
        assert_eq!(out.refused[0].command, "saslStart");
        assert_eq!(
            out.refused[0].request_id,
            Header::parse(login).unwrap().request_id
        );
        assert_eq!(out.requests.len(), 4);
    }
    // Byte by byte too.
    let chunks: Vec<&[u8]> = PYMONGO.chunks(1).collect();
    assert_eq!(run(&chunks).unwrap().forward, expected);
}

#[test]
fn logins_and_logouts_are_refused_in_any_case_and_form() {
    for name in [
        "saslStart",
        "saslContinue",
        "authenticate",
        "logout",
        "LOGOUT",
        "getnonce",
    ] {
        let out = run(&[&msg(command(name), 7)]).unwrap();
        assert!(out.forward.is_empty(), "{name}");
        assert_eq!(out.refused[0].command, name);
        assert!(!out.refused[0].legacy && !out.refused[0].more_to_come);
    }
    // A legacy command, wrapped in $query.
    let mut wrapped = DocBuf::new();
    wrapped.document("$query", &command("saslStart"));
    let query = OpQuery {
        flags: 0,
        collection: "$external.$cmd".into(),
        skip: 0,
        limit: -1,
        query: RawDocument::from(wrapped.finish()),
        fields: None,
    };
    let mut wire = BytesMut::new();
    query.encode(9, &mut wire);
    let out = run(&[&wire]).unwrap();
    assert_eq!(out.refused[0].command, "saslStart");
    assert!(out.refused[0].legacy);
    // A legacy query on a collection is not a command: it passes.
    let find = OpQuery {
        collection: "app.items".into(),
        query: RawDocument::from(command("saslStart")),
        ..query
    };
    let mut wire = BytesMut::new();
    find.encode(10, &mut wire);
    assert_eq!(run(&[&wire]).unwrap().forward, wire.to_vec());
}

#[test]
fn a_hello_passes_unless_it_authenticates() {
    let mut hello = DocBuf::new();
    hello.i32("hello", 1).str("$db", "admin");
    let plain = msg(hello.finish(), 1);
    assert_eq!(run(&[&plain]).unwrap().forward, plain);
    hello.document("speculativeAuthenticate", &command("saslStart"));
    let out = run(&[&msg(hello.finish(), 2)]).unwrap();
    assert!(out.forward.is_empty());
    assert_eq!(out.refused[0].command, "hello with speculativeAuthenticate");
}

#[test]
fn compressed_messages_and_unreadable_commands_are_refused() {
    let mut compressed = BytesMut::new();
    put_header(&mut compressed, 9, 3, 0, opcode::OP_COMPRESSED);
    compressed.extend_from_slice(&[0; 9]);
    let out = run(&[&compressed]).unwrap();
    assert_eq!(out.refused[0].command, "OP_COMPRESSED");
    // A document sequence larger than the peek before the body: the command cannot be seen.
    let mut body = BytesMut::new();
    body.extend_from_slice(&0u32.to_le_bytes());
    body.extend_from_slice(&[1]);
    let docs = [5u8, 0, 0, 0, 0].repeat(PEEK_LEN / 5 + 10);
    body.extend_from_slice(&u32::try_from(4 + 2 + docs.len()).unwrap().to_le_bytes());
    body.extend_from_slice(b"d\0");
    body.extend_from_slice(&docs);
    body.extend_from_slice(&[0]);
    body.extend_from_slice(&command("saslStart"));
    let mut wire = BytesMut::new();
    put_header(&mut wire, body.len(), 4, 0, opcode::OP_MSG);
    wire.extend_from_slice(&body);
    let out = run(&[&wire]).unwrap();
    assert!(out.forward.is_empty());
    assert_eq!(out.refused.len(), 1);
    // A small sequence first is looked past.
    let mut body = BytesMut::new();
    body.extend_from_slice(&flags::MORE_TO_COME.to_le_bytes());
    body.extend_from_slice(&[1, 6, 0, 0, 0, b'd', 0, 0]);
    body.extend_from_slice(&command("logout"));
    let mut wire = BytesMut::new();
    put_header(&mut wire, body.len(), 5, 0, opcode::OP_MSG);
    wire.extend_from_slice(&body);
    let out = run(&[&wire]).unwrap();
    assert_eq!(out.refused[0].command, "logout");
    assert!(out.refused[0].more_to_come);
}

#[test]
fn lengths_out_of_bounds_end_the_stream() {
    let mut wire = BytesMut::new();
    put_header(&mut wire, 0, 1, 0, opcode::OP_MSG);
    wire[..4].copy_from_slice(&8u32.to_le_bytes());
    assert!(matches!(run(&[&wire]), Err(Malformed::Length { .. })));
    let mut guard = Guard::new(100);
    let mut big = BytesMut::new();
    put_header(&mut big, 200, 1, 0, opcode::OP_MSG);
    assert!(
        guard
            .feed(&big, &mut BytesMut::new(), &mut Vec::new(), &mut Vec::new())
            .is_err()
    );
}
