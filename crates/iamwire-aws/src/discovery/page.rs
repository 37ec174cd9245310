//! One region/type listing: signed calls with the matcher's credentials, bounded pagination, and AWS
//! failures as [`DiscoveryError`]s of this scope.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::future::Future;

use aws_credential_types::Credentials;
use http::Method;
use iamwire_core::{AwsMatcher, DiscoveryType, RoleArn};
use serde_json::Value;

use super::build::Found;
use super::{DiscoveryError, Inner, Skips};
pub(crate) use crate::aws_api::services::RDS;
use crate::aws_api::wire::Element;
pub(crate) use crate::aws_api::wire::arn_account_region;
use crate::aws_api::{ApiError, ApiRequest, Body, Call, Service};

/// The most XML elements one page may hold (a page of 100 RDS instances with 50 tags each stays
/// well below; the response itself is capped at [`MAX_RESPONSE_LEN`](crate::aws_api::MAX_RESPONSE_LEN)).
const MAX_PAGE_ELEMENTS: usize = 200_000;
/// The longest pagination token accepted.
const MAX_TOKEN_LEN: usize = 4096;

pub(crate) const RDS_VERSION: &str = "2014-10-31";

/// Query parameters.
pub(crate) type Params = Vec<(Cow<'static, str>, String)>;

/// The context of one region/type listing.
pub(crate) struct Scope<'a> {
    pub(crate) inner: &'a Inner,
    pub(crate) index: usize,
    pub(crate) matcher: &'a AwsMatcher,
    pub(crate) role: Option<&'a RoleArn>,
    pub(crate) credentials: &'a Credentials,
    pub(crate) region: &'a str,
    pub(crate) kind: DiscoveryType,
}

impl Scope<'_> {
    fn call(&self, service: Service) -> Call<'_> {
        self.inner
            .reach
            .call(self.credentials, self.region, service)
    }

    /// A [`DiscoveryError::Api`] of this scope.
    pub(crate) fn api_error(&self, operation: &'static str, source: ApiError) -> DiscoveryError {
        DiscoveryError::Api {
            matcher: self.index,
            region: self.region.to_owned(),
            kind: self.kind,
            operation,
            code: source.code().map(str::to_owned),
            source: Box::new(source),
        }
    }

    /// A [`DiscoveryError::Truncated`] of this scope.
    pub(crate) fn truncated(&self, what: &'static str, limit: usize) -> DiscoveryError {
        DiscoveryError::Truncated {
            matcher: self.index,
            region: self.region.to_owned(),
            kind: self.kind,
            what,
            limit,
        }
    }

    fn malformed(service: Service, operation: &'static str, what: &'static str) -> ApiError {
        ApiError::Malformed {
            service: service.name,
            operation,
            what,
        }
    }

    /// One query-protocol call; its `<...Result>` element.
    pub(crate) async fn query(
        &self,
        service: Service,
        version: &'static str,
        operation: &'static str,
        params: Params,
    ) -> Result<Element, DiscoveryError> {
        let body = Body::Query {
            action: operation,
            version,
            params,
        };
        let request = self.request(service, operation, body);
        let answer = self
            .inner
            .reach
            .client
            .query(&request, self.region, MAX_PAGE_ELEMENTS);
        answer.await.map_err(|e| self.api_error(operation, e))
    }

    fn request(&self, service: Service, operation: &'static str, body: Body) -> ApiRequest<'_> {
        ApiRequest {
            service,
            operation,
            body,
            call: self.call(service),
        }
    }

    /// Every page of a query-protocol listing (`Marker` / `MaxRecords`): each member of the list at
    /// `list` is handed to `each`.
    pub(crate) async fn query_pages(
        &self,
        service: Service,
        version: &'static str,
        operation: &'static str,
        params: Params,
        list: &[&str],
        mut each: impl FnMut(&Element),
    ) -> Result<(), DiscoveryError> {
        let limits = self.inner.limits;
        let mut marker: Option<String> = None;
        let mut seen = BTreeSet::new();
        for _ in 0..limits.max_pages {
            let mut page = params.clone();
            page.push(("MaxRecords".into(), limits.page_size.to_string()));
            if let Some(m) = &marker {
                page.push(("Marker".into(), m.clone()));
            }
            let result = self.query(service, version, operation, page).await?;
            for member in result.at(list).into_iter().flat_map(|l| &l.children) {
                each(member);
            }
            marker = next_token(result.text_at(&["Marker"]), &mut seen).map_err(|what| {
                self.api_error(operation, Self::malformed(service, operation, what))
            })?;
            if marker.is_none() {
                return Ok(());
            }
        }
        Err(self.truncated("pages", limits.max_pages))
    }

    /// One JSON 1.1 call; its answer object.
    pub(crate) async fn json(
        &self,
        service: Service,
        target: &'static str,
        operation: &'static str,
        body: Value,
    ) -> Result<Value, DiscoveryError> {
        self.send_json(service, operation, Body::Json { target, body })
            .await
    }

    /// One REST-JSON call (OpenSearch); its answer object.
    pub(crate) async fn rest(
        &self,
        service: Service,
        operation: &'static str,
        method: Method,
        path_and_query: String,
        body: Option<Value>,
    ) -> Result<Value, DiscoveryError> {
        let body = Body::Rest {
            method,
            path_and_query,
            body,
        };
        self.send_json(service, operation, body).await
    }

    async fn send_json(
        &self,
        service: Service,
        operation: &'static str,
        body: Body,
    ) -> Result<Value, DiscoveryError> {
        let request = self.request(service, operation, body);
        let answer = self.inner.reach.client.json(&request, self.region);
        answer.await.map_err(|e| self.api_error(operation, e))
    }

    /// Every page of a JSON 1.1 listing: `token` names the pagination field (`NextToken`, `nextToken`),
    /// `max` the page size field; each member of the array `list` is handed to `each`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn json_pages(
        &self,
        service: Service,
        target: &'static str,
        operation: &'static str,
        body: Value,
        (list, token, max): (&str, &str, &str),
        mut each: impl FnMut(&Value),
    ) -> Result<(), DiscoveryError> {
        let limits = self.inner.limits;
        let mut next: Option<String> = None;
        let mut seen = BTreeSet::new();
        for _ in 0..limits.max_pages {
            let mut page = body.clone();
            if let Value::Object(fields) = &mut page {
                fields.insert(max.to_owned(), Value::from(limits.page_size));
                if let Some(t) = &next {
                    fields.insert(token.to_owned(), Value::from(t.as_str()));
                }
            }
            let answer = self.json(service, target, operation, page).await?;
            for member in answer
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                each(member);
            }
            let text = answer.get(token).and_then(Value::as_str);
            next = next_token(text, &mut seen).map_err(|what| {
                self.api_error(operation, Self::malformed(service, operation, what))
            })?;
            if next.is_none() {
                return Ok(());
            }
        }
        Err(self.truncated("pages", limits.max_pages))
    }
}

/// The next pagination token, refusing one that repeats (a service that would loop forever) or is
/// absurdly long.
fn next_token(
    token: Option<&str>,
    seen: &mut BTreeSet<String>,
) -> Result<Option<String>, &'static str> {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if token.len() > MAX_TOKEN_LEN {
        return Err("a pagination token longer than 4096 bytes");
    }
    if !seen.insert(token.to_owned()) {
        return Err("a pagination token that repeats");
    }
    Ok(Some(token.to_owned()))
}

/// Tags for every resource, read once per ARN (the endpoints of one resource share its tags) with
/// `fetch`, after checking the [`DiscoveryLimits::max_databases`](super::DiscoveryLimits) bound; a
/// resource whose tags cannot be read is left out and the failure reported.
pub(crate) async fn tag_by_arn<F, Fut>(
    scope: &Scope<'_>,
    found: &mut Vec<Found>,
    skips: &mut Skips,
    fetch: F,
) -> Result<(), DiscoveryError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Vec<(String, String)>, DiscoveryError>>,
{
    let limit = scope.inner.limits.max_databases;
    if found.len() > limit {
        return Err(scope.truncated("databases", limit));
    }
    let arns: BTreeSet<String> = found.iter().map(|f| f.arn.clone()).collect();
    let mut failed = BTreeSet::new();
    for arn in arns {
        match fetch(arn.clone()).await {
            Ok(tags) => {
                for f in found.iter_mut().filter(|f| f.arn == arn) {
                    f.tags.clone_from(&tags);
                }
            }
            Err(e) => {
                skips.fail(e);
                failed.insert(arn);
            }
        }
    }
    found.retain(|f| !failed.contains(&f.arn));
    Ok(())
}

/// The non-empty string at JSON `path`.
pub(crate) fn str_at<'v>(v: &'v Value, path: &str) -> Option<&'v str> {
    v.pointer(path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The text of child `name`, if present and not empty.
pub(crate) fn text<'e>(e: &'e Element, name: &str) -> Option<&'e str> {
    e.text_at(&[name])
}

/// `Key`/`Value` pairs from a query-protocol tag list (`<TagList><Tag><Key>..`), at most
/// [`MAX_TAGS`](super::labels::MAX_TAGS).
pub(crate) fn xml_tags(list: Option<&Element>) -> Vec<(String, String)> {
    list.into_iter()
        .flat_map(|l| &l.children)
        .filter_map(|t| {
            let key = t.text_at(&["Key"])?;
            let value = t.at(&["Value"]).map_or("", |v| v.text.trim());
            Some((key.to_owned(), value.to_owned()))
        })
        .take(super::labels::MAX_TAGS)
        .collect()
}

/// Tag pairs from a JSON tag list, whose fields are named `key`/`value` (`Key`/`Value` in some
/// services), at most [`MAX_TAGS`](super::labels::MAX_TAGS).
pub(crate) fn json_tags(list: Option<&Value>) -> Vec<(String, String)> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let field = |a: &str, b: &str| t.get(a).or_else(|| t.get(b)).and_then(Value::as_str);
            let key = field("Key", "key").filter(|k| !k.is_empty())?;
            Some((
                key.to_owned(),
                field("Value", "value").unwrap_or("").to_owned(),
            ))
        })
        .take(super::labels::MAX_TAGS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_that_repeat_or_are_huge_are_refused() {
        let mut seen = BTreeSet::new();
        assert_eq!(next_token(None, &mut seen), Ok(None));
        assert_eq!(next_token(Some("  "), &mut seen), Ok(None));
        assert_eq!(next_token(Some("a"), &mut seen), Ok(Some("a".to_owned())));
        assert!(next_token(Some("a"), &mut seen).is_err());
        assert!(next_token(Some(&"x".repeat(5000)), &mut seen).is_err());
    }

    #[test]
    fn arns_split_into_account_and_region() {
        assert_eq!(
            arn_account_region("arn:aws:rds:us-east-1:222222222222:db:orders"),
            Some(("222222222222", "us-east-1"))
        );
        assert_eq!(
            arn_account_region("arn:aws:memorydb:eu-west-1:1:cluster/x"),
            Some(("1", "eu-west-1"))
        );
        assert_eq!(arn_account_region("arn:aws:rds"), None);
        assert_eq!(arn_account_region("nope:aws:rds:r:a:x"), None);
    }
}
