//! `iam:SimulatePrincipalPolicy`: does a principal's own policy allow an action on a resource? What
//! `iamwire iam-policy --check` asks, with the credentials of the principal itself (IAM answers only
//! within an account).

use std::borrow::Cow;

use crate::aws_api::wire::{Answer, Element};
use crate::aws_api::{ApiClient, ApiError, ApiRequest, Body, Call, Service};

const IAM: Service = Service {
    name: "IAM",
    signing_name: "iam",
    host_prefix: "iam",
};
const IAM_VERSION: &str = "2010-05-08";
/// IAM's global endpoint (IAM signs in `us-east-1`).
pub const IAM_ENDPOINT: &str = "https://iam.amazonaws.com";
/// IAM's signing region.
pub const IAM_REGION: &str = "us-east-1";

/// What IAM decided for one action on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The action (`rds-db:connect`).
    pub action: String,
    /// The resource ARN.
    pub resource: String,
    /// `allowed`, `implicitDeny` or `explicitDeny`.
    pub decision: String,
}

impl Evaluation {
    /// Whether the action is allowed.
    pub fn is_allowed(&self) -> bool {
        self.decision == "allowed"
    }
}

/// Simulate the policies of `principal` (a user or role ARN) for every action on every resource.
/// Without an endpoint override the call goes to [`IAM_ENDPOINT`], signed for [`IAM_REGION`].
///
/// # Errors
/// The AWS error (`AccessDenied` when the caller may not simulate), or a transport failure.
pub async fn simulate_principal_policy(
    client: &ApiClient,
    call: Call<'_>,
    principal: &str,
    actions: &[String],
    resources: &[String],
) -> Result<Vec<Evaluation>, ApiError> {
    let operation = "SimulatePrincipalPolicy";
    let mut params: Vec<(Cow<'static, str>, String)> =
        vec![("PolicySourceArn".into(), principal.to_owned())];
    let members = |list: &str, values: &[String]| -> Vec<(Cow<'static, str>, String)> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{list}.member.{}", i + 1).into(), v.clone()))
            .collect()
    };
    params.extend(members("ActionNames", actions));
    params.extend(members("ResourceArns", resources));
    let call = if call.endpoint_override().is_some() {
        call
    } else {
        call.endpoint(IAM_ENDPOINT)
    };
    let req = ApiRequest {
        service: IAM,
        operation,
        body: Body::Query {
            action: operation,
            version: IAM_VERSION,
            params,
        },
        call,
    };
    let answer = Answer {
        service: IAM,
        operation,
        resource: principal,
    };
    let reply = client.send(&req).await?;
    let result = answer.query(reply.status, &reply.body)?;
    let members = result
        .child("EvaluationResults")
        .map_or(&[][..], |e| e.children.as_slice());
    members
        .iter()
        .map(|m| evaluation(m).ok_or_else(|| answer.malformed("an evaluation without its fields")))
        .collect()
}

fn evaluation(member: &Element) -> Option<Evaluation> {
    Some(Evaluation {
        action: member.text_at(&["EvalActionName"])?.to_owned(),
        resource: member
            .text_at(&["EvalResourceName"])
            .unwrap_or("*")
            .to_owned(),
        decision: member.text_at(&["EvalDecision"])?.to_owned(),
    })
}
