//! Attacks on the HTTP listener (DynamoDB in moto over HTTPS, TLS from the first byte; alice is
//! identified by her certificate and names the role in `X-Amz-Security-Token`), on raw sockets: each
//! must end in the right HTTP status (`400`, `413`, `431`, ...) or a close, within the handshake
//! timeout (give or take the rig's generous bound). Requests that try to change who the database sees —
//! their own `Authorization`, `X-Amz-Date`, `X-Amz-Security-Token`, presigned-URL query parameters —
//! are checked on moto's side: every request it received was signed by the role's session, never
//! with anything the client sent.

use std::ffi::OsString;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{
    BOUND, Closed, DDB_ROLE, MAX_BODY, Rig, idle, send_then_closed, slowloris, tcp, truncated,
};

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// The access key id the hostile client signs with: the proxy's own AWS user's (a real key moto
/// knows), so a forwarded client signature would be one moto could check.
const CLIENT_SIGNATURE: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
/// The `X-Amz-Date` the hostile client sends (a date no signature of the proxy's carries).
const CLIENT_DATE: &str = "19991231T235959Z";
/// The presigned URL's signature and token.
const QUERY_SIGNATURE: &str = "feedface00feedface00feedface00feedface00feedface00feedface001234";
const QUERY_TOKEN: &str = "hostile-client-query-token";
/// The key id the steady boto3 client signs with (ignored: alice is identified by her certificate).
const STEADY_KEY_ID: &str = "AKIAIOSFODNN7STEADY0";

/// boto3 through the proxy with alice's certificate, as [`DDB_ROLE`]: `once()` puts an item and
/// reads it back (consistent read), for [`python_loop`](super::steady::python_loop).
const BOTO3: &str = r#"
import boto3
from botocore.config import Config
port, ca, crt, key, role, region = ARGS
ddb = boto3.client("dynamodb", endpoint_url=f"https://localhost:{port}", verify=ca, region_name=region,
    aws_access_key_id="AKIAIOSFODNN7STEADY0", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    aws_session_token=role,
    config=Config(client_cert=(crt, key), retries={"max_attempts": 1, "mode": "standard"}))
try:
    ddb.create_table(TableName="steady", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
except ddb.exceptions.ResourceInUseException:
    pass
PK, N = f"pid-{os.getpid()}", [0]
def once():
    N[0] += 1
    ddb.put_item(TableName="steady", Item={"pk": {"S": PK}, "n": {"N": str(N[0])}})
    got = ddb.get_item(TableName="steady", Key={"pk": {"S": PK}}, ConsistentRead=True)["Item"]["n"]["N"]
    if got != str(N[0]):
        raise RuntimeError(f"read {got}, wrote {N[0]}")
"#;

/// boto3 through the proxy: its script and arguments.
pub(crate) fn boto3(rig: &Rig) -> (&'static str, Vec<OsString>) {
    let args = vec![
        rig.ports[5].to_string().into(),
        rig.file("ca.crt").into(),
        rig.file("alice.crt").into(),
        rig.file("alice.key").into(),
        DDB_ROLE.into(),
        crate::e2e_run_support::REGION.into(),
    ];
    (BOTO3, args)
}

/// TLS with alice's certificate, nothing said yet.
async fn in_tls(rig: &Rig) -> Tls {
    rig.tls(tcp(rig.ports[5]).await).await.unwrap()
}

/// A ListTables request head (and its `{}` body) with `extra` header lines and `target` as the
/// request target.
fn list_tables(target: &str, role: &str, extra: &str) -> Vec<u8> {
    dynamodb(target, "ListTables", role, extra, "{}")
}

/// A DynamoDB `operation` request with a JSON `body`, `extra` header lines and `target` as the request
/// target, unsigned: the proxy identifies alice by her certificate and signs as `role`.
fn dynamodb(target: &str, operation: &str, role: &str, extra: &str, body: &str) -> Vec<u8> {
    let length = body.len();
    format!(
        "POST {target} HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: DynamoDB_20120810.{operation}\r\n\
         Content-Type: application/x-amz-json-1.0\r\nX-Amz-Security-Token: {role}\r\n{extra}\
         Content-Length: {length}\r\n\r\n{body}"
    )
    .into_bytes()
}

/// ListTables as [`DDB_ROLE`] through the listener on `port`: the answer's status.
pub(crate) async fn list_tables_status(rig: &Rig, port: u16) -> u16 {
    let mut s = rig.tls(tcp(port).await).await.unwrap();
    let since = Instant::now();
    s.write_all(&list_tables("/", DDB_ROLE, "")).await.unwrap();
    status(&response(&mut s, since, "ListTables").await.bytes)
}

/// The status of the first response in `bytes` (0 if there is none).
fn status(bytes: &[u8]) -> u16 {
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    line.strip_prefix("HTTP/1.1 ")
        .or_else(|| line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// One response (head and, by `Content-Length` or chunks, body) read from `s`; the connection may
/// stay open.
async fn response<S: AsyncRead + Unpin>(s: &mut S, since: Instant, what: &str) -> Closed {
    try_response(s, since)
        .await
        .unwrap_or_else(|e| panic!("http {what}: {e}"))
}

/// [`response`], or what it had when [`BOUND`] passed.
async fn try_response<S: AsyncRead + Unpin>(s: &mut S, since: Instant) -> Result<Closed, String> {
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            let done = match length {
                Some(n) => bytes.len() >= end + 4 + n,
                None if head.contains("transfer-encoding: chunked") => {
                    bytes.ends_with(b"\r\n0\r\n\r\n") || bytes[end + 4..].starts_with(b"0\r\n\r\n")
                }
                None => false,
            };
            if done {
                break;
            }
        }
        let left = BOUND.saturating_sub(since.elapsed());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => {
                return Err(format!(
                    "no whole response within {BOUND:?}: {:?}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
        }
    }
    Ok(Closed {
        bytes,
        after: since.elapsed(),
    })
}

/// Send `bytes` on a fresh TLS connection and read one response; it must have `want` status.
async fn expect_status(rig: &Rig, bytes: &[u8], want: u16, what: &str) -> Closed {
    let mut s = in_tls(rig).await;
    let since = Instant::now();
    let _ = s.write_all(bytes).await;
    let _ = s.flush().await;
    let got = response(&mut s, since, what).await;
    assert_eq!(
        status(&got.bytes),
        want,
        "http {what}: {:?}",
        String::from_utf8_lossy(&got.bytes[..got.bytes.len().min(600)])
    );
    super::assert_no_secret(rig, &got.bytes, what);
    super::report("http", what, &format!("`{want}`"), &got);
    got
}

/// Send `bytes` on a fresh TLS connection; the proxy must answer one of `want` and then close.
async fn expect_status_then_close(rig: &Rig, bytes: &[u8], want: &[u16], what: &str) -> Closed {
    let mut s = in_tls(rig).await;
    let closed = send_then_closed(&mut s, bytes, what).await;
    let got = status(&closed.bytes);
    assert!(
        want.contains(&got),
        "http {what}: {:?}",
        String::from_utf8_lossy(&closed.bytes[..closed.bytes.len().min(600)])
    );
    super::assert_no_secret(rig, &closed.bytes, what);
    super::report("http", what, &format!("`{got}`, closed"), &closed);
    closed
}

/// Every attack, one after another.
pub(crate) async fn attacks(rig: &Rig) {
    let port = rig.ports[5];

    // Garbage instead of a ClientHello; plaintext HTTP where TLS is required.
    let closed = send_then_closed(&mut tcp(port).await, &[0x42; 512], "garbage").await;
    super::report(
        "http",
        "garbage instead of a ClientHello",
        "closed",
        &closed,
    );
    let plain = list_tables("/", DDB_ROLE, "");
    let closed = send_then_closed(&mut tcp(port).await, &plain, "plaintext").await;
    assert!(closed.bytes.is_empty() || !closed.bytes.starts_with(b"HTTP/1.1 200"));
    super::report("http", "plaintext HTTP request", "closed", &closed);

    // Heads too large: one header line, the header count, the request line; a broken request line;
    // an unknown method.
    let long_line = format!("X-Big: {}\r\n", "a".repeat(100 * 1024));
    expect_status_then_close(
        rig,
        &list_tables("/", DDB_ROLE, &long_line),
        &[431],
        "one header line of 100 KiB",
    )
    .await;
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    expect_status_then_close(
        rig,
        &list_tables("/", DDB_ROLE, &many),
        &[431],
        "200 headers",
    )
    .await;
    let long_target = format!("/?{}", "a".repeat(100 * 1024));
    let closed = expect_status_then_close(
        rig,
        &list_tables(&long_target, DDB_ROLE, ""),
        &[414, 431],
        "request line of 100 KiB",
    )
    .await;
    drop(closed);
    expect_status_then_close(
        rig,
        b"NOT A REQUEST LINE AT ALL\r\n\r\n",
        &[400],
        "broken request line",
    )
    .await;
    expect_status_then_close(
        rig,
        b"POST / HTTP/9.9\r\nHost: localhost\r\n\r\n",
        &[400],
        "unknown HTTP version",
    )
    .await;
    let unknown_method = String::from_utf8(list_tables("/", DDB_ROLE, ""))
        .unwrap()
        .replacen("POST", "BREW", 1);
    expect_status(rig, unknown_method.as_bytes(), 501, "unknown method BREW").await;

    // Lengths: over the cap, over u64, negative, repeated with different values; a chunk size that
    // overflows; a body larger than the cap without a length.
    let huge = list_tables("/", DDB_ROLE, "")
        .replace_header("Content-Length: 2", "Content-Length: 1000000000000000");
    expect_status(rig, &huge, 413, "Content-Length 10^15").await;
    for (what, value) in [
        (
            "Content-Length over u64",
            "Content-Length: 99999999999999999999999",
        ),
        ("Content-Length negative", "Content-Length: -1"),
        (
            "Content-Length twice, different values",
            "Content-Length: 2\r\nContent-Length: 7",
        ),
    ] {
        let bytes = list_tables("/", DDB_ROLE, "").replace_header("Content-Length: 2", value);
        expect_status_then_close(rig, &bytes, &[400], what).await;
    }
    let chunked = |body: &str| {
        format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n\
             Content-Type: application/x-amz-json-1.0\r\nX-Amz-Security-Token: {DDB_ROLE}\r\n\
             Transfer-Encoding: chunked\r\n\r\n{body}"
        )
    };
    expect_status_then_close(
        rig,
        chunked("ffffffffffffffffffffff\r\nabc\r\n").as_bytes(),
        &[400],
        "chunk size overflowing u64",
    )
    .await;
    over_the_cap(rig, &chunked("")).await;

    // Request smuggling: both Content-Length and Transfer-Encoding, a second request hidden after the
    // chunked body (inside what Content-Length would count). The head is read by Transfer-Encoding
    // alone, Content-Length dropped, and the connection closed after the answer (RFC 9112 §6.1, as
    // hyper does): the hidden request is never served, and the database gets the proxy's own framing.
    let hidden = String::from_utf8(list_tables("/", "iamwire-hostile", "")).unwrap();
    let both = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n\
         Content-Type: application/x-amz-json-1.0\r\nX-Amz-Security-Token: {DDB_ROLE}\r\n\
         Content-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n{hidden}",
        hidden.len() + 12
    );
    let closed = expect_status_then_close(
        rig,
        both.as_bytes(),
        &[200],
        "Content-Length and Transfer-Encoding, a request hidden after the body",
    )
    .await;
    let answers = closed
        .bytes
        .windows(9)
        .filter(|w| w.starts_with(b"HTTP/1.1 "))
        .count();
    assert_eq!(answers, 1, "{:?}", String::from_utf8_lossy(&closed.bytes));

    // Truncated: half a head, then end of file; a ClientHello cut short.
    truncated(
        in_tls(rig).await,
        b"POST / HTTP/1.1\r\nHost: loc",
        "http",
        "truncated head, then EOF",
    )
    .await;
    truncated(
        tcp(port).await,
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00],
        "http",
        "truncated ClientHello, then EOF",
    )
    .await;

    identity_changes(rig).await;

    // Slowloris and idle clients: the handshake timeout ends them.
    let started = Instant::now();
    let head = list_tables("/", DDB_ROLE, "");
    let closed = slowloris(in_tls(rig).await, &head, started, "http slowloris").await;
    super::report(
        "http",
        "slowloris head in TLS (a byte a second)",
        &describe(&closed),
        &closed,
    );
    let started = Instant::now();
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let closed = slowloris(
        in_tls(rig).await,
        preface,
        started,
        "http/2 preface slowloris",
    )
    .await;
    super::report(
        "http",
        "slowloris HTTP/2 preface (a byte a second)",
        &describe(&closed),
        &closed,
    );
    let started = Instant::now();
    let closed = slowloris(
        tcp(port).await,
        &[0x16, 0x03, 0x01],
        started,
        "tls slowloris",
    )
    .await;
    super::report(
        "http",
        "slowloris ClientHello (a byte a second)",
        "closed",
        &closed,
    );
    let started = Instant::now();
    let closed = idle(tcp(port).await, started, "idle").await;
    super::report("http", "idle, never sends a byte", "closed", &closed);
    let started = Instant::now();
    let closed = idle(in_tls(rig).await, started, "idle in TLS").await;
    super::report(
        "http",
        "TLS done, never sends a request",
        &describe(&closed),
        &closed,
    );
    let mut s = in_tls(rig).await;
    s.write_all(preface).await.unwrap();
    let started = Instant::now();
    let closed = idle(s, started, "idle after the HTTP/2 preface").await;
    super::report("http", "HTTP/2 preface, then idle", "closed", &closed);
}

/// `closed`'s status, or that the proxy closed without one.
fn describe(closed: &Closed) -> String {
    match status(&closed.bytes) {
        0 => "closed".into(),
        code => format!("`{code}`, closed"),
    }
}

trait ReplaceHeader {
    fn replace_header(&self, from: &str, to: &str) -> Vec<u8>;
}

impl ReplaceHeader for Vec<u8> {
    fn replace_header(&self, from: &str, to: &str) -> Vec<u8> {
        String::from_utf8_lossy(self)
            .replacen(from, to, 1)
            .into_bytes()
    }
}

/// A chunked body growing past the cap, 64 KiB a chunk: `413` once it crosses it (the proxy may
/// close before the client has sent it all).
async fn over_the_cap(rig: &Rig, head: &str) {
    let mut s = in_tls(rig).await;
    let since = Instant::now();
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("10000\r\n{}\r\n", "a".repeat(0x10000));
    let mut sent = 0u64;
    while sent < 2 * MAX_BODY {
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
        sent += 0x10000;
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let _ = s.flush().await;
    let got = response(&mut s, since, "body over the cap").await;
    assert_eq!(
        status(&got.bytes),
        413,
        "{:?}",
        String::from_utf8_lossy(&got.bytes)
    );
    super::report("http", "chunked body of 2 MiB (cap 1 MiB)", "`413`", &got);
}

/// The client's own signature, date, token and presigned-URL parameters never reach the database;
/// a role alice may not be is refused; one connection goes on as the role after a refused change.
async fn identity_changes(rig: &Rig) {
    let key_id = &rig.cross.proxy.access_key_id;
    let authorization = format!(
        "Authorization: AWS4-HMAC-SHA256 Credential={key_id}/19991231/us-west-2/dynamodb/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-target, Signature={CLIENT_SIGNATURE}\r\n\
         X-Amz-Date: {CLIENT_DATE}\r\n"
    );
    let answer = expect_status(
        rig,
        &list_tables("/", DDB_ROLE, &authorization),
        200,
        "own Authorization (a real AWS key's) and X-Amz-Date",
    )
    .await;
    assert!(
        String::from_utf8_lossy(&answer.bytes).contains("TableNames"),
        "{answer:?}"
    );
    let presigned = format!(
        "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={key_id}%2F19991231%2Fus-west-2%2Fdynamodb%2Faws4_request\
         &X-Amz-Date={CLIENT_DATE}&X-Amz-Expires=300&X-Amz-SignedHeaders=host\
         &X-Amz-Security-Token={QUERY_TOKEN}&X-Amz-Signature={QUERY_SIGNATURE}"
    );
    expect_status(
        rig,
        &list_tables(&presigned, DDB_ROLE, ""),
        400,
        "presigned-URL query parameters",
    )
    .await;
    let lower = "/?x-amz-signature=".to_owned() + QUERY_SIGNATURE;
    expect_status(
        rig,
        &list_tables(&lower, DDB_ROLE, ""),
        400,
        "presigned signature, lower case",
    )
    .await;
    expect_status(
        rig,
        &list_tables("/", "iamwire-hostile", ""),
        403,
        "X-Amz-Security-Token naming a role alice may not be",
    )
    .await;
    let repeated = "X-Amz-Security-Token: iamwire-hostile\r\n";
    expect_status(
        rig,
        &list_tables("/", DDB_ROLE, repeated),
        400,
        "X-Amz-Security-Token twice",
    )
    .await;

    // One keep-alive connection: the role, another role (refused), the role again.
    let mut s = in_tls(rig).await;
    let since = Instant::now();
    let mut statuses = Vec::new();
    for role in [DDB_ROLE, "iamwire-hostile", DDB_ROLE] {
        s.write_all(&list_tables("/", role, "")).await.unwrap();
        statuses.push(status(
            &response(&mut s, since, "keep-alive role change")
                .await
                .bytes,
        ));
    }
    assert_eq!(statuses, [200, 403, 200]);
    let closed = Closed {
        bytes: Vec::new(),
        after: since.elapsed(),
    };
    super::report(
        "http",
        "another role mid-connection (keep-alive)",
        "`403`, the connection goes on as the role",
        &closed,
    );
}

/// What moto saw, after every attack and the steady loop: each DynamoDB request signed by the role's
/// session (an `ASIA` key with its session token), none with anything a client sent (its signature,
/// key id, date, token, presigned-URL parameters).
pub(crate) fn upstream_saw_only_the_role(rig: &Rig) {
    let key_id = &rig.cross.proxy.access_key_id;
    let requests = rig.moto.requests().expect("moto's recording");
    let dynamo: Vec<_> = requests
        .iter()
        .filter(|r| {
            r.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("x-amz-target") && v.starts_with("DynamoDB"))
        })
        .collect();
    assert!(dynamo.len() > 100, "{} requests", dynamo.len());
    for r in &dynamo {
        let header = |name: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        let all = format!("{} {:?}", r.url, r.headers);
        for client in [
            CLIENT_SIGNATURE,
            CLIENT_DATE,
            QUERY_SIGNATURE,
            QUERY_TOKEN,
            STEADY_KEY_ID,
            key_id.as_str(),
        ] {
            assert!(!all.contains(client), "{client} reached moto: {all}");
        }
        assert!(
            header("authorization").starts_with("AWS4-HMAC-SHA256 Credential=ASIA"),
            "{all}"
        );
        let token = header("x-amz-security-token");
        assert!(token.len() > 32 && token != DDB_ROLE, "{all}");
        assert!(!r.url.to_ascii_lowercase().contains("x-amz-"), "{all}");
    }
    eprintln!(
        "http: moto saw {} DynamoDB requests, each signed by the role's session only",
        dynamo.len()
    );
}

/// The DynamoDB table the soak's sessions update, one item per session.
const SOAK_TABLE: &str = "soak";

/// A keep-alive connection through the proxy as [`DDB_ROLE`], unsigned requests on a raw socket (the
/// soak holds hundreds; boto3, a process each, is the steady session's client): each round has
/// DynamoDB compute `n + 1` into this session's item (`UpdateItem`, `SET n = :n + :one`), every
/// request re-signed by the proxy and the signature checked by moto.
pub(crate) struct HttpSession {
    s: Tls,
    /// This session's item.
    key: String,
}

impl HttpSession {
    /// Connect (TLS with alice's certificate); `key` names this session's item.
    pub(crate) async fn open(rig: &Rig, key: String) -> Result<Self, String> {
        let s = rig.connect(rig.ports[5]).await?;
        Ok(Self { s, key })
    }

    /// Send `operation` with `body`: the response's status and body.
    async fn call(&mut self, operation: &str, body: &str) -> Result<(u16, String), String> {
        let request = dynamodb("/", operation, DDB_ROLE, "", body);
        self.s
            .write_all(&request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let got = try_response(&mut self.s, Instant::now()).await?;
        let text = String::from_utf8_lossy(&got.bytes);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        Ok((status(&got.bytes), body.to_owned()))
    }

    /// Create the soak's table (already there is fine).
    pub(crate) async fn create_table(&mut self) -> Result<(), String> {
        let create = serde_json::json!({
            "TableName": SOAK_TABLE,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        });
        match self.call("CreateTable", &create.to_string()).await? {
            (200, _) => Ok(()),
            (400, body) if body.contains("ResourceInUseException") => Ok(()),
            (status, body) => Err(format!("CreateTable: {status} {body}")),
        }
    }

    /// Have DynamoDB set this session's `n` to `n + 1` and answer the new value.
    pub(crate) async fn round(&mut self, n: i32) -> Result<(), String> {
        let update = serde_json::json!({
            "TableName": SOAK_TABLE,
            "Key": {"pk": {"S": self.key}},
            "UpdateExpression": "SET n = :n + :one",
            "ExpressionAttributeValues": {":n": {"N": n.to_string()}, ":one": {"N": "1"}},
            "ReturnValues": "UPDATED_NEW",
        });
        let (status, body) = self.call("UpdateItem", &update.to_string()).await?;
        let answer: Option<serde_json::Value> = serde_json::from_str(&body).ok();
        let got = answer
            .as_ref()
            .and_then(|v| v["Attributes"]["n"]["N"].as_str());
        let want = (i64::from(n) + 1).to_string();
        if status == 200 && got == Some(want.as_str()) {
            Ok(())
        } else {
            Err(format!("UpdateItem {n} + 1: {status} {body}"))
        }
    }

    /// Close the connection (TLS close_notify, then end of file).
    pub(crate) async fn close(mut self) {
        let _ = self.s.shutdown().await;
    }
}
