//! The nodes of a cluster as the cluster reports them to the proxy's own query: the reply to
//! `CLUSTER SHARDS` (Redis 7 and later) or, from older engines, `CLUSTER NODES`. Sans-IO.
//!
//! These replies are the only source of node addresses the proxy ever dials: nothing a client sends,
//! and no redirection or topology reply on a client's connection, adds a node.

use super::rewrite::split_host_port;
use super::value::Value;

/// One node: where the proxy dials it, and every address the cluster may name it by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Node {
    /// The host the proxy dials and verifies the certificate against: the node's host name if it has
    /// one (ElastiCache and MemoryDB certificates name hosts, not addresses), else its IP.
    pub(crate) host: String,
    /// Its TLS port if it reports one, else its port.
    pub(crate) port: u16,
    /// Every `(host, port)` the cluster may name it by in redirections and replies (hosts in lower
    /// case).
    pub(crate) names: Vec<(String, u16)>,
}

/// Why a topology reply could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadTopology {
    /// Not one RESP value.
    Unreadable,
    /// An error reply (the subcommand is unknown, or the user may not run it).
    Error,
    /// A value of the wrong shape.
    Shape,
    /// More nodes than the proxy serves.
    TooMany,
}

impl std::fmt::Display for BadTopology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unreadable => "a reply that is not RESP",
            Self::Error => "an error",
            Self::Shape => "a reply not shaped like a topology",
            Self::TooMany => "more nodes than the proxy's node ports",
        })
    }
}

/// The nodes in a `CLUSTER SHARDS` reply (RESP2 or RESP3), at most `max`.
pub(crate) fn from_shards(frame: &[u8], max: usize) -> Result<Vec<Node>, BadTopology> {
    let value = Value::parse_whole(frame).ok_or(BadTopology::Unreadable)?;
    if value.is_error() {
        return Err(BadTopology::Error);
    }
    let mut nodes = Vec::new();
    for shard in value.items().ok_or(BadTopology::Shape)? {
        let fields = shard.items().ok_or(BadTopology::Shape)?;
        let Some(list) = field(fields, b"nodes").and_then(Value::items) else {
            continue;
        };
        for node in list {
            let fields = node.items().ok_or(BadTopology::Shape)?;
            let text = |name: &[u8]| {
                field(fields, name)
                    .and_then(Value::text)
                    .filter(|t| !t.is_empty() && *t != b"?")
            };
            let port = |name: &[u8]| {
                field(fields, name)
                    .and_then(Value::int)
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p != 0)
            };
            let hosts: Vec<&[u8]> = [text(b"hostname"), text(b"endpoint"), text(b"ip")]
                .into_iter()
                .flatten()
                .collect();
            let ports: Vec<u16> = [port(b"tls-port"), port(b"port")]
                .into_iter()
                .flatten()
                .collect();
            if let Some(node) = node_of(&hosts, &ports) {
                push(&mut nodes, node, max)?;
            }
        }
    }
    Ok(nodes)
}

/// The nodes in a `CLUSTER NODES` reply, at most `max` (nodes without an address are left out).
pub(crate) fn from_nodes(frame: &[u8], max: usize) -> Result<Vec<Node>, BadTopology> {
    let value = Value::parse_whole(frame).ok_or(BadTopology::Unreadable)?;
    if value.is_error() {
        return Err(BadTopology::Error);
    }
    let text = value.text().ok_or(BadTopology::Shape)?;
    let mut nodes = Vec::new();
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let addr = line
            .split(|b| *b == b' ')
            .nth(1)
            .ok_or(BadTopology::Shape)?;
        let (addr, bus) = match addr.iter().position(|b| *b == b'@') {
            Some(at) => (&addr[..at], &addr[at + 1..]),
            None => (addr, &b""[..]),
        };
        let Some((ip, port)) = split_host_port(addr) else {
            return Err(BadTopology::Shape);
        };
        let hostname = bus.split(|b| *b == b',').nth(1).filter(|h| !h.is_empty());
        let hosts: Vec<&[u8]> = [hostname, Some(ip).filter(|i| !i.is_empty())]
            .into_iter()
            .flatten()
            .collect();
        let mut ports: Vec<u16> = bus
            .split(|b| *b == b',')
            .filter_map(|kv| kv.strip_prefix(b"tls-port="))
            .filter_map(|v| std::str::from_utf8(v).ok()?.parse().ok())
            .filter(|p| *p != 0)
            .collect();
        ports.extend(u16::try_from(port).ok().filter(|p| *p != 0));
        if let Some(node) = node_of(&hosts, &ports) {
            push(&mut nodes, node, max)?;
        }
    }
    Ok(nodes)
}

fn push(nodes: &mut Vec<Node>, node: Node, max: usize) -> Result<(), BadTopology> {
    if nodes
        .iter()
        .any(|n| n.host == node.host && n.port == node.port)
    {
        return Ok(());
    }
    if nodes.len() >= max {
        return Err(BadTopology::TooMany);
    }
    nodes.push(node);
    Ok(())
}

/// A node reported at `hosts` (the one to dial first) and `ports` (the one to dial first); `None`
/// without a usable host or port.
fn node_of(hosts: &[&[u8]], ports: &[u16]) -> Option<Node> {
    let host = std::str::from_utf8(hosts.first()?).ok()?;
    let port = *ports.first()?;
    let mut names = Vec::with_capacity(hosts.len() * ports.len());
    for h in hosts {
        let h = String::from_utf8_lossy(h).to_ascii_lowercase();
        for p in ports {
            if !names.contains(&(h.clone(), *p)) {
                names.push((h.clone(), *p));
            }
        }
    }
    Some(Node {
        host: host.to_owned(),
        port,
        names,
    })
}

/// The value of `name` in a map (or RESP2 flat array of key, value).
fn field<'v, 'a>(items: &'v [Value<'a>], name: &[u8]) -> Option<&'v Value<'a>> {
    items
        .chunks_exact(2)
        .find(|kv| kv[0].text() == Some(name))
        .map(|kv| &kv[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CLUSTER SHARDS` shaped as Redis 7.0 sends it over TLS (RESP2), plus a RESP3 shard with a host
    /// name.
    const SHARDS: &[u8] = b"*2\r\n\
        *4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n\
        *18\r\n$2\r\nid\r\n$40\r\n1111111111111111111111111111111111111111\r\n$8\r\ntls-port\r\n:7001\r\n\
        $2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
        $18\r\nreplication-offset\r\n:10\r\n$6\r\nhealth\r\n$6\r\nonline\r\n$4\r\nport\r\n:6001\r\n\
        $8\r\nhostname\r\n$0\r\n\r\n\
        *14\r\n$2\r\nid\r\n$40\r\n2222222222222222222222222222222222222222\r\n$8\r\ntls-port\r\n:7002\r\n\
        $2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n\
        $18\r\nreplication-offset\r\n:10\r\n$6\r\nhealth\r\n$6\r\nonline\r\n\
        %2\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n*1\r\n\
        %3\r\n$2\r\nid\r\n$1\r\nx\r\n$8\r\nhostname\r\n$14\r\nnode-3.example\r\n$4\r\nport\r\n:6379\r\n";

    #[test]
    fn shards_give_every_node_with_all_its_names() {
        let nodes = from_shards(SHARDS, 16).unwrap();
        assert_eq!(nodes.len(), 3);
        assert_eq!((nodes[0].host.as_str(), nodes[0].port), ("127.0.0.1", 7001));
        assert!(nodes[0].names.contains(&("127.0.0.1".into(), 6001)));
        assert_eq!((nodes[1].host.as_str(), nodes[1].port), ("127.0.0.1", 7002));
        assert_eq!(
            (nodes[2].host.as_str(), nodes[2].port),
            ("node-3.example", 6379)
        );
        assert_eq!(from_shards(SHARDS, 2), Err(BadTopology::TooMany));
        assert_eq!(from_shards(b"-ERR unknown\r\n", 2), Err(BadTopology::Error));
        assert_eq!(from_shards(b":1\r\n", 2), Err(BadTopology::Shape));
        assert_eq!(from_shards(b"*1\r\n", 2), Err(BadTopology::Unreadable));
    }

    #[test]
    fn nodes_lines_give_every_node_with_an_address() {
        let text = "a 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460\n\
                    b 10.0.0.2:6379@16379,node-b.example master - 0 0 2 connected 5461-10922\n\
                    c :0@0 master,noaddr - 0 0 3 connected\n\
                    d ::1:7004@17004,,tls-port=7104 slave a 0 0 1 connected\n";
        let frame = format!("${}\r\n{text}\r\n", text.len());
        let nodes = from_nodes(frame.as_bytes(), 8).unwrap();
        let dial: Vec<(&str, u16)> = nodes.iter().map(|n| (n.host.as_str(), n.port)).collect();
        assert_eq!(
            dial,
            [("127.0.0.1", 7001), ("node-b.example", 6379), ("::1", 7104)]
        );
        assert!(nodes[1].names.contains(&("10.0.0.2".into(), 6379)));
        assert!(nodes[2].names.contains(&("::1".into(), 7004)));
    }
}
