//! [`StsError`] and the classification of the SDK's errors into code, message and retryability.

use crate::aws_api::wire::{Element, parse_xml};
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

/// Why an STS call other than AssumeRole failed (AssumeRole failures are
/// [`RoleError`](crate::role::RoleError)s, which carry the hop).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    /// STS refused or failed the call.
    #[error(
        "sts:{operation} failed ({}): {message}",
        code.as_deref().unwrap_or("no error code")
    )]
    Call {
        /// The STS operation (`GetCallerIdentity`).
        operation: &'static str,
        /// The AWS error code (`InvalidClientTokenId`, `ExpiredToken`, ...), if AWS sent one.
        code: Option<String>,
        /// AWS's message, or the transport's.
        message: String,
        /// Whether trying again later may succeed without changing anything.
        retryable: bool,
    },
    /// STS answered without a field it always sends.
    #[error("sts:{operation} answered without {field}")]
    MissingField {
        /// The STS operation.
        operation: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// The credentials to call with could not be loaded.
    #[error("could not load AWS credentials: {message}")]
    Credentials {
        /// What the credentials provider said, with its causes.
        message: String,
    },
    /// No region was configured, so there is no regional STS endpoint to call.
    #[error(
        "no AWS region is configured for STS: set AWS_REGION (or region in the profile) or the proxy's region"
    )]
    NoRegion,
}

impl StsError {
    /// The AWS error code, if AWS sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Call { code, .. } => code.as_deref(),
            Self::MissingField { .. } | Self::Credentials { .. } | Self::NoRegion => None,
        }
    }

    /// Whether trying again later, unchanged, may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Call {
                retryable: true,
                ..
            }
        )
    }
}

/// An SDK error reduced to what [`RoleError`](crate::role::RoleError) and [`StsError`] carry.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) code: Option<String>,
    pub(super) message: String,
    pub(super) retryable: bool,
}

/// AWS error codes that mean "slow down" or "try again": the SDK's throttling and transient codes,
/// plus web identity's `IDPCommunicationError`.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "IDPCommunicationError",
];

/// Whether AWS error `code` is worth retrying unchanged.
pub(super) fn is_retryable_code(code: &str) -> bool {
    RETRYABLE_CODES.contains(&code)
}

/// Code, message and retryability of an SDK error: throttling, 5xx, timeouts and I/O failures are
/// retryable; refusals and failures to build the request are not.
pub(super) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(context) => {
            let service = context.err();
            let raw = context.raw();
            let status = raw.status();
            // The SDK reads the query protocol's `<ErrorResponse><Error>`; some STS stand-ins
            // (emulators, intercepting proxies) wrap it differently, so fall back to the body's
            // first `<Code>` / `<Message>` and the `x-amzn-errortype` header rather than lose the code.
            let body = raw.body().bytes().and_then(|b| std::str::from_utf8(b).ok());
            let code = service
                .code()
                .map(str::to_owned)
                .or_else(|| body.and_then(|b| xml_element(b, "Code")))
                .or_else(|| raw.headers().get("x-amzn-errortype").map(error_type));
            let message = service
                .message()
                .map(str::to_owned)
                .or_else(|| body.and_then(|b| xml_element(b, "Message")))
                .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            let retryable = status.is_server_error()
                || status.as_u16() == 429
                || code.as_deref().is_some_and(is_retryable_code);
            Failure {
                code,
                message,
                retryable,
            }
        }
        SdkError::DispatchFailure(failure) => Failure {
            code: None,
            message: causes(err),
            retryable: !failure.is_user(),
        },
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Failure {
            code: None,
            message: causes(err),
            retryable: true,
        },
        _ => Failure {
            code: None,
            message: causes(err),
            retryable: false,
        },
    }
}

/// `err` and its causes on one line, each cause's `Display` once (a cause whose text its parent already
/// shows is left out): what the SDK's `DisplayErrorContext` says, without the `Debug` dump it appends.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// The text of the first `<name>` element of `xml` (depth-first), unescaped; `None` if absent, empty, or not
/// XML. Uses the crate's bounded XML reader.
fn xml_element(xml: &str, name: &str) -> Option<String> {
    fn first<'a>(element: &'a Element, name: &str) -> Option<&'a Element> {
        if element.name == name {
            return Some(element);
        }
        element.children.iter().find_map(|c| first(c, name))
    }
    let root = parse_xml(xml)?;
    let text = first(&root, name)?.text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The error code of an `x-amzn-errortype` header (`Code:http://internal.amazon.com/...` → `Code`).
fn error_type(value: &str) -> String {
    value.split(':').next().unwrap_or(value).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_element_finds_code_and_message_in_any_wrapping() {
        let body = "<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>AccessDenied</Code>\
                    <Message>User: a &amp; b is not authorized</Message></Error></Errors></ErrorResponse>";
        assert_eq!(xml_element(body, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(
            xml_element(body, "Message").as_deref(),
            Some("User: a & b is not authorized")
        );
        assert_eq!(xml_element(body, "Type"), None);
        assert_eq!(xml_element("<Code></Code>", "Code"), None);
        assert_eq!(xml_element("<Code>unterminated", "Code"), None);
        assert_eq!(
            error_type("Throttling:http://internal.amazon.com/"),
            "Throttling"
        );
    }

    #[test]
    fn causes_are_one_line_without_debug() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let outer = std::io::Error::other(io);
        let text = causes(&outer);
        assert_eq!(text, "Connection refused");
        #[derive(Debug, thiserror::Error)]
        #[error("dispatch failure")]
        struct Outer(#[source] std::io::Error);
        let text = causes(&Outer(std::io::Error::other("tcp connect error")));
        assert_eq!(text, "dispatch failure: tcp connect error");
        assert!(!text.contains('{'));
    }
}
