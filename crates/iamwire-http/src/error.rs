//! [`HttpError`], the crate's one error type, and [`refusal`], the one function that turns it into what
//! the client sees: the HTTP status and the error body in the shape of the service the client talks to
//! (DynamoDB's `{"__type": ..., "message": ...}`, OpenSearch's `{"error": {...}, "status": N}`).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use iamwire_aws::sigv4::SigV4Error;
use iamwire_core::{Denied, InjectError, InjectErrorKind};

use crate::body::{ProxyBody, full};
use crate::route::Service;

/// Why a request was not (or not completely) served.
///
/// No variant carries a secret: not the client's signature, not an access key's secret, not the role's
/// credentials, not the external ID. Causes stay in `source()`; `Display` says what happened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The request carries neither a client certificate nor an `Authorization` header.
    #[error("the request is not signed and no client certificate was presented")]
    MissingAuthentication,
    /// The `Authorization` header is not a well-formed SigV4 header.
    #[error("the Authorization header is malformed")]
    MalformedAuthorization {
        /// What is wrong with it.
        #[source]
        source: SigV4Error,
    },
    /// The access key id is not one this proxy issued.
    #[error("the access key id {access_key_id} was not issued by this proxy")]
    UnknownAccessKey {
        /// The key id the client signed with (not a secret).
        access_key_id: String,
    },
    /// The client's signature does not verify (wrong secret, clock skew, unsigned required header).
    #[error("the request signature does not verify")]
    BadSignature {
        /// Why.
        #[source]
        source: SigV4Error,
    },
    /// A client identified by its certificate did not name the role to act as.
    #[error("identity \"{identity}\" did not name a database-user role")]
    NoRole {
        /// The certificate's identity.
        identity: String,
    },
    /// The identity may not use this database as this role.
    #[error("{denied}")]
    Denied {
        /// The authorizer's reason (it names the identity, the database and the role).
        denied: Denied,
    },
    /// The request body is larger than the proxy allows.
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The configured cap.
        limit: u64,
    },
    /// The body does not match the `x-amz-content-sha256` the client declared (and signed for).
    #[error("the request body does not match its x-amz-content-sha256")]
    PayloadMismatch,
    /// The request cannot be proxied as it is (an unknown `X-Amz-Target`, a header that cannot be signed).
    #[error("bad request: {reason}")]
    BadRequest {
        /// What is wrong, in the client's terms.
        reason: String,
    },
    /// The request method is not one the databases served here implement (an extension method, or
    /// `TRACE` / `CONNECT`): refused rather than signed as the role and sent on.
    #[error("the method {method} is not implemented")]
    MethodNotImplemented {
        /// The method (at most 32 bytes of it).
        method: String,
    },
    /// The role's credentials could not be had (STS refused, was unreachable, the chain is invalid).
    #[error("{}", source.message())]
    Credentials {
        /// The classified failure (kind, message, hint).
        #[source]
        source: InjectError,
    },
    /// Getting the role's credentials took longer than the credential timeout.
    #[error("AWS credentials for role {role} took longer than {after:?}")]
    CredentialsTimeout {
        /// The role.
        role: String,
        /// The timeout.
        after: Duration,
    },
    /// Too many requests are in flight to the database; this one waited its turn too long.
    #[error("too many requests in flight to the database")]
    Busy,
    /// An operator paused new requests to this database.
    #[error("new requests to this database are paused by an operator")]
    Paused,
    /// The database could not be reached (TCP, TLS, DNS).
    #[error("cannot reach the database at {addr}")]
    UpstreamConnect {
        /// The address dialed.
        addr: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database did not answer in time.
    #[error("the database did not answer within {after:?}")]
    UpstreamTimeout {
        /// The timeout.
        after: Duration,
    },
    /// The exchange with the database failed after the connection was made.
    #[error("the exchange with the database failed")]
    Upstream {
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The client's body could not be read (the client went away, or sent a broken body).
    #[error("the request body could not be read")]
    ClientBody {
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database's settings cannot be served (found when the proxy is built).
    #[error("database {database:?}: {reason}")]
    Config {
        /// The database.
        database: String,
        /// What is wrong.
        reason: String,
    },
    /// The access-key list or master key is unusable (found when the proxy is built).
    #[error("access keys: {problem}")]
    AccessKeys {
        /// What is wrong.
        problem: crate::keys::KeyProblem,
    },
    /// The proxy failed on its own side (signing, spooling the body to disk).
    #[error("internal error: {what}")]
    Internal {
        /// What failed.
        what: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl HttpError {
    /// The HTTP status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingAuthentication
            | Self::MalformedAuthorization { .. }
            | Self::UnknownAccessKey { .. }
            | Self::BadSignature { .. }
            | Self::NoRole { .. }
            | Self::Denied { .. } => StatusCode::FORBIDDEN,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotImplemented { .. } => StatusCode::NOT_IMPLEMENTED,
            Self::PayloadMismatch | Self::BadRequest { .. } | Self::ClientBody { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::Credentials { source } => match source.kind() {
                InjectErrorKind::AccessDenied => StatusCode::FORBIDDEN,
                InjectErrorKind::Unavailable => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            },
            Self::CredentialsTimeout { .. } | Self::UpstreamTimeout { .. } => {
                StatusCode::GATEWAY_TIMEOUT
            }
            Self::Busy | Self::Paused => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamConnect { .. } | Self::Upstream { .. } => StatusCode::BAD_GATEWAY,
            Self::Internal { .. } | Self::Config { .. } | Self::AccessKeys { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The AWS-style error code (DynamoDB's `__type` suffix), stable for clients and tests to match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthentication => "MissingAuthenticationTokenException",
            Self::MalformedAuthorization { .. } => "IncompleteSignatureException",
            Self::UnknownAccessKey { .. } => "UnrecognizedClientException",
            Self::BadSignature { .. } => "InvalidSignatureException",
            Self::NoRole { .. } | Self::Denied { .. } => "AccessDeniedException",
            Self::BodyTooLarge { .. } => "RequestEntityTooLarge",
            Self::PayloadMismatch => "XAmzContentSHA256Mismatch",
            Self::BadRequest { .. } => "ValidationException",
            Self::MethodNotImplemented { .. } => "NotImplemented",
            Self::Credentials { source } if source.kind() == InjectErrorKind::AccessDenied => {
                "AccessDeniedException"
            }
            Self::Credentials { .. } | Self::CredentialsTimeout { .. } => "CredentialsUnavailable",
            Self::Busy => "ThrottlingException",
            Self::Paused => "ServiceUnavailable",
            Self::UpstreamConnect { .. } | Self::Upstream { .. } => "BadGateway",
            Self::UpstreamTimeout { .. } => "GatewayTimeout",
            Self::ClientBody { .. } => "IncompleteBody",
            Self::Internal { .. } | Self::Config { .. } | Self::AccessKeys { .. } => {
                "InternalFailure"
            }
        }
    }

    /// What the client (or the operator) can do about it.
    pub fn remedy(&self) -> Option<String> {
        let text = match self {
            Self::MissingAuthentication => {
                "sign requests with an access key issued by this proxy (`iamwire keys create`), \
                 or present a client certificate"
            }
            Self::MalformedAuthorization { .. } => {
                "sign with SigV4 (AWS4-HMAC-SHA256) as the AWS SDKs and CLI do"
            }
            Self::UnknownAccessKey { .. } => {
                "use the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY that `iamwire keys create` \
                 printed, and check that the key is listed in proxy.access_keys"
            }
            Self::BadSignature { source } => match source {
                SigV4Error::ClockSkew { .. } => "check the client's clock",
                SigV4Error::SecurityTokenMismatch => {
                    "a key issued by this proxy has no session token: unset AWS_SESSION_TOKEN \
                     (aws_session_token), or present a client certificate and name the role there"
                }
                _ => "check AWS_SECRET_ACCESS_KEY: it must be the secret issued with this key id",
            },
            Self::NoRole { .. } => {
                "with a client certificate, set the role to act as in AWS_SESSION_TOKEN \
                 (aws_session_token in boto3)"
            }
            Self::Denied { .. } => {
                "ask the proxy's operator to allow this role for your identity (db_users in \
                 proxy.identities), or use a key issued for a role you may use"
            }
            Self::BodyTooLarge { .. } => "send a smaller request (split batches)",
            Self::PayloadMismatch => "send the body the request was signed for",
            Self::MethodNotImplemented { .. } => {
                "use GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS"
            }
            Self::Credentials { source } => return source.hint().map(str::to_owned),
            Self::CredentialsTimeout { .. } => {
                "check the proxy's network path to AWS STS; new requests retry"
            }
            Self::Busy => "retry with backoff, or raise the proxy's max_concurrent_requests",
            Self::Paused => "retry later (the AWS SDKs retry this on their own)",
            Self::UpstreamConnect { .. } => {
                "check the database URI and the proxy's network path to it; retry"
            }
            Self::UpstreamTimeout { .. } => "retry; if it persists, check the database's health",
            _ => return None,
        };
        Some(text.to_owned())
    }
}

impl From<crate::keys::KeyProblem> for HttpError {
    fn from(problem: crate::keys::KeyProblem) -> Self {
        Self::AccessKeys { problem }
    }
}

/// The response a client gets for `error`, in `service`'s error shape: the one place an error becomes
/// bytes on the wire.
pub fn refusal(service: Service, error: &HttpError) -> Response<ProxyBody> {
    let status = error.status();
    let mut message = error.to_string();
    if let Some(remedy) = error.remedy() {
        message.push_str(": ");
        message.push_str(&remedy);
    }
    let (content_type, body) = match service {
        Service::DynamoDb => (
            "application/x-amz-json-1.0",
            serde_json::json!({
                "__type": format!("com.amazonaws.dynamodb.v20120810#{}", error.code()),
                "message": message,
            }),
        ),
        Service::OpenSearch => {
            let cause = serde_json::json!({
                "type": opensearch_type(status),
                "reason": message,
                "iamwire_code": error.code(),
            });
            (
                "application/json; charset=UTF-8",
                serde_json::json!({
                    "error": {
                        "root_cause": [cause.clone()],
                        "type": cause["type"],
                        "reason": cause["reason"],
                        "iamwire_code": error.code(),
                    },
                    "status": status.as_u16(),
                }),
            )
        }
    };
    let mut response = Response::new(full(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("x-amzn-errortype", HeaderValue::from_static(error.code()));
    response
}

/// OpenSearch's error `type` for a status.
fn opensearch_type(status: StatusCode) -> &'static str {
    match status {
        StatusCode::FORBIDDEN => "security_exception",
        StatusCode::PAYLOAD_TOO_LARGE => "content_too_long_exception",
        StatusCode::BAD_REQUEST => "illegal_argument_exception",
        StatusCode::SERVICE_UNAVAILABLE => "rejected_execution_exception",
        StatusCode::GATEWAY_TIMEOUT => "timeout_exception",
        StatusCode::BAD_GATEWAY => "bad_gateway_exception",
        _ => "exception",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(response: Response<ProxyBody>) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn each_service_gets_its_own_shape() {
        let error = HttpError::BodyTooLarge { limit: 10 };
        let dynamo = refusal(Service::DynamoDb, &error);
        assert_eq!(dynamo.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let json = body_of(dynamo).await;
        assert_eq!(
            json["__type"],
            "com.amazonaws.dynamodb.v20120810#RequestEntityTooLarge"
        );
        assert!(json["message"].as_str().unwrap().contains("10 bytes"));
        let search = body_of(refusal(Service::OpenSearch, &error)).await;
        assert_eq!(search["status"], 413);
        assert_eq!(search["error"]["type"], "content_too_long_exception");
        assert_eq!(
            search["error"]["root_cause"][0]["iamwire_code"],
            "RequestEntityTooLarge"
        );
    }

    #[test]
    fn statuses_by_side() {
        let denied = HttpError::Denied {
            denied: Denied::DbUser {
                identity: "alice".into(),
                database: "orders".into(),
                db_user: "admin".into(),
            },
        };
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);
        assert!(denied.to_string().contains("\"admin\""));
        let timeout = HttpError::UpstreamTimeout {
            after: Duration::from_secs(1),
        };
        assert_eq!(timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        let unavailable = HttpError::Credentials {
            source: InjectError::new(InjectErrorKind::Unavailable, "sts down"),
        };
        assert_eq!(unavailable.status(), StatusCode::GATEWAY_TIMEOUT);
        let refused = HttpError::Credentials {
            source: InjectError::new(InjectErrorKind::AccessDenied, "no trust")
                .with_hint("fix the trust policy"),
        };
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(refused.remedy().as_deref(), Some("fix the trust policy"));
    }
}
