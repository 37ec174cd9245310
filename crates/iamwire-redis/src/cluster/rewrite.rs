//! Rewriting what a cluster tells a client about its nodes, so that it names only the proxy's addresses
//! for them: `-MOVED` / `-ASK` redirections, and the replies to `CLUSTER SLOTS`, `CLUSTER SHARDS`,
//! `CLUSTER NODES` and `CLUSTER REPLICAS`. Sans-IO: a complete frame in, the frame to pass on out.
//!
//! A node is looked up by any address the cluster gives for it (IP, host name, preferred endpoint;
//! TLS or plaintext port) in an [`Addresses`] map the proxy built from its own topology query; an
//! empty or null host means the node this connection is to, as in Redis. What is not a node the proxy
//! knows makes the rewrite [`Rewritten::Unknown`], so the caller can refresh the map and try once more
//! with `last_try`: then an unknown node is left out of a topology reply (a line of `CLUSTER NODES`
//! keeps the node with no address, `:0@0`, as Redis shows such nodes) and a redirection to it is
//! [`Rewritten::Refused`] — never passed on, never followed.
//!
//! Everything not rewritten goes out byte for byte as the database sent it; what is rewritten keeps its
//! RESP type (a simple string stays simple, a verbatim string verbatim, a RESP3 map a map).

use super::value::Value;

/// Where the proxy serves the nodes of a cluster.
pub(crate) trait Addresses {
    /// The proxy's port for the node the cluster reports at `host:port` (host in any case), if the
    /// proxy knows that node.
    fn proxy_port(&self, host: &[u8], port: u16) -> Option<u16>;
    /// The host clients reach the proxy at.
    fn announce(&self) -> &str;
}

/// Which topology reply a frame answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topology {
    /// `CLUSTER SLOTS`: slot ranges with their nodes.
    Slots,
    /// `CLUSTER SHARDS`: shards with their slots and nodes.
    Shards,
    /// `CLUSTER NODES` (one text of lines) or `CLUSTER REPLICAS` (an array of such lines).
    Nodes,
}

impl Topology {
    /// The `CLUSTER` subcommand, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Slots => "SLOTS",
            Self::Shards => "SHARDS",
            Self::Nodes => "NODES",
        }
    }
}

/// What became of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rewritten {
    /// Names no node: pass it on as it is.
    Same,
    /// The frame to pass on instead.
    New(Vec<u8>),
    /// Names a node the map does not know (not on the last try).
    Unknown,
    /// A redirection to an address that is not a node the proxy knows (on the last try): the client
    /// must get an error instead.
    Refused {
        /// `MOVED` or `ASK`.
        code: String,
        /// The address it named.
        target: String,
    },
}

/// How to rewrite: the map, what an empty host means, and whether unknown nodes are final.
pub(crate) struct Rewriter<'a> {
    /// The proxy's addresses for the nodes.
    pub(crate) map: &'a dyn Addresses,
    /// The host of the node this connection is to (what an empty or null host stands for).
    pub(crate) own_host: &'a str,
    /// The map is as fresh as it gets for this frame: leave unknown nodes out, refuse redirections
    /// to them.
    pub(crate) last_try: bool,
}

/// A node looked up: its proxy port, or it is unknown (and the rewrite is to be tried again).
enum Found {
    Port(u16),
    Missing,
}

/// Stop: a node is unknown and this is not the last try.
struct Retry;

type Step<T> = Result<T, Retry>;

impl Rewriter<'_> {
    /// The proxy port for a node known by any of `hosts` at any of `ports`.
    fn find(&self, hosts: &[Option<&[u8]>], ports: &[i64]) -> Step<Found> {
        for host in hosts {
            let host = match host {
                None => self.own_host.as_bytes(),
                Some([]) => self.own_host.as_bytes(),
                Some(h) => h,
            };
            for port in ports {
                if let Ok(port) = u16::try_from(*port)
                    && port != 0
                    && let Some(p) = self.map.proxy_port(host, port)
                {
                    return Ok(Found::Port(p));
                }
            }
        }
        if self.last_try {
            Ok(Found::Missing)
        } else {
            Err(Retry)
        }
    }

    fn announce(&self) -> &[u8] {
        self.map.announce().as_bytes()
    }

    /// A `-MOVED <slot> <host>:<port>` or `-ASK ...` error (simple or blob): the proxy's address for
    /// that node. Any other frame is [`Rewritten::Same`].
    pub(crate) fn redirect(&self, frame: &[u8]) -> Rewritten {
        let Some(value) = Value::parse_whole(frame) else {
            return Rewritten::Same;
        };
        let Some(text) = value.text().filter(|_| value.is_error()) else {
            return Rewritten::Same;
        };
        let mut words = text.split(|b| *b == b' ');
        let (Some(code), Some(slot), Some(target), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Rewritten::Same;
        };
        if code != b"MOVED" && code != b"ASK" {
            return Rewritten::Same;
        }
        let refused = || Rewritten::Refused {
            code: String::from_utf8_lossy(code).into_owned(),
            target: String::from_utf8_lossy(target).into_owned(),
        };
        let Some((host, port)) = split_host_port(target) else {
            return refused();
        };
        match self.find(&[Some(host)], &[port]) {
            Err(Retry) => Rewritten::Unknown,
            Ok(Found::Missing) => refused(),
            Ok(Found::Port(p)) => {
                let mut line = Vec::with_capacity(text.len() + 16);
                line.extend_from_slice(code);
                line.push(b' ');
                line.extend_from_slice(slot);
                line.push(b' ');
                line.extend_from_slice(self.announce());
                line.extend_from_slice(format!(":{p}").as_bytes());
                let mut out = Vec::with_capacity(line.len() + 8);
                if matches!(value, Value::Text { kind: b'-', .. }) {
                    out.push(b'-');
                    out.extend_from_slice(&line);
                    out.extend_from_slice(b"\r\n");
                } else {
                    value.write_text_like(&line, &mut out);
                }
                Rewritten::New(out)
            }
        }
    }

    /// A reply to `kind`: every node named with the proxy's address. Errors and replies that are not
    /// shaped like `kind`'s name no node the proxy can find; they are [`Rewritten::Same`], except that
    /// a reply that is not even one RESP value is never passed on ([`Rewritten::Refused`]).
    pub(crate) fn topology(&self, kind: Topology, frame: &[u8]) -> Rewritten {
        let Some(value) = Value::parse_whole(frame) else {
            return Rewritten::Refused {
                code: "CLUSTER".into(),
                target: "a reply the proxy cannot read".into(),
            };
        };
        if value.is_error() {
            return self.redirect(frame);
        }
        let mut out = Vec::with_capacity(frame.len() + 64);
        let done = match kind {
            Topology::Slots => self.slots(&value, &mut out),
            Topology::Shards => self.shards(&value, &mut out),
            Topology::Nodes => self.nodes(&value, &mut out),
        };
        match done {
            Err(Retry) => Rewritten::Unknown,
            Ok(()) if out == frame => Rewritten::Same,
            Ok(()) => Rewritten::New(out),
        }
    }

    /// `[[start, end, master, replica...], ...]`, a node being `[host, port, id, {metadata}]`.
    fn slots(&self, value: &Value<'_>, out: &mut Vec<u8>) -> Step<()> {
        let Some(ranges) = value.list_items() else {
            value.write_raw(out);
            return Ok(());
        };
        let mut kept = Vec::with_capacity(ranges.len());
        for range in ranges {
            let mut bytes = Vec::new();
            if self.slot_range(range, &mut bytes)? {
                kept.push(bytes);
            }
        }
        value.write_agg_header(kept.len(), out);
        kept.iter().for_each(|r| out.extend_from_slice(r));
        Ok(())
    }

    /// One slot range; `false` if its master is unknown on the last try (the range is left out).
    fn slot_range(&self, range: &Value<'_>, out: &mut Vec<u8>) -> Step<bool> {
        let Some(items) = range.list_items().filter(|i| i.len() >= 2) else {
            range.write_raw(out);
            return Ok(true);
        };
        let mut nodes = Vec::new();
        for (i, node) in items[2..].iter().enumerate() {
            let mut bytes = Vec::new();
            match self.slot_node(node, &mut bytes)? {
                true => nodes.push(bytes),
                false if i == 0 => return Ok(false),
                false => {}
            }
        }
        range.write_agg_header(2 + nodes.len(), out);
        items[0].write_raw(out);
        items[1].write_raw(out);
        nodes.iter().for_each(|n| out.extend_from_slice(n));
        Ok(true)
    }

    /// `[host, port, id, {ip, hostname}]`; `false` if the node is unknown on the last try.
    fn slot_node(&self, node: &Value<'_>, out: &mut Vec<u8>) -> Step<bool> {
        let Some(fields) = node.items().filter(|f| f.len() >= 2) else {
            node.write_raw(out);
            return Ok(true);
        };
        let mut hosts = vec![fields[0].text()];
        if let Some(meta) = fields.get(3).and_then(Value::items) {
            hosts.extend(
                pairs(meta)
                    .filter(|(k, _)| matches!(k.text(), Some(b"ip" | b"hostname")))
                    .map(|(_, v)| v.text()),
            );
        }
        let port = fields[1].int().unwrap_or(0);
        let Found::Port(p) = self.find(&hosts, &[port])? else {
            return Ok(false);
        };
        node.write_agg_header(fields.len(), out);
        fields[0].write_text_like(self.announce(), out);
        fields[1].write_int_like(i64::from(p), out);
        for (i, field) in fields.iter().enumerate().skip(2) {
            match field.items() {
                Some(meta) if i == 3 => {
                    field.write_agg_header(even(meta.len()), out);
                    self.write_pairs(meta, out, |_| None);
                }
                _ => field.write_raw(out),
            }
        }
        Ok(true)
    }

    /// Map entries (as key, value in turn; an odd last item is left out), with address values replaced by the proxy's and port
    /// values by `port(key)` when it says so.
    fn write_pairs(
        &self,
        items: &[Value<'_>],
        out: &mut Vec<u8>,
        port: impl Fn(&[u8]) -> Option<i64>,
    ) {
        for (key, value) in pairs(items) {
            key.write_raw(out);
            match key.text() {
                Some(b"ip" | b"hostname" | b"endpoint") => {
                    value.write_text_like(self.announce(), out);
                }
                Some(k) => match port(k) {
                    Some(p) => value.write_int_like(p, out),
                    None => value.write_raw(out),
                },
                None => value.write_raw(out),
            }
        }
    }

    /// `[{slots: [...], nodes: [{id, port, tls-port, ip, endpoint, hostname, ...}, ...]}, ...]`.
    fn shards(&self, value: &Value<'_>, out: &mut Vec<u8>) -> Step<()> {
        let Some(shards) = value.list_items() else {
            value.write_raw(out);
            return Ok(());
        };
        let mut kept = Vec::with_capacity(shards.len());
        for shard in shards {
            let Some(fields) = shard.items() else {
                let mut bytes = Vec::new();
                shard.write_raw(&mut bytes);
                kept.push(bytes);
                continue;
            };
            let mut body = Vec::new();
            let mut any_node = true;
            for (key, val) in pairs(fields) {
                key.write_raw(&mut body);
                match (key.text(), val.list_items()) {
                    (Some(b"nodes"), Some(nodes)) => {
                        let mut written = Vec::new();
                        for node in nodes {
                            let mut bytes = Vec::new();
                            if self.shard_node(node, &mut bytes)? {
                                written.push(bytes);
                            }
                        }
                        any_node = !written.is_empty() || nodes.is_empty();
                        val.write_agg_header(written.len(), &mut body);
                        written.iter().for_each(|n| body.extend_from_slice(n));
                    }
                    _ => val.write_raw(&mut body),
                }
            }
            if any_node {
                let mut bytes = Vec::new();
                shard.write_agg_header(even(fields.len()), &mut bytes);
                bytes.extend_from_slice(&body);
                kept.push(bytes);
            }
        }
        value.write_agg_header(kept.len(), out);
        kept.iter().for_each(|s| out.extend_from_slice(s));
        Ok(())
    }

    /// One node of a shard; `false` if it is unknown on the last try.
    fn shard_node(&self, node: &Value<'_>, out: &mut Vec<u8>) -> Step<bool> {
        let Some(fields) = node.items() else {
            node.write_raw(out);
            return Ok(true);
        };
        let (mut hosts, mut ports) = (Vec::new(), Vec::new());
        for (key, value) in pairs(fields) {
            match key.text() {
                Some(b"ip" | b"endpoint" | b"hostname") => {
                    if let Some(h) = value.text().filter(|h| !h.is_empty() && *h != b"?") {
                        hosts.push(Some(h));
                    }
                }
                Some(b"tls-port") => ports.insert(0, value.int().unwrap_or(0)),
                Some(b"port") => ports.push(value.int().unwrap_or(0)),
                _ => {}
            }
        }
        if hosts.is_empty() {
            hosts.push(None);
        }
        let Found::Port(p) = self.find(&hosts, &ports)? else {
            return Ok(false);
        };
        node.write_agg_header(even(fields.len()), out);
        let p = i64::from(p);
        self.write_pairs(fields, out, |k| {
            matches!(k, b"port" | b"tls-port").then_some(p)
        });
        Ok(true)
    }
}

/// A map's (or RESP2 flat array's) items as key, value pairs (an odd last item is left out).
fn pairs<'v, 'a>(items: &'v [Value<'a>]) -> impl Iterator<Item = (&'v Value<'a>, &'v Value<'a>)> {
    items.chunks_exact(2).map(|kv| (&kv[0], &kv[1]))
}

/// `n` rounded down to an even number: the items of a map that make whole pairs.
fn even(n: usize) -> usize {
    n - n % 2
}

/// `host:port` split at the last colon (Redis prints IPv6 addresses without brackets).
pub(crate) fn split_host_port(text: &[u8]) -> Option<(&[u8], i64)> {
    let colon = text.iter().rposition(|b| *b == b':')?;
    let port = std::str::from_utf8(&text[colon + 1..]).ok()?.parse().ok()?;
    let host = &text[..colon];
    let host = host
        .strip_prefix(b"[")
        .and_then(|h| h.strip_suffix(b"]"))
        .unwrap_or(host);
    Some((host, port))
}

mod lines;

#[cfg(test)]
mod tests;
