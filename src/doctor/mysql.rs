//! The MySQL / MariaDB steps of `iamwire doctor`: TLS and the login with the token in one real client
//! connection (mysql_async: MySQL starts TLS inside its handshake, and RDS IAM needs the cleartext
//! plugin over TLS, as the proxy uses it), then `SELECT 1`.

use std::path::Path;
use std::time::Duration;

use iamwire_core::{Database, TlsMode, UpstreamLogin};
use iamwire_proxy::UpstreamEndpoint;
use mysql_async::prelude::Queryable;

use super::{Report, Step, within};

/// TLS, then the login: two steps, one connection.
pub(super) async fn tls_and_login(
    db: &Database,
    config_dir: &Path,
    endpoint: &UpstreamEndpoint,
    login: Option<UpstreamLogin>,
    db_name: Option<&str>,
    limit: Duration,
    report: &mut Report,
) {
    let Some(login) = login else {
        return;
    };
    let mut ssl = mysql_async::SslOpts::default()
        .with_danger_tls_hostname_override(Some(endpoint.server_name().to_str().into_owned()));
    if let Some(ca) = &db.tls.ca_cert_file {
        let ca = config_dir.join(ca);
        ssl = ssl.with_root_certs(vec![ca.into()]);
    }
    match db.tls.mode {
        TlsMode::VerifyFull => {}
        TlsMode::VerifyCa => ssl = ssl.with_danger_skip_domain_validation(true),
        _ => ssl = ssl.with_danger_accept_invalid_certs(true),
    }
    let secret = login.secret.expose_str().unwrap_or_default().to_owned();
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(endpoint.host())
        .tcp_port(endpoint.port())
        .user(Some(login.user.clone()))
        .pass(Some(secret))
        .db_name(db_name)
        .prefer_socket(false)
        .enable_cleartext_plugin(true)
        .ssl_opts(Some(ssl));
    let session = within(limit, async {
        let mut conn = mysql_async::Conn::new(opts).await?;
        conn.query_drop("SELECT 1").await?;
        conn.disconnect().await
    })
    .await;
    let user = &login.user;
    let error = match session {
        Ok(Ok(())) => {
            report.step("TLS", super::net::verified(db, endpoint, None));
            report.step(
                "login",
                Step::Ok(format!("logged in as {user} and ran SELECT 1")),
            );
            return;
        }
        Err(waited) => {
            report.step(
                "TLS",
                Step::failed(
                    format!("handshake and login: {waited}"),
                    "check that the port is MySQL's and the server is not overloaded",
                ),
            );
            return;
        }
        Ok(Err(e)) => e,
    };
    if let mysql_async::Error::Server(server) = &error {
        // The server answers only after TLS: the certificate passed.
        report.step("TLS", super::net::verified(db, endpoint, None));
        report.step("login", refused(db, user, server));
        return;
    }
    if let Some(tls) = rustls_error(&error) {
        report.step(
            "TLS",
            super::net::tls_refused(db, endpoint, Some(tls), &error.to_string()),
        );
        return;
    }
    report.step(
        "TLS",
        Step::failed(
            format!("handshake and login failed: {error}"),
            "check that the server speaks MySQL with TLS (require_secure_transport, have_ssl)",
        ),
    );
}

/// The rustls error somewhere in `error`'s causes.
fn rustls_error(error: &mysql_async::Error) -> Option<&rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        cause = e.source();
    }
    None
}

/// A refused login (`ER_ACCESS_DENIED_ERROR` 1045 for a refused token) and what to change.
fn refused(db: &Database, user: &str, server: &mysql_async::ServerError) -> Step {
    let what = format!(
        "the database refused user {user} (ERROR {} ({}): {})",
        server.code, server.state, server.message
    );
    let fix = match server.code {
        1045 | 1698 => {
            let arn = super::rds_connect_arn(db, user);
            format!(
                "let {user} log in with IAM (CREATE USER '{user}' IDENTIFIED WITH AWSAuthenticationPlugin \
                 AS 'RDS', REQUIRE SSL), and let the database role's policy allow rds-db:connect on {arn}"
            )
        }
        1049 => "the database does not exist: pass --db-name with one that does".to_owned(),
        _ => "see the database's message above".to_owned(),
    };
    Step::failed(what, fix)
}
