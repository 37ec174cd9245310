//! Whether an ElastiCache or MemoryDB user logs in with IAM (`Authentication.Type == "iam"`), and a small
//! caller-owned cache of the answer.
//!
//! An IAM-enabled user gets a SigV4 token as its `AUTH` password ([`crate::token`]); any other user needs a
//! password from elsewhere. ElastiCache requires an IAM-enabled user's id and name to be equal, so the
//! user name a client sends is also the `UserId` asked about here.
//!
//! ```no_run
//! # async fn example(client: &iamwire_aws::aws_api::ApiClient,
//! #                  creds: &aws_credential_types::Credentials) -> Result<(), iamwire_aws::aws_api::ApiError> {
//! use std::time::{Duration, SystemTime};
//! use iamwire_aws::aws_api::Call;
//! use iamwire_aws::cache_users::{CacheService, IamUserCache};
//!
//! let cache = IamUserCache::new(Duration::from_secs(300));
//! let call = Call::new(creds, "us-east-1", SystemTime::now());
//! if cache.user_uses_iam(client, call, CacheService::ElastiCache, "app").await? {
//!     // mint an ElastiCache IAM token for "app"
//! }
//! # Ok(()) }
//! ```

use crate::aws_api::services::{ELASTICACHE, MEMORYDB};
use crate::aws_api::wire::Answer;
use crate::aws_api::{ApiClient, ApiError, ApiRequest, Body, Call};

mod cache;

pub use cache::{DEFAULT_MAX_ENTRIES, IamUserCache, IamUserKey};

const MAX_USER_LEN: usize = 128;

/// The service a cache user lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CacheService {
    /// Amazon ElastiCache (Redis OSS / Valkey users, `DescribeUsers` by `UserId`).
    ElastiCache,
    /// Amazon MemoryDB (`DescribeUsers` by `UserName`).
    MemoryDb,
}

/// Ask the service whether `user` authenticates with IAM.
///
/// A user that does not exist (`UserNotFound` / `UserNotFoundFault`) does not use IAM: `Ok(false)`.
pub async fn user_uses_iam(
    client: &ApiClient,
    call: Call<'_>,
    service: CacheService,
    user: &str,
) -> Result<bool, ApiError> {
    if user.is_empty() || user.len() > MAX_USER_LEN || user.chars().any(char::is_control) {
        return Err(ApiError::InvalidInput {
            field: "user",
            reason: "must be 1 to 128 bytes without control characters",
        });
    }
    let operation = "DescribeUsers";
    let resource = format!("user {user}");
    let (svc, body) = match service {
        CacheService::ElastiCache => (
            ELASTICACHE,
            Body::Query {
                action: operation,
                version: "2015-02-02",
                params: vec![("UserId".into(), user.to_owned())],
            },
        ),
        CacheService::MemoryDb => (
            MEMORYDB,
            Body::Json {
                target: "AmazonMemoryDB.DescribeUsers",
                body: serde_json::json!({ "UserName": user }),
            },
        ),
    };
    let answer = Answer {
        service: svc,
        operation,
        resource: &resource,
    };
    let reply = client
        .send(&ApiRequest {
            service: svc,
            operation,
            body,
            call,
        })
        .await?;
    let result = match service {
        CacheService::ElastiCache => answer.query(reply.status, &reply.body).map(|result| {
            result
                .at(&["Users"])
                .into_iter()
                .flat_map(|users| users.children.iter())
                .filter(|m| m.text_at(&["UserId"]) == Some(user))
                .any(|m| m.text_at(&["Authentication", "Type"]) == Some("iam"))
        }),
        CacheService::MemoryDb => answer
            .json(
                reply.status,
                reply.error_type.as_deref(),
                reply.request_id.as_deref(),
                &reply.body,
            )
            .map(|value| {
                value
                    .get("Users")
                    .and_then(|u| u.as_array())
                    .into_iter()
                    .flatten()
                    .filter(|u| u.get("Name").and_then(|n| n.as_str()) == Some(user))
                    .any(|u| {
                        u.pointer("/Authentication/Type").and_then(|t| t.as_str()) == Some("iam")
                    })
            }),
    };
    match result {
        Err(e) if matches!(e.code(), Some("UserNotFound" | "UserNotFoundFault")) => Ok(false),
        Err(e) => {
            let denied = matches!(
                e.code(),
                Some("AccessDenied" | "AccessDeniedException" | "AccessDeniedFault")
            );
            let grant = denied.then(|| {
                format!(
                    "grant {}:DescribeUsers to the calling role",
                    svc.signing_name
                )
            });
            Err(e.with_hint(grant))
        }
        Ok(uses_iam) => Ok(uses_iam),
    }
}
