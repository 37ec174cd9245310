//! One request: identify, authorize, get the role's credentials, re-sign, stream both ways.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use aws_credential_types::Credentials;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use iamwire_aws::role::RoleChain;
use iamwire_aws::sigv4::{HttpRequest, Payload, Scope, SigningOptions, sign_request};
use iamwire_core::{ClientIdentity, IdentitySource, InjectError, InjectErrorKind, SessionRequest};

use super::HttpProxy;
use crate::HttpError;
use crate::body::{FaultSlot, Held, Outgoing, ProxyBody, spool};
use crate::error::refusal;
use crate::head::{self, ClientHead};
use crate::route::{Api, Service};

/// At most this many role chains are remembered (one per identity and role); the map starts over when full.
const MAX_CHAINS: usize = 4096;

impl HttpProxy {
    /// The answer to `request`: the database's, or the proxy's refusal in the service's shape.
    pub(super) async fn respond(
        &self,
        request: Request<Incoming>,
        certificate: Option<Arc<ClientIdentity>>,
        peer: Option<SocketAddr>,
    ) -> Response<ProxyBody> {
        let started = Instant::now();
        let service = self.inner.routes.service();
        let method = request.method().clone();
        let forwarded = if self.inner.stats.is_paused() {
            Err(HttpError::Paused)
        } else {
            self.forward(request, certificate.as_deref()).await
        };
        match forwarded {
            Ok((response, who)) => {
                self.inner.stats.forwarded();
                tracing::debug!(
                    database = %self.inner.database.name,
                    peer = ?peer,
                    identity = %who.0,
                    role = %who.1,
                    %method,
                    status = response.status().as_u16(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "request forwarded"
                );
                response
            }
            Err(error) => {
                tracing::info!(
                    database = %self.inner.database.name,
                    peer = ?peer,
                    %method,
                    status = error.status().as_u16(),
                    code = error.code(),
                    error = %error,
                    cause = ?std::error::Error::source(&error).map(ToString::to_string),
                    "request refused"
                );
                self.inner.stats.refused(&error);
                refusal(service, &error)
            }
        }
    }

    async fn forward(
        &self,
        request: Request<Incoming>,
        certificate: Option<&ClientIdentity>,
    ) -> Result<(Response<ProxyBody>, (String, String)), HttpError> {
        let inner = &self.inner;
        let (parts, body) = request.into_parts();
        let head = head::inspect(&parts, inner.routes.service(), inner.limits.max_body)?;
        // Who, and as which role: the certificate names the identity and the session token the role;
        // otherwise the access key names both (its signature is checked once the payload hash is known).
        let (identity, role) = match (certificate, &head.authorization) {
            (Some(identity), _) => {
                let role = head
                    .session_token
                    .clone()
                    .ok_or_else(|| HttpError::NoRole {
                        identity: identity.name().to_owned(),
                    })?;
                (identity.clone(), role)
            }
            (None, Some(auth)) => {
                let grant = inner.keys.grant(auth.access_key_id()).ok_or_else(|| {
                    HttpError::UnknownAccessKey {
                        access_key_id: auth.access_key_id().to_owned(),
                    }
                })?;
                let identity = ClientIdentity::new(&grant.identity, IdentitySource::ProxyPassword);
                (identity, grant.role.clone())
            }
            (None, None) => return Err(HttpError::MissingAuthentication),
        };
        let want = SessionRequest {
            database: &inner.database,
            db_user: &role,
            db_name: None,
        };
        inner
            .authorizer
            .authorize(&identity, &want)
            .map_err(|denied| HttpError::Denied { denied })?;
        let fault = FaultSlot::default();
        let (body, sha256, length) = self.body(&parts, &head, body, certificate, &fault).await?;
        let credentials = self.credentials(identity.name(), &role).await?;
        // A client that signed with a key: only what its (verified) signature covers goes upstream,
        // whatever else it sent (a session token included) — see `head::upstream_headers`.
        let verified = certificate
            .is_none()
            .then_some(head.authorization.as_ref())
            .flatten();
        let upstream =
            self.upstream_request(&parts, &head, verified, body, &sha256, length, &credentials)?;
        let (response, permit) = inner.upstream.send(upstream, &fault).await?;
        let (mut parts, body) = response.into_parts();
        head::strip_hop_by_hop(&mut parts.headers);
        let body = Held {
            inner: body,
            _permit: Some(permit),
        }
        .boxed();
        Ok((
            Response::from_parts(parts, body),
            (identity.name().to_owned(), role),
        ))
    }

    /// The body to send, its SHA-256 and its length if known; for a client that signed with a key, its
    /// signature is checked here, before anything goes upstream.
    async fn body(
        &self,
        parts: &Parts,
        head: &ClientHead,
        body: Incoming,
        certificate: Option<&ClientIdentity>,
        fault: &FaultSlot,
    ) -> Result<(Outgoing<Incoming>, String, Option<u64>), HttpError> {
        let inner = &self.inner;
        let limits = &inner.limits;
        let (outgoing, sha256, length) = match &head.declared_sha256 {
            // The client's signature covers this hash: stream, and check the body against it at its end.
            Some(declared) => {
                let checked = crate::body::Checked::new(
                    body,
                    limits.max_body,
                    declared.clone(),
                    fault.clone(),
                );
                (
                    Outgoing::Streamed(checked),
                    declared.clone(),
                    head.content_length,
                )
            }
            None => {
                let spooled = spool(
                    body,
                    limits.max_body,
                    limits.spool_in_memory,
                    &limits.spool_dir,
                )
                .await?;
                let sha256 = spooled.sha256.clone();
                let length = spooled.len;
                (Outgoing::spooled(spooled), sha256, Some(length))
            }
        };
        if certificate.is_none()
            && let Some(auth) = &head.authorization
        {
            head::verify(auth, parts, &inner.keys, &sha256, inner.clock.now())?;
        }
        Ok((outgoing, sha256, length))
    }

    /// The credentials of the database-user role `role` for `identity` (cached per chain by the provider).
    pub(super) async fn credentials(
        &self,
        identity: &str,
        role: &str,
    ) -> Result<Credentials, HttpError> {
        let inner = &self.inner;
        let chain = self.chain(identity, role)?;
        let after = inner.timeouts.credentials;
        let fetch = async {
            if let Some(guard) = &inner.guard {
                // Before any credential of the database's role: is the endpoint the one it claims?
                guard
                    .confirm(&inner.database)
                    .await
                    .map_err(|e| iamwire_aws::inject::endpoint_refusal(&inner.database.name, e))?;
            }
            inner
                .roles
                .credentials(&chain)
                .await
                .map_err(iamwire_aws::inject::role_error)
        };
        match tokio::time::timeout(after, fetch).await {
            Ok(Ok(credentials)) => Ok(credentials),
            Ok(Err(source)) => Err(HttpError::Credentials { source }),
            Err(_) => Err(HttpError::CredentialsTimeout {
                role: role.to_owned(),
                after,
            }),
        }
    }

    fn chain(&self, identity: &str, role: &str) -> Result<RoleChain, HttpError> {
        let key = (identity.to_owned(), role.to_owned());
        let mut chains = self
            .inner
            .chains
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(chain) = chains.get(&key) {
            return Ok(chain.clone());
        }
        let chain = RoleChain::for_database(&self.inner.database.aws, Some(role), identity)
            .map_err(|e| HttpError::Credentials {
                source: InjectError::new(
                    InjectErrorKind::Misconfigured,
                    format!(
                        "database {:?} cannot act as role {role}",
                        self.inner.database.name
                    ),
                )
                .with_hint(e.to_string())
                .with_source(e),
            })?;
        if chains.len() >= MAX_CHAINS {
            chains.clear();
        }
        chains.insert(key, chain.clone());
        Ok(chain)
    }

    /// The request to the database: the client's method, path and query, the headers `verified` (the
    /// client's signature the proxy checked; `None` for a client identified by its certificate) covers,
    /// the upstream host, and a fresh signature as the role that covers every header it carries.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn upstream_request(
        &self,
        parts: &Parts,
        head: &ClientHead,
        verified: Option<&iamwire_aws::sigv4::Authorization>,
        body: Outgoing<Incoming>,
        sha256: &str,
        length: Option<u64>,
        credentials: &Credentials,
    ) -> Result<Request<Outgoing<Incoming>>, HttpError> {
        let inner = &self.inner;
        let target = inner.routes.target(head.api);
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let uri: Uri = format!("https://{}{path}", target.host_header)
            .parse()
            .map_err(|_| HttpError::BadRequest {
                reason: "the request path cannot be forwarded".into(),
            })?;
        let mut headers = head::upstream_headers(&parts.headers, verified);
        let host = HeaderValue::from_str(&target.host_header).map_err(|e| HttpError::Internal {
            what: "the upstream host header",
            source: Box::new(e),
        })?;
        headers.insert(header::HOST, host);
        if let Some(length) = length {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        if head.api == Api::OpenSearch || inner.routes.service() == Service::OpenSearch {
            headers.insert(
                "x-amz-content-sha256",
                HeaderValue::from_str(sha256).map_err(|e| HttpError::Internal {
                    what: "the payload hash header",
                    source: Box::new(e),
                })?,
            );
        }
        let signature = sign_request(
            &HttpRequest::new(&parts.method, &uri, &headers, Payload::Sha256Hex(sha256)),
            credentials,
            Scope::new(inner.routes.region(), head.api.signing_name()),
            inner.clock.now(),
            SigningOptions::default(),
        )
        .map_err(|source| match source {
            iamwire_aws::sigv4::SigV4Error::InvalidHeaderValue { header } => {
                HttpError::BadRequest {
                    reason: format!("the signed header {header} is not visible ASCII"),
                }
            }
            other => HttpError::Internal {
                what: "signing the request",
                source: Box::new(other),
            },
        })?;
        signature.apply_to(&mut headers);
        let mut request = Request::new(body);
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(request)
    }
}
