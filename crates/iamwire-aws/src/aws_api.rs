//! A small signed-request client for the handful of AWS control-plane calls the proxy makes on a login
//! (Redshift credentials, ElastiCache / MemoryDB user checks).
//!
//! Requests are signed with [`crate::sigv4::sign_request`] at a time the caller passes in, sent with the
//! hyper + rustls stack the AWS SDK already brings, and answered in the service's own protocol (AWS query
//! with XML answers, or JSON 1.1). Errors carry the AWS error code and never a secret.
//!
//! We do not use the generated SDK crates here: `aws-sdk-redshift` and `aws-sdk-elasticache` are hundreds of
//! thousands of generated lines for the one or two operations each that we call.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::sigv4::{HttpRequest, Payload, Scope, SigningOptions, sign_request};

mod error;
pub(crate) mod services;
pub(crate) mod wire;

pub use error::{ApiError, ServiceError};

/// How long one AWS API call may take, connection included, unless changed with [`ApiClient::with_timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest response body read from an AWS API, in bytes.
pub const MAX_RESPONSE_LEN: usize = 1 << 20;

/// A client for AWS API calls: a pooled HTTPS connection stack, a timeout, and whether `http://` endpoint
/// overrides are allowed. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct ApiClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    allow_http: bool,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("timeout", &self.timeout)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client that verifies AWS endpoints with `tls` (the caller chooses the root certificates).
    ///
    /// Only `https://` endpoints are accepted until [`ApiClient::allow_http`] says otherwise.
    /// Must be used inside a Tokio runtime.
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Self {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(rustls::ClientConfig::clone(&tls))
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        Self {
            http: Client::builder(TokioExecutor::new()).build(https),
            timeout: DEFAULT_TIMEOUT,
            allow_http: false,
        }
    }

    /// This client with a different per-call timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// This client, accepting `http://` endpoint overrides (emulators, tests) when `on`.
    ///
    /// Signed requests carry no secret, but their answers do (Redshift passwords): keep this off in
    /// production.
    pub fn allow_http(mut self, on: bool) -> Self {
        self.allow_http = on;
        self
    }

    /// Sign and send one request; the status and body of the answer, or a transport failure.
    pub(crate) async fn send(&self, req: &ApiRequest<'_>) -> Result<Reply, ApiError> {
        let endpoint = req.endpoint()?;
        let (method, target) = req.body.method_and_target(&endpoint)?;
        if endpoint.scheme_str() == Some("http") && !self.allow_http {
            return Err(ApiError::Endpoint {
                endpoint: endpoint.to_string(),
                reason: "plaintext http is not allowed; use https or ApiClient::allow_http",
            });
        }
        let mut headers = HeaderMap::new();
        let host = endpoint
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        headers.insert(
            http::header::HOST,
            HeaderValue::from_str(&host).map_err(|_| ApiError::Endpoint {
                endpoint: endpoint.to_string(),
                reason: "host is not a valid header value",
            })?,
        );
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(req.body.content_type()),
        );
        if let Body::Json { target, .. } = &req.body {
            let target = HeaderValue::from_str(target).map_err(|_| ApiError::InvalidInput {
                field: "target",
                reason: "not a valid header value",
            })?;
            headers.insert("x-amz-target", target);
        }
        let body = req.body.bytes();
        let signed = sign_request(
            &HttpRequest::new(&method, &target, &headers, Payload::Bytes(&body)),
            req.call.credentials,
            Scope::new(req.call.region, req.service.signing_name),
            req.call.time,
            SigningOptions::default(),
        )?;
        signed.apply_to(&mut headers);
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = method;
        *request.uri_mut() = target;
        *request.headers_mut() = headers;
        let fut = async {
            let response =
                self.http.request(request).await.map_err(|e| {
                    ApiError::transport(req.service.name, req.operation, &endpoint, e)
                })?;
            let status = response.status().as_u16();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let error_type = header("x-amzn-errortype");
            let request_id = header("x-amzn-requestid");
            let body = Limited::new(response.into_body(), MAX_RESPONSE_LEN)
                .collect()
                .await
                .map_err(|e| ApiError::Transport {
                    service: req.service.name,
                    operation: req.operation,
                    endpoint: endpoint.to_string(),
                    source: e,
                })?
                .to_bytes();
            Ok(Reply {
                status,
                error_type,
                request_id,
                body,
            })
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| ApiError::Timeout {
                service: req.service.name,
                operation: req.operation,
                endpoint: endpoint.to_string(),
                after: self.timeout,
            })?
    }
}

impl ApiClient {
    /// Send `req` and read its query-protocol answer (`<...Result>`, at most `max_elements` XML
    /// elements), or the AWS error about `resource` it carries.
    pub(crate) async fn query(
        &self,
        req: &ApiRequest<'_>,
        resource: &str,
        max_elements: usize,
    ) -> Result<wire::Element, ApiError> {
        let reply = self.send(req).await?;
        req.answer(resource)
            .query_limited(reply.status, &reply.body, max_elements)
    }

    /// Send `req` and read its JSON answer (JSON 1.1 or REST-JSON), or the AWS error about `resource`
    /// it carries.
    pub(crate) async fn json(
        &self,
        req: &ApiRequest<'_>,
        resource: &str,
    ) -> Result<serde_json::Value, ApiError> {
        let reply = self.send(req).await?;
        req.answer(resource).json(
            reply.status,
            reply.error_type.as_deref(),
            reply.request_id.as_deref(),
            &reply.body,
        )
    }
}

/// The answer to one request.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// `x-amzn-ErrorType` (JSON protocols).
    pub(crate) error_type: Option<String>,
    /// `x-amzn-RequestId`.
    pub(crate) request_id: Option<String>,
    pub(crate) body: Bytes,
}

/// Who calls, where, and when: the per-call inputs every AWS API function here takes.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    credentials: &'a Credentials,
    region: &'a str,
    time: SystemTime,
    endpoint: Option<&'a str>,
}

impl fmt::Debug for Call<'_> {
    // The credentials' own Debug redacts the secret; the access key id is enough to say who.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("access_key_id", &self.credentials.access_key_id())
            .field("region", &self.region)
            .field("time", &self.time)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl<'a> Call<'a> {
    /// A call signed with `credentials` for `region` at `time` (the caller's clock), sent to the service's
    /// regional endpoint.
    pub fn new(credentials: &'a Credentials, region: &'a str, time: SystemTime) -> Self {
        Self {
            credentials,
            region,
            time,
            endpoint: None,
        }
    }

    /// This call sent to `endpoint` (e.g. `http://127.0.0.1:5000`, a VPC endpoint) instead.
    pub fn endpoint(mut self, endpoint: &'a str) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// The region this call is signed for.
    pub fn region(&self) -> &'a str {
        self.region
    }

    /// The endpoint override, if any.
    pub fn endpoint_override(&self) -> Option<&'a str> {
        self.endpoint
    }

    /// The signing time.
    pub fn time(&self) -> SystemTime {
        self.time
    }

    /// The access key id of the credentials.
    pub(crate) fn access_key_id(&self) -> &'a str {
        self.credentials.access_key_id()
    }

    /// The credentials' account id, when they carry one.
    pub(crate) fn account_id(&self) -> Option<&'a str> {
        self.credentials.account_id().map(|a| a.as_str())
    }
}

/// An AWS service as this module calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Service {
    /// Human-readable name for errors.
    pub(crate) name: &'static str,
    /// SigV4 signing name.
    pub(crate) signing_name: &'static str,
    /// First label of the regional endpoint host.
    pub(crate) host_prefix: &'static str,
}

/// The body of a request, by protocol.
#[derive(Debug)]
pub(crate) enum Body {
    /// AWS query protocol: `Action`, `Version`, then the parameters, form-encoded.
    Query {
        action: &'static str,
        version: &'static str,
        params: Vec<(std::borrow::Cow<'static, str>, String)>,
    },
    /// JSON 1.1 with an `X-Amz-Target` header.
    Json {
        target: &'static str,
        body: serde_json::Value,
    },
    /// REST-JSON (OpenSearch's control plane): a method, a path with its query (already encoded, e.g.
    /// `/2021-01-01/tags/?arn=...`), and an optional JSON body.
    Rest {
        method: Method,
        path_and_query: String,
        body: Option<serde_json::Value>,
    },
}

impl Body {
    fn content_type(&self) -> &'static str {
        match self {
            Self::Query { .. } => "application/x-www-form-urlencoded; charset=utf-8",
            Self::Json { .. } => "application/x-amz-json-1.1",
            Self::Rest { .. } => "application/json",
        }
    }

    /// The HTTP method, and the URI the request goes to (the endpoint, plus the path of a REST call).
    fn method_and_target(&self, endpoint: &Uri) -> Result<(Method, Uri), ApiError> {
        let Self::Rest {
            method,
            path_and_query,
            ..
        } = self
        else {
            return Ok((Method::POST, endpoint.clone()));
        };
        let bad = || ApiError::InvalidInput {
            field: "path",
            reason: "not a valid absolute path and query",
        };
        if !path_and_query.starts_with('/') {
            return Err(bad());
        }
        let mut parts = endpoint.clone().into_parts();
        parts.path_and_query = Some(path_and_query.parse().map_err(|_| bad())?);
        let uri = Uri::from_parts(parts).map_err(|_| bad())?;
        Ok((method.clone(), uri))
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Query {
                action,
                version,
                params,
            } => {
                let mut out = format!("Action={action}&Version={version}");
                for (k, v) in params {
                    out.push('&');
                    out.push_str(k);
                    out.push('=');
                    wire::form_encode(v, &mut out);
                }
                out.into_bytes()
            }
            Self::Json { body, .. } => body.to_string().into_bytes(),
            Self::Rest { body, .. } => body
                .as_ref()
                .map(|b| b.to_string().into_bytes())
                .unwrap_or_default(),
        }
    }
}

/// One request: service, operation, body and call.
#[derive(Debug)]
pub(crate) struct ApiRequest<'a> {
    pub(crate) service: Service,
    pub(crate) operation: &'static str,
    pub(crate) body: Body,
    pub(crate) call: Call<'a>,
}

impl ApiRequest<'_> {
    fn answer<'r>(&self, resource: &'r str) -> wire::Answer<'r> {
        wire::Answer {
            service: self.service,
            operation: self.operation,
            resource,
        }
    }

    fn endpoint(&self) -> Result<Uri, ApiError> {
        let text = match self.call.endpoint {
            Some(e) => e.to_owned(),
            None => regional_endpoint(self.service.host_prefix, self.call.region)?,
        };
        let bad = |reason| ApiError::Endpoint {
            endpoint: text.clone(),
            reason,
        };
        let uri: Uri = text.parse().map_err(|_| bad("not a valid URL"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
            return Err(bad("must be an absolute http(s) URL"));
        }
        if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
            return Err(bad("must have no path or query"));
        }
        let mut parts = uri.into_parts();
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        Uri::from_parts(parts).map_err(|_| bad("not a valid URL"))
    }
}

/// `https://<prefix>.<region>.amazonaws.com` (`.com.cn` in the China regions).
fn regional_endpoint(prefix: &str, region: &str) -> Result<String, ApiError> {
    let valid = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(ApiError::InvalidInput {
            field: "region",
            reason: "must be an AWS region name like us-east-1",
        });
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!("https://{prefix}.{region}.{suffix}"))
}

#[cfg(test)]
mod tests;
