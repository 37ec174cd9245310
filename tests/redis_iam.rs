//! `protocol: redis` through `iamwire run` to an ElastiCache-like Redis: a cross-account role (external ID)
//! in the AWS emulator, IAM tokens checked by botocore in the stand-in in front of a real Redis 7 over TLS,
//! and real clients (redis-cli in RESP2 and RESP3, redis-py, redis-rs) over mutual TLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;
mod redis_support;

use redis_support::{CACHE, CacheOptions, CacheStack, text};

/// redis-py: strings, a pipeline, a transaction and pub/sub in RESP2 and RESP3; a later AUTH as another
/// allowed user, and one refused.
const PY_CLIENTS: &str = r#"
import os, redis
def conn(proto):
    return redis.Redis(host="localhost", port=int(os.environ["PORT"]), ssl=True,
        ssl_ca_certs=os.environ["CA"], ssl_certfile=os.environ["CERT"], ssl_keyfile=os.environ["KEY"],
        username="app", password="ignored", protocol=proto, socket_timeout=30)
for proto in (2, 3):
    r = conn(proto)
    assert r.execute_command("ACL", "WHOAMI") in (b"app", "app"), "whoami"
    r.set(f"app:py{proto}", "v")
    assert r.get(f"app:py{proto}") == b"v"
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.incr(f"app:n{proto}")
    assert p.execute()[-1] == 100
    t = r.pipeline(transaction=True)
    t.set(f"app:t{proto}", 1).incr(f"app:t{proto}")
    assert t.execute() == [True, 2]
    ps = r.pubsub()
    ps.subscribe(f"app:ch{proto}")
    assert ps.get_message(timeout=10)["type"] == "subscribe"
    r.publish(f"app:ch{proto}", "hello")
    m = ps.get_message(timeout=10)
    assert m["type"] == "message" and m["data"] == b"hello", m
    ps.close()
    # A later AUTH: authorized for this identity, logged in with a fresh token, never with this password.
    c = r.connection_pool.get_connection()
    c.send_command("AUTH", "admin", "whatever")
    assert c.read_response() in (b"OK", "OK", True)
    c.send_command("ACL", "WHOAMI")
    assert c.read_response() == b"admin"
    c.send_command("AUTH", "nobody", "whatever")
    try:
        c.read_response()
        raise SystemExit("AUTH as nobody was accepted")
    except redis.exceptions.NoPermissionError as e:
        assert "may not log in as database user" in str(e), e
    c.send_command("ACL", "WHOAMI")
    assert c.read_response() == b"admin"
    r.connection_pool.release(c)
print("ok")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_through_iamwire_run() {
    let stack = CacheStack::start(CacheOptions::default());

    // redis-cli, RESP2 and RESP3 (-3 sends HELLO 3 after AUTH).
    let out = stack.cli("alice", "app", &[], &["SET", "app:cli", "v1"]);
    assert_eq!(text(&out).trim(), "OK", "{}", stack.proxy.stderr());
    let out = stack.cli("alice", "app", &[], &["GET", "app:cli"]);
    assert_eq!(text(&out).trim(), "v1");
    let out = stack.cli("alice", "app", &["-3"], &["CLIENT", "INFO"]);
    assert!(text(&out).contains("resp=3"), "{}", text(&out));
    assert!(text(&out).contains("user=app"), "{}", text(&out));
    stack.cli("alice", "app", &["-3"], &["HSET", "app:h", "f", "v"]);
    let out = stack.cli("alice", "app", &["-3"], &["HGETALL", "app:h"]);
    // A RESP3 map (RESP2 would print two lines).
    assert_eq!(text(&out).trim(), "f v");

    // redis-py.
    let out = stack.python("alice", PY_CLIENTS);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out),
        stack.proxy.stderr()
    );

    // redis-rs, RESP2 and RESP3.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    for proto in ["resp2", "resp3"] {
        let url = format!(
            "rediss://app:ignored@localhost:{}/?protocol={proto}",
            stack.port()
        );
        let read = |name: &str| std::fs::read(stack.file(name)).unwrap();
        let client = redis::Client::build_with_tls(
            url.as_str(),
            redis::TlsCertificates {
                client_tls: Some(redis::ClientTlsConfig {
                    client_cert: read("alice.crt"),
                    client_key: read("alice.key"),
                }),
                root_cert: Some(read("ca.crt")),
            },
        )
        .unwrap();
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        let key = format!("app:rs:{proto}");
        let () = redis::cmd("SET")
            .arg(&key)
            .arg(42)
            .query_async(&mut con)
            .await
            .unwrap();
        let got: i64 = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(got, 42);
        let (a, b): (i64, i64) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .incr(&key, 1)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!((a, b), (43, 44));
        let who: String = redis::cmd("ACL")
            .arg("WHOAMI")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(who, "app");
    }

    // The stand-in saw IAM logins for app (and admin), each with a token botocore agreed with.
    let decisions = stack.standin.decisions();
    assert!(
        decisions.iter().any(|d| d == "accept login user='app'"),
        "{decisions:?}"
    );
    assert!(decisions.iter().any(|d| d == "accept reauth user='admin'"));
    assert!(
        !decisions.iter().any(|d| d.starts_with("reject")),
        "{decisions:?}"
    );

    // Refusals, in words a Redis client shows, before any database connection.
    let before = stack.standin.decisions().len();
    let out = stack.cli("bob", "app", &[], &["PING"]);
    assert!(text(&out).contains("NOPERM"), "{}", text(&out));
    assert!(text(&out).contains("may not log in as database user \"app\""));
    let out = stack.cli("alice", "pwuser", &[], &["PING"]);
    let shown = text(&out);
    assert!(shown.contains("does not authenticate with IAM"), "{shown}");
    assert!(shown.contains("Type=iam"), "{shown}");
    assert_eq!(stack.standin.decisions().len(), before);
    // No secret in the proxy's logs.
    let logs = stack.proxy.stderr();
    for secret in [
        stack.cross.proxy.secret_access_key.as_str(),
        e2e_run_support::EXTERNAL_ID,
        "X-Amz-Signature",
        "ignored",
        "not-a-database-password",
    ] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
    assert!(logs.contains("session accepted"), "{logs}");
    let _ = CACHE;
}

/// Both `redis-benchmark` tests were run, and no error was seen; returns their requests per second.
fn benchmark_rps(out: &std::process::Output) -> Vec<(String, f64)> {
    let shown = text(out);
    assert!(out.status.success(), "{shown}");
    assert!(
        !shown.contains("Error") && !shown.contains("ERR"),
        "redis-benchmark saw errors:\n{shown}"
    );
    let rps: Vec<(String, f64)> = shown
        .lines()
        .filter_map(|l| {
            let mut fields = l.split(',').map(|f| f.trim_matches('"'));
            let test = fields.next()?.to_owned();
            let rps = fields.next()?.parse().ok()?;
            Some((test, rps))
        })
        .collect();
    let tests: Vec<&str> = rps.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tests, ["SET", "GET"], "{shown}");
    assert!(rps.iter().all(|(_, r)| *r > 0.0), "{shown}");
    rps
}

#[test]
fn redis_benchmark_through_the_iam_path_without_errors() {
    let stack = CacheStack::start(CacheOptions::default());
    for extra in [&[][..], &["-P", "16"][..]] {
        let rps = benchmark_rps(&stack.benchmark(5_000, extra));
        println!("through the proxy and the IAM stand-in {extra:?}: {rps:?}");
    }
    let logins = stack
        .standin
        .decisions()
        .iter()
        .filter(|d| *d == "accept login user='admin'")
        .count();
    assert!(logins >= 100, "50 clients per run: {logins}");
}

#[test]
fn redis_benchmark_to_a_self_hosted_redis_with_a_static_password() {
    let stack = CacheStack::start(CacheOptions {
        static_password: Some("admin-pass".into()),
        ..CacheOptions::default()
    });
    for extra in [&[][..], &["-P", "16"][..]] {
        let rps = benchmark_rps(&stack.benchmark(50_000, extra));
        let direct = benchmark_rps(&stack.benchmark_direct(50_000, extra));
        println!("through the proxy to Redis {extra:?}: {rps:?}; straight to Redis: {direct:?}");
    }
    // Only the proxy knows the password: a client's own password is not what logs in.
    let out = stack.cli("alice", "admin", &[], &["ACL", "WHOAMI"]);
    assert_eq!(text(&out).trim(), "admin", "{}", stack.proxy.stderr());
    assert!(!stack.proxy.stderr().contains("admin-pass"));
}

/// A long session: a GET/SET loop, transactions held open, BLPOP with a producer, and a RESP3 subscriber
/// with a publisher, for 12 seconds, while the proxy re-authenticates every second and the stand-in
/// closes any connection whose last AUTH is older than 6 seconds (ElastiCache: 12 hours).
const PY_LONG_SESSION: &str = r#"
import json, os, threading, time, traceback, redis
def conn(proto):
    return redis.Redis(host="localhost", port=int(os.environ["PORT"]), ssl=True,
        ssl_ca_certs=os.environ["CA"], ssl_certfile=os.environ["CERT"], ssl_keyfile=os.environ["KEY"],
        username="app", password="ignored", protocol=proto, socket_timeout=30)
stop = time.time() + 12
errors, counts = [], {}
def getset():
    r, i = conn(2), 0
    while time.time() < stop:
        r.set("app:loop", i)
        assert int(r.get("app:loop")) == i
        i += 1
    counts["getset"] = i
def multi():
    c = conn(2).connection_pool.get_connection()
    n = 0
    while time.time() < stop:
        c.send_command("MULTI"); assert c.read_response() == b"OK"
        c.send_command("INCR", "app:m"); assert c.read_response() == b"QUEUED"
        time.sleep(1.5)  # the transaction stays open across re-AUTH deadlines
        c.send_command("INCR", "app:m"); assert c.read_response() == b"QUEUED"
        c.send_command("EXEC"); assert len(c.read_response()) == 2
        n += 1
    counts["multi"] = n
def blpop():
    r, got = conn(2), 0
    while time.time() < stop + 1.5:
        if r.blpop("app:q", timeout=1):
            got += 1
    counts["popped"] = got
def producer():
    r, n = conn(2), 0
    while time.time() < stop:
        r.rpush("app:q", n); n += 1
        time.sleep(0.7)
    counts["pushed"] = n
def subscriber(ready):
    ps = conn(3).pubsub()
    ps.subscribe("app:news")
    assert ps.get_message(timeout=10)["type"] == "subscribe"
    ready.set()
    got = 0
    while time.time() < stop + 2:
        m = ps.get_message(timeout=0.5)
        if m and m["type"] == "message":
            assert int(m["data"]) == got, (m, got)
            got += 1
    counts["received"] = got
def publisher(ready):
    ready.wait(10)
    r, n = conn(2), 0
    while time.time() < stop:
        r.publish("app:news", n); n += 1
        time.sleep(0.1)
    counts["published"] = n
def guard(f, *a):
    try:
        f(*a)
    except Exception:
        errors.append(traceback.format_exc())
ready = threading.Event()
threads = [threading.Thread(target=guard, args=a) for a in
           [(getset,), (multi,), (blpop,), (producer,), (subscriber, ready), (publisher, ready)]]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"errors": errors, "counts": counts}))
"#;

#[test]
fn long_sessions_are_reauthenticated_without_a_single_error() {
    let stack = CacheStack::start(CacheOptions {
        reauth_interval: Some("1s".into()),
        max_auth_age: Some(6.0),
        ..CacheOptions::default()
    });
    let out = stack.python("alice", PY_LONG_SESSION);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}\n{}", stack.proxy.stderr());
    let report: serde_json::Value = serde_json::from_str(shown.lines().last().unwrap_or_default())
        .expect("the script's report");
    assert_eq!(report["errors"], serde_json::json!([]), "{shown}");
    let counts = &report["counts"];
    assert!(counts["getset"].as_u64().unwrap() > 50, "{counts}");
    assert!(counts["multi"].as_u64().unwrap() >= 5, "{counts}");
    assert_eq!(counts["popped"], counts["pushed"], "{counts}");
    assert_eq!(counts["received"], counts["published"], "{counts}");
    let decisions = stack.standin.decisions();
    let reauths = decisions
        .iter()
        .filter(|d| *d == "accept reauth user='app'")
        .count();
    // Six connections for 12 s, re-authenticated about every second each (less while they wait).
    assert!(reauths >= 12, "{reauths} re-AUTHs: {decisions:?}");
    assert!(
        !decisions
            .iter()
            .any(|d| d.starts_with("expired") || d.starts_with("reject")),
        "{decisions:?}"
    );
    assert!(
        stack
            .proxy
            .stderr()
            .contains("re-authenticated the database connection")
    );
}

/// `redis-cli` straight to the stand-in (no proxy), logging in as `user` with `password`.
fn standin_cli(stack: &CacheStack, user: &str, password: &str) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["--tls", "-h", "localhost", "--no-auth-warning"])
        .arg("--cacert")
        .arg(&stack.redis.tls().ca)
        .args(["-p", &stack.standin.port().to_string(), "--user", user])
        .env("REDISCLI_AUTH", password)
        .arg("PING")
        .output()
        .expect("run redis-cli");
    text(&out)
}

#[test]
fn the_stand_in_takes_only_tokens_botocore_agrees_with() {
    use iamwire_aws::token::{ElastiCacheKind, elasticache_auth_token};
    use std::time::{Duration, SystemTime};

    let stack = CacheStack::start(CacheOptions::default());
    let creds = stack
        .moto
        .assume_role(
            &stack.cross.proxy,
            &stack.cross.role_arn,
            Some(e2e_run_support::EXTERNAL_ID),
        )
        .unwrap()
        .unwrap();
    let aws = aws_credential_types::Credentials::new(
        &creds.access_key_id,
        &creds.secret_access_key,
        creds.session_token.clone(),
        None,
        "test",
    );
    let token = |kind, name: &str, user: &str, age: u64| {
        let at = SystemTime::now() - Duration::from_secs(age);
        elasticache_auth_token(&aws, name, kind, user, e2e_run_support::REGION, at)
            .unwrap()
            .into_string()
    };
    let group = ElastiCacheKind::ReplicationGroup;
    let good = token(group, CACHE, "app", 0);
    assert_eq!(standin_cli(&stack, "app", &good).trim(), "PONG");
    // One byte off, anywhere that matters: refused.
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (user, password) in [
        ("app", tampered.as_str()),
        ("admin", good.as_str()),
        ("app", &token(ElastiCacheKind::Serverless, CACHE, "app", 0)),
        ("app", &token(group, "other-cache", "app", 0)),
        ("app", &token(group, CACHE, "app", 20 * 60)),
    ] {
        let shown = standin_cli(&stack, user, password);
        assert!(shown.contains("WRONGPASS"), "{shown}");
    }
    let reasons: Vec<String> = stack
        .standin
        .decisions()
        .into_iter()
        .filter(|d| d.starts_with("reject"))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    for (reason, expected) in reasons.iter().zip([
        "signature does not match",
        "User does not match",
        "ResourceType",
        "not this cache",
        "token expired",
    ]) {
        assert!(reason.contains(expected), "{reason} / {expected}");
    }
}

#[test]
fn a_token_the_cache_refuses_comes_back_as_wrongpass_with_the_permission_to_check() {
    // Signed for another region than the cache's: the stand-in refuses it like ElastiCache.
    let stack = CacheStack::start(CacheOptions {
        db_region: Some("eu-west-1".into()),
        ..CacheOptions::default()
    });
    let out = stack.cli("alice", "app", &[], &["PING"]);
    let shown = text(&out);
    assert!(
        shown.contains("WRONGPASS"),
        "{shown}\n{}",
        stack.proxy.stderr()
    );
    assert!(
        shown.contains(&format!(
            "elasticache:Connect on arn:aws:elasticache:eu-west-1:222222222222:replicationgroup:{CACHE}"
        )),
        "{shown}"
    );
    assert!(shown.contains(":user:app"), "{shown}");
    assert!(!shown.contains("X-Amz"), "{shown}");
}
