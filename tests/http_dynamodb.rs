//! DynamoDB through `iamwire run`: boto3 and the AWS CLI (from the rig venv) with their endpoint at the
//! proxy and keys from `iamwire keys`, against moto in signature-checking mode behind TLS. Moto accepts
//! only requests signed by credentials it issued, and authorizes each against the policy of the role
//! that signed: the user role may use one table, so a request for another table failing proves that the
//! proxy signs as that role.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod e2e_run_support;
mod http_support;

use std::process::Command;

use http_support::{HttpStack, Kind, REGION, TABLE, USER_ROLE, both};

/// boto3 against the proxy: argv = endpoint, CA, key id, secret. Prints a JSON report.
const BOTO3: &str = r#"
import json, sys
import boto3, botocore.exceptions
from botocore.config import Config
endpoint, ca, key, secret = sys.argv[1:5]
session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-west-2")
cfg = Config(retries={"max_attempts": 1, "mode": "standard"})
ddb = session.client("dynamodb", endpoint_url=endpoint, verify=ca, config=cfg)
streams = session.client("dynamodbstreams", endpoint_url=endpoint, verify=ca, config=cfg)
out = {}
def code(call):
    try:
        call()
        return "ok"
    except botocore.exceptions.ClientError as e:
        return {"status": e.response["ResponseMetadata"]["HTTPStatusCode"], "message": e.response["Error"]["Message"]}
table = ddb.create_table(
    TableName="orders",
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    BillingMode="PAY_PER_REQUEST",
    StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
)
out["created"] = table["TableDescription"]["TableName"]
ddb.put_item(TableName="orders", Item={"pk": {"S": "customer#1"}, "sk": {"S": "order#1"}, "total": {"N": "42"}})
out["get"] = ddb.get_item(TableName="orders", Key={"pk": {"S": "customer#1"}, "sk": {"S": "order#1"}})["Item"]["total"]["N"]
# A 1 MiB BatchWriteItem: 25 items of ~41 KiB.
blob = "x" * (41 * 1024)
items = [{"PutRequest": {"Item": {"pk": {"S": "customer#2"}, "sk": {"S": f"order#{i:02d}"}, "blob": {"S": blob}}}} for i in range(25)]
body_size = len(json.dumps({"RequestItems": {"orders": items}}))
answer = ddb.batch_write_item(RequestItems={"orders": items})
out["batch_bytes"] = body_size
out["batch_unprocessed"] = len(answer.get("UnprocessedItems", {}))
# A query reads at most 1 MB a page: count over the pages.
pages = ddb.get_paginator("query").paginate(TableName="orders", KeyConditionExpression="pk = :p",
    ExpressionAttributeValues={":p": {"S": "customer#2"}}, Select="COUNT")
out["query_count"] = sum(page["Count"] for page in pages)
listed = streams.list_streams(TableName="orders")["Streams"]
out["streams"] = len(listed)
out["stream_table"] = listed[0]["TableName"] if listed else None
if listed:
    described = streams.describe_stream(StreamArn=listed[0]["StreamArn"])["StreamDescription"]
    out["stream_status"] = described["StreamStatus"]
out["other_table"] = code(lambda: ddb.create_table(
    TableName="payroll",
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    BillingMode="PAY_PER_REQUEST",
))
print(json.dumps(out))
"#;

/// One call with boto3: argv = endpoint, CA, key id, secret. Prints {"code", "message", "status"}.
const BOTO3_ONE_CALL: &str = r#"
import json, sys
import boto3, botocore.exceptions
from botocore.config import Config
endpoint, ca, key, secret = sys.argv[1:5]
ddb = boto3.client("dynamodb", endpoint_url=endpoint, verify=ca, region_name="us-west-2",
    aws_access_key_id=key, aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1, "mode": "standard"}))
try:
    ddb.list_tables()
    print(json.dumps({"code": "ok"}))
except botocore.exceptions.ClientError as e:
    print(json.dumps({"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"],
        "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}))
"#;

fn dynamodb_requests(stack: &HttpStack) -> usize {
    stack
        .moto
        .requests()
        .expect("recording")
        .iter()
        .filter(|r| {
            r.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("x-amz-target") && v.starts_with("DynamoDB"))
        })
        .count()
}

#[test]
fn boto3_and_the_aws_cli_work_as_the_user_role() {
    let stack = HttpStack::start(Kind::DynamoDb, "");
    let ca = stack.ca();
    let (endpoint, ca) = (stack.endpoint(), ca.to_str().unwrap().to_owned());
    let report = stack.python(
        BOTO3,
        &[&endpoint, &ca, &stack.alice.id, &stack.alice.secret],
    );
    assert_eq!(report["created"], TABLE);
    assert_eq!(report["get"], "42");
    assert!(
        report["batch_bytes"].as_u64().unwrap() >= 1 << 20,
        "{report}"
    );
    assert_eq!(report["batch_unprocessed"], 0);
    assert_eq!(report["query_count"], 25);
    assert_eq!(report["streams"], 1, "{report}");
    assert_eq!(report["stream_table"], TABLE);
    assert_eq!(report["stream_status"], "ENABLED");
    // The role's policy names one table: the emulator refuses the other, signed by that role.
    // (moto answers in its XML error shape, so boto3 sees the status and the raw message.)
    assert_eq!(report["other_table"]["status"], 403, "{report}");
    let refusal = report["other_table"]["message"].as_str().unwrap();
    assert!(
        refusal.contains(&format!("assumed-role/{USER_ROLE}/alice"))
            && refusal.contains("dynamodb:CreateTable"),
        "{refusal}"
    );

    // The AWS CLI, unchanged but for --endpoint-url.
    let venv_bin = iamwire_testkit::python().parent().unwrap().to_path_buf();
    let out = Command::new(iamwire_testkit::python())
        .arg(venv_bin.join("aws"))
        .args([
            "dynamodb",
            "get-item",
            "--endpoint-url",
            &endpoint,
            "--ca-bundle",
            &ca,
        ])
        .args(["--table-name", TABLE, "--key"])
        .arg(r#"{"pk": {"S": "customer#1"}, "sk": {"S": "order#1"}}"#)
        .env_clear()
        .env("HOME", stack.file("home"))
        .env("AWS_ACCESS_KEY_ID", &stack.alice.id)
        .env("AWS_SECRET_ACCESS_KEY", &stack.alice.secret)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("aws cli");
    assert!(out.status.success(), "{}", both(&out));
    let item: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(item["Item"]["total"]["N"], "42");

    // Every DynamoDB request moto saw was signed by the user role's session, named after the identity.
    let requests = stack.moto.requests().unwrap();
    let assume: Vec<_> = requests
        .iter()
        .filter(|r| r.action().as_deref() == Some("AssumeRole"))
        .collect();
    let user_hop = assume
        .iter()
        .find(|r| {
            r.param("RoleArn")
                .is_some_and(|a| a.ends_with(&format!("role/{USER_ROLE}")))
        })
        .expect("AssumeRole of the user role");
    assert_eq!(user_hop.param("RoleSessionName").as_deref(), Some("alice"));
    let first_hop = assume
        .iter()
        .find(|r| r.param("ExternalId").is_some())
        .expect("AssumeRole of the database role, with the external ID");
    let tags: Vec<(String, String)> = first_hop
        .params()
        .into_iter()
        .filter(|(k, _)| k.starts_with("Tags.member."))
        .collect();
    for (key, value) in [("env", "e2e"), ("team", "orders")] {
        let key_param = tags
            .iter()
            .find(|(_, v)| v == key)
            .unwrap_or_else(|| panic!("session tag {key} in {tags:?}"));
        let value_param = key_param.0.replace(".Key", ".Value");
        assert!(
            tags.iter().any(|(k, v)| *k == value_param && v == value),
            "{tags:?}"
        );
    }
    // Credentials are cached per chain: one AssumeRole per hop for all those requests.
    assert_eq!(assume.len(), 2, "{assume:?}");
    let signed_by_role = requests
        .iter()
        .filter(|r| {
            r.headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("x-amz-target"))
        })
        .all(|r| {
            r.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("x-amz-security-token") && !v.is_empty())
        });
    assert!(
        signed_by_role,
        "every data-plane request carries the role session's token"
    );
}

#[test]
fn wrong_secrets_and_disallowed_roles_are_refused_before_upstream() {
    let stack = HttpStack::start(Kind::DynamoDb, "");
    let ca = stack.ca();
    let (endpoint, ca) = (stack.endpoint(), ca.to_str().unwrap().to_owned());
    let before = dynamodb_requests(&stack);
    let wrong = stack.python(
        BOTO3_ONE_CALL,
        &[
            &endpoint,
            &ca,
            &stack.alice.id,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ],
    );
    assert_eq!(wrong["code"], "InvalidSignatureException", "{wrong}");
    assert_eq!(wrong["status"], 403);
    let unknown = stack.python(
        BOTO3_ONE_CALL,
        &[&endpoint, &ca, "AKIWAAAAAAAAAAAAAAAA", &stack.alice.secret],
    );
    assert_eq!(unknown["code"], "UnrecognizedClientException", "{unknown}");
    let admin = stack.python(
        BOTO3_ONE_CALL,
        &[
            &endpoint,
            &ca,
            &stack.alice_admin.id,
            &stack.alice_admin.secret,
        ],
    );
    assert_eq!(admin["code"], "AccessDeniedException", "{admin}");
    assert_eq!(admin["status"], 403);
    assert!(
        admin["message"].as_str().unwrap().contains("\"admin\""),
        "{admin}"
    );
    assert_eq!(
        dynamodb_requests(&stack),
        before,
        "nothing reached the database"
    );
    // The right key still works, and no secret ever reached the log.
    let ok = stack.python(
        BOTO3_ONE_CALL,
        &[&endpoint, &ca, &stack.alice.id, &stack.alice.secret],
    );
    assert_eq!(ok["code"], "ok", "{ok}");
    let log = stack.proxy.stderr();
    assert!(!log.contains(&stack.alice.secret) && !log.contains(&stack.alice_admin.secret));
    assert!(!log.contains(http_support::EXTERNAL_ID), "{log}");
}

/// A DynamoDB created with `iamwire db create` is served on its `catalog.listen` port, signed as the
/// user role; one whose endpoint is not what its resource claims (a host name of another account) is
/// refused with `AccessDeniedException` by the endpoint guard before any credential of its role is
/// fetched, and the endpoint is never contacted.
#[test]
fn a_created_dynamodb_is_served_behind_the_endpoint_guard() {
    use e2e_run_support::{CATALOG_RANGE, admin, catalog_ports};
    use http_support::{EXTERNAL_ID, OPERATOR};
    use iamwire_testkit::moto::DATABASE_ACCOUNT;

    let mut stack = HttpStack::start(Kind::DynamoDb, "");
    let first = catalog_ports();
    stack.restart_with(|text| {
        let role = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("assume_role_arn: "))
            .expect("the static database's role")
            .to_owned();
        let selector = format!(
            "db_service:\n  resources:\n  - labels: {{env: dyn}}\n    aws:\n      assume_role_arn: {role}\n      external_id: {EXTERNAL_ID}\n"
        );
        format!(
            "{}  admin:\n    listen: 127.0.0.1:0\n    identities: [{OPERATOR}]\ncatalog:\n  listen: 127.0.0.1:{first}-{}\n  unknown_hosts: loopback\n",
            text.replacen("db_service:\n", &selector, 1),
            first + CATALOG_RANGE - 1,
        )
    });
    let ca = stack.ca().to_str().unwrap().to_owned();
    let create = |name: &str, uri: &str| {
        let doc = stack.file(&format!("{name}.yaml"));
        std::fs::write(
            &doc,
            format!(
                "kind: db\nversion: v3\nmetadata:\n  name: {name}\n  labels: {{env: dyn}}\nspec:\n  protocol: dynamodb\n  uri: \"{uri}\"\n  tls: {{ca_cert_file: \"{ca}\"}}\n  aws:\n    region: {REGION}\n    account_id: \"{DATABASE_ACCOUNT}\"\n"
            ),
        )
        .unwrap();
        let out = admin::cli(
            &stack.proxy,
            stack.dir(),
            OPERATOR,
            &["db", "create", doc.to_str().unwrap()],
        );
        assert!(out.status.success(), "{}", both(&out));
        let addr = stack.proxy.wait_listen(name);
        addr.rsplit(':').next().unwrap().parse::<u16>().unwrap()
    };
    let call = |port: u16| {
        stack.python(
            BOTO3_ONE_CALL,
            &[
                &format!("https://localhost:{port}"),
                &ca,
                &stack.alice.id,
                &stack.alice.secret,
            ],
        )
    };

    let served = create("dyn-orders", &stack.moto.tls_endpoint().unwrap());
    assert!((first..first + CATALOG_RANGE).contains(&served), "{served}");
    let before = dynamodb_requests(&stack);
    let answer = call(served);
    assert_eq!(answer["code"], "ok", "{answer}\n{}", stack.proxy.stderr());
    assert_eq!(dynamodb_requests(&stack), before + 1);

    // An account-based endpoint of another account than the resource's: the guard refuses it, naming
    // the claim; nothing reaches any DynamoDB (no request leaves for the endpoint: there is no network).
    let elsewhere = create(
        "dyn-elsewhere",
        "https://111111111111.ddb.us-west-2.amazonaws.com",
    );
    let before = dynamodb_requests(&stack);
    let answer = call(elsewhere);
    assert_eq!(answer["code"], "AccessDeniedException", "{answer}");
    assert_eq!(answer["status"], 403, "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("dyn-elsewhere"), "{message}");
    assert!(!message.contains(EXTERNAL_ID), "{message}");
    assert_eq!(dynamodb_requests(&stack), before);
}

/// boto3 as alice, by her key (`key` mode: argv = endpoint, CA, key id, secret, token or "") or by
/// her certificate (`cert` mode: argv = endpoint, CA, certificate, key, role), with extra headers: one
/// `x-amz-*` header it signs, and after signing (`before-send`) more it did not sign, with its own
/// `X-Amz-Date` put over the one it signed in `cert` mode. Prints {"code", "message"}.
const BOTO3_EXTRA_HEADERS: &str = r#"
import json, sys
import boto3, botocore.exceptions
from botocore.config import Config
mode, endpoint, ca, a, b, token = sys.argv[1:7]
cfg = Config(retries={"max_attempts": 1, "mode": "standard"})
if mode == "cert":
    cfg = cfg.merge(Config(client_cert=(a, b)))
    a, b = "AKIAIOSFODNN7CLIENT00", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
ddb = boto3.client("dynamodb", endpoint_url=endpoint, verify=ca, region_name="us-west-2",
    aws_access_key_id=a, aws_secret_access_key=b, aws_session_token=token or None, config=cfg)
def signed_extra(request, **_):
    request.headers["X-Amz-Client-Signed"] = "signed-by-the-client"
def unsigned_extras(request, **_):
    signature = request.headers["Authorization"]
    signature = signature.decode() if isinstance(signature, bytes) else signature
    assert "x-amz-client-signed" in signature.lower()
    request.headers["X-Amz-Client-Unsigned"] = "added-after-signing"
    request.headers["X-Forwarded-For"] = "203.0.113.7"
    if mode == "cert":
        request.headers["X-Amz-Date"] = "19991231T235959Z"
ddb.meta.events.register("before-sign.dynamodb.ListTables", signed_extra)
ddb.meta.events.register("before-send.dynamodb.ListTables", unsigned_extras)
try:
    ddb.list_tables()
    print(json.dumps({"code": "ok"}))
except botocore.exceptions.ClientError as e:
    print(json.dumps({"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}))
"#;

/// The ListTables requests moto recorded from index `from` on.
fn list_tables_since(
    stack: &HttpStack,
    from: usize,
) -> Vec<iamwire_testkit::moto::RecordedRequest> {
    stack.moto.requests().unwrap()[from..]
        .iter()
        .filter(|r| {
            r.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("x-amz-target") && v.ends_with("ListTables"))
        })
        .cloned()
        .collect()
}

/// Header `name` of `r`, in any case.
fn header_of<'r>(r: &'r iamwire_testkit::moto::RecordedRequest, name: &str) -> Option<&'r str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `r` carries only the role's credentials (its session's key and token, a date of the proxy's), none
/// of `client` (the client's token, key id, date...), and every header it carries is covered by the
/// role's signature — but those SigV4 signers leave unsigned (`User-Agent`, `X-Amzn-Trace-Id`).
fn assert_signed_by_the_role_only(r: &iamwire_testkit::moto::RecordedRequest, client: &[&str]) {
    let all = format!("{} {:?}", r.url, r.headers);
    let header = |name: &str| header_of(r, name).unwrap_or_default();
    for value in client {
        assert!(!all.contains(value), "{value} reached the database: {all}");
    }
    let authorization = header("authorization");
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=ASIA"),
        "{all}"
    );
    assert!(
        header("x-amz-security-token").len() > 32,
        "the role session's token: {all}"
    );
    assert!(header("x-amz-date").starts_with("20"), "{all}");
    let signed: Vec<&str> = authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_default()
        .split(';')
        .collect();
    for name in r.headers.keys() {
        let name = name.to_ascii_lowercase();
        if ["authorization", "user-agent", "x-amzn-trace-id"].contains(&name.as_str()) {
            continue;
        }
        assert!(
            signed.contains(&name.as_str()),
            "{name} is not signed: {all}"
        );
    }
}

/// What reaches the database (moto, which checks every signature against the credentials it issued)
/// of what a client sends besides its request:
/// - by key: only the headers the client's signature covers (one it added after signing, or that a
///   party on the way added, is dropped); a key with a session token is refused before anything goes
///   upstream (a proxy key has none);
/// - by certificate (the session token names the role): its end-to-end headers, never its own
///   `Authorization`, `X-Amz-Date` or token;
///
/// and every header the database gets is covered by the proxy's signature as the role.
#[test]
fn only_the_roles_credentials_and_signed_headers_reach_the_database() {
    const CLIENT_TOKEN: &str = "client-session-token-must-not-be-forwarded";
    let stack = HttpStack::start(Kind::DynamoDb, "");
    let ca = stack.ca();
    let (endpoint, ca) = (stack.endpoint(), ca.to_str().unwrap().to_owned());
    let by_key = |token: &str| {
        stack.python(
            BOTO3_EXTRA_HEADERS,
            &[
                "key",
                &endpoint,
                &ca,
                &stack.alice.id,
                &stack.alice.secret,
                token,
            ],
        )
    };

    // A key and a token: refused, nothing upstream.
    let before = stack.moto.requests().unwrap().len();
    let answer = by_key(CLIENT_TOKEN);
    assert_eq!(answer["code"], "InvalidSignatureException", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("AWS_SESSION_TOKEN"),
        "{answer}"
    );
    assert!(list_tables_since(&stack, before).is_empty());

    // A key: the header it signed goes on, those it did not are dropped.
    let before = stack.moto.requests().unwrap().len();
    let answer = by_key("");
    assert_eq!(answer["code"], "ok", "{answer}\n{}", stack.proxy.stderr());
    let listed = list_tables_since(&stack, before);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let r = &listed[0];
    assert_signed_by_the_role_only(
        r,
        &[
            stack.alice.id.as_str(),
            "added-after-signing",
            "203.0.113.7",
        ],
    );
    assert_eq!(
        header_of(r, "X-Amz-Client-Signed"),
        Some("signed-by-the-client")
    );

    // A certificate, the role in the token, its own (unchecked) signature and a date of its own.
    let before = stack.moto.requests().unwrap().len();
    let (crt, key) = (stack.file("alice.crt"), stack.file("alice.key"));
    let answer = stack.python(
        BOTO3_EXTRA_HEADERS,
        &[
            "cert",
            &endpoint,
            &ca,
            crt.to_str().unwrap(),
            key.to_str().unwrap(),
            USER_ROLE,
        ],
    );
    assert_eq!(answer["code"], "ok", "{answer}\n{}", stack.proxy.stderr());
    let listed = list_tables_since(&stack, before);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let r = &listed[0];
    assert_signed_by_the_role_only(r, &["AKIAIOSFODNN7CLIENT00", "19991231"]);
    assert_ne!(header_of(r, "X-Amz-Security-Token"), Some(USER_ROLE));
    for (name, value) in [
        ("X-Amz-Client-Signed", "signed-by-the-client"),
        ("X-Amz-Client-Unsigned", "added-after-signing"),
    ] {
        assert_eq!(header_of(r, name), Some(value), "{:?}", r.headers);
    }
}

/// One keep-alive connection (Python's http.client, each request signed by botocore's SigV4 with
/// alice's key): ListTables, a pause, ListTables again on the same connection, then wait for the proxy
/// to close it. argv = port, CA, key id, secret, pause (s). Prints a JSON report.
const KEEP_ALIVE: &str = r#"
import json, ssl, sys, time, http.client
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
port, ca, key, secret, pause = sys.argv[1:6]
creds = Credentials(key, secret)
conn = http.client.HTTPSConnection("localhost", int(port), context=ssl.create_default_context(cafile=ca), timeout=120)
def list_tables():
    req = AWSRequest(method="POST", url=f"https://localhost:{port}/", data=b"{}",
        headers={"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(creds, "dynamodb", "us-west-2").add_auth(req)
    conn.request("POST", "/", body=b"{}", headers=dict(req.headers.items()))
    answer = conn.getresponse()
    answer.read()
    return answer.status
out = {"first": list_tables()}
here = conn.sock.getsockname()
time.sleep(float(pause))
out["after_pause"] = list_tables()
out["same_connection"] = conn.sock.getsockname() == here
since = time.monotonic()
try:
    out["eof"] = conn.sock.recv(1) == b""
except OSError:
    out["eof"] = True
out["closed_after"] = time.monotonic() - since
print(json.dumps(out))
"#;

/// `http_idle_timeout` is its own setting: a keep-alive connection idle for longer than the handshake
/// timeout (2 s) but less than the idle timeout (6 s) still serves its next request, and one idle past
/// the idle timeout is closed by the proxy — not before the handshake timeout would have.
#[test]
fn keep_alive_outlives_the_handshake_timeout_until_the_idle_timeout() {
    let stack = HttpStack::start(
        Kind::DynamoDb,
        "  handshake_timeout: 2s\n  http_idle_timeout: 6s\n",
    );
    let ca = stack.ca();
    let port = stack.proxy.port().to_string();
    let report = stack.python(
        KEEP_ALIVE,
        &[
            &port,
            ca.to_str().unwrap(),
            &stack.alice.id,
            &stack.alice.secret,
            "3.5",
        ],
    );
    assert_eq!(report["first"], 200, "{report}");
    assert_eq!(report["after_pause"], 200, "{report}");
    assert_eq!(report["same_connection"], true, "{report}");
    assert_eq!(report["eof"], true, "{report}");
    let closed_after = report["closed_after"].as_f64().unwrap();
    // Closed by the idle timeout (6 s after the answer), long after the handshake timeout would have
    // (2 s), and within a generous bound of it.
    assert!(
        (4.0..40.0).contains(&closed_after),
        "closed {closed_after} s after the last answer: {report}"
    );
}
