//! The bytes of AWS protocols: form encoding, a small bounded XML reader, error bodies, timestamps.

use std::time::SystemTime;

use aws_smithy_types::date_time::{DateTime, Format};

use super::{ApiError, Service, ServiceError};

/// The deepest XML nesting accepted in an answer.
const MAX_XML_DEPTH: usize = 32;
/// The most elements accepted in one XML answer.
const MAX_XML_ELEMENTS: usize = 10_000;
/// The longest AWS error message kept, in characters.
const MAX_MESSAGE_CHARS: usize = 400;

/// Append `value` form-encoded (RFC 3986 unreserved characters kept, everything else `%XX`).
pub(crate) fn form_encode(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// One XML element: its local name (namespace prefix dropped), its text, its children.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) text: String,
    pub(crate) children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The element at `path` below this one, following first matches.
    pub(crate) fn at(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, name| e.child(name))
    }

    /// The trimmed text of the element at `path`, if present and not empty.
    pub(crate) fn text_at(&self, path: &[&str]) -> Option<&str> {
        self.at(path)
            .map(|e| e.text.trim())
            .filter(|t| !t.is_empty())
    }
}

/// Parse an XML document into its root element, with depth and size limits. `None` if it is not XML.
pub(crate) fn parse_xml(text: &str) -> Option<Element> {
    parse_xml_limited(text, MAX_XML_ELEMENTS)
}

/// [`parse_xml`] with room for `max_elements` elements (list answers of many resources).
pub(crate) fn parse_xml_limited(text: &str, max_elements: usize) -> Option<Element> {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    for token in Tokenizer::from(text) {
        match token.ok()? {
            Token::ElementStart { local, .. } => {
                count += 1;
                if stack.len() >= MAX_XML_DEPTH || count > max_elements {
                    return None;
                }
                stack.push(Element {
                    name: local.as_str().to_owned(),
                    ..Element::default()
                });
            }
            Token::ElementEnd { end, .. } => match end {
                ElementEnd::Open => {}
                ElementEnd::Close(_, local) => {
                    let done = stack.pop()?;
                    if done.name != local.as_str() {
                        return None;
                    }
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => return Some(done),
                    }
                }
                ElementEnd::Empty => {
                    let done = stack.pop()?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => return Some(done),
                    }
                }
            },
            Token::Text { text } => {
                if let Some(e) = stack.last_mut() {
                    unescape_into(text.as_str(), &mut e.text)?;
                }
            }
            Token::Cdata { text, .. } => {
                if let Some(e) = stack.last_mut() {
                    e.text.push_str(text.as_str());
                }
            }
            _ => {}
        }
    }
    None
}

/// Resolve the five XML entities and numeric character references.
fn unescape_into(s: &str, out: &mut String) -> Option<()> {
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find(';')?;
        let entity = &after[..end];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()?
                } else {
                    entity.strip_prefix('#')?.parse().ok()?
                };
                char::from_u32(n)?
            }
        };
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(())
}

/// The context an answer is judged in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answer<'a> {
    pub(crate) service: Service,
    pub(crate) operation: &'static str,
    pub(crate) resource: &'a str,
}

impl Answer<'_> {
    /// A [`ApiError::Malformed`] for this answer.
    pub(crate) fn malformed(&self, what: &'static str) -> ApiError {
        ApiError::Malformed {
            service: self.service.name,
            operation: self.operation,
            what,
        }
    }

    fn service_error(
        &self,
        status: u16,
        code: Option<&str>,
        message: Option<&str>,
        request_id: Option<&str>,
    ) -> ApiError {
        let code = code.map_or_else(|| format!("HTTP{status}"), str::to_owned);
        ApiError::Service(Box::new(ServiceError {
            service: self.service.name,
            operation: self.operation,
            resource: self.resource.to_owned(),
            code,
            status,
            message: clean_message(message.unwrap_or("")),
            request_id: request_id.map(str::to_owned),
            hint: None,
        }))
    }

    /// The `<...Result>` element of a query-protocol answer, or the AWS error it carries.
    pub(crate) fn query(&self, status: u16, body: &[u8]) -> Result<Element, ApiError> {
        self.query_limited(status, body, MAX_XML_ELEMENTS)
    }

    /// [`Answer::query`] for an answer that may hold up to `max_elements` XML elements.
    pub(crate) fn query_limited(
        &self,
        status: u16,
        body: &[u8],
        max_elements: usize,
    ) -> Result<Element, ApiError> {
        let root = std::str::from_utf8(body)
            .ok()
            .and_then(|text| parse_xml_limited(text, max_elements));
        if !(200..300).contains(&status) {
            // `<ErrorResponse><Error>` as AWS sends it; `<Errors><Error>` as EC2 (and moto) do.
            let error = root
                .as_ref()
                .and_then(|r| r.child("Error").or_else(|| r.at(&["Errors", "Error"])));
            return Err(self.service_error(
                status,
                error.and_then(|e| e.text_at(&["Code"])),
                error.and_then(|e| e.text_at(&["Message"])),
                root.as_ref().and_then(|r| {
                    r.text_at(&["RequestId"])
                        .or_else(|| r.text_at(&["ResponseMetadata", "RequestId"]))
                }),
            ));
        }
        let root = root.ok_or_else(|| self.malformed("the answer is not XML"))?;
        let result = format!("{}Result", self.operation);
        root.children
            .into_iter()
            .find(|c| c.name == result)
            .ok_or_else(|| self.malformed("no <...Result> element"))
    }

    /// The JSON object of a JSON 1.1 answer, or the AWS error it carries.
    pub(crate) fn json(
        &self,
        status: u16,
        error_type: Option<&str>,
        request_id: Option<&str>,
        body: &[u8],
    ) -> Result<serde_json::Value, ApiError> {
        let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        if !(200..300).contains(&status) {
            let field = |name: &str| {
                value
                    .as_ref()
                    .and_then(|v| v.get(name))
                    .and_then(|v| v.as_str())
            };
            let code = error_type
                .or_else(|| field("__type"))
                .or_else(|| field("code"))
                .map(sanitize_error_type);
            let message = field("message").or_else(|| field("Message"));
            return Err(self.service_error(status, code, message, request_id));
        }
        match value {
            Some(v @ serde_json::Value::Object(_)) => Ok(v),
            _ => Err(self.malformed("the answer is not a JSON object")),
        }
    }
}

/// `aws.protocoltests#FooError:http://...` → `FooError`, as the AWS SDKs read `__type` / `x-amzn-ErrorType`.
pub(crate) fn sanitize_error_type(s: &str) -> &str {
    let s = s.split(':').next().unwrap_or(s);
    s.rsplit('#').next().unwrap_or(s).trim()
}

fn clean_message(message: &str) -> String {
    message
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_MESSAGE_CHARS)
        .collect()
}

/// An ISO 8601 / RFC 3339 timestamp (`2024-01-01T00:00:00Z`, fractions and offsets allowed).
pub(crate) fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let dt = DateTime::from_str(text, Format::DateTimeWithOffset)
        .or_else(|_| DateTime::from_str(text, Format::DateTime))
        .ok()?;
    SystemTime::try_from(dt).ok()
}

/// A JSON timestamp: epoch seconds (JSON 1.1 default), or an ISO 8601 string.
pub(crate) fn json_timestamp(value: &serde_json::Value) -> Option<SystemTime> {
    match value {
        serde_json::Value::Number(n) => {
            let secs = n.as_f64()?;
            if !secs.is_finite() || !(0.0..=253_402_300_799.0).contains(&secs) {
                return None;
            }
            SystemTime::try_from(DateTime::from_secs_f64(secs)).ok()
        }
        serde_json::Value::String(s) => parse_timestamp(s),
        _ => None,
    }
}

/// The account and region of an ARN (`arn:<partition>:<service>:<region>:<account>:...`).
pub(crate) fn arn_account_region(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some(_), Some(region), Some(account), Some(_)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some((account, region))
}

#[cfg(test)]
mod tests;
