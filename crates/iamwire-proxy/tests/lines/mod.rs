//! A line-based test protocol on the framework, a fake database that speaks it, injectors that fail on
//! demand, and a client: enough to drive every phase, timeout and failure without anything
//! Postgres-shaped.
//!
//! Client:   `STARTTLS\n` → `+TLS\n`, TLS, then `HELLO <user> [<db>]\n`  (or `CANCEL <id> <secret>\n`)
//!           (if asked `PASSWORD?\n`: `PASSWORD <pw>\n`) → `WELCOME <id> <secret>\n`
//! Database: TLS at once; `LOGIN <user> <password> <db>\n` → `OK <key>\n` or `NO <why>\n`;
//!           then `echo <x>\n` → `<x>\n`, `sleep <ms>\n` → `slept\n` after that long;
//!           on a fresh connection `KILL <key>\n` ends the sleep of that session early (`killed\n`).
//! Errors:   `ERR <phase> <side> <message>\n`, the protocol's one refusal function.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    dead_code,
    unreachable_pub,
    missing_docs
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iamwire_core::tls::{ClientAuth, server_config, upstream_config};
use iamwire_core::{
    AllowList, AuthInjector, Database, Glob, IdentityRules, InjectError, InjectErrorKind,
    LoginFuture, Protocol as DbProtocol, SessionRequest, TlsMode, UpstreamLogin,
};
use iamwire_proxy::scram::ScramSecret;
use iamwire_proxy::{
    ClientConn, Cx, Framing, Hello, Protocol, ProtocolError, Proxy, ProxyBuilder, Registration,
    SessionError, Side, UpstreamConn,
};
use iamwire_testkit::{LOCAL_NAMES, TestCa};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// What the line protocol's errors are.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("the client sent {0:?}")]
    BadClientLine(String),
    #[error("the database said no: {0}")]
    Rejected(String),
    #[error("the database sent {0:?}")]
    BadDbLine(String),
}

impl ProtocolError for LineError {
    fn side(&self) -> Side {
        match self {
            Self::BadClientLine(_) => Side::Client,
            _ => Side::Upstream,
        }
    }
    fn is_login_rejected(&self) -> bool {
        matches!(self, Self::Rejected(_))
    }
}

type Result<T> = std::result::Result<T, SessionError<LineError>>;

pub struct Lines;

#[derive(Default)]
pub struct LineState {
    pub user: String,
    pub db: String,
}

/// What the registry keeps per session: the client-visible secret and the database's own key.
#[derive(Clone)]
pub struct Target {
    secret: String,
    db_key: String,
}

pub struct Cancel {
    secret: String,
}

fn client_io(source: std::io::Error) -> SessionError<LineError> {
    SessionError::ClientIo { source }
}

fn db_io(source: std::io::Error) -> SessionError<LineError> {
    SessionError::UpstreamIo { source }
}

/// Take one line (without its newline) out of `buf`, if a whole one is there.
fn take_line(buf: &mut bytes::BytesMut) -> Option<String> {
    let end = buf.iter().position(|b| *b == b'\n')?;
    let line = buf.split_to(end + 1);
    Some(String::from_utf8_lossy(&line[..end]).into_owned())
}

async fn client_line(client: &mut ClientConn) -> Result<String> {
    loop {
        if let Some(line) = take_line(&mut client.buf) {
            return Ok(line);
        }
        if client.buf.len() > 1024 {
            return Err(LineError::BadClientLine("an over-long line".into()).into());
        }
        client.fill().await.map_err(client_io)?;
    }
}

async fn db_line(up: &mut UpstreamConn) -> Result<String> {
    loop {
        if let Some(line) = take_line(&mut up.buf) {
            return Ok(line);
        }
        up.fill().await.map_err(db_io)?;
    }
}

impl Protocol for Lines {
    type State = LineState;
    type OutOfBand = Cancel;
    type Registered = Target;
    type Error = LineError;

    fn name(&self) -> &'static str {
        "lines"
    }

    async fn hello(
        &self,
        _cx: &Cx<'_, Target>,
        client: &mut ClientConn,
        state: &mut LineState,
    ) -> Result<Hello<Cancel>> {
        let first = client_line(client).await?;
        if first != "STARTTLS" {
            return Err(LineError::BadClientLine(first).into());
        }
        client.send(b"+TLS\n").await.map_err(client_io)?;
        client.start_tls().await?;
        let line = client_line(client).await?;
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["HELLO", user] | ["HELLO", user, ""] => {
                state.user = (*user).to_owned();
                // The protocol's default: no database means the one named after the user.
                state.db = (*user).to_owned();
            }
            ["HELLO", user, db] => {
                state.user = (*user).to_owned();
                state.db = (*db).to_owned();
            }
            ["CANCEL", id, secret] => {
                return Ok(Hello::OutOfBand {
                    session: id.parse().ok(),
                    request: Cancel {
                        secret: (*secret).to_owned(),
                    },
                });
            }
            _ => return Err(LineError::BadClientLine(line).into()),
        }
        Ok(Hello::Session {
            db_user: state.user.clone(),
            db_name: Some(state.db.clone()),
        })
    }

    async fn prove_password(
        &self,
        _cx: &Cx<'_, Target>,
        client: &mut ClientConn,
        _state: &mut LineState,
        secret: &ScramSecret,
    ) -> Result<()> {
        client.send(b"PASSWORD?\n").await.map_err(client_io)?;
        let line = client_line(client).await?;
        let password = line.strip_prefix("PASSWORD ").unwrap_or("");
        if secret.verify_password(password.as_bytes()) {
            Ok(())
        } else {
            Err(SessionError::NoClientIdentity)
        }
    }

    async fn connect(
        &self,
        cx: &Cx<'_, Target>,
        _state: &mut LineState,
        tcp: TcpStream,
    ) -> Result<UpstreamConn> {
        UpstreamConn::start_tls(cx.endpoint, tcp, &[])
            .await
            .map_err(|source| SessionError::UpstreamTls {
                addr: cx.endpoint.addr().to_owned(),
                source,
            })
    }

    async fn login(
        &self,
        _cx: &Cx<'_, Target>,
        _client: &mut ClientConn,
        state: &mut LineState,
        upstream: &mut UpstreamConn,
        login: UpstreamLogin,
        want: &SessionRequest<'_>,
    ) -> Result<()> {
        let password = login.secret.expose_str().unwrap_or_default();
        let db = want.db_name.unwrap_or(&state.db);
        let line = format!("LOGIN {} {password} {db}\n", login.user);
        upstream.send(line.as_bytes()).await.map_err(db_io)?;
        let answer = db_line(upstream).await?;
        match answer.split_once(' ') {
            Some(("OK", key)) => {
                state.db = key.to_owned();
                Ok(())
            }
            Some(("NO", why)) => Err(LineError::Rejected(why.to_owned()).into()),
            _ => Err(LineError::BadDbLine(answer).into()),
        }
    }

    async fn welcome(
        &self,
        cx: &Cx<'_, Target>,
        client: &mut ClientConn,
        state: &mut LineState,
        _upstream: &mut UpstreamConn,
        registration: &Registration<Target>,
    ) -> Result<()> {
        let secret = format!("{:08x}", u32::from_be_bytes(cx.random.array()?));
        registration.set(Target {
            secret: secret.clone(),
            db_key: state.db.clone(),
        });
        let line = format!("WELCOME {} {secret}\n", registration.id());
        client.send(line.as_bytes()).await.map_err(client_io)
    }

    fn framing(&self, _state: &LineState) -> Option<Box<dyn Framing>> {
        Some(Box::new(LineFraming { inside: false }))
    }

    async fn out_of_band(
        &self,
        cx: &Cx<'_, Target>,
        target: Option<Target>,
        request: Cancel,
    ) -> Result<()> {
        let Some(target) = target.filter(|t| t.secret == request.secret) else {
            return Ok(());
        };
        let tcp = cx.dialer.dial(cx.endpoint).await.map_err(db_io)?;
        let mut up = UpstreamConn::start_tls(cx.endpoint, tcp, &[])
            .await
            .map_err(db_io)?;
        up.send(format!("KILL {}\n", target.db_key).as_bytes())
            .await
            .map_err(db_io)?;
        let _ = db_line(&mut up).await;
        Ok(())
    }

    fn refusal(&self, _state: &LineState, error: &SessionError<LineError>) -> Option<Vec<u8>> {
        let hint = match error {
            SessionError::Protocol { hint: Some(h), .. } => format!(" (hint: {h})"),
            _ => String::new(),
        };
        Some(
            format!(
                "ERR {} {} {error}{hint}\n",
                error.phase(),
                error.side().as_str()
            )
            .into_bytes(),
        )
    }
}

/// Lines end at `\n`.
struct LineFraming {
    inside: bool,
}

impl Framing for LineFraming {
    fn advance(&mut self, bytes: &[u8]) {
        if let Some(last) = bytes.last() {
            self.inside = *last != b'\n';
        }
    }
    fn rest_of_message(&self, next: &[u8]) -> Option<usize> {
        if !self.inside {
            return Some(0);
        }
        next.iter().position(|b| *b == b'\n').map(|i| i + 1)
    }
}

/// How the fake database behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbMode {
    /// Logs in anyone whose password is `right`.
    Normal,
    /// Accepts TCP and never starts TLS.
    SilentTls,
    /// Completes TLS, reads LOGIN and never answers.
    SilentLogin,
}

/// The fake database: TLS with the test CA's server certificate.
pub struct FakeDb {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub logins: Arc<Mutex<Vec<String>>>,
    pub kills: Arc<AtomicUsize>,
}

impl FakeDb {
    pub async fn start(ca: &TestCa, mode: DbMode) -> Self {
        let server = ca.server(LOCAL_NAMES).unwrap();
        let tls = server_config(
            server.cert_pem.as_bytes(),
            server.key_pem.as_bytes(),
            None,
            ClientAuth::None,
        )
        .unwrap();
        let acceptor = TlsAcceptor::from(tls);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let db = Self {
            addr,
            connections: Arc::default(),
            logins: Arc::default(),
            kills: Arc::default(),
        };
        let sleepers: Arc<Mutex<HashMap<String, oneshot::Sender<()>>>> = Arc::default();
        let (connections, logins, kills) =
            (db.connections.clone(), db.logins.clone(), db.kills.clone());
        tokio::spawn(async move {
            let mut next_key = 0u32;
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                connections.fetch_add(1, Ordering::SeqCst);
                next_key += 1;
                let key = format!("k{next_key}");
                let (acceptor, logins, kills, sleepers) = (
                    acceptor.clone(),
                    logins.clone(),
                    kills.clone(),
                    sleepers.clone(),
                );
                tokio::spawn(async move {
                    if mode == DbMode::SilentTls {
                        let _keep = tcp;
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    serve_db(tls, mode, key, logins, kills, sleepers).await;
                });
            }
        });
        db
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn serve_db(
    tls: tokio_rustls::server::TlsStream<TcpStream>,
    mode: DbMode,
    key: String,
    logins: Arc<Mutex<Vec<String>>>,
    kills: Arc<AtomicUsize>,
    sleepers: Arc<Mutex<HashMap<String, oneshot::Sender<()>>>>,
) {
    let (read, mut write) = tokio::io::split(tls);
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let words: Vec<&str> = line.split(' ').collect();
        let reply = match words.as_slice() {
            ["LOGIN", user, password, db] => {
                logins.lock().unwrap().push(format!("{user} {db}"));
                if mode == DbMode::SilentLogin {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                if *password == "right" {
                    format!("OK {key}")
                } else {
                    "NO wrong password".to_owned()
                }
            }
            ["KILL", target] => {
                kills.fetch_add(1, Ordering::SeqCst);
                // Take a moment, as a real cancel does.
                tokio::time::sleep(Duration::from_millis(50)).await;
                if let Some(tx) = sleepers.lock().unwrap().remove(*target) {
                    let _ = tx.send(());
                }
                "done".to_owned()
            }
            ["echo", rest @ ..] => rest.join(" "),
            ["sleep", ms] => {
                let (tx, rx) = oneshot::channel();
                sleepers.lock().unwrap().insert(key.clone(), tx);
                let ms = ms.parse().unwrap_or(0);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(ms)) => "slept".to_owned(),
                    _ = rx => "killed".to_owned(),
                }
            }
            _ => format!("what? {line}"),
        };
        if write
            .write_all(format!("{reply}\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Injectors that succeed or fail on demand.
#[derive(Debug)]
pub enum TestInjector {
    Password(&'static str),
    Fail(InjectErrorKind),
    Hang,
}

impl AuthInjector for TestInjector {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        Box::pin(async move {
            match self {
                Self::Password(p) => Ok(UpstreamLogin::new(want.db_user, *p)),
                Self::Fail(kind) => Err(InjectError::new(*kind, "no credentials for you")
                    .with_hint("fix the trust policy")),
                Self::Hang => std::future::pending().await,
            }
        })
    }

    fn rejected_hint(&self, want: &SessionRequest<'_>) -> Option<String> {
        Some(format!("grant {} the login", want.db_user))
    }
}

/// `alice` may be `app` on database name `app`.
pub fn allow_alice() -> Arc<AllowList> {
    allow(&["alice"])
}

/// Each of `identities` may be `app` on database name `app`.
pub fn allow(identities: &[&str]) -> Arc<AllowList> {
    Arc::new(AllowList::new(
        identities
            .iter()
            .map(|name| IdentityRules {
                name: (*name).into(),
                db_labels: [("*".to_owned(), Glob::new("*"))].into(),
                db_users: vec![Glob::new("app")],
                db_names: vec![Glob::new("app")],
            })
            .collect(),
    ))
}

/// A proxy builder for the fake database at `db`, mTLS with `ca`'s client certificates.
pub fn builder(ca: &TestCa, db: SocketAddr, injector: TestInjector) -> ProxyBuilder<Lines> {
    builder_with(ca, db, injector, ClientAuth::Required)
}

pub fn builder_with(
    ca: &TestCa,
    db: SocketAddr,
    injector: TestInjector,
    client_auth: ClientAuth,
) -> ProxyBuilder<Lines> {
    builder_full(ca, db, injector, client_auth, allow_alice())
}

pub fn builder_full(
    ca: &TestCa,
    db: SocketAddr,
    injector: TestInjector,
    client_auth: ClientAuth,
    authorizer: Arc<AllowList>,
) -> ProxyBuilder<Lines> {
    let server = ca.server(LOCAL_NAMES).unwrap();
    let tls = server_config(
        server.cert_pem.as_bytes(),
        server.key_pem.as_bytes(),
        Some(ca.cert_pem().as_bytes()),
        client_auth,
    )
    .unwrap();
    let mut database = Database::new(
        "lines-db",
        DbProtocol::Postgres,
        format!("localhost:{}", db.port()),
    );
    database.tls.mode = TlsMode::VerifyFull;
    Proxy::builder(Lines, database, tls, authorizer, Arc::new(injector))
        .upstream_tls(ca.cert_pem().as_bytes().to_vec())
}

/// A running proxy: its address, a handle, the trigger for its shutdown, and the serve task.
pub struct Running {
    pub addr: SocketAddr,
    pub proxy: Proxy<Lines>,
    pub shutdown: Option<oneshot::Sender<()>>,
    pub served: tokio::task::JoinHandle<()>,
}

impl Running {
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn run(builder: ProxyBuilder<Lines>) -> Running {
    let proxy = builder.build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let serving = proxy.clone();
    let served = tokio::spawn(async move {
        serving
            .serve(listener, async {
                let _ = rx.await;
            })
            .await;
    });
    Running {
        addr,
        proxy,
        shutdown: Some(tx),
        served,
    }
}

/// A client of the line protocol.
pub struct Client {
    pub lines: tokio::io::Lines<
        BufReader<tokio::io::ReadHalf<tokio_rustls::client::TlsStream<TcpStream>>>,
    >,
    pub write: tokio::io::WriteHalf<tokio_rustls::client::TlsStream<TcpStream>>,
}

/// What the server said to a plain connection that never got to TLS.
pub async fn plain_answer(addr: SocketAddr, send: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(send).await.unwrap();
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_string(&mut out)).await;
    out
}

/// Connect, STARTTLS, TLS as `name` (a client certificate from `ca`, or none).
pub async fn connect(addr: SocketAddr, ca: &TestCa, name: Option<&str>) -> Client {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"STARTTLS\n").await.unwrap();
    let mut plus = [0u8; 5];
    tcp.read_exact(&mut plus).await.unwrap();
    assert_eq!(&plus, b"+TLS\n");
    let cert = name.map(|n| ca.client(n, &[]).unwrap());
    let config = upstream_config(
        TlsMode::VerifyFull,
        Some(ca.cert_pem().as_bytes()),
        cert.as_ref()
            .map(|c| (c.cert_pem.as_bytes(), c.key_pem.as_bytes())),
    )
    .unwrap();
    let tls = TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (read, write) = tokio::io::split(tls);
    Client {
        lines: BufReader::new(read).lines(),
        write,
    }
}

impl Client {
    pub async fn send(&mut self, line: &str) {
        self.write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }

    /// The next line, or `None` at the end (or after 20 s).
    pub async fn line(&mut self) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(20), self.lines.next_line())
            .await
            .ok()
            .and_then(|r| r.ok())
            .flatten()
    }

    /// Log in as `user` on `db`; the welcome line.
    pub async fn hello(&mut self, user: &str, db: &str) -> Option<String> {
        self.send(&format!("HELLO {user} {db}")).await;
        self.line().await
    }
}
