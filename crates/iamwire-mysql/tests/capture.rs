//! Records real exchanges between the rig's MariaDB and real clients (the `mariadb` CLI, mysql_async),
//! without TLS so the packets can be read, into the fuzz seeds `fuzz/corpus/my_client/seed-*` (what
//! the client sent) and `fuzz/corpus/my_server/seed-*` (what the server sent). The split-read tests
//! replay the same files. Run again with `cargo test -p iamwire-mysql --test capture -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use iamwire_testkit::TestCa;
use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};
use mysql_async::prelude::Queryable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Tape = Arc<Mutex<Vec<u8>>>;

/// A relay on 127.0.0.1 to `target` that records each direction of every connection, in order.
async fn recorder(target: u16) -> (u16, Tape, Tape) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (up, down): (Tape, Tape) = Default::default();
    let (up2, down2) = (up.clone(), down.clone());
    tokio::spawn(async move {
        loop {
            let (client, _) = listener.accept().await.unwrap();
            let server = TcpStream::connect(("127.0.0.1", target)).await.unwrap();
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let (up, down) = (up2.clone(), down2.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 65536];
                while let Ok(n @ 1..) = cr.read(&mut buf).await {
                    up.lock().unwrap().extend_from_slice(&buf[..n]);
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                let mut buf = [0u8; 65536];
                while let Ok(n @ 1..) = sr.read(&mut buf).await {
                    down.lock().unwrap().extend_from_slice(&buf[..n]);
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, up, down)
}

fn save(name: &str, up: &Tape, down: &Tape) {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (target, tape) in [("my_client", up), ("my_server", down)] {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = std::mem::take(&mut *tape.lock().unwrap());
        assert!(!bytes.is_empty(), "{name}: nothing recorded for {target}");
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    }
}

fn cli(port: u16, user: &str, password: &str, extra: &[&str], sql: &str) -> String {
    let out = std::process::Command::new("mariadb")
        .args(["--no-defaults", "-N", "-B", "-h", "127.0.0.1", "--skip-ssl"])
        .arg(format!("--port={port}"))
        .arg(format!("--user={user}"))
        .args(extra)
        .env("MYSQL_PWD", password)
        .args(["-e", sql])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "rewrites the committed fuzz seeds; run by hand to capture again"]
async fn capture_real_handshakes() {
    let ca = TestCa::new().unwrap();
    let db = MariaDb::start(&ca, MariaDbOptions::default()).unwrap();
    let (user, password) = mariadb::NATIVE_USER;
    db.sql(&format!(
        "CREATE USER 'pam_capture'@'%' IDENTIFIED VIA pam USING '{}';",
        db.pam().name()
    ))
    .unwrap();

    let (port, up, down) = recorder(db.port()).await;
    let out = tokio::task::spawn_blocking(move || {
        cli(port, user, password, &["--database=app"], "SELECT 1")
    });
    assert_eq!(out.await.unwrap().trim(), "1");
    settle().await;
    save("native-login-query", &up, &down);

    let out = tokio::task::spawn_blocking(move || {
        cli(
            port,
            user,
            password,
            &[],
            "use app; KILL QUERY 99999; SELECT SLEEP(0)",
        )
    });
    assert!(out.await.unwrap().contains("1094"));
    settle().await;
    save("init-db-kill", &up, &down);

    // The server switches to mysql_clear_password for the PAM user, and refuses the password.
    let out = tokio::task::spawn_blocking(move || {
        cli(port, "pam_capture", "not-a-token", &[], "SELECT 1")
    });
    assert!(out.await.unwrap().contains("1045"));
    settle().await;
    save("clear-password-switch-refused", &up, &down);

    // mysql_async: its own handshake, a COM_CHANGE_USER, and a result set.
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(password))
        .db_name(Some("app"))
        .prefer_socket(false);
    let mut conn = mysql_async::Conn::new(opts).await.unwrap();
    let rows: Vec<(u32, String)> = conn
        .query("SELECT 1, 'one' UNION SELECT 2, 'two'")
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    conn.change_user(Default::default()).await.unwrap();
    conn.disconnect().await.unwrap();
    settle().await;
    save("mysql-async-change-user", &up, &down);
}
