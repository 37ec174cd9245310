//! `iamwire db create FILE…` and `iamwire db rm NAME` (beside `db ls|pause|resume` in `admin_cmd`):
//! dynamic databases through a running proxy's admin API (HTTPS with the operator's client certificate —
//! the admin mTLS identity):
//!
//! | command | request |
//! |---|---|
//! | `db create FILE…` | `POST /v1/databases` per file, the body the file's `kind: db` document |
//! | `db rm NAME` | `DELETE /v1/databases/{NAME}` |
//!
//! Every request has a deadline; answers over 16 MiB are refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;

/// How long one request may take, connection and TLS included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// How to reach the admin API.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AdminArgs {
    /// The admin API's base URL, e.g. `https://127.0.0.1:9443`.
    #[arg(long = "admin", env = "IAMWIRE_ADMIN")]
    pub(crate) url: String,
    /// The CA certificate (PEM) that issued the admin API's server certificate.
    #[arg(long, env = "IAMWIRE_ADMIN_CA")]
    pub(crate) ca: PathBuf,
    /// The operator's client certificate (PEM), an admin identity.
    #[arg(long, env = "IAMWIRE_ADMIN_CERT")]
    pub(crate) cert: PathBuf,
    /// Its private key (PEM).
    #[arg(long, env = "IAMWIRE_ADMIN_KEY")]
    pub(crate) key: PathBuf,
}

/// `iamwire db create FILE…`: one `POST /v1/databases` per file; every file is tried.
pub(crate) async fn create(admin: &AdminArgs, files: &[PathBuf]) -> Result<String, String> {
    let client = AdminClient::new(admin)?;
    let mut out = String::new();
    let mut failed = Vec::new();
    for file in files {
        match create_one(&client, file).await {
            Ok(line) => out.push_str(&line),
            Err(e) => failed.push(format!("{}: {e}", file.display())),
        }
    }
    if failed.is_empty() {
        Ok(out)
    } else {
        print!("{out}");
        Err(failed.join("\niamwire: "))
    }
}

/// `iamwire db rm NAME`: `DELETE /v1/databases/{NAME}`.
pub(crate) async fn rm(admin: &AdminArgs, name: &str) -> Result<String, String> {
    let path = format!("/v1/databases/{}", percent_encode(name));
    AdminClient::new(admin)?.ask("DELETE", &path, None).await?;
    Ok(format!("removed {name}\n"))
}

async fn create_one(client: &AdminClient, file: &Path) -> Result<String, String> {
    let body = std::fs::read(file).map_err(|e| format!("cannot read it: {e}"))?;
    let answer = client.ask("POST", "/v1/databases", Some(body)).await?;
    let name = answer["database"]["name"]
        .as_str()
        .or(answer["name"].as_str())
        .unwrap_or("?");
    Ok(match answer["warning"].as_str() {
        Some(warning) => format!("created {name} ({warning})\n"),
        None => format!("created {name}\n"),
    })
}

/// Percent-encode a path segment (names are DNS labels; anything else is escaped, never sent raw).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One admin API: its address and TLS with the operator's certificate.
pub(crate) struct AdminClient {
    host: String,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
}

impl AdminClient {
    /// A client for `args`; reads the CA, certificate and key now.
    pub(crate) fn new(args: &AdminArgs) -> Result<Self, String> {
        let uri: http::Uri = args
            .url
            .parse()
            .map_err(|_| format!("--admin {:?} is not a URL", args.url))?;
        if uri.scheme_str() != Some("https") {
            return Err(format!(
                "--admin {:?} must be an https:// URL (the admin API needs mTLS)",
                args.url
            ));
        }
        let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
        if host.is_empty() {
            return Err(format!("--admin {:?} names no host", args.url));
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in pem_certs(&args.ca)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", args.ca.display()))?;
        }
        let chain = pem_certs(&args.cert)?;
        let key = PrivateKeyDer::from_pem_file(&args.key)
            .map_err(|e| format!("cannot read a private key from {}: {e}", args.key.display()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("{}: {e}", args.cert.display()))?;
        Ok(Self {
            host: host.to_owned(),
            port: uri.port_u16().unwrap_or(443),
            tls: Arc::new(tls),
        })
    }

    /// Send one request; the JSON answer of a 2xx, else the API's error (code and message).
    pub(crate) async fn ask(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Value, String> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(method, path, body))
            .await
            .map_err(|_| {
                format!(
                    "the admin API at {}:{} did not answer within {}s",
                    self.host,
                    self.port,
                    REQUEST_TIMEOUT.as_secs()
                )
            })?
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Value, String> {
        let at = format!("{}:{}", self.host, self.port);
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot connect to the admin API at {at}: {e}"))?;
        let name = ServerName::try_from(self.host.clone())
            .map_err(|_| format!("{:?} is not a host name", self.host))?;
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with the admin API at {at}: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| format!("HTTP with the admin API at {at}: {e}"))?;
        let driver = tokio::spawn(connection);
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, at.as_str())
            .header(http::header::ACCEPT, "application/json");
        if body.is_some() {
            request = request.header(http::header::CONTENT_TYPE, "application/yaml");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("the admin API at {at}: {e}"))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("reading the admin API's answer: {e}"))?
            .to_bytes();
        driver.abort();
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        match (
            answer["error"]["code"].as_str(),
            answer["error"]["message"].as_str(),
        ) {
            (Some(code), Some(message)) => Err(format!("{message} ({code}, HTTP {status})")),
            _ => Err(format!(
                "the admin API answered HTTP {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            )),
        }
    }
}

fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests;
