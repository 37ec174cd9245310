//! The PostgreSQL steps of `iamwire doctor`: TLS after an `SSLRequest` (as the proxy and libpq open it),
//! then a real login with the token on that connection (tokio-postgres), and `SELECT 1`.

use std::time::Duration;

use iamwire_core::{Database, UpstreamLogin};
use iamwire_proxy::UpstreamEndpoint;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::config::SslMode;

use super::{Report, Step, within};

/// An `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// The TLS stream to the database.
pub(super) type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// Ask for TLS and verify the certificate as the proxy does; `None` after a failed step.
pub(super) async fn tls(
    db: &Database,
    endpoint: &UpstreamEndpoint,
    mut tcp: TcpStream,
    limit: Duration,
    report: &mut Report,
) -> Option<TlsStream> {
    let answer = within(limit, async {
        tcp.write_all(&SSL_REQUEST).await?;
        tcp.read_u8().await
    })
    .await;
    let step = match answer {
        Ok(Ok(b'S')) => {
            let handshake = endpoint.connector().connect(endpoint.server_name(), tcp);
            match within(limit, handshake).await {
                Ok(Ok(tls)) => {
                    let version = tls.get_ref().1.protocol_version();
                    report.step("TLS", super::net::verified(db, endpoint, version));
                    return Some(tls);
                }
                Ok(Err(e)) => super::net::tls_failure(db, endpoint, &e),
                Err(waited) => Step::failed(
                    format!("TLS handshake: {waited}"),
                    "check that the port is PostgreSQL's",
                ),
            }
        }
        Ok(Ok(b'N')) => Step::failed(
            "the server does not accept TLS (it answered N to SSLRequest)",
            "turn on ssl in the server (RDS and Aurora always offer it); iamwire never logs in without TLS",
        ),
        Ok(Ok(other)) => Step::failed(
            format!("the server answered {other:#04x} to SSLRequest, not S or N"),
            format!("check that {} is a PostgreSQL server", endpoint.addr()),
        ),
        Ok(Err(e)) => Step::failed(
            format!("the server closed the connection on SSLRequest: {e}"),
            format!("check that {} is a PostgreSQL server", endpoint.addr()),
        ),
        Err(waited) => Step::failed(
            format!("no answer to SSLRequest: {waited}"),
            format!("check that {} is a PostgreSQL server", endpoint.addr()),
        ),
    };
    report.step("TLS", step);
    None
}

/// Log in as `login` to `db_name` on the verified connection, then `SELECT 1`.
pub(super) async fn login(
    db: &Database,
    tls: TlsStream,
    login: UpstreamLogin,
    db_name: &str,
    limit: Duration,
) -> Step {
    let mut config = tokio_postgres::Config::new();
    config
        .user(&login.user)
        .password(login.secret.expose())
        .dbname(db_name)
        .application_name("iamwire-doctor")
        .ssl_mode(SslMode::Disable);
    let session = within(limit, async {
        let (client, connection) = config.connect_raw(tls, tokio_postgres::NoTls).await?;
        let driver = tokio::spawn(connection);
        let answered = client.simple_query("SELECT 1").await;
        drop(client);
        let _ = driver.await;
        answered.map(|_| ())
    })
    .await;
    match session {
        Ok(Ok(())) => Step::Ok(format!(
            "logged in as {} to database {db_name} and ran SELECT 1",
            login.user
        )),
        Ok(Err(e)) => refused(db, &login.user, db_name, &e),
        Err(waited) => Step::failed(
            format!("login: {waited}"),
            "check the database's load and its authentication settings",
        ),
    }
}

/// A refused login, said as the database's SQLSTATE and message and what to change.
fn refused(db: &Database, user: &str, db_name: &str, e: &tokio_postgres::Error) -> Step {
    let Some(server) = e.as_db_error() else {
        return Step::failed(
            format!("login failed: {e}"),
            "check the database's authentication settings",
        );
    };
    let code = server.code().code();
    let what = format!(
        "the database refused user {user} ({} {code}: {})",
        server.severity(),
        server.message()
    );
    let aws = &db.aws;
    let fix = match code {
        "28P01" | "28000" if aws.redshift.is_some() || aws.redshift_serverless.is_some() => {
            format!(
                "the Redshift credentials were refused for {user}: the role's policy must allow \
             redshift:GetClusterCredentials (or redshift-serverless:GetCredentials) for this user"
            )
        }
        "28P01" | "28000" => {
            let arn = super::rds_connect_arn(db, user);
            format!(
                "let {user} log in with IAM (GRANT rds_iam TO \"{user}\"), and let the database role's \
                 policy allow rds-db:connect on {arn}"
            )
        }
        "3D000" => format!(
            "database {db_name} does not exist: pass --db-name with one that does (or name it in an \
             identity's db_names)"
        ),
        _ => "see the database's message above".to_owned(),
    };
    Step::failed(what, fix)
}
