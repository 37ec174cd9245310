//! `iamwire sessions ls|kill` and `iamwire db ls|pause|resume`: clients of a running proxy's admin API
//! (`proxy.admin`), over HTTPS with an admin client certificate.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use iamwire_core::TlsMode;
use serde_json::Value;

/// The longest answer read from the admin API.
const MAX_ANSWER: usize = 16 * 1024 * 1024;
/// How long a call may take, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the admin API is and the certificate to prove the admin identity with.
#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    /// The admin address (`https://host:port`, as `iamwire run` prints it).
    #[arg(long, env = "IAMWIRE_ADMIN")]
    admin: String,
    /// The CA that issued the proxy's certificate.
    #[arg(long, env = "IAMWIRE_ADMIN_CA")]
    ca: PathBuf,
    /// The admin client certificate (PEM).
    #[arg(long, env = "IAMWIRE_ADMIN_CERT")]
    cert: PathBuf,
    /// Its private key (PEM).
    #[arg(long, env = "IAMWIRE_ADMIN_KEY")]
    key: PathBuf,
}

/// `iamwire sessions`.
#[derive(Debug, Subcommand)]
pub(crate) enum SessionsCommand {
    /// List live sessions: database, id, identity, database user, age, bytes.
    Ls {
        #[command(flatten)]
        admin: AdminArgs,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// End a live session (its client is told in its protocol).
    Kill {
        #[command(flatten)]
        admin: AdminArgs,
        /// The session's database.
        database: String,
        /// The session's id (from `sessions ls`).
        id: u64,
    },
}

/// `iamwire db`.
#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// List the databases served: protocol, address, account, role, state.
    Ls {
        #[command(flatten)]
        admin: AdminArgs,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Refuse new sessions for a database (in its protocol); live ones go on.
    Pause {
        #[command(flatten)]
        admin: AdminArgs,
        /// The database.
        name: String,
    },
    /// Accept new sessions for a database again.
    Resume {
        #[command(flatten)]
        admin: AdminArgs,
        /// The database.
        name: String,
    },
    /// Create dynamic databases from `kind: db` resource files (YAML or JSON); served at once by every
    /// replica whose `db_service.resources` selectors match them.
    Create {
        #[command(flatten)]
        admin: crate::db_cmd::AdminArgs,
        /// One or more resource files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Remove a dynamic database; new sessions to it are refused.
    Rm {
        #[command(flatten)]
        admin: crate::db_cmd::AdminArgs,
        /// The database.
        name: String,
    },
}

/// Run `iamwire sessions ...`.
pub(crate) async fn sessions(command: &SessionsCommand) -> Result<String, String> {
    match command {
        SessionsCommand::Ls { admin, json } => {
            let list = call(admin, Method::GET, "/v1/sessions").await?;
            if *json {
                return Ok(format!("{list}\n"));
            }
            Ok(table(
                &[
                    "DATABASE",
                    "ID",
                    "IDENTITY",
                    "DB USER",
                    "AGE",
                    "BYTES UP",
                    "BYTES DOWN",
                ],
                rows(&list, |s| {
                    vec![
                        field(s, "database"),
                        field(s, "id"),
                        field(s, "identity"),
                        field(s, "db_user"),
                        format!("{}s", field(s, "age_seconds")),
                        field(s, "bytes_up"),
                        field(s, "bytes_down"),
                    ]
                }),
            ))
        }
        SessionsCommand::Kill {
            admin,
            database,
            id,
        } => {
            let path = format!("/v1/sessions/{}/{id}", segment(database));
            call(admin, Method::DELETE, &path).await?;
            Ok(format!("ended session {id} on {database}\n"))
        }
    }
}

/// Run `iamwire db ...`.
pub(crate) async fn db(command: &DbCommand) -> Result<String, String> {
    match command {
        DbCommand::Create { admin, files } => crate::db_cmd::create(admin, files).await,
        DbCommand::Rm { admin, name } => crate::db_cmd::rm(admin, name).await,
        DbCommand::Ls { admin, json } => {
            let list = call(admin, Method::GET, "/v1/databases").await?;
            if *json {
                return Ok(format!("{list}\n"));
            }
            Ok(table(
                &[
                    "NAME", "ORIGIN", "PROTOCOL", "LISTEN", "ACCOUNT", "ROLE", "STATE", "SESSIONS",
                ],
                rows(&list, |d| {
                    let state = match (d["paused"].as_bool(), d["ready"].as_bool()) {
                        _ if d["served"] == false => match d["reason"].as_str() {
                            Some(why) => format!("not served: {why}"),
                            None => "not served".to_owned(),
                        },
                        (Some(true), _) => "paused".to_owned(),
                        (_, Some(true)) => "ready".to_owned(),
                        _ => "not ready".to_owned(),
                    };
                    vec![
                        field(d, "name"),
                        field(d, "origin"),
                        field(d, "protocol"),
                        field(d, "listen"),
                        field(d, "account"),
                        field(d, "role"),
                        state,
                        field(d, "sessions"),
                    ]
                }),
            ))
        }
        DbCommand::Pause { admin, name } | DbCommand::Resume { admin, name } => {
            let action = if matches!(command, DbCommand::Pause { .. }) {
                "pause"
            } else {
                "resume"
            };
            call(
                admin,
                Method::POST,
                &format!("/v1/databases/{}/{action}", segment(name)),
            )
            .await?;
            Ok(format!("{name}: new sessions {action}d\n"))
        }
    }
}

/// Call the admin API; its JSON answer, or its error message.
async fn call(admin: &AdminArgs, method: Method, path: &str) -> Result<Value, String> {
    tokio::time::timeout(CALL_TIMEOUT, call_once(admin, method, path))
        .await
        .map_err(|_| {
            format!(
                "the admin API at {} did not answer within 30 s",
                admin.admin
            )
        })?
}

async fn call_once(admin: &AdminArgs, method: Method, path: &str) -> Result<Value, String> {
    let authority = admin
        .admin
        .trim()
        .strip_prefix("https://")
        .ok_or_else(|| {
            format!(
                "--admin {:?}: the admin address starts with https://",
                admin.admin
            )
        })?
        .trim_end_matches('/');
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let read = |path: &PathBuf, what: &str| {
        std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
    };
    let (ca, cert, key) = (
        read(&admin.ca, "CA")?,
        read(&admin.cert, "client certificate")?,
        read(&admin.key, "client key")?,
    );
    let tls =
        iamwire_core::tls::upstream_config(TlsMode::VerifyFull, Some(&ca), Some((&cert, &key)))
            .map_err(|e| format!("admin TLS: {e}"))?;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("--admin {:?}: {e}", admin.admin))?;
    let tcp = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| format!("cannot reach the admin API at {}: {e}", admin.admin))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::clone(&tls))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS with the admin API at {} failed: {e}", admin.admin))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("the admin API at {}: {e}", admin.admin))?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority)
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("the admin API at {}: {e}", admin.admin))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| format!("reading the admin API's answer: {e}"))?
        .to_bytes();
    let value: Value = serde_json::from_slice(&body).map_err(|_| {
        format!(
            "the admin API answered {status} with: {}",
            String::from_utf8_lossy(&body)
        )
    })?;
    if status.is_success() {
        Ok(value)
    } else {
        Err(format!(
            "the admin API refused ({status}): {}",
            value["error"]["message"]
                .as_str()
                .unwrap_or("no reason given")
        ))
    }
}

/// A path segment with the characters that would change the path percent-encoded.
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn field(value: &Value, key: &str) -> String {
    match &value[key] {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn rows(list: &Value, row: impl Fn(&Value) -> Vec<String>) -> Vec<Vec<String>> {
    list.as_array()
        .map(|a| a.iter().map(row).collect())
        .unwrap_or_default()
}

/// Columns padded to their widest cell.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_change_the_path() {
        assert_eq!(segment("app-db_1.x"), "app-db_1.x");
        assert_eq!(segment("a/../b c"), "a%2F..%2Fb%20c");
    }

    #[test]
    fn tables_align_columns() {
        let t = table(&["A", "BB"], vec![vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    BB\nxyz  1\n");
    }
}
