//! A stand-in for AWS APIs that moto does not implement: a tiny HTTP/1.1 server on 127.0.0.1:0 that checks
//! the SigV4 signature of every request with the known key, as AWS would, answers a bad one with the
//! service's real error shape, and hands good ones to a handler.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use iamwire_aws::aws_api::ApiClient;
use iamwire_aws::sigv4::{Authorization, HttpRequest, Payload, VerifyOptions, verify_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The wire protocol the stand-in speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS query protocol, XML answers (Redshift, ElastiCache).
    Query,
    /// JSON 1.1 with `X-Amz-Target` (Redshift Serverless, MemoryDB).
    Json,
}

/// A request the stand-in accepted (signature valid).
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
    /// The access key that signed it.
    pub access_key_id: String,
    pub region: String,
    pub service: String,
}

impl Received {
    /// Form parameters of a query-protocol body.
    pub fn params(&self) -> HashMap<String, String> {
        self.body
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (decode(k), decode(v)))
            .collect()
    }

    /// The JSON body.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer: status, extra headers, body.
pub type Reply = (u16, Vec<(&'static str, String)>, String);

/// A running stand-in.
pub struct StandIn {
    pub endpoint: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub refused: Arc<Mutex<usize>>,
}

impl StandIn {
    /// Serve on 127.0.0.1:0, accepting requests signed by any of `keys` for `service`.
    pub async fn start(
        protocol: Protocol,
        service: &'static str,
        keys: Vec<Credentials>,
        handler: impl Fn(&Received) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let keys: HashMap<String, Credentials> = keys
            .into_iter()
            .map(|c| (c.access_key_id().to_owned(), c))
            .collect();
        let received = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(0));
        let state = Arc::new((keys, handler, received.clone(), refused.clone()));
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let Some((method, uri, headers, body)) = read_request(&mut sock).await else {
                        return;
                    };
                    let (keys, handler, received, refused) = &*state;
                    let reply = match check(protocol, service, keys, &method, &uri, &headers, &body)
                    {
                        Ok(r) => {
                            let reply = handler(&r);
                            received.lock().unwrap().push(r);
                            reply
                        }
                        Err(reply) => {
                            *refused.lock().unwrap() += 1;
                            reply
                        }
                    };
                    write_reply(&mut sock, protocol, reply).await;
                });
            }
        });
        Self {
            endpoint,
            received,
            refused,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn refused(&self) -> usize {
        *self.refused.lock().unwrap()
    }
}

/// What AWS answers to a request whose signature does not verify.
fn bad_signature(protocol: Protocol) -> Reply {
    const MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
    match protocol {
        Protocol::Query => (
            403,
            vec![],
            format!(
                "<ErrorResponse xmlns=\"http://redshift.amazonaws.com/doc/2012-12-01/\"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>{MESSAGE}</Message></Error><RequestId>4b3d3f4a-standin</RequestId></ErrorResponse>"
            ),
        ),
        Protocol::Json => (
            403,
            vec![(
                "x-amzn-ErrorType",
                "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/"
                    .to_owned(),
            )],
            serde_json::json!({ "message": MESSAGE }).to_string(),
        ),
    }
}

fn check(
    protocol: Protocol,
    service: &str,
    keys: &HashMap<String, Credentials>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Received, Reply> {
    let auth = headers
        .get("authorization")
        .and_then(|v| Authorization::parse(v.as_bytes()).ok())
        .ok_or_else(|| bad_signature(protocol))?;
    let request = HttpRequest::new(method, uri, headers, Payload::Bytes(body));
    let verified = verify_request(
        &auth,
        &request,
        keys,
        SystemTime::now(),
        VerifyOptions::default(),
    )
    .map_err(|_| bad_signature(protocol))?;
    if verified.service != service || method != Method::POST || uri.path() != "/" {
        return Err(bad_signature(protocol));
    }
    Ok(Received {
        headers: headers.clone(),
        body: String::from_utf8(body.to_vec()).unwrap(),
        access_key_id: verified.access_key_id,
        region: verified.region,
        service: verified.service,
    })
}

async fn read_request(
    sock: &mut tokio::net::TcpStream,
) -> Option<(Method, Uri, HeaderMap, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?.to_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let method: Method = start.next()?.parse().ok()?;
    let uri: Uri = start.next()?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            HeaderValue::from_str(value.trim()).ok()?,
        );
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((method, uri, headers, body))
}

async fn write_reply(sock: &mut tokio::net::TcpStream, protocol: Protocol, reply: Reply) {
    let (status, headers, body) = reply;
    let content_type = match protocol {
        Protocol::Query => "text/xml",
        Protocol::Json => "application/x-amz-json-1.1",
    };
    let mut out = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nx-amzn-RequestId: 4b3d3f4a-standin\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    let _ = sock.write_all(out.as_bytes()).await;
    let _ = sock.shutdown().await;
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else if bytes[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// An [`ApiClient`] for plaintext loopback endpoints (the TLS config is never used).
pub fn plaintext_client() -> ApiClient {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    ApiClient::new(Arc::new(tls)).allow_http(true)
}

/// Credentials with the same key id and a wrong secret.
pub fn wrong_secret(c: &Credentials) -> Credentials {
    Credentials::new(
        c.access_key_id(),
        "definitely-not-the-secret",
        c.session_token().map(str::to_owned),
        None,
        "test",
    )
}
