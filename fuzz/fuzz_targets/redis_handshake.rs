//! Structure-aware: a Redis client before its login, as a sequence of well-formed-ish commands (`AUTH`
//! with one, two or more arguments, `HELLO` with any version and `AUTH` / `SETNAME` options in any
//! order and letter case, `QUIT`, `PING`, `GET`, ...), encoded as RESP by the crate's own encoder,
//! through the handshake's sans-IO decision (`proxy/handshake.rs: before_login`), then the command the
//! proxy logs in with.
//!
//! The rest of the handshake is async over sockets (TLS, reading, the login's reply). Invariants:
//! - never a panic;
//! - nothing logs in but `AUTH`, `HELLO <2|3> AUTH ...` or, for a client with a certificate and a
//!   default user, the first other command; every other command before it is answered with one RESP
//!   error line and goes nowhere;
//! - the login sent to the database is `AUTH <user> <token>` or `HELLO <proto> AUTH <user> <token>
//!   [SETNAME <name>]` with the injected user and token, the client's protocol and connection name, and
//!   never the client's password; it is bounded.
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use iamwire_redis::codec::encode_command;

const CLIENT_PASSWORD: &[u8] = b"client-password-Q7";
const TOKEN: &[u8] = b"injected-token-Z9";
const IAM_USER: &str = "iam-user";

#[derive(Arbitrary, Debug)]
enum Word {
    Auth,
    Hello,
    Setname,
    Quit,
    Ping,
    Get,
    Password,
    User(String),
    Proto(i8),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Command {
    words: Vec<Word>,
    lower: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    implicit: bool,
    commands: Vec<Command>,
}

fn bytes_of(word: &Word, lower: bool) -> Vec<u8> {
    let case = |s: &str| {
        if lower {
            s.to_ascii_lowercase().into_bytes()
        } else {
            s.as_bytes().to_vec()
        }
    };
    match word {
        Word::Auth => case("AUTH"),
        Word::Hello => case("HELLO"),
        Word::Setname => case("SETNAME"),
        Word::Quit => case("QUIT"),
        Word::Ping => case("PING"),
        Word::Get => case("GET"),
        Word::Password => CLIENT_PASSWORD.to_vec(),
        Word::User(u) => u.as_bytes().to_vec(),
        Word::Proto(p) => p.to_string().into_bytes(),
        Word::Raw(r) => r.clone(),
    }
}

libfuzzer_sys::fuzz_target!(|input: Input| {
    let mut wire = BytesMut::new();
    let mut sent: Vec<Vec<Vec<u8>>> = Vec::new();
    for command in input.commands.iter().take(16) {
        let args: Vec<Vec<u8>> = command
            .words
            .iter()
            .take(12)
            .map(|w| bytes_of(w, command.lower))
            .collect();
        if args.is_empty() {
            continue;
        }
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        encode_command(&refs, &mut wire);
        sent.push(args);
    }
    let seen = iamwire_redis::fuzzing::handshake(&wire, input.implicit, IAM_USER, TOKEN);
    for line in &seen.answers {
        assert!(
            line.first() == Some(&b'-') && line.ends_with(b"\r\n"),
            "not an error line: {line:?}"
        );
        assert_eq!(
            line.iter().filter(|b| **b == b'\n').count(),
            1,
            "not one line: {line:?}"
        );
    }
    let answered = seen.answers.len();
    let Some(login) = seen.login else {
        if seen.refused {
            return; // the decoder refused the bytes: the session ends, nothing went anywhere
        }
        // No login: every command was answered (up to a QUIT).
        let quit_at = sent.iter().position(|a| a[0].eq_ignore_ascii_case(b"QUIT"));
        assert_eq!(seen.quit, quit_at.is_some());
        assert_eq!(
            answered,
            quit_at.unwrap_or(sent.len()),
            "a command went unanswered"
        );
        return;
    };
    // The command that logged in is the first one not answered.
    let client = &sent[answered];
    let name = &client[0];
    let implicit = !name.eq_ignore_ascii_case(b"AUTH") && !name.eq_ignore_ascii_case(b"HELLO");
    assert!(
        !implicit || input.implicit,
        "logged in without AUTH and without a certificate"
    );
    assert!(login.upstream_len < 4096, "an unbounded login command");
    let up = &login.upstream;
    // The client's password never goes on (a connection name the client chose goes on as it is, even
    // if it reads like a password).
    for (i, arg) in up.iter().enumerate() {
        let secret = arg.as_slice() == CLIENT_PASSWORD;
        assert!(
            !secret || (i == 6 && up[5] == b"SETNAME"),
            "the client's password reached the database"
        );
    }
    if name.eq_ignore_ascii_case(b"HELLO") {
        assert!(up.len() == 5 || up.len() == 7, "{up:?}");
        assert_eq!(up[0], b"HELLO");
        assert!(up[1] == b"2" || up[1] == b"3");
        let asked: i64 = std::str::from_utf8(&client[1])
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("a version");
        assert_eq!(
            up[1],
            asked.to_string().into_bytes(),
            "another protocol version"
        );
        assert_eq!(
            (&up[2][..], &up[3][..], &up[4][..]),
            (&b"AUTH"[..], IAM_USER.as_bytes(), TOKEN)
        );
        if up.len() == 7 {
            assert_eq!(up[5], b"SETNAME");
            assert!(
                client.iter().any(|a| *a == up[6]),
                "a connection name the client did not give"
            );
        }
    } else {
        assert_eq!(up.len(), 3, "{up:?}");
        assert_eq!(
            (&up[0][..], &up[1][..], &up[2][..]),
            (&b"AUTH"[..], IAM_USER.as_bytes(), TOKEN)
        );
    }
    if !implicit {
        assert!(
            client
                .iter()
                .any(|a| a.as_slice() == login.db_user.as_bytes())
                || login.db_user == "default"
        );
    }
});
