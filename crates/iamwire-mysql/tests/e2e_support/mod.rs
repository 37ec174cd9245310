//! Shared set-up of the end-to-end tests: a proxy in front of a database, and the real clients that
//! talk to it — the `mariadb` CLI, mysql_async, PyMySQL and mysql-connector-python.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use iamwire_core::tls::{ClientAuth, server_config};
use iamwire_core::{AllowList, AuthInjector, Database, Glob, IdentityRules, Protocol};
use iamwire_mysql::{MySql, MySqlProxy};
use iamwire_proxy::ProxyBuilder;
use iamwire_testkit::{LOCAL_NAMES, PemFiles, TestCa};
use mysql_async::prelude::Queryable;

/// What a test may change on the builder.
pub type MyProxyBuilder = ProxyBuilder<MySql>;

pub const REGION: &str = "us-west-2";

/// Rules: `identity` may be `users` on database names `names`.
pub fn rule(identity: &str, users: &[&str], names: &[&str]) -> IdentityRules {
    IdentityRules {
        name: identity.into(),
        db_labels: [("*".to_owned(), Glob::new("*"))].into(),
        db_users: users.iter().map(|u| Glob::new(*u)).collect(),
        db_names: names.iter().map(|n| Glob::new(*n)).collect(),
    }
}

/// An allow-list: `alice` may be `users` on database name `app`.
pub fn allow_alice(users: &[&str]) -> Arc<AllowList> {
    Arc::new(AllowList::new(vec![rule("alice", users, &["app"])]))
}

pub fn database(port: u16) -> Database {
    let mut db = Database::new("my", Protocol::MySql, format!("localhost:{port}"));
    db.aws.region = Some(REGION.into());
    db
}

/// Start a proxy for `db` on 127.0.0.1:0, clients' certificates checked against `ca` (`client_auth`
/// says whether one is required).
pub async fn start_proxy(
    ca: &TestCa,
    client_auth: ClientAuth,
    authorizer: Arc<AllowList>,
    db: Database,
    injector: Arc<dyn AuthInjector>,
    tweak: impl FnOnce(MyProxyBuilder) -> MyProxyBuilder,
) -> (MySqlProxy, SocketAddr) {
    let server = ca.server(LOCAL_NAMES).unwrap();
    let tls = server_config(
        server.cert_pem.as_bytes(),
        server.key_pem.as_bytes(),
        Some(ca.cert_pem().as_bytes()),
        client_auth,
    )
    .unwrap();
    let builder = MySqlProxy::builder(MySql::new(), db, tls, authorizer, injector)
        .upstream_tls(ca.cert_pem().as_bytes().to_vec());
    let proxy = tweak(builder).build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = proxy.clone();
    tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });
    (proxy, addr)
}

/// Client certificate files for `name` in `dir`.
pub fn client_files(ca: &TestCa, dir: &Path, name: &str) -> PemFiles {
    ca.write(dir, name, &ca.client(name, &[]).unwrap()).unwrap()
}

/// How a client logs in through the proxy.
#[derive(Debug, Clone)]
pub struct Login {
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: Option<String>,
    /// The CA that issued the proxy's certificate.
    pub ca: PathBuf,
    /// A client certificate and key, for mTLS.
    pub cert: Option<(PathBuf, PathBuf)>,
}

impl Login {
    /// `user` on `app` with `files`' certificate (and its CA for the proxy's).
    pub fn mtls(addr: SocketAddr, user: &str, files: &PemFiles) -> Self {
        Self {
            port: addr.port(),
            user: user.into(),
            password: String::new(),
            database: Some("app".into()),
            ca: files.ca.clone(),
            cert: Some((files.cert.clone(), files.key.clone())),
        }
    }

    /// `user` with a proxy `password`, no client certificate; `ca` verifies the proxy.
    pub fn password(addr: SocketAddr, user: &str, password: &str, ca: &Path) -> Self {
        Self {
            port: addr.port(),
            user: user.into(),
            password: password.into(),
            database: Some("app".into()),
            ca: ca.to_owned(),
            cert: None,
        }
    }

    #[must_use]
    pub fn database(mut self, database: Option<&str>) -> Self {
        self.database = database.map(str::to_owned);
        self
    }
}

/// What a client saw: its answer, or the error code it reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Rows(String),
    Error { code: u16, text: String },
}

impl Answer {
    pub fn rows(&self) -> &str {
        match self {
            Self::Rows(rows) => rows,
            Self::Error { code, text } => panic!("expected rows, got error {code}: {text}"),
        }
    }

    pub fn code(&self) -> u16 {
        match self {
            Self::Rows(rows) => panic!("expected an error, got {rows:?}"),
            Self::Error { code, .. } => *code,
        }
    }
}

/// A proxy on 127.0.0.1:0 in front of `db`, for `alice`'s certificate, logging in upstream as the rig's
/// `mysql_native_password` user.
pub async fn native_behind_proxy(
    ca: &TestCa,
    db: &iamwire_testkit::mariadb::MariaDb,
) -> (MySqlProxy, SocketAddr) {
    let (user, password) = iamwire_testkit::mariadb::NATIVE_USER;
    start_proxy(
        ca,
        ClientAuth::Required,
        allow_alice(&[user]),
        database(db.port()),
        Arc::new(iamwire_core::StaticPasswordInjector::new(password)),
        |b| b,
    )
    .await
}

/// The `mariadb` CLI for `login` (TLS verified against its CA), in batch mode, `extra` options last.
pub fn mariadb_command(login: &Login, extra: &[&str]) -> Command {
    let mut cmd = Command::new("mariadb");
    cmd.args([
        "--no-defaults",
        "-N",
        "-B",
        "-h",
        "localhost",
        "--protocol=TCP",
    ])
    .arg(format!("--port={}", login.port))
    .arg(format!("--user={}", login.user))
    .arg(format!("--ssl-ca={}", login.ca.display()))
    .arg("--ssl-verify-server-cert")
    .arg("--connect-timeout=30")
    .args(extra)
    .env("MYSQL_PWD", &login.password);
    if let Some((cert, key)) = &login.cert {
        cmd.arg(format!("--ssl-cert={}", cert.display()))
            .arg(format!("--ssl-key={}", key.display()));
    }
    if let Some(db) = &login.database {
        cmd.arg(format!("--database={db}"));
    }
    cmd
}

/// The `mariadb` CLI runs `sql` in batch mode (tab-separated, no column names).
pub fn mariadb_cli(login: &Login, sql: &str, extra: &[&str]) -> Answer {
    let out = mariadb_command(login, extra)
        .args(["-e", sql])
        .output()
        .expect("run mariadb");
    if out.status.success() {
        return Answer::Rows(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = text
        .split("ERROR ")
        .nth(1)
        .and_then(|rest| rest.split([' ', ':']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Answer::Error { code, text }
}

/// The Python clients: PyMySQL and mysql-connector-python (pure Python), from the rig venv.
const PY_CLIENT: &str = r#"
import json, sys
args = json.loads(sys.argv[1])
try:
    if args["driver"] == "pymysql":
        import pymysql
        conn = pymysql.connect(host="localhost", port=args["port"], user=args["user"],
            password=args["password"], database=args.get("database"), ssl_ca=args["ca"],
            ssl_cert=args.get("cert"), ssl_key=args.get("key"), ssl_verify_cert=True,
            ssl_verify_identity=True, connect_timeout=30)
    else:
        import mysql.connector
        kw = dict(host="localhost", port=args["port"], user=args["user"],
            password=args["password"], ssl_ca=args["ca"], ssl_verify_cert=True,
            ssl_verify_identity=True, use_pure=True, connection_timeout=30)
        if args.get("database"):
            kw["database"] = args["database"]
        if args.get("cert"):
            kw.update(ssl_cert=args["cert"], ssl_key=args["key"])
        conn = mysql.connector.connect(**kw)
    if args.get("change_user"):
        if args["driver"] == "pymysql":
            raise RuntimeError("PyMySQL has no COM_CHANGE_USER")
        conn.cmd_change_user(username=args["change_user"], password=args["password"],
            database=args.get("database") or "")
    cur = conn.cursor()
    cur.execute(args["sql"])
    rows = cur.fetchall()
    conn.close()
    print(json.dumps({"rows": "\n".join("\t".join(str(v) for v in r) for r in rows)}))
except Exception as e:
    code = e.args[0] if e.args and isinstance(e.args[0], int) else getattr(e, "errno", None) or 0
    print(json.dumps({"code": code, "text": repr(e)}))
"#;

/// PyMySQL (`driver = "pymysql"`) or mysql-connector-python (`"connector"`) runs `sql`.
pub fn python_client(driver: &str, login: &Login, sql: &str) -> Answer {
    python_client_as(driver, login, None, sql)
}

/// Like [`python_client`], with a COM_CHANGE_USER to `change_user` (same password and database)
/// before `sql` (mysql-connector-python only).
pub fn python_client_as(
    driver: &str,
    login: &Login,
    change_user: Option<&str>,
    sql: &str,
) -> Answer {
    let mut args = serde_json::json!({
        "driver": driver, "port": login.port, "user": login.user, "password": login.password,
        "database": login.database, "ca": login.ca, "sql": sql, "change_user": change_user,
    });
    if let Some((cert, key)) = &login.cert {
        args["cert"] = serde_json::json!(cert);
        args["key"] = serde_json::json!(key);
    }
    let out = Command::new(iamwire_testkit::python())
        .args(["-c", PY_CLIENT, &args.to_string()])
        .output()
        .expect("run the venv's python");
    parse_answer(driver, &out)
}

/// The JSON answer a client script printed.
fn parse_answer(client: &str, out: &std::process::Output) -> Answer {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Ok(v) = serde_json::from_str::<serde_json::Value>(stdout.trim()) else {
        panic!(
            "{client}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    match v.get("rows") {
        Some(rows) => Answer::Rows(rows.as_str().unwrap_or_default().to_owned()),
        None => Answer::Error {
            code: v["code"].as_u64().unwrap_or(0) as u16,
            text: v["text"].as_str().unwrap_or_default().to_owned(),
        },
    }
}

/// What the `mariadb` CLI, PyMySQL and mysql-connector-python each answer to `sql` (run off the
/// runtime's threads).
pub async fn each_client(login: &Login, sql: &'static str) -> Vec<(&'static str, Answer)> {
    let mut answers = Vec::new();
    for client in ["mariadb", "pymysql", "connector"] {
        let login = login.clone();
        let answer = tokio::task::spawn_blocking(move || match client {
            "mariadb" => mariadb_cli(&login, sql, &[]),
            driver => python_client(driver, &login, sql),
        });
        answers.push((client, answer.await.unwrap()));
    }
    answers
}

/// libmariadb's own `mysql_change_user()` (the C client library behind the `mariadb` CLI, through
/// ctypes): log in as `login`, change to `to`, then run `sql`.
const LIBMARIADB_CHANGE_USER: &str = r#"
import ctypes, json, sys
from ctypes import c_char_p, c_uint, c_ulong, c_void_p
a = json.loads(sys.argv[1])
lib = ctypes.CDLL("libmariadb.so.3")
lib.mysql_init.restype = c_void_p
lib.mysql_init.argtypes = [c_void_p]
lib.mysql_ssl_set.argtypes = [c_void_p, c_char_p, c_char_p, c_char_p, c_char_p, c_char_p]
lib.mysql_real_connect.restype = c_void_p
lib.mysql_real_connect.argtypes = [c_void_p, c_char_p, c_char_p, c_char_p, c_char_p, c_uint, c_char_p, c_ulong]
lib.mysql_change_user.argtypes = [c_void_p, c_char_p, c_char_p, c_char_p]
lib.mysql_errno.argtypes = [c_void_p]
lib.mysql_error.argtypes = [c_void_p]
lib.mysql_error.restype = c_char_p
lib.mysql_query.argtypes = [c_void_p, c_char_p]
lib.mysql_store_result.argtypes = [c_void_p]
lib.mysql_store_result.restype = c_void_p
lib.mysql_fetch_row.argtypes = [c_void_p]
lib.mysql_fetch_row.restype = ctypes.POINTER(c_char_p)
e = lambda s: s.encode() if s else None
m = lib.mysql_init(None)
lib.mysql_ssl_set(m, e(a["key"]), e(a["cert"]), e(a["ca"]), None, None)
def fail():
    print(json.dumps({"code": lib.mysql_errno(m), "text": lib.mysql_error(m).decode()}))
    sys.exit(0)
if not lib.mysql_real_connect(m, b"127.0.0.1", e(a["user"]), e(a["password"]), e(a["database"]), a["port"], None, 0):
    fail()
if lib.mysql_change_user(m, e(a["to"]), e(a["password"]), e(a["database"])):
    fail()
if lib.mysql_query(m, e(a["sql"])):
    fail()
row = lib.mysql_fetch_row(lib.mysql_store_result(m))
print(json.dumps({"rows": row[0].decode()}))
"#;

/// libmariadb logs in as `login`, changes user to `to` (same password and database), runs `sql`.
pub fn libmariadb_change_user(login: &Login, to: &str, sql: &str) -> Answer {
    let (cert, key) = login.cert.clone().unwrap_or_default();
    let args = serde_json::json!({
        "port": login.port, "user": login.user, "password": login.password, "to": to,
        "database": login.database, "ca": login.ca, "cert": cert, "key": key, "sql": sql,
    });
    let out = Command::new(iamwire_testkit::python())
        .args(["-c", LIBMARIADB_CHANGE_USER, &args.to_string()])
        .output()
        .expect("run the venv's python");
    parse_answer("libmariadb", &out)
}

/// mysql_async options for `login` (rustls, verifying the proxy as `localhost`).
pub fn async_opts(login: &Login) -> mysql_async::Opts {
    let mut ssl = mysql_async::SslOpts::default().with_root_certs(vec![login.ca.clone().into()]);
    if let Some((cert, key)) = &login.cert {
        ssl = ssl.with_client_identity(Some(mysql_async::ClientIdentity::new(
            cert.clone().into(),
            key.clone().into(),
        )));
    }
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("localhost")
        .tcp_port(login.port)
        .user(Some(&login.user))
        .pass(Some(&login.password))
        .db_name(login.database.as_deref())
        .prefer_socket(false)
        .ssl_opts(ssl)
        .into()
}

/// A mysql_async connection through the proxy.
pub async fn async_conn(login: &Login) -> Result<mysql_async::Conn, mysql_async::Error> {
    mysql_async::Conn::new(async_opts(login)).await
}

/// The server error code of a mysql_async error.
pub fn async_code(error: &mysql_async::Error) -> Option<u16> {
    match error {
        mysql_async::Error::Server(e) => Some(e.code),
        _ => None,
    }
}

/// `SELECT CURRENT_USER(), DATABASE()` through mysql_async: `user@host` and the database.
pub async fn whoami(conn: &mut mysql_async::Conn) -> (String, Option<String>) {
    conn.query_first("SELECT CURRENT_USER(), DATABASE()")
        .await
        .unwrap()
        .unwrap()
}

/// How many connections the database had accepted before this call (its `Connections` status, less
/// the connection that asks).
pub fn connections(db: &iamwire_testkit::mariadb::MariaDb) -> u64 {
    let total: u64 = db
        .sql("SHOW GLOBAL STATUS LIKE 'Connections'")
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    total - 1
}

/// Assert that nothing connected to `db` since `before` (a [`connections`] taken earlier).
pub fn assert_no_connection_since(db: &iamwire_testkit::mariadb::MariaDb, before: u64) {
    // The call that took `before` was itself a connection.
    assert_eq!(connections(db), before + 1, "the database saw a connection");
}
