//! Regression tests through `iamwire run` with real servers, one per defect the connection framework
//! fixed: authorization of the user-named default database, a file-descriptor flood, a silent STS,
//! protocol 3.2 with `_pq_.` options, graceful shutdown, a cancel flood, the start-up warm-up, JSON logs
//! without secrets, a database the proxy has no way to log in to, and the open files limit raised at start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e_run_support::{Login, Options, Stack, psycopg_login};
use iamwire_testkit::Fault;
use iamwire_testkit::postgres::IAM_USER;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sqlstate(error: &tokio_postgres::Error) -> Option<String> {
    error.as_db_error().map(|e| e.code().code().to_owned())
}

#[test]
fn a_startup_without_a_database_is_authorized_against_the_user_named_one() {
    let stack = Stack::with(Options {
        db_names: Some(vec!["app".into()]),
        ..Options::default()
    });
    let rt = runtime();
    // Allowed: the database named explicitly.
    rt.block_on(async {
        let client = stack
            .tokio_pg("alice", IAM_USER, Some("app"))
            .await
            .unwrap();
        client.simple_query("SELECT 1").await.unwrap();
    });
    // No `database` at all: PostgreSQL would open `iam_user`, which alice may not: refused by the proxy,
    // before any connection to the database.
    let before = stack.pg.connections_received();
    let Err(error) = rt.block_on(stack.tokio_pg("alice", IAM_USER, None)) else {
        panic!("no database means the user's, which alice may not open");
    };
    let db_error = error.as_db_error().unwrap_or_else(|| panic!("{error:?}"));
    assert_eq!(db_error.code().code(), "28000", "{db_error:?}");
    assert!(db_error.message().contains(IAM_USER), "{db_error:?}");
    assert_eq!(stack.pg.connections_received(), before);
}

#[test]
fn far_more_connections_than_file_descriptors_leave_the_proxy_serving() {
    let mut stack = Stack::start();
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", stack.proxy.pid()))
        .arg("--nofile=128:128")
        .status()
        .expect("run prlimit");
    assert!(status.success());
    // Idle connections, far more than the proxy may open descriptors.
    let mut flood = Vec::new();
    let addr = format!("127.0.0.1:{}", stack.port()).parse().unwrap();
    for _ in 0..1000 {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            flood.push(s);
        }
    }
    assert!(flood.len() > 500, "only {} connections opened", flood.len());
    let stderr = stack.proxy.wait_stderr("accept failed");
    assert!(
        stderr.contains("accept failed"),
        "the proxy never ran out of descriptors:\n{stderr}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        stack.proxy.is_running(),
        "the proxy exited:\n{}",
        stack.proxy.stderr()
    );
    drop(flood);
    // A healthy client gets in once the flood is gone.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match psycopg_login(&stack.dsn("alice")) {
            Login::User(user) => {
                assert_eq!(user, IAM_USER);
                break;
            }
            refused => assert!(Instant::now() < deadline, "still refused: {refused:?}"),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(stack.proxy.is_running());
}

#[test]
fn a_silent_sts_gives_a_clear_credential_error_and_recovery_needs_no_restart() {
    // STS accepts connections and never answers; the proxy must still start listening.
    let stack = Stack::with(Options {
        sts_fault: Some(Fault::Blackhole),
        proxy_extra: "  credential_timeout: 3s".into(),
        ..Options::default()
    });
    let started = Instant::now();
    match psycopg_login(&stack.dsn("alice")) {
        Login::Refused { sqlstate, text } => {
            // A failure shows the proxy's log too: the refusal alone does not say which phase gave up.
            let why = format!("{text}\n--- proxy log ---\n{}", stack.proxy.stderr());
            assert_eq!(sqlstate, "08001", "{why}");
            // The credential cache gives up a tenth before the client's wait, naming the role.
            assert!(text.contains("2.7s"), "{why}");
            assert!(text.contains(&stack.cross.role_arn), "{why}");
            assert!(text.contains("STS"), "{why}");
            assert!(!text.contains("trust policy"), "{why}");
        }
        Login::User(user) => panic!(
            "logged in as {user} without STS\n--- proxy log ---\n{}",
            stack.proxy.stderr()
        ),
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "refused after {:?}",
        started.elapsed()
    );
    // STS answers again: new clients get in, same process.
    stack.sts_relay.as_ref().unwrap().set(Fault::Forward);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match psycopg_login(&stack.dsn("alice")) {
            Login::User(user) => {
                assert_eq!(user, IAM_USER);
                break;
            }
            refused => assert!(
                Instant::now() < deadline,
                "still refused after STS came back: {refused:?}\n{}",
                stack.proxy.stderr()
            ),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn protocol_3_2_with_a_pq_option_logs_in_to_postgres_15() {
    use bytes::BytesMut;
    use iamwire_postgres::codec::{
        BackendDecoder, BackendMessage, FrontendMessage, ProtocolVersion, StartupMessage,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::TlsConnector;
    use tokio_rustls::rustls::pki_types::ServerName;

    let stack = Stack::start();
    let rt = runtime();
    let messages: Vec<BackendMessage> = rt.block_on(async {
        let read = |name: &str| std::fs::read(stack.file(name)).unwrap();
        let tls = iamwire_core::tls::upstream_config(
            iamwire_core::TlsMode::VerifyFull,
            Some(&read("ca.crt")),
            Some((&read("alice.crt"), &read("alice.key"))),
        )
        .unwrap();
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", stack.port()))
            .await
            .unwrap();
        let mut buf = BytesMut::new();
        FrontendMessage::SslRequest.encode(&mut buf).unwrap();
        tcp.write_all(&buf).await.unwrap();
        let mut s = [0u8; 1];
        tcp.read_exact(&mut s).await.unwrap();
        assert_eq!(&s, b"S");
        let mut tls = TlsConnector::from(tls)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        // What libpq 18 sends with max_protocol_version=3.2 and a protocol extension.
        let mut startup = StartupMessage::new(IAM_USER)
            .unwrap()
            .with("database", "app")
            .unwrap()
            .with("_pq_.iamwire_test", "on")
            .unwrap();
        startup.set_version(ProtocolVersion::V3_2).unwrap();
        let mut buf = BytesMut::new();
        FrontendMessage::Startup(startup).encode(&mut buf).unwrap();
        // A simple query right behind it, as a client may pipeline.
        buf.extend_from_slice(b"Q\0\0\0\x1eSELECT current_user::text\0");
        tls.write_all(&buf).await.unwrap();
        let mut decoder = BackendDecoder::default();
        let mut input = BytesMut::new();
        let mut seen = Vec::new();
        let mut ready = 0;
        while ready < 2 {
            if let Some(message) = decoder.decode(&mut input).unwrap() {
                if matches!(message, BackendMessage::ReadyForQuery(_)) {
                    ready += 1;
                }
                seen.push(message);
                continue;
            }
            let n = tokio::time::timeout(Duration::from_secs(30), tls.read_buf(&mut input))
                .await
                .expect("the proxy answers")
                .unwrap();
            assert!(n > 0, "closed after {seen:?}");
        }
        seen
    });
    let negotiated = messages
        .iter()
        .find_map(|m| match m {
            BackendMessage::NegotiateProtocolVersion(n) => Some(n),
            _ => None,
        })
        .expect("the server's NegotiateProtocolVersion reaches the client");
    assert_eq!(negotiated.newest, ProtocolVersion::V3_0);
    assert_eq!(negotiated.unrecognized_options, ["_pq_.iamwire_test"]);
    let row = messages.iter().any(|m| {
        matches!(m, BackendMessage::Other { tag: b'D', body } if body.windows(IAM_USER.len()).any(|w| w == IAM_USER.as_bytes()))
    });
    assert!(row, "no row with the current user in {messages:?}");
    assert!(
        !messages
            .iter()
            .any(|m| matches!(m, BackendMessage::ErrorResponse(_)))
    );
}

#[test]
fn sigterm_lets_short_queries_finish_and_ends_long_ones_with_57p01_at_the_deadline() {
    let mut stack = Stack::with(Options {
        proxy_extra: "  shutdown_timeout: 4s".into(),
        ..Options::default()
    });
    let rt = runtime();
    let (short, long) = rt.block_on(async {
        let a = stack
            .tokio_pg("alice", IAM_USER, Some("app"))
            .await
            .unwrap();
        let b = stack
            .tokio_pg("alice", IAM_USER, Some("app"))
            .await
            .unwrap();
        (a, b)
    });
    let short = rt.spawn(async move { short.simple_query("SELECT pg_sleep(1)").await.map(drop) });
    let long = rt.spawn(async move {
        let started = Instant::now();
        let result = long.simple_query("SELECT pg_sleep(60)").await.map(drop);
        (result, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    stack.proxy.signal("TERM");
    rt.block_on(async {
        short
            .await
            .unwrap()
            .expect("the short query finishes during the drain");
        let (result, took) = long.await.unwrap();
        let error = result.expect_err("the long query is ended");
        assert_eq!(sqlstate(&error).as_deref(), Some("57P01"), "{error}");
        assert!(took >= Duration::from_millis(3500), "ended after {took:?}");
        assert!(took < Duration::from_secs(30), "ended after {took:?}");
    });
    let status = stack
        .proxy
        .wait_exit(Duration::from_secs(30))
        .expect("iamwire run exits after the drain");
    assert!(status.success(), "{status}\n{}", stack.proxy.stderr());
    let stderr = stack.proxy.stderr();
    assert!(stderr.contains("shutting down"), "{stderr}");
}

#[test]
fn a_flood_of_valid_cancels_opens_a_bounded_number_of_database_connections() {
    let stack = Stack::start();
    let rt = runtime();
    rt.block_on(async {
        let client = stack
            .tokio_pg("alice", IAM_USER, Some("app"))
            .await
            .unwrap();
        let cancel = client.cancel_token();
        let sleeper = tokio::spawn(async move { client.simple_query("SELECT pg_sleep(30)").await });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = stack.pg.connections_received();
        let mut flood = tokio::task::JoinSet::new();
        for _ in 0..300 {
            let (cancel, tls) = (cancel.clone(), stack.tokio_pg_tls("alice"));
            flood.spawn(async move { cancel.cancel_query(tls).await });
        }
        while flood.join_next().await.is_some() {}
        let error = sleeper.await.unwrap().expect_err("the query was cancelled");
        assert_eq!(sqlstate(&error).as_deref(), Some("57014"), "{error}");
        // Give stragglers a moment, then count what reached the database.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let opened = stack.pg.connections_received() - before;
        assert!(opened >= 1, "no cancel reached the database");
        assert!(
            opened <= 8,
            "300 cancels opened {opened} database connections"
        );
    });
}

#[test]
fn the_first_client_after_start_up_causes_no_assume_role() {
    let stack = Stack::start();
    let stderr = stack.proxy.wait_stderr("AWS credentials ready");
    assert!(stderr.contains("AWS credentials ready"), "{stderr}");
    let before = stack.moto.count("AssumeRole").unwrap();
    assert!(before >= 1);
    match psycopg_login(&stack.dsn("alice")) {
        Login::User(user) => assert_eq!(user, IAM_USER),
        refused => panic!("{refused:?}"),
    }
    assert_eq!(stack.moto.count("AssumeRole").unwrap(), before);
}

#[test]
fn json_logs_show_each_outcome_and_no_secret() {
    let mut stack = Stack::with(Options {
        args: vec!["--log-format".into(), "json".into()],
        env: vec![("RUST_LOG".into(), "trace".into())],
        ..Options::default()
    });
    match psycopg_login(&stack.dsn("alice")) {
        Login::User(user) => assert_eq!(user, IAM_USER),
        refused => panic!("{refused:?}"),
    }
    stack.issue_client("bob");
    assert!(matches!(
        psycopg_login(&stack.dsn("bob")),
        Login::Refused { .. }
    ));
    stack.proxy.wait_stderr("\"outcome\":\"denied\"");
    stack.proxy.signal("TERM");
    stack
        .proxy
        .wait_exit(Duration::from_secs(60))
        .expect("exits");
    let stderr = stack.proxy.stderr();

    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let outcome = |name: &str| {
        lines
            .iter()
            .find(|l| l["outcome"] == name)
            .unwrap_or_else(|| panic!("no {name} line in:\n{stderr}"))
    };
    let accepted = outcome("accepted");
    assert_eq!(accepted["span"]["identity"], "alice", "{accepted}");
    assert_eq!(accepted["span"]["db_user"], IAM_USER, "{accepted}");
    assert_eq!(accepted["span"]["db_name"], "app", "{accepted}");
    assert_eq!(accepted["span"]["database"], "e2e-postgres", "{accepted}");
    assert!(accepted["credentials_ms"].is_number(), "{accepted}");
    let ended = outcome("ended");
    assert!(ended["bytes_down"].as_u64().unwrap() > 0, "{ended}");
    // Postgres's relay runs outside the session's span (it logs nothing); its last line still has it.
    assert_eq!(ended["span"]["id"], accepted["span"]["id"], "{ended}");
    assert_eq!(ended["span"]["identity"], "alice", "{ended}");
    assert_eq!(ended["span"]["db_user"], IAM_USER, "{ended}");
    let denied = outcome("denied");
    assert!(
        denied["reason"].as_str().unwrap().contains("bob"),
        "{denied}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "AWS credentials fetched")
    );

    for secret in [
        stack.cross.proxy.secret_access_key.as_str(),
        e2e_run_support::EXTERNAL_ID,
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "Signature=",
        "FQoGZXIvYXdzE",
    ] {
        let leak = stderr.lines().find(|l| l.contains(secret));
        assert!(leak.is_none(), "{secret:?} in the logs: {leak:?}");
    }
}

#[test]
fn a_database_the_proxy_has_no_way_to_log_in_to_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let iamwire = env!("CARGO_BIN_EXE_iamwire");
    let ok = Command::new(iamwire)
        .args(["certs", "init", "--dir", d])
        .status()
        .unwrap();
    assert!(ok.success());
    let config = dir.path().join("iamwire.yaml");
    std::fs::write(
        &config,
        r#"proxy:
  tls: {cert_file: server.crt, key_file: server.key, client_ca_file: ca.crt}
  listeners:
    - {database: orders-cache, listen: "127.0.0.1:0"}
db_service:
  databases:
  - name: orders-cache
    protocol: redis
    uri: "cache.example.com:6379"
    tls: {mode: insecure}
"#,
    )
    .unwrap();
    let out = Command::new(iamwire)
        .args(["run", "--config"])
        .arg(&config)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-west-2")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("orders-cache"), "{stderr}");
    assert!(stderr.contains("redis"), "{stderr}");
    assert!(stderr.contains("password_file"), "{stderr}");
}

/// `iamwire run` raises its soft open-files limit (RLIMIT_NOFILE) to the hard limit as it starts, and
/// logs it: started under `prlimit --nofile=256:4096`, the running proxy's limit is 4096.
#[test]
fn iamwire_run_raises_its_open_files_limit_to_the_hard_limit() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    e2e_run_support::iamwire_ok(&["certs", "init", "--dir", d]);
    std::fs::write(dir.path().join("redis.password"), "unused\n").unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let config = dir.path().join("iamwire.yaml");
    // A database nobody connects to: only the start matters here.
    std::fs::write(
        &config,
        "proxy:\n  tls:\n    cert_file: server.crt\n    key_file: server.key\n  listeners:\n    \
         - database: cache\n      listen: 127.0.0.1:0\n      password_file: redis.password\n\
         aws:\n  region: us-west-2\ndb_service:\n  enabled: \"yes\"\n  databases:\n  - name: cache\n    \
         protocol: redis\n    uri: \"localhost:9\"\n    tls:\n      mode: verify-full\n      \
         ca_cert_file: ca.crt\n",
    )
    .unwrap();
    let mut child = Command::new("prlimit")
        .args(["--nofile=256:4096", "--"])
        .arg(env!("CARGO_BIN_EXE_iamwire"))
        .args(["run", "--config"])
        .arg(&config)
        .env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // prlimit execs the proxy: same process. Wait for its listener line.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let listening = stdout
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains(" on 127.0.0.1:"));
    let limits =
        std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap_or_default();
    let _ = child.kill();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = child.wait();
    assert!(listening, "iamwire run did not start:\n{stderr}");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_default();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers, ["4096", "4096"], "{limits}");
    assert!(
        stderr.contains("raised the open files limit") && stderr.contains("256"),
        "{stderr}"
    );
}
