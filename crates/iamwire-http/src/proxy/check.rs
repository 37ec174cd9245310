//! [`HttpProxy::check_login`]: one request to the database signed as a database-user role, as the proxy
//! signs a client's — for a tool that checks a database's setup (`iamwire doctor`) without a client.

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};

use super::HttpProxy;
use crate::HttpError;
use crate::body::{FaultSlot, Outgoing, spool};
use crate::head;
use crate::route::Service;

/// The most of the database's answer [`HttpProxy::check_login`] keeps.
const MAX_ANSWER: usize = 64 * 1024;

/// The database's answer to [`HttpProxy::check_login`].
#[derive(Debug, Clone)]
pub struct CheckAnswer {
    /// What was asked: `GET /` (OpenSearch) or `DynamoDB_20120810.ListTables` (DynamoDB).
    pub request: &'static str,
    /// The answer's status.
    pub status: StatusCode,
    /// The answer's body (at most 64 KiB of it), as text.
    pub body: String,
}

impl HttpProxy {
    /// Get `role`'s credentials through the database's role chain (the sessions named `session_name`),
    /// sign a harmless request with them exactly as a client's request is re-signed, send it to the
    /// database and return its answer: `GET /` for OpenSearch, `ListTables` with `Limit: 1` for
    /// DynamoDB. No authorization rule is consulted: the caller is the operator.
    ///
    /// # Errors
    /// [`HttpError::Credentials`] / [`HttpError::CredentialsTimeout`] when the role cannot be had, the
    /// connection and timeout errors of a forwarded request, [`HttpError::Internal`] otherwise.
    pub async fn check_login(
        &self,
        session_name: &str,
        role: &str,
    ) -> Result<CheckAnswer, HttpError> {
        let inner = &self.inner;
        let service = inner.routes.service();
        let (request, builder, body): (_, _, &'static [u8]) = match service {
            Service::OpenSearch => ("GET /", Request::builder().method(Method::GET), b""),
            Service::DynamoDb => (
                "DynamoDB_20120810.ListTables",
                Request::builder()
                    .method(Method::POST)
                    .header("x-amz-target", "DynamoDB_20120810.ListTables")
                    .header(header::CONTENT_TYPE, "application/x-amz-json-1.0"),
                br#"{"Limit":1}"#,
            ),
        };
        let (parts, ()) = builder
            .uri("/")
            .body(())
            .map_err(|e| internal("the check request", e))?
            .into_parts();
        let client_head = head::inspect(&parts, service, inner.limits.max_body)?;
        let credentials = self.credentials(session_name, role).await?;
        let spooled = spool(
            Full::new(Bytes::from_static(body)),
            inner.limits.max_body,
            body.len(),
            &inner.limits.spool_dir,
        )
        .await?;
        let (sha256, length) = (spooled.sha256.clone(), spooled.len);
        let outgoing = Outgoing::spooled(spooled);
        let upstream = self.upstream_request(
            &parts,
            &client_head,
            None,
            outgoing,
            &sha256,
            Some(length),
            &credentials,
        )?;
        let (response, permit) = inner.upstream.send(upstream, &FaultSlot::default()).await?;
        let status = response.status();
        let read = Limited::new(response.into_body(), MAX_ANSWER).collect();
        let body = tokio::time::timeout(inner.timeouts.response, read)
            .await
            .map_err(|e| internal("reading the answer", e))?
            .map_err(|e| internal("reading the answer", e))?
            .to_bytes();
        drop(permit);
        Ok(CheckAnswer {
            request,
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

fn internal(
    what: &'static str,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> HttpError {
    HttpError::Internal {
        what,
        source: e.into(),
    }
}
