//! Shared set-up of the end-to-end tests: a proxy in front of the rig's Postgres.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use iamwire_core::tls::{ClientAuth, server_config, upstream_config};
use iamwire_core::{AllowList, AuthInjector, Database, Glob, IdentityRules, Protocol, TlsMode};
use iamwire_postgres::{PgProxy, Postgres};
use iamwire_proxy::ProxyBuilder;
use iamwire_testkit::{LOCAL_NAMES, PemFiles, TestCa};

/// What a test may change on the builder.
pub type PgProxyBuilder = ProxyBuilder<Postgres>;

pub const REGION: &str = "us-west-2";

/// An allow-list: `alice` may be `users` on database name `app`.
pub fn allow_alice(users: &[&str]) -> Arc<AllowList> {
    allow("alice", users)
}

/// An allow-list: `identity` may be `users` on database name `app`.
pub fn allow(identity: &str, users: &[&str]) -> Arc<AllowList> {
    Arc::new(AllowList::new(vec![IdentityRules {
        name: identity.into(),
        db_labels: [("*".to_owned(), Glob::new("*"))].into(),
        db_users: users.iter().map(|u| Glob::new(*u)).collect(),
        db_names: vec![Glob::new("app")],
    }]))
}

pub fn database(port: u16) -> Database {
    let mut db = Database::new("pg", Protocol::Postgres, format!("localhost:{port}"));
    db.aws.region = Some(REGION.into());
    db
}

/// Start a proxy for `db` on 127.0.0.1:0 (mTLS required with `ca`'s client certificates).
pub async fn start_proxy(
    ca: &TestCa,
    db: Database,
    injector: Arc<dyn AuthInjector>,
    users: &[&str],
    tweak: impl FnOnce(PgProxyBuilder) -> PgProxyBuilder,
) -> (PgProxy, SocketAddr) {
    start_proxy_with(
        ca,
        ClientAuth::Required,
        allow_alice(users),
        db,
        injector,
        tweak,
    )
    .await
}

/// Start a proxy speaking `protocol` (its limits and channel binding) for `db` on 127.0.0.1:0.
pub async fn start_proxy_as(
    ca: &TestCa,
    protocol: Postgres,
    db: Database,
    injector: Arc<dyn AuthInjector>,
    users: &[&str],
) -> (PgProxy, SocketAddr) {
    start(
        ca,
        protocol,
        ClientAuth::Required,
        allow_alice(users),
        db,
        injector,
        |b| b,
    )
    .await
}

/// Start a proxy on 127.0.0.1:0 with the given client certificate policy and authorizer.
pub async fn start_proxy_with(
    ca: &TestCa,
    client_auth: ClientAuth,
    authorizer: Arc<AllowList>,
    db: Database,
    injector: Arc<dyn AuthInjector>,
    tweak: impl FnOnce(PgProxyBuilder) -> PgProxyBuilder,
) -> (PgProxy, SocketAddr) {
    start(
        ca,
        Postgres::new(),
        client_auth,
        authorizer,
        db,
        injector,
        tweak,
    )
    .await
}

async fn start(
    ca: &TestCa,
    protocol: Postgres,
    client_auth: ClientAuth,
    authorizer: Arc<AllowList>,
    db: Database,
    injector: Arc<dyn AuthInjector>,
    tweak: impl FnOnce(PgProxyBuilder) -> PgProxyBuilder,
) -> (PgProxy, SocketAddr) {
    let server = ca.server(LOCAL_NAMES).unwrap();
    let tls = server_config(
        server.cert_pem.as_bytes(),
        server.key_pem.as_bytes(),
        Some(ca.cert_pem().as_bytes()),
        client_auth,
    )
    .unwrap();
    let builder = PgProxy::builder(protocol, db, tls, authorizer, injector)
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

/// A libpq DSN to the proxy with a client certificate.
pub fn proxy_dsn(addr: SocketAddr, user: &str, db: &str, files: Option<&PemFiles>) -> String {
    let mut dsn = format!(
        "host=localhost port={} user={user} dbname={db} sslmode=verify-full",
        addr.port()
    );
    if let Some(f) = files {
        dsn.push_str(&format!(
            " sslrootcert={} sslcert={} sslkey={}",
            f.ca.display(),
            f.cert.display(),
            f.key.display()
        ));
    }
    dsn
}

/// psql through the proxy, off the runtime's thread.
pub async fn psql(dsn: String, sql: &'static str) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        iamwire_testkit::postgres::psql(&dsn, None, sql).map_err(|e| e.to_string())
    })
    .await
    .unwrap()
}

/// tokio-postgres TLS with `ca` trusted and no client certificate.
pub fn client_tls_without_cert(ca: &TestCa) -> tokio_postgres_rustls::MakeRustlsConnect {
    let config =
        upstream_config(TlsMode::VerifyFull, Some(ca.cert_pem().as_bytes()), None).unwrap();
    tokio_postgres_rustls::MakeRustlsConnect::new((*config).clone())
}

/// tokio-postgres TLS with `ca` trusted and `name`'s client certificate.
pub fn client_tls(ca: &TestCa, name: &str) -> tokio_postgres_rustls::MakeRustlsConnect {
    let client = ca.client(name, &[]).unwrap();
    let config = upstream_config(
        TlsMode::VerifyFull,
        Some(ca.cert_pem().as_bytes()),
        Some((client.cert_pem.as_bytes(), client.key_pem.as_bytes())),
    )
    .unwrap();
    tokio_postgres_rustls::MakeRustlsConnect::new((*config).clone())
}

/// Connect with tokio-postgres through the proxy; the connection task runs in the background.
pub async fn connect(
    addr: SocketAddr,
    user: &str,
    db: &str,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    connect_dsn(
        &format!(
            "host=localhost port={} user={user} dbname={db} sslmode=require connect_timeout=20",
            addr.port()
        ),
        tls,
    )
    .await
}

/// Connect with tokio-postgres with `config`; the connection task runs in the background.
pub async fn connect_dsn(
    config: &str,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = config
        .parse::<tokio_postgres::Config>()
        .unwrap()
        .connect(tls)
        .await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The SQLSTATE of a tokio-postgres error.
pub fn code(error: &tokio_postgres::Error) -> Option<String> {
    error.as_db_error().map(|e| e.code().code().to_owned())
}
