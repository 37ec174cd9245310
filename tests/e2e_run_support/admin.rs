//! The admin address of an `iamwire run` from a test: GET over TLS with Python's `urllib` (and the
//! Prometheus project's parser for `/metrics`), and the `iamwire` admin commands.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use super::{Proxy, both};

/// GET `path` from the admin address over TLS (verifying the proxy against its CA), with `client`'s
/// certificate if any: the status, the body, and for `/metrics` every sample as parsed by
/// `prometheus_client.parser`.
const GET_SCRIPT: &str = r#"
import json, ssl, sys, urllib.error, urllib.request
url, ca, cert, key = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
if cert != "-":
    ctx.load_cert_chain(cert, key)
try:
    with urllib.request.urlopen(url, context=ctx, timeout=30) as r:
        status, body = r.status, r.read().decode()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read().decode()
out = {"status": status, "body": body}
if url.endswith("/metrics") and status == 200:
    from prometheus_client.parser import text_string_to_metric_families
    out["samples"] = [[s.name, s.labels, s.value] for f in text_string_to_metric_families(body) for s in f.samples]
print(json.dumps(out))
"#;

/// GET `path` from `proxy`'s admin address; `dir` holds the operator's certificates (`ca.crt`,
/// `<client>.crt`, `<client>.key`).
pub(crate) fn get(proxy: &Proxy, dir: &Path, path: &str, client: Option<&str>) -> Value {
    let url = proxy.admin_url().replace("127.0.0.1", "localhost") + path;
    let file = |name: String| dir.join(name).display().to_string();
    let (cert, key) = client.map_or(("-".into(), "-".into()), |c| {
        (file(format!("{c}.crt")), file(format!("{c}.key")))
    });
    let out = Command::new(iamwire_testkit::python())
        .args(["-c", GET_SCRIPT, &url, &file("ca.crt".into()), &cert, &key])
        .output()
        .expect("run the venv's python");
    assert!(out.status.success(), "{}", both(&out));
    serde_json::from_slice(&out.stdout).expect("the script's JSON")
}

/// `iamwire <args>` against `proxy`'s admin address as `client` (certificates in `dir`).
pub(crate) fn cli(proxy: &Proxy, dir: &Path, client: &str, args: &[&str]) -> Output {
    let url = proxy.admin_url().replace("127.0.0.1", "localhost");
    Command::new(env!("CARGO_BIN_EXE_iamwire"))
        .args(args)
        .env("IAMWIRE_ADMIN", url)
        .env("IAMWIRE_ADMIN_CA", dir.join("ca.crt"))
        .env("IAMWIRE_ADMIN_CERT", dir.join(format!("{client}.crt")))
        .env("IAMWIRE_ADMIN_KEY", dir.join(format!("{client}.key")))
        .output()
        .expect("run iamwire")
}
