//! Reading Describe answers: every host name a resource answers to, and its ARN. Answers are peer
//! input: walks are bounded and nothing here panics.

use serde_json::Value;

use super::describe::Owned;
use crate::aws_api::wire::Element;

/// Hosts at `host_paths` and the ARN at `arn` of every member of the list at `list`.
pub(super) fn from_xml(
    result: &Element,
    list: &[&str],
    host_paths: &[&[&str]],
    arn: &str,
) -> Owned {
    let mut owned = Owned::default();
    for member in result.at(list).into_iter().flat_map(|l| &l.children) {
        for path in host_paths {
            if let Some(host) = member.text_at(path) {
                owned.hosts.push(host.to_owned());
            }
        }
        if owned.arn.is_none() {
            owned.arn = member.text_at(&[arn]).map(str::to_owned);
        }
    }
    owned
}

/// Every `<Address>` anywhere in the members of `list` (configuration, primary, reader and node
/// endpoints of ElastiCache), and their ARN.
pub(super) fn every_address(result: &Element, list: &[&str], arn: &str) -> Owned {
    fn walk(e: &Element, out: &mut Vec<String>, budget: &mut usize) {
        for c in &e.children {
            if *budget == 0 {
                return;
            }
            *budget -= 1;
            if c.name == "Address" && !c.text.trim().is_empty() {
                out.push(c.text.trim().to_owned());
            }
            walk(c, out, budget);
        }
    }
    let mut owned = Owned::default();
    let mut budget = 100_000;
    for member in result.at(list).into_iter().flat_map(|l| &l.children) {
        walk(member, &mut owned.hosts, &mut budget);
        if owned.arn.is_none() {
            owned.arn = member.text_at(&[arn]).map(str::to_owned);
        }
    }
    owned
}

pub(super) fn from_json(v: &Value, root: &str, host_paths: &[&str], arn: &str) -> Owned {
    let Some(root) = v.pointer(root) else {
        return Owned::default();
    };
    let text = |p: &str| root.pointer(p).and_then(Value::as_str).map(str::to_owned);
    Owned {
        hosts: host_paths.iter().filter_map(|p| text(p)).collect(),
        arn: text(arn),
    }
}

pub(super) fn memorydb(v: &Value) -> Owned {
    let mut owned = Owned::default();
    let clusters = v
        .get("Clusters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for c in clusters.take(10) {
        let text = |c: &Value, p: &str| c.pointer(p).and_then(Value::as_str).map(str::to_owned);
        owned.hosts.extend(text(c, "/ClusterEndpoint/Address"));
        for shard in c
            .get("Shards")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(500)
        {
            for node in shard
                .get("Nodes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .take(20)
            {
                owned.hosts.extend(text(node, "/Endpoint/Address"));
            }
        }
        if owned.arn.is_none() {
            owned.arn = text(c, "/ARN");
        }
    }
    owned
}

pub(super) fn opensearch(v: &Value) -> Owned {
    let Some(status) = v.get("DomainStatus") else {
        return Owned::default();
    };
    let text = |p: &str| status.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let mut hosts: Vec<String> = text("/Endpoint").into_iter().collect();
    if let Some(map) = status.get("Endpoints").and_then(Value::as_object) {
        hosts.extend(
            map.values()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .take(10),
        );
    }
    hosts.extend(text("/DomainEndpointOptions/CustomEndpoint"));
    Owned {
        hosts,
        arn: text("/ARN"),
    }
}

/// Every reader over arbitrary bytes (XML and JSON); never panics.
pub(super) fn fuzz(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(root) = crate::aws_api::wire::parse_xml(text) {
        let _ = from_xml(
            &root,
            &["L"],
            &[&["Endpoint"], &["Endpoint", "Address"]],
            "Arn",
        );
        let _ = every_address(&root, &["L"], "ARN");
        for child in &root.children {
            let _ = every_address(child, &["L"], "ARN");
        }
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let _ = from_json(&v, "/workgroup", &["/endpoint/address"], "/workgroupArn");
        let _ = memorydb(&v);
        let _ = opensearch(&v);
    }
}
