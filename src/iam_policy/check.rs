//! `iamwire iam-policy --check`: ask AWS, as the proxy, whether each hop can be assumed and each
//! permission of the plan is granted — with `iam:SimulatePrincipalPolicy` (using the credentials of the
//! principal whose policies are simulated, since IAM answers within an account) where that principal may
//! call it, else by the real, harmless calls only (AssumeRole). One line per check, with the fix for
//! each failure.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use iamwire_aws::aws_api::{ApiClient, ApiError, Call};
use iamwire_aws::base::{BaseCredentials, BaseCredentialsConfig};
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_aws::iam::{IAM_REGION, simulate_principal_policy};
use iamwire_aws::inject::role_error;
use iamwire_aws::role::{DEFAULT_SESSION_NAME, RoleChain, RoleProvider as _};
use iamwire_aws::sts::StsRoleProvider;

use super::plan::{Plan, PolicyKind};
use super::{Input, Principal};

/// The proxy's AWS side, as `iamwire run` would set it up.
pub(crate) struct Aws {
    env: BTreeMap<String, String>,
    base: BaseCredentials,
    provider: Option<StsRoleProvider>,
}

impl Aws {
    pub(crate) async fn new(
        env_file: Option<&Path>,
        region: Option<String>,
    ) -> Result<Self, String> {
        let env = crate::envfile::environment(env_file, env_file.is_some())?;
        let mut config = BaseCredentialsConfig::from_env(env.clone());
        if let Some(region) = region {
            config = config.region(region);
        }
        let base = config.load().await;
        let cache = CredentialCache::new(CacheConfig::default(), Arc::new(SystemClock));
        let provider = base.role_provider(cache).ok();
        Ok(Self {
            env,
            base,
            provider,
        })
    }

    /// Who the proxy's credentials are.
    pub(crate) async fn principal(&self) -> Result<Principal, String> {
        let who = self.base.caller_identity().await.map_err(|e| {
            format!("cannot tell who the proxy is ({e}); pass --proxy-principal ARN")
        })?;
        Principal::parse(&who.arn)
            .ok_or_else(|| format!("the proxy's identity {} is not a user or role ARN", who.arn))
    }

    async fn credentials(&self, chain: &RoleChain) -> Result<Credentials, String> {
        let provider = self
            .provider
            .as_ref()
            .ok_or("no region for STS: pass --region or set aws.region")?;
        provider.credentials(chain).await.map_err(|e| {
            let e = role_error(e);
            match e.hint() {
                Some(hint) => format!("{e} — fix: {hint}"),
                None => e.to_string(),
            }
        })
    }

    fn iam_endpoint(&self) -> Option<&str> {
        ["AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL"]
            .iter()
            .find_map(|k| self.env.get(*k))
            .map(String::as_str)
            .filter(|e| !e.is_empty())
    }
}

/// Run every check; `Err` (with the same report) when any failed.
pub(crate) async fn run(
    aws: &Aws,
    plan: &Plan,
    input: &Input,
    principal: &Principal,
    only: &[String],
) -> Result<String, String> {
    let mut out = String::new();
    let mut failed = false;
    let _ = writeln!(out, "✓ proxy identity: {}", principal.arn);
    let chains = chains(input, principal, only);
    let api = api_client(aws)?;
    for (arn, chain) in &chains {
        if chain.is_empty() {
            continue;
        }
        match aws.credentials(chain).await {
            Ok(_) => {
                let _ = writeln!(out, "✓ assume {arn}");
            }
            Err(e) => {
                failed = true;
                let _ = writeln!(out, "✗ assume {arn}: {e}");
            }
        }
    }
    for (account, policy) in plan.policies() {
        if policy.kind != PolicyKind::Identity || policy.optional {
            continue;
        }
        let _ = account;
        let Some(chain) = chains.get(&policy.attach_to) else {
            let _ = writeln!(
                out,
                "? {}: not checked (a pattern, or a principal iamwire does not assume)",
                policy.attach_to
            );
            continue;
        };
        let Ok(creds) = aws.credentials(chain).await else {
            continue; // already reported above
        };
        for (statement, _) in &policy.statements {
            let resources = statement.resources().to_vec();
            let call = Call::new(&creds, IAM_REGION, SystemTime::now());
            let call = match aws.iam_endpoint() {
                Some(e) => call.endpoint(e),
                None => call,
            };
            let evaluated = simulate_principal_policy(
                &api,
                call,
                &policy.attach_to,
                statement.actions(),
                &resources,
            )
            .await;
            match evaluated {
                Ok(results) => {
                    for r in results {
                        if r.is_allowed() {
                            let _ = writeln!(
                                out,
                                "✓ {} on {} ({})",
                                r.action, r.resource, statement.sid
                            );
                        } else {
                            failed = true;
                            let _ = writeln!(
                                out,
                                "✗ {} on {} ({}): {} — fix: add statement {} of policy {:?} to {}",
                                r.action,
                                r.resource,
                                statement.sid,
                                r.decision,
                                statement.sid,
                                policy.name,
                                policy.attach_to
                            );
                        }
                    }
                }
                Err(e) => {
                    let _ = writeln!(
                        out,
                        "? {} ({}): not verified — {}; attach the optional policy {:?} to {} to let \
                         --check simulate it",
                        statement.actions().join(", "),
                        statement.sid,
                        describe(&e),
                        format!("{}-check", policy.name),
                        policy.attach_to
                    );
                }
            }
        }
    }
    if failed { Err(out) } else { Ok(out) }
}

/// The role chain that yields each principal's credentials, by the principal's ARN.
fn chains(input: &Input, principal: &Principal, only: &[String]) -> BTreeMap<String, RoleChain> {
    let mut out = BTreeMap::new();
    out.insert(principal.arn.clone(), RoleChain::base());
    for db in &input.db_service.databases {
        if !only.is_empty() && !only.contains(&db.name) {
            continue;
        }
        if let Ok(chain) = RoleChain::for_database(&db.aws, None, DEFAULT_SESSION_NAME)
            && let Some(arn) = chain.last_role_arn()
        {
            out.insert(arn.to_string(), chain.clone());
        }
        if db.logs_in_as_iam_role()
            && let Some(rules) = &input.identities
        {
            for user in rules
                .iter()
                .filter(|r| r.covers(&db.labels))
                .flat_map(|r| r.db_users.iter())
                .filter(|g| g.is_literal())
            {
                if let Ok(chain) =
                    RoleChain::for_database(&db.aws, Some(user.as_str()), DEFAULT_SESSION_NAME)
                    && let Some(arn) = chain.last_role_arn()
                {
                    out.insert(arn.to_string(), chain);
                }
            }
        }
    }
    out
}

fn api_client(aws: &Aws) -> Result<ApiClient, String> {
    let tls = crate::run::aws_api_tls()?;
    let http = aws.iam_endpoint().is_some_and(|e| e.starts_with("http://"));
    Ok(ApiClient::new(tls).allow_http(http))
}

fn describe(error: &ApiError) -> String {
    match error.code() {
        Some(code) => format!("IAM answered {code}"),
        None => "IAM could not be reached".to_owned(),
    }
}
