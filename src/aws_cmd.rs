//! `iamwire aws whoami` and `iamwire token ...`: what an operator runs to debug a cross-account setup.
//!
//! Both build the base credential chain from the process environment (plus an optional env file), so they
//! honour `AWS_*` variables, `AWS_PROFILE`, and `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_STS`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use clap::Args;
use iamwire_aws::base::{BaseCredentials, BaseCredentialsConfig};
use iamwire_aws::cache::{CacheConfig, CredentialCache, SystemClock};
use iamwire_aws::role::{RoleChain, RoleProvider};
use iamwire_aws::sts::StsRoleProvider;
use iamwire_aws::token::{self, ElastiCacheKind};
use iamwire_core::{ExternalId, RoleArn};

use crate::aws_messages;

/// The external ID rules of STS (and of the config validator): 2 to 1224 characters of
/// `[A-Za-z0-9_+=,.@:/-]`.
fn check_external_id(id: &str) -> Result<(), String> {
    let ok = (2..=1224).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@:/-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--external-id must be 2 to 1224 characters of letters, digits and _+=,.@:/- \
             (as STS and the config's aws.external_id require); the one given has {} characters",
            id.chars().count()
        ))
    }
}

/// Where credentials come from and which roles to assume on the way.
#[derive(Debug, Args)]
pub(crate) struct AwsArgs {
    /// Region (else `AWS_REGION` / `AWS_DEFAULT_REGION` / the profile's region).
    #[arg(long)]
    region: Option<String>,
    /// The database account's role to assume first (cross-account hop).
    #[arg(long)]
    assume_role_arn: Option<String>,
    /// External ID for the first hop (required by the role's trust policy, if it names one).
    #[arg(long)]
    external_id: Option<String>,
    /// Then assume this database-user role (a name in the same account, or a full role ARN).
    #[arg(long)]
    user_role: Option<String>,
    /// Session name for the AssumeRole calls.
    #[arg(long, default_value = "iamwire-cli")]
    session_name: String,
    /// An env file (`KEY=value` lines, like /etc/default/teleport) read before the credential chain.
    #[arg(long)]
    env_file: Option<PathBuf>,
}

struct Resolved {
    base: BaseCredentials,
    provider: StsRoleProvider,
    chain: RoleChain,
    region: String,
}

impl AwsArgs {
    async fn resolve(&self) -> Result<Resolved, String> {
        let env = crate::envfile::environment(self.env_file.as_deref(), true)?;
        let mut config = BaseCredentialsConfig::from_env(env);
        if let Some(region) = &self.region {
            config = config.region(region.clone());
        }
        let base = config.load().await;
        let region = base
            .region()
            .map(str::to_owned)
            .ok_or("no region: pass --region or set AWS_REGION")?;
        let cache = CredentialCache::new(CacheConfig::default(), Arc::new(SystemClock));
        let provider = base
            .role_provider(cache)
            .map_err(|e| aws_messages::one_line(aws_messages::sts(&e)))?;
        Ok(Resolved {
            chain: self.chain()?,
            base,
            provider,
            region,
        })
    }

    fn chain(&self) -> Result<RoleChain, String> {
        if self.assume_role_arn.is_none() && self.user_role.is_none() {
            if self.external_id.is_some() {
                return Err("--external-id needs --assume-role-arn or --user-role".into());
            }
            return Ok(RoleChain::base());
        }
        let mut builder = RoleChain::builder().session_name(&self.session_name);
        if let Some(arn) = &self.assume_role_arn {
            let arn: RoleArn = arn.parse().map_err(|e| format!("--assume-role-arn: {e}"))?;
            builder = builder.assume_role(arn);
        }
        if let Some(id) = &self.external_id {
            check_external_id(id)?;
            builder = builder.external_id(ExternalId::new(id.clone()));
        }
        if let Some(user) = &self.user_role {
            builder = builder.then_user_role(user.clone());
        }
        builder.build().map_err(|e| e.to_string())
    }
}

async fn credentials_at(r: &Resolved, hops: usize) -> Result<Credentials, String> {
    let chain = r.chain.prefix(hops);
    r.provider
        .credentials(&chain)
        .await
        .map_err(|e| match chain.last_role_arn() {
            Some(arn) => format!("hop {hops} ({arn}) failed: {}", aws_messages::role(&e)),
            None => format!("base credentials: {}", aws_messages::role(&e)),
        })
}

/// `iamwire aws whoami`: the caller identity after each hop, or the exact failing hop and AWS error.
pub(crate) async fn whoami(args: &AwsArgs) -> Result<String, String> {
    let r = args.resolve().await?;
    let mut out = String::new();
    let base = r
        .base
        .caller_identity()
        .await
        .map_err(|e| aws_messages::one_line(aws_messages::sts(&e)))?;
    let _ = writeln!(
        out,
        "base credentials: {} (account {})",
        base.arn, base.account
    );
    let sts = r.base.sts().map_err(|e| e.to_string())?;
    for (index, hop) in r.chain.hops().iter().enumerate() {
        let creds = match credentials_at(&r, index + 1).await {
            Ok(c) => c,
            Err(e) => {
                // Say what worked before the hop that failed.
                print!("{out}");
                return Err(e);
            }
        };
        let id = sts.caller_identity(&creds).await.map_err(|e| {
            format!(
                "hop {}: {}",
                index + 1,
                aws_messages::one_line(aws_messages::sts(&e))
            )
        })?;
        let _ = writeln!(
            out,
            "hop {} via {}: {} (account {})",
            index + 1,
            hop.role_arn(),
            id.arn,
            id.account
        );
    }
    Ok(out)
}

/// Which kind of token `iamwire token` mints.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TokenKind {
    /// An RDS / Aurora / RDS Proxy IAM auth token (like `aws rds generate-db-auth-token`).
    Rds {
        /// The database endpoint host name.
        #[arg(long)]
        host: String,
        /// The database port.
        #[arg(long)]
        port: u16,
        /// The database user.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// An ElastiCache IAM auth token (`AUTH <user> <token>`).
    Elasticache {
        /// The replication group id, or the serverless cache name with --serverless.
        #[arg(long)]
        target: String,
        /// The target is a serverless cache.
        #[arg(long)]
        serverless: bool,
        /// The cache user (id and name must match for IAM users).
        #[arg(long)]
        user: String,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// A MemoryDB IAM auth token.
    Memorydb {
        /// The cluster name.
        #[arg(long)]
        target: String,
        /// The MemoryDB user.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        aws: AwsArgs,
    },
}

/// `iamwire token ...`: print a token minted with the credentials at the end of the role chain.
pub(crate) async fn token(kind: &TokenKind) -> Result<String, String> {
    let aws = match kind {
        TokenKind::Rds { aws, .. }
        | TokenKind::Elasticache { aws, .. }
        | TokenKind::Memorydb { aws, .. } => aws,
    };
    let r = aws.resolve().await?;
    let creds = credentials_at(&r, r.chain.len()).await?;
    let now = SystemTime::now();
    let minted = match kind {
        TokenKind::Rds {
            host, port, user, ..
        } => token::rds_auth_token(&creds, host, *port, user, &r.region, now),
        TokenKind::Elasticache {
            target,
            serverless,
            user,
            ..
        } => {
            let kind = if *serverless {
                ElastiCacheKind::Serverless
            } else {
                ElastiCacheKind::ReplicationGroup
            };
            token::elasticache_auth_token(&creds, target, kind, user, &r.region, now)
        }
        TokenKind::Memorydb { target, user, .. } => {
            token::memorydb_auth_token(&creds, target, user, &r.region, now)
        }
    };
    minted
        .map(|t| format!("{}\n", t.as_str()))
        .map_err(|e| e.to_string())
}
