//! OpenSearch through `iamwire run`: opensearch-py (from the rig venv) with the proxy's keys, against the
//! rig's OpenSearch stand-in — moto has no OpenSearch data plane, so the stand-in checks what the service
//! checks: each request's SigV4 signature, recomputed with botocore against the temporary credentials moto
//! issued to the user role, and the body against x-amz-content-sha256. Also: a streamed 20 MiB bulk upload
//! with the proxy's peak memory measured, and a chunked body over the cap refused with 413 unbuffered.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod e2e_run_support;
mod http_support;

use http_support::{HttpStack, Kind, USER_ROLE, memory_kib};

/// opensearch-py: argv = port, CA, key id, secret, MiB to bulk-upload. Prints a JSON report.
const OPENSEARCH_PY: &str = r#"
import json, sys
from botocore.credentials import Credentials
from opensearchpy import OpenSearch, RequestsHttpConnection, AWSV4SignerAuth
port, ca, key, secret, mib = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
auth = AWSV4SignerAuth(Credentials(key, secret), "us-west-2", "es")
client = OpenSearch(hosts=[{"host": "localhost", "port": int(port)}], http_auth=auth, use_ssl=True,
    verify_certs=True, ca_certs=ca, connection_class=RequestsHttpConnection, timeout=120)
out = {"info": client.info()["version"]["distribution"]}
client.indices.create(index="orders")
doc = json.dumps({"customer": "c1", "note": "y" * 1000})
lines = []
size = 0
n = 0
while size < mib * 1024 * 1024:
    action = json.dumps({"index": {"_index": "orders", "_id": str(n)}})
    lines.append(action); lines.append(doc)
    size += len(action) + len(doc) + 2
    n += 1
body = "\n".join(lines) + "\n"
answer = client.bulk(body=body)
out["bulk_bytes"] = len(body)
out["bulk_items"] = len(answer["items"])
out["bulk_docs"] = n
out["errors"] = answer["errors"]
print(json.dumps(out))
"#;

#[test]
fn opensearch_py_bulk_uploads_stream_as_the_user_role() {
    let stack = HttpStack::start(Kind::OpenSearch, "");
    let ca = stack.ca();
    let port = stack.proxy.port().to_string();
    let (before_peak, _) = memory_kib(stack.proxy.pid());
    let report = stack.python(
        OPENSEARCH_PY,
        &[
            &port,
            ca.to_str().unwrap(),
            &stack.alice.id,
            &stack.alice.secret,
            "20",
        ],
    );
    let (after_peak, after_rss) = memory_kib(stack.proxy.pid());
    assert_eq!(report["info"], "opensearch");
    assert_eq!(report["errors"], false);
    let bytes = report["bulk_bytes"].as_u64().unwrap();
    assert!(bytes >= 20 << 20, "{report}");
    assert_eq!(report["bulk_items"], report["bulk_docs"]);
    // Every request the stand-in saw verified, signed by the user role's session named after the identity.
    let seen = stack.moto.opensearch_requests().unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    for request in &seen {
        assert_eq!(request["status"], 200, "{request}");
        assert_eq!(
            request["principal"],
            format!("arn:aws:sts::222222222222:assumed-role/{USER_ROLE}/alice")
        );
    }
    let bulk = seen
        .iter()
        .find(|r| r["path"] == "/_bulk")
        .expect("bulk request");
    assert_eq!(bulk["body_len"].as_u64(), Some(bytes));
    // The body streamed through: the proxy's peak resident memory grew by far less than the body
    // (buffering it would take all of it; the first TLS sessions, credentials and HTTP buffers take a
    // few MiB whatever the body).
    let grew_kib = after_peak.saturating_sub(before_peak);
    eprintln!(
        "20 MiB bulk: body {bytes} bytes; proxy peak RSS {before_peak} KiB -> {after_peak} KiB \
         (+{grew_kib} KiB), RSS after {after_rss} KiB"
    );
    assert!(
        grew_kib * 1024 < bytes / 2,
        "peak grew {grew_kib} KiB for {bytes} bytes"
    );
}

/// A chunked upload (argv = port, CA, key id, MiB) with no declared payload hash, written until the
/// proxy answers; prints {"status", "sent", "body"}.
const CHUNKED: &str = r#"
import json, select, socket, ssl, sys
port, ca, key, mib = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=ca)
sock = ctx.wrap_socket(socket.create_connection(("localhost", port)), server_hostname="localhost")
auth = (f"AWS4-HMAC-SHA256 Credential={key}/20240101/us-west-2/es/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
head = (f"POST /_bulk HTTP/1.1\r\nHost: localhost:{port}\r\nX-Amz-Date: 20240101T000000Z\r\n"
        f"Authorization: {auth}\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
sock.sendall(head.encode())
chunk = b"z" * 65536
frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
sent = 0
answer = b""
def early_answer():
    # Readable is not enough: TLS 1.3 session tickets make the socket readable too. Only application
    # data (the proxy's answer) counts.
    if not select.select([sock], [], [], 0)[0]:
        return b""
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except ssl.SSLWantReadError:
        return b""
    finally:
        sock.setblocking(True)
try:
    while sent < mib * 1024 * 1024:
        sock.sendall(frame)
        sent += len(chunk)
        answer = early_answer()
        if answer:
            break
    sock.settimeout(30)
    while b"\r\n\r\n" not in answer:
        data = sock.recv(65536)
        if not data:
            break
        answer += data
except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as e:
    answer = answer or b"HTTP/1.1 000 reset"
status = int(answer.split(b" ", 2)[1]) if answer else 0
print(json.dumps({"status": status, "sent": sent, "head": answer[:200].decode("latin-1")}))
"#;

#[test]
fn a_chunked_body_over_the_cap_gets_413_without_buffering() {
    let stack = HttpStack::start(Kind::OpenSearch, "  max_request_body: 16777216\n");
    let ca = stack.ca();
    let port = stack.proxy.port().to_string();
    let (before_peak, _) = memory_kib(stack.proxy.pid());
    let report = stack.python(
        CHUNKED,
        &[&port, ca.to_str().unwrap(), &stack.alice.id, "64"],
    );
    let (after_peak, _) = memory_kib(stack.proxy.pid());
    assert_eq!(report["status"], 413, "{report}\n{}", stack.proxy.stderr());
    let sent = report["sent"].as_u64().unwrap();
    assert!(
        sent < 48 << 20,
        "the proxy answered long before the client finished: {report}"
    );
    let grew_kib = after_peak.saturating_sub(before_peak);
    eprintln!(
        "chunked over a 16 MiB cap: client sent {sent} bytes; proxy peak RSS +{grew_kib} KiB"
    );
    // Far below the 16 MiB the proxy read before refusing: spooled past 256 KiB to an unnamed file.
    assert!(
        grew_kib < 8 * 1024,
        "the proxy held the body: +{grew_kib} KiB"
    );
    // Nothing reached the database.
    let seen = stack.moto.opensearch_requests().unwrap();
    assert!(seen.is_empty(), "{seen:?}");
}
