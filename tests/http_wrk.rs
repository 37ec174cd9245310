//! wrk through `iamwire run` for 10 seconds: an OpenSearch client signing with a proxy-issued key, the
//! proxy verifying each request and re-signing it as the database-user role for the stand-in upstream
//! (which checks every signature with botocore). Zero errors and zero non-2xx answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;
mod http_support;

use std::process::Command;

use http_support::{HttpStack, Kind};

/// Headers for `GET /` signed with the key (argv: port, key id, secret), one `Name: value` per line.
const SIGN: &str = r#"
import sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
port, key, secret = sys.argv[1], sys.argv[2], sys.argv[3]
request = AWSRequest(method="GET", url=f"https://localhost:{port}/", headers={"x-amz-content-sha256":
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})
SigV4Auth(Credentials(key, secret), "es", "us-west-2").add_auth(request)
for name in ("Authorization", "X-Amz-Date", "x-amz-content-sha256"):
    print(f"{name}: {request.headers[name]}")
"#;

#[test]
fn wrk_for_ten_seconds_sees_no_error() {
    let stack = HttpStack::start(Kind::OpenSearch, "");
    let port = stack.proxy.port().to_string();
    let out = Command::new(iamwire_testkit::python())
        .args(["-c", SIGN, &port, &stack.alice.id, &stack.alice.secret])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let headers = String::from_utf8(out.stdout).unwrap();
    let mut wrk = Command::new("wrk");
    wrk.args(["-t", "2", "-c", "8", "-d", "10s", "--latency"]);
    for line in headers.lines() {
        wrk.args(["-H", line]);
    }
    let out = wrk
        .arg(format!("https://localhost:{port}/"))
        .output()
        .expect("run wrk");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{report}");
    assert!(out.status.success(), "{report}");
    assert!(!report.contains("Non-2xx"), "{report}");
    assert!(!report.contains("Socket errors"), "{report}");
    let requests: u64 = report
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no request count in {report}"));
    assert!(requests > 100, "{report}");
    // Each one reached the stand-in, signed by the user role.
    let seen = stack.moto.opensearch_requests().unwrap();
    assert!(seen.len() as u64 >= requests, "{} < {requests}", seen.len());
}
