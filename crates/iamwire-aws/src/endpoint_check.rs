//! Endpoint safety: before a token or signature for a discovered or dynamic database is sent anywhere,
//! confirm that the database's endpoint belongs to the AWS account and region the database claims.
//!
//! A database's URI and its `aws` section come from different places (a `kind: db` document, a
//! discovery answer), and an IAM token signed for the claimed account is a credential: sent to a host
//! in another account, it would hand that account a login. [`EndpointGuard::confirm`]:
//!
//! 1. reads the URI's host ([`crate::endpoint::parse`]): a host whose region (or, for Redshift
//!    Serverless and account-based DynamoDB endpoints, account) differs from the claim is refused at once,
//!    naming both;
//! 2. asks the claimed account, through the database's own role (`assume_role_arn` with its external ID)
//!    in the claimed region, about the resource the host names (`DescribeDBInstances`,
//!    `DescribeDBClusters`, `DescribeDBClusterEndpoints`, `DescribeDBProxies`,
//!    `DescribeDBProxyEndpoints`, `redshift:DescribeClusters`, `redshift-serverless:GetWorkgroup` /
//!    `GetEndpointAccess`, `DescribeReplicationGroups`, `DescribeServerlessCaches`,
//!    `memorydb:DescribeClusters`, `es:DescribeDomain`);
//! 3. confirms only if that resource exists there, answers to exactly this host name, and its ARN names
//!    the claimed account and region.
//!
//! Verdicts are cached ([`EndpointGuard::ttl`], bounded by [`EndpointGuard::max_entries`]), one check
//! per key runs at a time, and failures to check (throttling, a network error) are not cached. Hosts
//! that are not AWS endpoints (custom DNS names, IP addresses) cannot be checked: the
//! [`UnknownHosts`] policy decides, refusing by default. Regional service endpoints (DynamoDB,
//! Keyspaces) name no account: their region is checked, and a signature for them only ever reaches the
//! signer's own account.
//!
//! [`GuardedInjector`](crate::inject::GuardedInjector) runs the check before any
//! [`AuthInjector`](iamwire_core::AuthInjector).
//!
//! ```no_run
//! # async fn example(client: iamwire_aws::aws_api::ApiClient,
//! #                  roles: std::sync::Arc<dyn iamwire_aws::role::RoleProvider>,
//! #                  database: iamwire_core::Database) {
//! use iamwire_aws::endpoint_check::EndpointGuard;
//!
//! let guard = EndpointGuard::new(client, roles);
//! match guard.confirm(&database).await {
//!     Ok(()) => { /* mint the token */ }
//!     Err(refused) => eprintln!("{refused}"), // names the claimed account/region and the real one
//! }
//! # }
//! ```

mod answers;
mod cache;
mod claim;
mod describe;
mod error;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use iamwire_core::{Clock, Database};

use crate::aws_api::ApiClient;
use crate::aws_api::wire::arn_account_region;
use crate::endpoint::{self, DynamoDbApi, EndpointKind};
use crate::reach::Reach;
use crate::role::RoleProvider;
use cache::{Verdict, Verdicts};
use claim::{Claim, is_loopback, normalize, operation_of, verdict_result};
use describe::{Asker, Unsupported};

pub use error::{EndpointCheckError, Mismatch};

/// How long a confirmation is trusted, unless changed with [`EndpointGuard::ttl`].
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);
/// How long a refusal is remembered (so a client retrying in a loop costs no Describe calls).
pub const DEFAULT_REFUSAL_TTL: Duration = Duration::from_secs(30);
/// How many verdicts are kept, unless changed with [`EndpointGuard::max_entries`].
pub const DEFAULT_MAX_ENTRIES: usize = 4096;

/// What to do with a host that is not an AWS endpoint (a custom DNS name, an IP address), whose owner
/// cannot be checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnknownHosts {
    /// Refuse it (the default).
    #[default]
    Refuse,
    /// Allow loopback addresses and `localhost` (tests, local tunnels); refuse the rest.
    AllowLoopback,
    /// Allow every such host: the operator vouches for what dynamic resources name.
    Allow,
}

/// Confirms database endpoints against the account and region they claim, and caches the verdicts.
/// Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct EndpointGuard {
    reach: Reach,
    unknown_hosts: UnknownHosts,
    verdicts: Arc<Verdicts>,
}

impl fmt::Debug for EndpointGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointGuard")
            .field("reach", &self.reach)
            .field("unknown_hosts", &self.unknown_hosts)
            .field("ttl", &self.verdicts.ttl)
            .field("cached", &self.verdicts.len())
            .finish()
    }
}

impl EndpointGuard {
    /// A guard asking AWS through `client` with credentials from `roles` (the injectors' provider, so
    /// the roles' credentials are shared), on the system clock, refusing hosts it cannot check.
    pub fn new(client: ApiClient, roles: Arc<dyn RoleProvider>) -> Self {
        Self {
            reach: Reach::new(client, roles),
            unknown_hosts: UnknownHosts::default(),
            verdicts: Arc::new(Verdicts::new(
                DEFAULT_TTL,
                DEFAULT_REFUSAL_TTL,
                DEFAULT_MAX_ENTRIES,
            )),
        }
    }

    /// Use `clock` for signing and for the cache (a test seam).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.reach.clock = clock;
        self
    }

    /// The AssumeRole session name; keep it equal to the injectors' so credentials are shared.
    #[must_use]
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.reach.session_name = name.into();
        self
    }

    /// Send every Describe call to `url` (an emulator) instead of the regional endpoints.
    #[must_use]
    pub fn endpoint_override(mut self, url: impl Into<String>) -> Self {
        self.reach.endpoint = Some(url.into());
        self
    }

    /// Send calls of one service (by signing name: `rds`, `redshift`, `redshift-serverless`,
    /// `elasticache`, `memorydb`, `es`) to `url`.
    #[must_use]
    pub fn service_endpoint(mut self, service: &str, url: impl Into<String>) -> Self {
        self.reach
            .service_endpoints
            .insert(service.to_owned(), url.into());
        self
    }

    /// What to do with hosts that are not AWS endpoints.
    #[must_use]
    pub fn unknown_hosts(mut self, policy: UnknownHosts) -> Self {
        self.unknown_hosts = policy;
        self
    }

    /// How long a confirmation and a refusal are remembered (a fresh cache).
    #[must_use]
    pub fn ttl(mut self, confirmed: Duration, refused: Duration) -> Self {
        self.verdicts = Arc::new(Verdicts::new(confirmed, refused, self.verdicts.max));
        self
    }

    /// How many verdicts are remembered at most (a fresh cache).
    #[must_use]
    pub fn max_entries(mut self, max: usize) -> Self {
        let v = &self.verdicts;
        self.verdicts = Arc::new(Verdicts::new(v.ttl, v.refusal_ttl, max));
        self
    }

    /// Remember `database` as confirmed now: discovery found it, with this endpoint, by asking its
    /// account through its own role. Saves the first client a Describe call.
    pub fn record_confirmed(&self, database: &Database) {
        if let Ok(claim) = Claim::of(database, &self.reach.session_name) {
            self.verdicts
                .put(claim.key, Verdict::Confirmed, self.reach.clock.now());
        }
    }

    /// Forget what is known about `database`'s endpoint (it was removed or changed).
    pub fn forget(&self, database: &Database) {
        if let Some((host, _)) = database.host_port() {
            self.verdicts.forget_host(&normalize(host));
        }
    }

    /// Confirm that `database`'s endpoint belongs to the account and region it claims.
    ///
    /// # Errors
    ///
    /// [`EndpointCheckError::Mismatch`] naming the claimed account/region and, when known, the real
    /// one; [`EndpointCheckError::Unverifiable`] for hosts the [`UnknownHosts`] policy refuses;
    /// the other variants when the check could not run (nothing is sent then either).
    pub async fn confirm(&self, database: &Database) -> Result<(), EndpointCheckError> {
        let result = self.check(database).await;
        if let Err(e) = &result
            && e.is_refusal()
        {
            tracing::warn!(database = %database.name, error = %e, "endpoint refused");
        }
        result
    }

    async fn check(&self, database: &Database) -> Result<(), EndpointCheckError> {
        let claim = Claim::of(database, &self.reach.session_name)?;
        let mismatch = |actual_account: Option<String>, actual_region: Option<String>, reason| {
            Box::new(Mismatch {
                host: claim.key.host.clone(),
                claimed_account: claim.key.account.clone(),
                claimed_region: claim.key.region.clone(),
                actual_account,
                actual_region,
                reason,
            })
        };
        let refuse = |m: Box<Mismatch>| EndpointCheckError::Mismatch {
            database: database.name.clone(),
            mismatch: m,
        };
        let parsed = match endpoint::parse(&claim.key.host) {
            Ok(ep) => ep,
            Err(_) => {
                return self.unknown_host(
                    database,
                    &claim.key.host,
                    "it is not an AWS endpoint host name",
                );
            }
        };
        if parsed.region != claim.key.region {
            let m = mismatch(
                None,
                Some(parsed.region.clone()),
                "the host name is in another region",
            );
            return Err(refuse(m));
        }
        let host_account = match &parsed.kind {
            EndpointKind::RedshiftServerless { account_id, .. }
            | EndpointKind::RedshiftServerlessVpcEndpoint { account_id, .. }
            | EndpointKind::DynamoDb {
                api: DynamoDbApi::AccountBased { account_id },
            } => Some(account_id.clone()),
            _ => None,
        };
        if let (Some(actual), Some(claimed)) = (&host_account, &claim.key.account)
            && actual != claimed
        {
            return Err(refuse(mismatch(
                Some(actual.clone()),
                None,
                "the host name names another account",
            )));
        }
        if matches!(
            parsed.kind,
            EndpointKind::DynamoDb { .. } | EndpointKind::Keyspaces { .. }
        ) {
            // A regional service endpoint: the region matched, and the account is the signer's own.
            return Ok(());
        }
        let now = self.reach.clock.now();
        if let Some(verdict) = self.verdicts.get(&claim.key, now) {
            return verdict_result(verdict).map_err(refuse);
        }
        let flight = self.verdicts.flight(&claim.key);
        let _one_at_a_time = flight.lock().await;
        if let Some(verdict) = self.verdicts.get(&claim.key, self.reach.clock.now()) {
            return verdict_result(verdict).map_err(refuse);
        }
        let credentials = self
            .reach
            .roles
            .credentials(&claim.chain)
            .await
            .map_err(|source| EndpointCheckError::Credentials {
                database: database.name.clone(),
                source: Box::new(source),
            })?;
        let asker = Asker {
            reach: &self.reach,
            credentials: &credentials,
            region: &claim.key.region,
        };
        let owned = match describe::describe(&asker, &parsed.kind).await {
            Ok(owned) => owned,
            Err(Unsupported::NoResource) => {
                return self.unknown_host(
                    database,
                    &claim.key.host,
                    "AWS offers no Describe call for this kind of endpoint",
                );
            }
            Err(Unsupported::Api(source)) => {
                return Err(EndpointCheckError::Api {
                    database: database.name.clone(),
                    operation: operation_of(&source),
                    source: Box::new(source),
                });
            }
        };
        let verdict = match owned {
            None => Verdict::Refused(mismatch(
                host_account,
                None,
                "the claimed account has no such resource in that region",
            )),
            Some(owned) => {
                let arn = owned.arn.as_deref().and_then(arn_account_region);
                let host_ok = owned.hosts.iter().any(|h| normalize(h) == claim.key.host);
                match arn {
                    Some((account, region)) if region != claim.key.region => {
                        Verdict::Refused(mismatch(
                            Some(account.to_owned()),
                            Some(region.to_owned()),
                            "AWS places the resource in another region",
                        ))
                    }
                    Some((account, _))
                        if claim.key.account.as_deref().is_some_and(|c| c != account) =>
                    {
                        Verdict::Refused(mismatch(
                            Some(account.to_owned()),
                            None,
                            "AWS places the resource in another account",
                        ))
                    }
                    _ if !host_ok => Verdict::Refused(mismatch(
                        None,
                        None,
                        "the claimed account's resource of that name answers to another host name",
                    )),
                    _ => Verdict::Confirmed,
                }
            }
        };
        self.verdicts
            .put(claim.key.clone(), verdict.clone(), self.reach.clock.now());
        verdict_result(verdict).map_err(refuse)
    }

    fn unknown_host(
        &self,
        database: &Database,
        host: &str,
        reason: &'static str,
    ) -> Result<(), EndpointCheckError> {
        let allowed = match self.unknown_hosts {
            UnknownHosts::Allow => true,
            UnknownHosts::AllowLoopback => is_loopback(host),
            UnknownHosts::Refuse => false,
        };
        if allowed {
            return Ok(());
        }
        Err(EndpointCheckError::Unverifiable {
            database: database.name.clone(),
            host: host.to_owned(),
            reason,
        })
    }
}

/// Fuzz entry point: arbitrary bytes as a Describe answer, through every answer reader.
pub(crate) fn fuzz(data: &[u8]) {
    answers::fuzz(data);
}

#[cfg(test)]
mod tests;
