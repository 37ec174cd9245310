//! No open relay through the HTTP proxy, through `iamwire run` to DynamoDB in the AWS emulator: a
//! request signed (by botocore, with a key iamwire issued) for another host — named in the `Host`
//! header, or as an absolute URI in the request line — never reaches that host: the proxy re-signs it
//! for the database it serves, which answers, and a listener standing in for the other host sees no
//! connection.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod e2e_run_support;
mod http_support;

use std::net::TcpListener;

use http_support::{HttpStack, Kind};

/// argv: proxy port, CA, key id, secret, the other host (`127.0.0.1:PORT`), `origin` or `absolute`.
/// Signs ListTables for `https://<other host>/` with botocore and sends it over TLS to the proxy;
/// prints {"status", "body"}.
const SEND: &str = r#"
import json, socket, ssl, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
port, ca, key, secret, other, form = sys.argv[1:7]
body = b"{}"
request = AWSRequest(method="POST", url=f"https://{other}/", data=body, headers={
    "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"})
SigV4Auth(Credentials(key, secret), "dynamodb", "us-west-2").add_auth(request)
target = f"https://{other}/" if form == "absolute" else "/"
head = f"POST {target} HTTP/1.1\r\nHost: {other}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
ctx = ssl.create_default_context(cafile=ca)
sock = ctx.wrap_socket(socket.create_connection(("localhost", int(port))), server_hostname="localhost")
sock.settimeout(30)
sock.sendall(head.encode() + body)
answer = b""
while True:
    data = sock.recv(65536)
    if not data:
        break
    answer += data
status = int(answer.split(b" ", 2)[1]) if answer else 0
print(json.dumps({"status": status, "body": answer.split(b"\r\n\r\n", 1)[-1].decode("latin-1")}))
"#;

#[test]
fn a_request_for_another_host_never_reaches_it() {
    let stack = HttpStack::start(Kind::DynamoDb, "");
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let other_host = other.local_addr().unwrap().to_string();
    let port = stack.proxy.port().to_string();
    let ca = stack.ca().display().to_string();
    for form in ["origin", "absolute"] {
        let answer = stack.python(
            SEND,
            &[
                &port,
                &ca,
                &stack.alice.id,
                &stack.alice.secret,
                &other_host,
                form,
            ],
        );
        let status = answer["status"].as_u64().unwrap();
        let body = answer["body"].as_str().unwrap();
        // The database the proxy serves answered (the signature is good: it is re-signed for it).
        assert!(
            status == 200 && body.contains("TableNames"),
            "{form}: {answer}"
        );
        eprintln!("{form}-form request for {other_host}: {status}");
        assert!(
            other.accept().is_err(),
            "{form}: the proxy connected to the host the client named"
        );
    }
}
