//! The `CLUSTER NODES` / `CLUSTER REPLICAS` half of the [`Rewriter`]: lines of text, each naming one
//! node by `ip:port@cport[,hostname[,aux=value...]]`.

use super::{Found, Rewriter, Step, split_host_port};
use crate::cluster::value::Value;

impl Rewriter<'_> {
    /// `CLUSTER NODES`' text, or `CLUSTER REPLICAS`' array of lines.
    pub(super) fn nodes(&self, value: &Value<'_>, out: &mut Vec<u8>) -> Step<()> {
        if let Some(text) = value.text() {
            let rewritten = self.node_lines(text)?;
            value.write_text_like(&rewritten, out);
            return Ok(());
        }
        let Some(items) = value.items() else {
            value.write_raw(out);
            return Ok(());
        };
        value.write_agg_header(items.len(), out);
        for item in items {
            match item.text() {
                Some(text) => item.write_text_like(&self.node_lines(text)?, out),
                None => item.write_raw(out),
            }
        }
        Ok(())
    }

    /// Lines of `<id> <ip:port@cport[,hostname[,aux=value...]]> <flags> ...`: the address field of
    /// each names the proxy.
    fn node_lines(&self, text: &[u8]) -> Step<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len() + 64);
        for (i, line) in text.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                out.push(b'\n');
            }
            let mut fields = line.splitn(3, |b| *b == b' ');
            let (Some(id), Some(addr)) = (fields.next(), fields.next()) else {
                out.extend_from_slice(line);
                continue;
            };
            out.extend_from_slice(id);
            out.push(b' ');
            self.node_address(addr, &mut out)?;
            if let Some(rest) = fields.next() {
                out.push(b' ');
                out.extend_from_slice(rest);
            }
        }
        Ok(out)
    }

    /// `ip:port@cport[,hostname[,aux=value...]]`.
    fn node_address(&self, field: &[u8], out: &mut Vec<u8>) -> Step<()> {
        let (addr, bus) = match field.iter().position(|b| *b == b'@') {
            Some(at) => (&field[..at], &field[at + 1..]),
            None => (field, &b""[..]),
        };
        let mut extra = bus.split(|b| *b == b',');
        let _cport = extra.next();
        let hostname = extra.next();
        let aux: Vec<&[u8]> = extra.collect();
        let Some((host, port)) = split_host_port(addr) else {
            out.extend_from_slice(field);
            return Ok(());
        };
        if port == 0 {
            // A node with no address (`noaddr`): nothing to rewrite.
            out.extend_from_slice(field);
            return Ok(());
        }
        let mut hosts = vec![Some(host)];
        hosts.extend(hostname.filter(|h| !h.is_empty()).map(Some));
        let mut ports = vec![port];
        for kv in &aux {
            if let Some(v) = kv
                .strip_prefix(b"tls-port=")
                .or(kv.strip_prefix(b"tcp-port="))
            {
                ports.extend(
                    std::str::from_utf8(v)
                        .ok()
                        .and_then(|v| v.parse::<i64>().ok()),
                );
            }
        }
        let Found::Port(p) = self.find(&hosts, &ports)? else {
            out.extend_from_slice(b":0@0");
            return Ok(());
        };
        out.extend_from_slice(self.announce());
        out.extend_from_slice(format!(":{p}@0").as_bytes());
        if let Some(h) = hostname {
            out.push(b',');
            if !h.is_empty() {
                out.extend_from_slice(self.announce());
            }
        }
        for kv in aux {
            out.push(b',');
            match kv.iter().position(|b| *b == b'=') {
                Some(eq)
                    if matches!(&kv[..eq], b"tls-port" | b"tcp-port") && &kv[eq + 1..] != b"0" =>
                {
                    out.extend_from_slice(&kv[..=eq]);
                    out.extend_from_slice(p.to_string().as_bytes());
                }
                _ => out.extend_from_slice(kv),
            }
        }
        Ok(())
    }
}
