//! The AWS steps of `iamwire doctor`: the proxy's own identity, each AssumeRole hop of a database's chain,
//! and the token or credentials its sessions log in with — each by the very code `iamwire run` uses.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use iamwire_aws::base::BaseCredentials;
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_aws::inject::{RdsIamInjector, injector_for};
use iamwire_aws::role::{RoleChain, RoleError, RoleProvider};
use iamwire_aws::sts::StsAssumeRole;
use iamwire_core::{
    AuthInjector, Database, Protocol, SessionRequest, StaticPasswordInjector, UpstreamLogin,
};

use super::{Report, Step, within};
use crate::proxy_config::{Listener, LoadedConfig};

/// The session name of the doctor's AssumeRole calls (CloudTrail shows it).
const SESSION_NAME: &str = "iamwire-doctor";

/// The proxy's AWS side, as `iamwire run` builds it.
pub(super) struct Aws {
    roles: Arc<dyn RoleProvider>,
    sts: StsAssumeRole,
    /// The ARN of the proxy's own identity (the first caller in a trust policy).
    caller: String,
    limit: Duration,
}

impl Aws {
    /// The base credentials and their identity (`sts:GetCallerIdentity`); `None` after a failed step.
    pub(super) async fn start(
        loaded: &LoadedConfig,
        env: &BTreeMap<String, String>,
        limit: Duration,
        report: &mut Report,
    ) -> Option<Self> {
        let base: BaseCredentials = crate::run::base_credentials(loaded, env).await;
        let built = base.sts().and_then(|sts| {
            let cache = CredentialCache::new(
                CacheConfig::default().fetch_timeout(limit),
                Arc::new(SystemClock),
            );
            base.role_provider(cache).map(|roles| (sts, roles))
        });
        let (sts, roles) = match built {
            Ok(built) => built,
            Err(e) => {
                let (what, fix) = crate::aws_messages::sts(&e);
                report.step("AWS identity", Step::failed(what, fix));
                return None;
            }
        };
        let identity = match within(limit, base.caller_identity()).await {
            Ok(Ok(identity)) => identity,
            Ok(Err(e)) => {
                let (what, fix) = crate::aws_messages::sts(&e);
                report.step("AWS identity", Step::failed(what, fix));
                return None;
            }
            Err(waited) => {
                report.step(
                    "AWS identity",
                    Step::failed(
                        format!("sts:GetCallerIdentity: {waited}"),
                        "check the network path to STS (AWS_ENDPOINT_URL_STS, proxies, VPC endpoints)",
                    ),
                );
                return None;
            }
        };
        report.step(
            "AWS identity",
            Step::Ok(format!("{} (account {})", identity.arn, identity.account)),
        );
        Some(Self {
            roles: Arc::new(roles),
            sts,
            caller: identity.arn,
            limit,
        })
    }

    /// The role provider `iamwire run` would use (for the HTTP databases' signed request).
    pub(super) fn roles(&self) -> Arc<dyn RoleProvider> {
        self.roles.clone()
    }

    /// Each AssumeRole hop of `db`'s chain, with the identity it gives; `false` after a failed step.
    pub(super) async fn hops(
        &self,
        db: &Database,
        user: Option<&str>,
        report: &mut Report,
    ) -> bool {
        let user_role = if db.logs_in_as_iam_role() {
            match user {
                Some(user) => Some(user),
                None => {
                    return report.step("assume role", no_user());
                }
            }
        } else {
            None
        };
        let chain = match RoleChain::for_database(&db.aws, user_role, SESSION_NAME) {
            Ok(chain) => chain,
            Err(e) => {
                return report.step(
                    "assume role",
                    Step::failed(
                        e.to_string(),
                        format!("correct database {:?}'s aws settings", db.name),
                    ),
                );
            }
        };
        let mut caller = self.caller.clone();
        for (index, hop) in chain.hops().iter().enumerate() {
            let external = if hop.external_id().is_some() {
                ", with external ID"
            } else {
                ""
            };
            let name = format!("assume role {} ({}{external})", hop.role_arn(), hop.kind());
            let prefix = chain.prefix(index.saturating_add(1));
            let step = match within(self.limit, self.roles.credentials(&prefix)).await {
                Err(waited) => Step::failed(
                    format!("sts:AssumeRole: {waited}"),
                    "check the network path to STS (AWS_ENDPOINT_URL_STS, proxies, VPC endpoints)",
                ),
                Ok(Err(e)) => refused(&e, &caller),
                Ok(Ok(creds)) => match within(self.limit, self.sts.caller_identity(&creds)).await {
                    Ok(Ok(id)) => {
                        caller = id.arn.clone();
                        Step::Ok(format!("now {}", id.arn))
                    }
                    Ok(Err(e)) => {
                        let (what, fix) = crate::aws_messages::sts(&e);
                        Step::failed(what, fix)
                    }
                    Err(waited) => Step::failed(
                        format!("sts:GetCallerIdentity: {waited}"),
                        "check the network path to STS",
                    ),
                },
            };
            if !report.step(&name, step) {
                return false;
            }
        }
        true
    }

    /// The login `iamwire run` would make for `user` (a token, temporary credentials or a password), by
    /// the database's own injector. `Some(None)`: the protocol has no login to check (HTTP databases
    /// sign each request). `None` after a failed step.
    pub(super) async fn login(
        &self,
        listener: &Listener,
        env: &BTreeMap<String, String>,
        user: Option<&str>,
        report: &mut Report,
    ) -> Option<Option<UpstreamLogin>> {
        let db = &listener.database;
        let injector: Arc<dyn AuthInjector> = match db.protocol {
            Protocol::DynamoDb | Protocol::OpenSearch => {
                report.step(
                    "token",
                    Step::NotChecked(
                        "HTTP databases re-sign each request with the role's credentials above"
                            .into(),
                    ),
                );
                return Some(None);
            }
            Protocol::MySql => Arc::new(RdsIamInjector::new(self.roles.clone())),
            Protocol::Redis if db.aws.elasticache.is_none() && db.aws.memorydb.is_none() => {
                match &listener.password {
                    Some(password) => Arc::new(StaticPasswordInjector::new(password.clone())),
                    None => {
                        report.step(
                            "token",
                            Step::failed(
                                "the database names no cache and its listener no password_file",
                                "set aws.elasticache / aws.memorydb, or the listener's password_file",
                            ),
                        );
                        return None;
                    }
                }
            }
            _ => {
                let api = crate::servers::aws_api(db, &crate::run::aws_api_tls().ok()?, env);
                injector_for(db, self.roles.clone(), api)
            }
        };
        let Some(user) = user else {
            report.step("token", no_user());
            return None;
        };
        let want = SessionRequest {
            database: db,
            db_user: user,
            db_name: None,
        };
        let step = match within(self.limit, injector.login(&want)).await {
            Ok(Ok(login)) => {
                let what = kind(db);
                let shown = if login.signer.is_some() {
                    "signs the database's challenge".to_owned()
                } else {
                    format!("{} characters", login.secret.len())
                };
                let ok = Step::Ok(format!("{what} for database user {} ({shown})", login.user));
                report.step("token", ok);
                return Some(Some(login));
            }
            Ok(Err(e)) => Step::failed(
                e.to_string(),
                e.hint()
                    .unwrap_or("check the database's aws settings and the role's permissions"),
            ),
            Err(waited) => Step::failed(
                format!("getting the login: {waited}"),
                "check the network path to AWS",
            ),
        };
        report.step("token", step);
        None
    }
}

/// What a database's sessions log in with.
fn kind(db: &Database) -> &'static str {
    let aws = &db.aws;
    if db.protocol == Protocol::Cassandra {
        "SigV4 credentials"
    } else if aws.redshift_serverless.is_some() {
        "Redshift Serverless temporary credentials"
    } else if aws.redshift.is_some() {
        "Redshift temporary credentials"
    } else if aws.elasticache.is_some() {
        "ElastiCache IAM token"
    } else if aws.memorydb.is_some() {
        "MemoryDB IAM token"
    } else if db.protocol == Protocol::Redis {
        "static password"
    } else {
        "RDS IAM token"
    }
}

fn no_user() -> Step {
    Step::failed(
        "no database user to test with",
        "pass --db-user, or name a user without wildcards in an identity's db_users",
    )
}

/// A failed hop, said as what STS answered and what to change; for a refusal, the trust policy the role
/// needs, naming the caller (the external ID itself is never shown).
fn refused(e: &RoleError, caller: &str) -> Step {
    let RoleError::AssumeRole(failure) = e else {
        let (what, fix) = crate::aws_messages::split(&e.to_string());
        return Step::failed(what, fix);
    };
    let code = failure.code.as_deref().unwrap_or("no error code");
    let what = format!("refused ({code}): {}", failure.message);
    if failure.code.as_deref() != Some("AccessDenied") {
        let (_, fix) = crate::aws_messages::split(&e.to_string());
        return Step::failed(what, fix);
    }
    let mut fix = format!(
        "the trust policy of {} must allow {caller} to sts:AssumeRole",
        failure.role_arn
    );
    if failure.external_id_sent {
        fix.push_str(
            " with condition sts:ExternalId equal to this database's aws.external_id (compare the value \
             with the role owner's; it is not shown here)",
        );
    }
    if failure.tags_sent {
        fix.push_str(", and sts:TagSession");
    }
    fix.push_str(&format!(
        "; and {caller}'s own policy must allow sts:AssumeRole on {}",
        failure.role_arn
    ));
    Step::failed(what, fix)
}
