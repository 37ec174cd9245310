use super::*;

/// Two nodes: 127.0.0.1:7001 (also `node-a.example:7001`, plaintext 6001) at proxy port 9001, and
/// 127.0.0.1:7002 at 9002.
struct Map;

impl Addresses for Map {
    fn proxy_port(&self, host: &[u8], port: u16) -> Option<u16> {
        let host = std::str::from_utf8(host).ok()?.to_ascii_lowercase();
        match (host.as_str(), port) {
            ("127.0.0.1" | "node-a.example", 7001 | 6001) => Some(9001),
            ("127.0.0.1", 7002) => Some(9002),
            _ => None,
        }
    }

    fn announce(&self) -> &str {
        "proxy.test"
    }
}

fn rw(last_try: bool) -> Rewriter<'static> {
    Rewriter {
        map: &Map,
        own_host: "127.0.0.1",
        last_try,
    }
}

fn new(r: Rewritten) -> String {
    match r {
        Rewritten::New(bytes) => String::from_utf8(bytes).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn redirections_name_the_proxy_and_keep_their_type() {
    assert_eq!(
        new(rw(false).redirect(b"-MOVED 3999 127.0.0.1:7002\r\n")),
        "-MOVED 3999 proxy.test:9002\r\n"
    );
    assert_eq!(
        new(rw(false).redirect(b"-ASK 1 NODE-A.example:6001\r\n")),
        "-ASK 1 proxy.test:9001\r\n"
    );
    assert_eq!(
        new(rw(false).redirect(b"!25\r\nMOVED 3999 127.0.0.1:7002\r\n")),
        "!26\r\nMOVED 3999 proxy.test:9002\r\n"
    );
    for same in [
        &b"-ERR wrong\r\n"[..],
        b"+OK\r\n",
        b"-MOVED 1\r\n",
        b"-MOVED 1 a:1 extra\r\n",
    ] {
        assert_eq!(rw(false).redirect(same), Rewritten::Same, "{same:?}");
    }
}

#[test]
fn a_redirection_to_an_unknown_node_is_retried_then_refused() {
    let frame = b"-MOVED 5 10.9.9.9:7003\r\n";
    assert_eq!(rw(false).redirect(frame), Rewritten::Unknown);
    assert_eq!(
        rw(true).redirect(frame),
        Rewritten::Refused {
            code: "MOVED".into(),
            target: "10.9.9.9:7003".into()
        }
    );
    assert!(matches!(
        rw(true).redirect(b"-ASK 5 nonsense\r\n"),
        Rewritten::Refused { .. }
    ));
}

#[test]
fn cluster_slots_in_resp2_and_resp3() {
    let resp2 = b"*2\r\n\
        *4\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7001\r\n$1\r\na\r\n\
        *4\r\n$9\r\n127.0.0.1\r\n:7002\r\n$1\r\nb\r\n*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
        *3\r\n:5461\r\n:16383\r\n*3\r\n$0\r\n\r\n:7002\r\n$1\r\nb\r\n";
    let out = new(rw(false).topology(Topology::Slots, resp2));
    assert_eq!(
        out,
        "*2\r\n\
         *4\r\n:0\r\n:5460\r\n*3\r\n$10\r\nproxy.test\r\n:9001\r\n$1\r\na\r\n\
         *4\r\n$10\r\nproxy.test\r\n:9002\r\n$1\r\nb\r\n*2\r\n$2\r\nip\r\n$10\r\nproxy.test\r\n\
         *3\r\n:5461\r\n:16383\r\n*3\r\n$10\r\nproxy.test\r\n:9002\r\n$1\r\nb\r\n"
    );
    let resp3 = b"*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n+127.0.0.1\r\n:7001\r\n$1\r\na\r\n%1\r\n+hostname\r\n+node-a.example\r\n";
    assert_eq!(
        new(rw(false).topology(Topology::Slots, resp3)),
        "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n+proxy.test\r\n:9001\r\n$1\r\na\r\n%1\r\n+hostname\r\n+proxy.test\r\n"
    );
}

#[test]
fn unknown_masters_leave_their_range_out_on_the_last_try() {
    let frame = b"*2\r\n*3\r\n:0\r\n:1\r\n*2\r\n$8\r\n10.0.0.9\r\n:1\r\n\
                  *4\r\n:2\r\n:3\r\n*2\r\n$9\r\n127.0.0.1\r\n:7001\r\n*2\r\n$8\r\n10.0.0.9\r\n:1\r\n";
    assert_eq!(
        rw(false).topology(Topology::Slots, frame),
        Rewritten::Unknown
    );
    assert_eq!(
        new(rw(true).topology(Topology::Slots, frame)),
        "*1\r\n*3\r\n:2\r\n:3\r\n*2\r\n$10\r\nproxy.test\r\n:9001\r\n"
    );
}

#[test]
fn cluster_shards_name_the_proxy_on_both_ports() {
    let frame = b"*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n\
        *8\r\n$4\r\nport\r\n:6001\r\n$8\r\ntls-port\r\n:7001\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
        $8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n";
    assert_eq!(
        new(rw(false).topology(Topology::Shards, frame)),
        "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n\
         *8\r\n$4\r\nport\r\n:9001\r\n$8\r\ntls-port\r\n:9001\r\n$2\r\nip\r\n$10\r\nproxy.test\r\n\
         $8\r\nendpoint\r\n$10\r\nproxy.test\r\n"
    );
}

#[test]
fn cluster_nodes_lines_name_the_proxy() {
    let text = "a 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-8191\n\
                b 127.0.0.1:7002@17002,node-b master - 0 0 2 connected 8192-16383\n\
                c 10.0.0.9:1@2 slave b 0 0 2 connected\n";
    let frame = format!("${}\r\n{text}\r\n", text.len());
    assert_eq!(
        rw(false).topology(Topology::Nodes, frame.as_bytes()),
        Rewritten::Unknown
    );
    let want = "a proxy.test:9001@0 myself,master - 0 0 1 connected 0-8191\n\
                b proxy.test:9002@0,proxy.test master - 0 0 2 connected 8192-16383\n\
                c :0@0 slave b 0 0 2 connected\n";
    assert_eq!(
        new(rw(true).topology(Topology::Nodes, frame.as_bytes())),
        format!("${}\r\n{want}\r\n", want.len())
    );
}

#[test]
fn errors_and_odd_replies_pass_and_unreadable_ones_do_not() {
    assert_eq!(
        rw(false).topology(Topology::Slots, b"-NOPERM no\r\n"),
        Rewritten::Same
    );
    assert_eq!(
        new(rw(false).topology(Topology::Nodes, b"-MOVED 1 127.0.0.1:7001\r\n")),
        "-MOVED 1 proxy.test:9001\r\n"
    );
    assert_eq!(
        rw(false).topology(Topology::Slots, b":1\r\n"),
        Rewritten::Same
    );
    assert!(matches!(
        rw(false).topology(Topology::Shards, b"*2\r\n:1\r\n"),
        Rewritten::Refused { .. }
    ));
}

#[test]
fn host_port_splits_at_the_last_colon() {
    assert_eq!(split_host_port(b"::1:7001"), Some((&b"::1"[..], 7001)));
    assert_eq!(split_host_port(b"[::1]:7001"), Some((&b"::1"[..], 7001)));
    assert_eq!(split_host_port(b"a.b:6379"), Some((&b"a.b"[..], 6379)));
    assert_eq!(split_host_port(b"nocolon"), None);
    assert_eq!(split_host_port(b"a:x"), None);
}

#[test]
fn the_fuzz_seeds_rewrite_to_whole_values() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/redis_cluster_rewrite"
    );
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        crate::fuzzing::cluster_rewrite(&data);
        seen += 1;
    }
    assert!(seen >= 5);
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        crate::fuzzing::cluster_rewrite(&data);
    }

    #[test]
    fn a_rewritten_redirection_is_one_error_naming_the_proxy(slot in 0u16..16384, node in 7001u16..7003) {
        let frame = format!("-MOVED {slot} 127.0.0.1:{node}\r\n");
        let out = new(rw(false).redirect(frame.as_bytes()));
        let port = if node == 7001 { 9001 } else { 9002 };
        proptest::prop_assert_eq!(out, format!("-MOVED {slot} proxy.test:{port}\r\n"));
    }
}
