//! Structure-aware: what a logged-in MongoDB client sends, as a sequence of well-formed-ish commands
//! (`find`, `ping`, `hello` / `isMaster` with or without `speculativeAuthenticate`, and the commands that
//! log in or out — `saslStart`, `saslContinue`, `authenticate`, `logout`, `getnonce`, `copydb*` — in any
//! letter case, with arbitrary `$db` and fields), as OP_MSG (flags, checksums, document sequences),
//! legacy OP_QUERY (bare or `$query`-wrapped), OP_COMPRESSED or another opcode, encoded by the crate's
//! own encoders, cut into arbitrary chunks, through the relay's guard.
//!
//! The MongoDB handshake itself is async over sockets (`proxy/client.rs`); its decoders are fuzzed by
//! `mongodb_client` / `mongodb_server`. The guard is the sans-IO state machine that keeps the session
//! the user the Authorizer approved. Invariants:
//! - never a panic, never an error on well-formed messages;
//! - exactly the messages that do not log in or out pass, byte for byte and in order; each of the others
//!   is refused with its request id, and what awaits an answer is listed;
//! - none of it depends on how the bytes are cut.
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use iamwire_mongodb::bson::DocBuf;
use iamwire_mongodb::codec::{OpMsg, OpQuery, RawDocument, Sequence, flags, opcode};
use iamwire_mongodb::guard::{Forwarded, Guard, PEEK_LEN, Refused};

const LOGINS: [&str; 8] = [
    "saslStart",
    "saslContinue",
    "authenticate",
    "logout",
    "getnonce",
    "copydb",
    "copydbgetnonce",
    "copydbsaslstart",
];

#[derive(Arbitrary, Debug)]
enum Name {
    Login { which: u8, case: u8 },
    Hello { is_master: bool, case: u8 },
    Find,
    Ping,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Field {
    Str(String, String),
    Int(String, i32),
    Doc(String, Vec<(String, String)>),
    Speculative { case: u8 },
}

#[derive(Arbitrary, Debug)]
enum Wire {
    Msg {
        more_to_come: bool,
        checksum: bool,
        sequences: Vec<(String, u8)>,
    },
    Query {
        db: String,
        command: bool,
        wrapped: bool,
    },
    Compressed(Vec<u8>),
    OtherOp(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Command {
    name: Name,
    db: String,
    fields: Vec<Field>,
    wire: Wire,
}

#[derive(Arbitrary, Debug)]
struct Input {
    commands: Vec<Command>,
    cuts: Vec<u16>,
}

fn recase(s: &str, case: u8) -> String {
    match case % 3 {
        0 => s.to_owned(),
        1 => s.to_ascii_lowercase(),
        _ => s.to_ascii_uppercase(),
    }
}

fn key(s: &str) -> String {
    s.replace('\0', "")
}

/// The command document, and whether it logs in (by its name or a speculative login).
fn document(c: &Command) -> (Vec<u8>, bool, bool) {
    let (name, login, hello) = match &c.name {
        Name::Login { which, case } => (
            recase(LOGINS[usize::from(*which) % LOGINS.len()], *case),
            true,
            false,
        ),
        Name::Hello { is_master, case } => (
            recase(if *is_master { "isMaster" } else { "hello" }, *case),
            false,
            true,
        ),
        Name::Find => ("find".to_owned(), false, false),
        Name::Ping => ("ping".to_owned(), false, false),
        Name::Other(s) => {
            let s = key(s);
            let lower = s.to_ascii_lowercase();
            let login = LOGINS.iter().any(|l| l.eq_ignore_ascii_case(&s));
            let hello = lower == "hello" || lower == "ismaster";
            (if s.is_empty() { "x".to_owned() } else { s }, login, hello)
        }
    };
    let mut doc = DocBuf::new();
    doc.i32(&name, 1);
    let mut speculative = false;
    for field in c.fields.iter().take(16) {
        match field {
            Field::Str(k, v) => {
                let k = key(k);
                speculative |= k.eq_ignore_ascii_case("speculativeAuthenticate");
                doc.str(&k, v);
            }
            Field::Int(k, v) => {
                let k = key(k);
                speculative |= k.eq_ignore_ascii_case("speculativeAuthenticate");
                doc.i32(&k, *v);
            }
            Field::Doc(k, inner) => {
                let k = key(k);
                speculative |= k.eq_ignore_ascii_case("speculativeAuthenticate");
                let mut d = DocBuf::new();
                for (ik, iv) in inner.iter().take(8) {
                    d.str(&key(ik), iv);
                }
                doc.document(&k, &d.finish());
            }
            Field::Speculative { case } => {
                speculative = true;
                let mut d = DocBuf::new();
                d.i32("saslStart", 1).str("mechanism", "MONGODB-AWS");
                doc.document(&recase("speculativeAuthenticate", *case), &d.finish());
            }
        }
    }
    doc.str("$db", &c.db);
    (doc.finish(), login, hello && speculative)
}

struct Expect {
    bytes: Vec<u8>,
    refused: bool,
    answer: bool,
    legacy: bool,
    more_to_come: bool,
}

fn message(c: &Command, id: i32) -> Expect {
    let (doc, login, speculative_hello) = document(c);
    let body = RawDocument::from(doc.clone());
    let mut out = BytesMut::new();
    match &c.wire {
        Wire::Msg {
            more_to_come,
            checksum,
            sequences,
        } => {
            let mut msg = OpMsg::new(body);
            msg.flags = if *more_to_come {
                flags::MORE_TO_COME
            } else {
                0
            } | if *checksum {
                flags::CHECKSUM_PRESENT
            } else {
                0
            };
            for (identifier, n) in sequences.iter().take(4) {
                let docs = (0..n % 4)
                    .map(|i| RawDocument::from(DocBuf::new().i32("i", i32::from(i)).finish()));
                msg.sequences.push(Sequence {
                    identifier: key(identifier),
                    documents: docs.collect(),
                });
            }
            msg.encode(id, 0, &mut out);
            // A hello passes only if its whole document shows within the guard's peek.
            let hidden = c.is_hello() && 21 + doc.len() > PEEK_LEN;
            let refused = login || speculative_hello || hidden;
            Expect {
                bytes: out.to_vec(),
                refused,
                answer: !more_to_come,
                legacy: false,
                more_to_come: *more_to_come,
            }
        }
        Wire::Query {
            db,
            command,
            wrapped,
        } => {
            let collection = format!("{}.{}", key(db), if *command { "$cmd" } else { "things" });
            let query = if *wrapped {
                let mut w = DocBuf::new();
                w.document("$query", &doc);
                RawDocument::from(w.finish())
            } else {
                body
            };
            let doc_end = 16 + 4 + collection.len() + 1 + 8 + query.as_bytes().len();
            OpQuery {
                flags: 0,
                collection,
                skip: 0,
                limit: -1,
                query,
                fields: None,
            }
            .encode(id, &mut out);
            let hidden = c.is_hello() && doc_end > PEEK_LEN;
            let refused = *command && (login || speculative_hello || hidden);
            Expect {
                bytes: out.to_vec(),
                refused,
                answer: true,
                legacy: true,
                more_to_come: false,
            }
        }
        Wire::Compressed(rest) => {
            out.extend_from_slice(&(16 + rest.len() as i32).to_le_bytes());
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&0i32.to_le_bytes());
            out.extend_from_slice(&opcode::OP_COMPRESSED.to_le_bytes());
            out.extend_from_slice(rest);
            Expect {
                bytes: out.to_vec(),
                refused: true,
                answer: false,
                legacy: false,
                more_to_come: false,
            }
        }
        Wire::OtherOp(rest) => {
            out.extend_from_slice(&(16 + rest.len() as i32).to_le_bytes());
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&0i32.to_le_bytes());
            out.extend_from_slice(&opcode::OP_GET_MORE.to_le_bytes());
            out.extend_from_slice(rest);
            Expect {
                bytes: out.to_vec(),
                refused: false,
                answer: false,
                legacy: false,
                more_to_come: false,
            }
        }
    }
}

impl Command {
    fn is_hello(&self) -> bool {
        match &self.name {
            Name::Hello { .. } => true,
            Name::Other(s) => matches!(key(s).to_ascii_lowercase().as_str(), "hello" | "ismaster"),
            _ => false,
        }
    }
}

libfuzzer_sys::fuzz_target!(|input: Input| {
    let expected: Vec<Expect> = input
        .commands
        .iter()
        .take(16)
        .zip(1..)
        .map(|(c, id)| message(c, id))
        .collect();
    let wire: Vec<u8> = expected
        .iter()
        .flat_map(|e| e.bytes.iter().copied())
        .collect();
    let mut guard = Guard::new(48_000_000);
    let (mut forward, mut refused, mut requests) = (BytesMut::new(), Vec::new(), Vec::new());
    let mut rest = &wire[..];
    for cut in input.cuts.iter().take(64).chain(std::iter::once(&u16::MAX)) {
        let (a, b) = rest.split_at(usize::from(*cut).min(rest.len()));
        guard
            .feed(a, &mut forward, &mut refused, &mut requests)
            .expect("the guard failed on well-formed messages");
        rest = b;
    }
    if !rest.is_empty() {
        guard
            .feed(rest, &mut forward, &mut refused, &mut requests)
            .expect("the guard failed");
    }
    assert!(
        guard.at_boundary(),
        "the guard is inside a message at the end of whole messages"
    );
    let mut want_forward = Vec::new();
    let mut want_refused = Vec::new();
    let mut want_requests = Vec::new();
    for (e, id) in expected.iter().zip(1..) {
        if e.refused {
            want_refused.push((id, e.legacy, e.more_to_come));
        } else {
            want_forward.extend_from_slice(&e.bytes);
            if e.answer {
                want_requests.push(Forwarded {
                    request_id: id,
                    legacy: e.legacy,
                });
            }
        }
    }
    let got_refused: Vec<_> = refused
        .iter()
        .map(|r: &Refused| (r.request_id, r.legacy, r.more_to_come))
        .collect();
    assert_eq!(
        got_refused, want_refused,
        "refused other messages: {refused:?}"
    );
    assert!(forward[..] == want_forward[..], "passed other bytes");
    assert_eq!(requests, want_requests);
});
