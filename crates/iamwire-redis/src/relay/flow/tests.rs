use bytes::BytesMut;
use iamwire_core::{Denied, UpstreamLogin};

use super::*;

fn cmd(args: &[&str]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    encode_command(&args, &mut out);
    out.to_vec()
}

fn allow(_: &str) -> Result<(), Denied> {
    Ok(())
}

fn only_app(user: &str) -> Result<(), Denied> {
    if user == "app" {
        Ok(())
    } else {
        Err(Denied::DbUser {
            identity: "alice".into(),
            database: "cache".into(),
            db_user: user.into(),
        })
    }
}

struct T {
    flow: Flow,
}

impl T {
    fn new(proto: u8) -> Self {
        Self {
            flow: Flow::new(Limits::default(), proto, "app".into()),
        }
    }

    /// The client sends `bytes`; returns what went upstream.
    fn client(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.client_with(bytes, &only_app)
    }

    fn client_with(&mut self, bytes: &[u8], auth: &dyn Fn(&str) -> Result<(), Denied>) -> Vec<u8> {
        let mut buf = BytesMut::from(bytes);
        self.flow.client_input(&mut buf, auth);
        assert!(buf.is_empty() || !self.flow.accepts_commands());
        self.flow.to_upstream.split().to_vec()
    }

    /// The database sends `bytes`; returns what went to the client.
    fn upstream(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut buf = BytesMut::from(bytes);
        self.flow.upstream_input(&mut buf).unwrap();
        assert!(buf.is_empty());
        self.flow.to_client.split().to_vec()
    }
}

#[test]
fn pipelined_commands_and_replies_pass_in_order() {
    let mut t = T::new(2);
    let mut pipeline = cmd(&["SET", "k", "v"]);
    pipeline.extend(cmd(&["GET", "k"]));
    pipeline.extend(cmd(&["LRANGE", "l", "0", "-1"]));
    assert_eq!(t.client(&pipeline), pipeline);
    let replies = b"+OK\r\n$1\r\nv\r\n*2\r\n$7\r\nmessage\r\n$1\r\nx\r\n";
    assert_eq!(t.upstream(replies), replies);
    assert!(!t.flow.awaiting_reply());
}

#[test]
fn every_split_of_the_replies_gives_the_same_bytes() {
    let replies: &[u8] = b"+OK\r\n$5\r\nhello\r\n*2\r\n:1\r\n$-1\r\n-ERR x\r\n%1\r\n+a\r\n#t\r\n";
    for split in 0..=replies.len() {
        let mut t = T::new(3);
        let mut pipeline = Vec::new();
        for _ in 0..5 {
            pipeline.extend(cmd(&["PING"]));
        }
        t.client(&pipeline);
        let mut buf = BytesMut::from(&replies[..split]);
        t.flow.upstream_input(&mut buf).unwrap();
        buf.extend_from_slice(&replies[split..]);
        t.flow.upstream_input(&mut buf).unwrap();
        assert_eq!(&t.flow.to_client[..], replies, "split at {split}");
        assert!(!t.flow.awaiting_reply());
    }
}

#[test]
fn a_later_auth_is_authorized_and_logged_in_with_the_injected_secret() {
    let mut t = T::new(2);
    let mut input = cmd(&["AUTH", "app", "client-password"]);
    input.extend(cmd(&["GET", "k"]));
    // Nothing goes upstream until the login is fetched; the GET waits behind it.
    assert!(t.client(&input).is_empty());
    let need = t.flow.take_need().unwrap();
    assert_eq!(need.user, "app");
    t.flow
        .login_done(need, Ok(UpstreamLogin::new("app", "the-token")));
    let sent = t.client(&input[cmd(&["AUTH", "app", "client-password"]).len()..]);
    let upstream = [t.flow.to_upstream.split().to_vec(), sent].concat();
    let expected = [cmd(&["AUTH", "app", "the-token"]), cmd(&["GET", "k"])].concat();
    assert_eq!(upstream, expected);
    assert!(!String::from_utf8_lossy(&upstream).contains("client-password"));
    assert_eq!(t.upstream(b"+OK\r\n$-1\r\n"), b"+OK\r\n$-1\r\n");
}

#[test]
fn a_denied_auth_never_reaches_the_database_and_keeps_its_place() {
    let mut t = T::new(2);
    let mut input = cmd(&["GET", "a"]);
    input.extend(cmd(&["AUTH", "admin", "pw"]));
    input.extend(cmd(&["GET", "b"]));
    let sent = t.client(&input);
    assert_eq!(sent, [cmd(&["GET", "a"]), cmd(&["GET", "b"])].concat());
    let out = String::from_utf8(t.upstream(b"$1\r\n1\r\n$1\r\n2\r\n")).unwrap();
    assert!(out.starts_with("$1\r\n1\r\n-NOPERM "), "{out}");
    assert!(out.ends_with("$1\r\n2\r\n"), "{out}");
    assert!(t.flow.take_need().is_none());
    assert_eq!(t.flow.user(), "app");
}

#[test]
fn hello_switches_the_protocol_and_hello_auth_is_rewritten() {
    let mut t = T::new(2);
    t.client(&cmd(&["HELLO", "3", "AUTH", "app", "pw", "SETNAME", "n"]));
    let need = t.flow.take_need().unwrap();
    t.flow
        .login_done(need, Ok(UpstreamLogin::new("app", "tok")));
    assert_eq!(
        t.flow.to_upstream.split().to_vec(),
        cmd(&["HELLO", "3", "AUTH", "app", "tok", "SETNAME", "n"])
    );
    let map = b"%1\r\n$5\r\nproto\r\n:3\r\n";
    assert_eq!(t.upstream(map), map);
    assert_eq!(t.flow.proto(), 3);
    // A RESP3 push between replies owes nothing.
    t.client(&cmd(&["GET", "k"]));
    let push = b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n";
    assert_eq!(t.upstream(push), push);
    assert!(t.flow.awaiting_reply());
    assert_eq!(t.upstream(b"_\r\n"), b"_\r\n");
    assert!(!t.flow.awaiting_reply());
}

#[test]
fn auth_inside_multi_aborts_the_transaction_like_redis() {
    let mut t = T::new(2);
    let mut input = cmd(&["MULTI"]);
    input.extend(cmd(&["SET", "k", "v"]));
    input.extend(cmd(&["AUTH", "app", "pw"]));
    input.extend(cmd(&["EXEC"]));
    let sent = t.client(&input);
    let expected = [cmd(&["MULTI"]), cmd(&["SET", "k", "v"]), cmd(&["DISCARD"])].concat();
    assert_eq!(sent, expected);
    let out = String::from_utf8(t.upstream(b"+OK\r\n+QUEUED\r\n+OK\r\n")).unwrap();
    assert!(
        out.starts_with("+OK\r\n+QUEUED\r\n-ERR 'AUTH' inside MULTI"),
        "{out}"
    );
    assert!(out.ends_with("-EXECABORT Transaction discarded because of previous errors.\r\n"));
}

#[test]
fn reauth_waits_for_a_safe_point() {
    let mut t = T::new(2);
    t.flow.set_reauth_ready(true);
    assert!(t.flow.can_reauth());
    // A transaction runs on to its EXEC, then commands are held until every reply is back.
    t.flow.set_reauth_ready(false);
    t.client(&cmd(&["MULTI"]));
    t.flow.set_reauth_ready(true);
    assert!(!t.flow.can_reauth());
    let sent = t.client(&[cmd(&["INCR", "n"]), cmd(&["EXEC"]), cmd(&["GET", "n"])].concat());
    assert_eq!(sent, [cmd(&["INCR", "n"]), cmd(&["EXEC"])].concat());
    assert!(!t.flow.accepts_commands());
    t.upstream(b"+OK\r\n+QUEUED\r\n");
    assert!(!t.flow.can_reauth(), "EXEC's reply is still owed");
    t.upstream(b"*1\r\n:1\r\n");
    assert!(t.flow.can_reauth());
    t.flow.send_reauth(&UpstreamLogin::new("app", "fresh"));
    assert_eq!(
        t.flow.to_upstream.split().to_vec(),
        cmd(&["AUTH", "app", "fresh"])
    );
    // The held GET goes after the AUTH; the AUTH's +OK never reaches the client.
    assert_eq!(t.client(&cmd(&["GET", "n"])), cmd(&["GET", "n"]));
    assert_eq!(t.upstream(b"+OK\r\n$1\r\n1\r\n"), b"$1\r\n1\r\n");
    assert_eq!(t.flow.take_reauth_outcome(), Some(Ok(())));
}

#[test]
fn a_reauth_right_after_asking_sends_asking_again() {
    // Cluster mode: ASKING lets the next command into a slot being imported, and any command uses it
    // up, AUTH too. A re-AUTH between ASKING's reply and the client's next command must not take it.
    let mut t = T::new(2);
    assert_eq!(t.client(&cmd(&["ASKING"])), cmd(&["ASKING"]));
    assert_eq!(t.upstream(b"+OK\r\n"), b"+OK\r\n");
    t.flow.set_reauth_ready(true);
    assert!(t.flow.can_reauth());
    t.flow.send_reauth(&UpstreamLogin::new("app", "fresh"));
    assert_eq!(
        t.flow.to_upstream.split().to_vec(),
        [cmd(&["AUTH", "app", "fresh"]), cmd(&["ASKING"])].concat()
    );
    assert_eq!(t.client(&cmd(&["SET", "k", "v"])), cmd(&["SET", "k", "v"]));
    // Both of the proxy's replies are swallowed; the client sees its SET's.
    assert_eq!(t.upstream(b"+OK\r\n+OK\r\n+OK\r\n"), b"+OK\r\n");
    assert_eq!(t.flow.take_reauth_outcome(), Some(Ok(())));
    // The flag was used up by the SET: the next re-AUTH is the AUTH alone.
    t.flow.set_reauth_ready(true);
    t.flow.send_reauth(&UpstreamLogin::new("app", "fresh"));
    assert_eq!(
        t.flow.to_upstream.split().to_vec(),
        cmd(&["AUTH", "app", "fresh"])
    );
    assert!(t.upstream(b"+OK\r\n").is_empty());
    // ASKING queued in a transaction lasts only inside it.
    t.client(&[cmd(&["MULTI"]), cmd(&["ASKING"]), cmd(&["EXEC"])].concat());
    t.upstream(b"+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n");
    t.flow.set_reauth_ready(true);
    t.flow.send_reauth(&UpstreamLogin::new("app", "fresh"));
    assert_eq!(
        t.flow.to_upstream.split().to_vec(),
        cmd(&["AUTH", "app", "fresh"])
    );
}

#[test]
fn resp2_subscribers_are_tracked_and_not_reauthenticated() {
    let mut t = T::new(2);
    t.client(&cmd(&["SUBSCRIBE", "a", "b"]));
    let confirms =
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n";
    assert_eq!(t.upstream(confirms), confirms);
    assert!(!t.flow.awaiting_reply());
    t.flow.set_reauth_ready(true);
    assert!(!t.flow.can_reauth());
    assert!(t.flow.accepts_commands(), "a subscriber keeps its commands");
    let msg = b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n";
    assert_eq!(t.upstream(msg), msg);
    t.client(&cmd(&["PING"]));
    let mut both = msg.to_vec();
    both.extend_from_slice(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(t.upstream(&both), both);
    assert!(!t.flow.awaiting_reply());
    // UNSUBSCRIBE from everything: one confirmation per channel, then the connection may re-AUTH.
    t.client(&cmd(&["UNSUBSCRIBE"]));
    let unsub = b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n";
    assert_eq!(t.upstream(unsub), unsub);
    assert!(!t.flow.awaiting_reply());
    assert!(t.flow.can_reauth());
}

#[test]
fn resp3_subscribers_are_reauthenticated() {
    let mut t = T::new(3);
    t.client(&cmd(&["SUBSCRIBE", "a"]));
    t.upstream(b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    assert!(!t.flow.awaiting_reply());
    t.flow.set_reauth_ready(true);
    assert!(t.flow.can_reauth());
}

#[test]
fn the_proxys_own_answers_wait_their_turn() {
    let mut t = T::new(2);
    let sent = t.client(&[cmd(&["BLPOP", "q", "0"]), cmd(&["MONITOR"])].concat());
    assert_eq!(sent, cmd(&["BLPOP", "q", "0"]));
    assert!(t.flow.to_client.is_empty());
    let out = String::from_utf8(t.upstream(b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n")).unwrap();
    assert!(
        out.starts_with("*2\r\n$1\r\nq\r\n$1\r\nx\r\n-ERR 'MONITOR' is not supported"),
        "{out}"
    );
}

#[test]
fn reset_logs_in_again_before_anything_else() {
    let mut t = T::new(3);
    let sent = t.client(&[cmd(&["RESET"]), cmd(&["GET", "k"])].concat());
    assert_eq!(sent, cmd(&["RESET"]));
    let need = t.flow.take_need().unwrap();
    t.flow
        .login_done(need, Ok(UpstreamLogin::new("app", "tok")));
    let sent = [
        t.flow.to_upstream.split().to_vec(),
        t.client(&cmd(&["GET", "k"])),
    ]
    .concat();
    assert_eq!(
        sent,
        [cmd(&["AUTH", "app", "tok"]), cmd(&["GET", "k"])].concat()
    );
    assert_eq!(
        t.upstream(b"+RESET\r\n+OK\r\n$-1\r\n"),
        b"+RESET\r\n$-1\r\n"
    );
    assert_eq!(t.flow.proto(), 2);
}

#[test]
fn large_replies_stream_through() {
    let mut t = T::new(2);
    t.client(&cmd(&["GET", "big"]));
    let mut buf = BytesMut::from(&b"$100000\r\n"[..]);
    buf.extend_from_slice(&[b'x'; 50_000]);
    t.flow.upstream_input(&mut buf).unwrap();
    assert_eq!(
        t.flow.to_client.len(),
        50_009,
        "passed on before the frame ends"
    );
    assert!(t.flow.mid_reply());
    buf.extend_from_slice(&[b'x'; 50_000]);
    buf.extend_from_slice(b"\r\n");
    t.flow.upstream_input(&mut buf).unwrap();
    assert!(!t.flow.mid_reply() && !t.flow.awaiting_reply());
}

#[test]
fn pending_commands_are_bounded() {
    let limits = Limits {
        max_pending: 3,
        ..Limits::default()
    };
    let mut flow = Flow::new(limits, 2, "app".into());
    let mut buf = BytesMut::from(&cmd(&["PING"]).repeat(5)[..]);
    flow.client_input(&mut buf, &allow);
    assert!(!flow.accepts_commands());
    assert_eq!(
        buf.len(),
        2 * cmd(&["PING"]).len(),
        "two wait in the buffer"
    );
}

#[test]
fn a_protocol_error_is_answered_after_earlier_replies() {
    let mut t = T::new(2);
    let mut input = cmd(&["GET", "k"]);
    input.extend_from_slice(b"GET k\r\n");
    t.client(&input);
    assert!(t.flow.is_done_reading());
    let out = String::from_utf8(t.upstream(b"$-1\r\n")).unwrap();
    assert!(out.starts_with("$-1\r\n-ERR Protocol error: "), "{out}");
}
