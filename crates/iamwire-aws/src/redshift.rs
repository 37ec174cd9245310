//! Temporary database credentials for Amazon Redshift (provisioned clusters) and Redshift Serverless.
//!
//! - [`get_cluster_credentials`]: `redshift:GetClusterCredentials` for a named database user; the user to
//!   log in as comes back as `IAM:<user>` (`AutoCreate` is always false: users are never created here).
//! - [`get_cluster_credentials_with_iam`]: `redshift:GetClusterCredentialsWithIAM`; the caller's IAM role
//!   is the database user, `IAMR:<role>`.
//! - [`get_serverless_credentials`]: `redshift-serverless:GetCredentials` for a workgroup, `IAMR:<role>`.
//!
//! Each is one signed call through an [`ApiClient`]; the time and credentials are the caller's.
//!
//! ```no_run
//! # async fn example(client: &iamwire_aws::aws_api::ApiClient,
//! #                  creds: &aws_credential_types::Credentials) -> Result<(), iamwire_aws::aws_api::ApiError> {
//! use std::time::SystemTime;
//! use iamwire_aws::aws_api::Call;
//! use iamwire_aws::redshift::{get_cluster_credentials, ClusterCredentialsRequest};
//!
//! let call = Call::new(creds, "us-east-1", SystemTime::now());
//! let request = ClusterCredentialsRequest::new("analytics", "app").db_name("dev");
//! let login = get_cluster_credentials(client, call, &request).await?;
//! assert!(login.user().starts_with("IAM:"));
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::aws_api::services::{REDSHIFT, REDSHIFT_SERVERLESS as SERVERLESS};
use crate::aws_api::wire::{Answer, json_timestamp, parse_timestamp};
use crate::aws_api::{ApiClient, ApiError, ApiRequest, Body, Call};

mod request;

pub use request::{
    ClusterCredentialsRequest, ClusterIamCredentialsRequest, DEFAULT_DURATION, MAX_DURATION,
    MIN_DURATION, ServerlessCredentialsRequest,
};

const REDSHIFT_VERSION: &str = "2012-12-01";

/// A database user name and its temporary password, valid until `expiration`.
///
/// The password is a credential: `Debug` prints `** redacted **`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseCredentials {
    user: String,
    password: String,
    expiration: SystemTime,
}

impl DatabaseCredentials {
    /// Credentials as a service returned them.
    pub fn new(
        user: impl Into<String>,
        password: impl Into<String>,
        expiration: SystemTime,
    ) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
            expiration,
        }
    }

    /// The user to log in as (`IAM:<user>` or `IAMR:<role>`).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The temporary password. Never log it.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// When the password stops working.
    pub fn expiration(&self) -> SystemTime {
        self.expiration
    }

    /// Whether the password is still good at `now` with at least `margin` left.
    pub fn is_valid_at(&self, now: SystemTime, margin: Duration) -> bool {
        now.checked_add(margin)
            .is_some_and(|later| later < self.expiration)
    }
}

impl fmt::Debug for DatabaseCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseCredentials")
            .field("user", &self.user)
            .field("password", &"** redacted **")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// `redshift:GetClusterCredentials`: a temporary password for `IAM:<db_user>` on a provisioned cluster.
pub async fn get_cluster_credentials(
    client: &ApiClient,
    call: Call<'_>,
    request: &ClusterCredentialsRequest<'_>,
) -> Result<DatabaseCredentials, ApiError> {
    request.validate()?;
    let operation = "GetClusterCredentials";
    let mut params = vec![
        ("ClusterIdentifier", request.cluster.to_owned()),
        ("DbUser", request.db_user.to_owned()),
        ("DurationSeconds", request.duration.as_secs().to_string()),
        ("AutoCreate", "false".to_owned()),
    ];
    if let Some(db) = request.db_name {
        params.push(("DbName", db.to_owned()));
    }
    let resource = format!("cluster {}", request.cluster);
    let action = format!(
        "grant redshift:GetClusterCredentials on arn:aws:redshift:{}:{}:dbuser:{}/{}{}",
        call.region(),
        call.account_id().unwrap_or("<account>"),
        request.cluster,
        request.db_user,
        request.db_name.map_or_else(String::new, |db| format!(
            " and arn:aws:redshift:{}:{}:dbname:{}/{db}",
            call.region(),
            call.account_id().unwrap_or("<account>"),
            request.cluster
        )),
    );
    query_credentials(client, call, operation, params, &resource, &action).await
}

/// `redshift:GetClusterCredentialsWithIAM`: a temporary password for the calling role, `IAMR:<role>`.
pub async fn get_cluster_credentials_with_iam(
    client: &ApiClient,
    call: Call<'_>,
    request: &ClusterIamCredentialsRequest<'_>,
) -> Result<DatabaseCredentials, ApiError> {
    request.validate()?;
    let operation = "GetClusterCredentialsWithIAM";
    let mut params = vec![
        ("ClusterIdentifier", request.cluster.to_owned()),
        ("DurationSeconds", request.duration.as_secs().to_string()),
    ];
    if let Some(db) = request.db_name {
        params.push(("DbName", db.to_owned()));
    }
    let resource = format!("cluster {}", request.cluster);
    let action = format!(
        "grant redshift:GetClusterCredentialsWithIAM on arn:aws:redshift:{}:{}:dbname:{}/{}",
        call.region(),
        call.account_id().unwrap_or("<account>"),
        request.cluster,
        request.db_name.unwrap_or("*"),
    );
    query_credentials(client, call, operation, params, &resource, &action).await
}

/// `redshift-serverless:GetCredentials`: a temporary password for the calling role on a workgroup.
pub async fn get_serverless_credentials(
    client: &ApiClient,
    call: Call<'_>,
    request: &ServerlessCredentialsRequest<'_>,
) -> Result<DatabaseCredentials, ApiError> {
    request.validate()?;
    let operation = "GetCredentials";
    let mut body = serde_json::json!({
        "workgroupName": request.workgroup,
        "durationSeconds": request.duration.as_secs(),
    });
    if let Some(db) = request.db_name {
        body["dbName"] = serde_json::Value::from(db);
    }
    let req = ApiRequest {
        service: SERVERLESS,
        operation,
        body: Body::Json {
            target: "RedshiftServerless.GetCredentials",
            body,
        },
        call,
    };
    let resource = format!("workgroup {}", request.workgroup);
    let answer = Answer {
        service: SERVERLESS,
        operation,
        resource: &resource,
    };
    let action = format!(
        "grant redshift-serverless:GetCredentials on arn:aws:redshift-serverless:{}:{}:workgroup/<id of {}>",
        call.region(),
        call.account_id().unwrap_or("<account>"),
        request.workgroup,
    );
    let reply = client.send(&req).await?;
    let value = answer
        .json(
            reply.status,
            reply.error_type.as_deref(),
            reply.request_id.as_deref(),
            &reply.body,
        )
        .map_err(|e| with_hint(e, &action))?;
    let text = |name| {
        value
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let user = text("dbUser").ok_or_else(|| answer.malformed("no dbUser"))?;
    let password = text("dbPassword").ok_or_else(|| answer.malformed("no dbPassword"))?;
    let expiration = value
        .get("expiration")
        .and_then(json_timestamp)
        .ok_or_else(|| answer.malformed("no valid expiration"))?;
    Ok(DatabaseCredentials::new(user, password, expiration))
}

async fn query_credentials(
    client: &ApiClient,
    call: Call<'_>,
    operation: &'static str,
    params: Vec<(&'static str, String)>,
    resource: &str,
    action: &str,
) -> Result<DatabaseCredentials, ApiError> {
    let req = ApiRequest {
        service: REDSHIFT,
        operation,
        body: Body::Query {
            action: operation,
            version: REDSHIFT_VERSION,
            params: params.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        },
        call,
    };
    let answer = Answer {
        service: REDSHIFT,
        operation,
        resource,
    };
    let reply = client.send(&req).await?;
    let result = answer
        .query(reply.status, &reply.body)
        .map_err(|e| with_hint(e, action))?;
    let user = result
        .text_at(&["DbUser"])
        .ok_or_else(|| answer.malformed("no DbUser"))?;
    let password = result
        .text_at(&["DbPassword"])
        .ok_or_else(|| answer.malformed("no DbPassword"))?;
    let expiration = result
        .text_at(&["Expiration"])
        .and_then(parse_timestamp)
        .ok_or_else(|| answer.malformed("no valid Expiration"))?;
    Ok(DatabaseCredentials::new(user, password, expiration))
}

/// Add what to do to a service error, by its code.
fn with_hint(error: ApiError, grant: &str) -> ApiError {
    let hint = match error.code().unwrap_or("") {
        "AccessDenied"
        | "AccessDeniedException"
        | "AccessDeniedFault"
        | "UnauthorizedOperation" => {
            format!("{grant} to the calling role")
        }
        "ClusterNotFound" | "ClusterNotFoundFault" => {
            "check the cluster identifier and region".to_owned()
        }
        "ResourceNotFoundException" => "check the workgroup name and region".to_owned(),
        "SignatureDoesNotMatch" | "InvalidSignatureException" | "IncompleteSignature" => {
            "the request signature was refused: check the credentials and the clock".to_owned()
        }
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "ExpiredToken"
        | "ExpiredTokenException" => {
            "the AWS credentials were refused: check the role chain".to_owned()
        }
        _ => return error,
    };
    error.with_hint(Some(hint))
}

#[cfg(test)]
mod tests;
