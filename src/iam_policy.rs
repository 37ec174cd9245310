//! `iamwire iam-policy`: the IAM policies on both sides of the cross-account trust that a configuration
//! needs, scoped as narrowly as the configuration allows — the proxy identity's, each database role's
//! trust and permission policies, each database-user role's trust — printed as JSON or Terraform, and with
//! `--check`, asked of AWS.

mod check;
mod document;
mod plan;
mod render;
mod rules;

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use iamwire_core::{Config, DbService, IdentityRules};

pub(crate) use plan::Plan;
pub(crate) use rules::{Access, Principal};

/// How the policies are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// IAM policy documents, each statement's purpose beside it.
    Json,
    /// Terraform `aws_iam_policy_document` data sources.
    Terraform,
}

/// `iamwire iam-policy` arguments.
#[derive(Debug, Args)]
pub(crate) struct IamPolicyArgs {
    /// The config file (`iamwire run`'s, or a Teleport-style `db_service` file).
    #[arg(long, short)]
    config: PathBuf,
    /// Only these databases (by name); every database when absent.
    #[arg(long = "database")]
    databases: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// The proxy's AWS principal (a role or user ARN; an assumed-role session ARN stands for its
    /// role). Default: who the proxy's credentials are, asked of STS.
    #[arg(long)]
    proxy_principal: Option<String>,
    /// Ask AWS whether each hop can be assumed and each permission is granted, one line per check.
    #[arg(long)]
    check: bool,
    /// An env file read before the credential chain (else the config's `aws.env_file`).
    #[arg(long)]
    env_file: Option<PathBuf>,
    /// The region for STS (else the config's `aws.region`, else the environment's).
    #[arg(long)]
    region: Option<String>,
}

/// What the command reads from the config file.
pub(crate) struct Input {
    pub(crate) db_service: DbService,
    /// The allow-lists, when the file is `iamwire run`'s; `None`: every user may be anyone.
    pub(crate) identities: Option<Vec<IdentityRules>>,
    pub(crate) env_file: Option<PathBuf>,
    pub(crate) region: Option<String>,
}

/// Run the command.
pub(crate) async fn run(args: &IamPolicyArgs) -> Result<String, String> {
    let input = read_config(&args.config)?;
    let env_file = args.env_file.clone().or_else(|| input.env_file.clone());
    let region = args
        .region
        .clone()
        .or_else(|| input.region.clone())
        .or_else(|| {
            input
                .db_service
                .databases
                .iter()
                .find_map(|d| d.aws.region.clone())
        });
    let aws = check::Aws::new(env_file.as_deref(), region).await?;
    let principal = match &args.proxy_principal {
        Some(arn) => Principal::parse(arn).ok_or_else(|| {
            format!("--proxy-principal {arn:?} is not a user, role or assumed-role ARN")
        })?,
        None => aws.principal().await?,
    };
    let plan = build(&input, &principal, &args.databases)?;
    if args.check {
        return check::run(&aws, &plan, &input, &principal, &args.databases).await;
    }
    Ok(match args.format {
        Format::Json => render::json(&plan),
        Format::Terraform => render::terraform(&plan),
    })
}

/// Parse and validate the config file (nothing else is read).
pub(crate) fn read_config(path: &Path) -> Result<Input, String> {
    let yaml = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let at = |e: String| format!("{}: {e}", path.display());
    if crate::proxy_config::has_proxy_section(&yaml).map_err(|e| at(e.to_string()))? {
        let mut file = crate::proxy_config::ProxyConfigFile::parse(&yaml)
            .map_err(|e| at(crate::proxy_config::chain(&e)))?;
        file.db_service.validate().map_err(|e| at(e.to_string()))?;
        let base = path.parent().unwrap_or_else(|| Path::new(""));
        let aws = file.aws.unwrap_or_default();
        return Ok(Input {
            db_service: file.db_service,
            identities: Some(file.proxy.identities),
            env_file: aws
                .env_file
                .map(|p| if p.is_absolute() { p } else { base.join(p) }),
            region: aws.region,
        });
    }
    let config = Config::from_yaml(&yaml).map_err(|e| at(e.to_string()))?;
    Ok(Input {
        db_service: config.db_service,
        identities: None,
        env_file: None,
        region: None,
    })
}

/// The policies `input` needs, for `only` (database names; all when empty).
pub(crate) fn build(input: &Input, principal: &Principal, only: &[String]) -> Result<Plan, String> {
    if let Some(missing) = only
        .iter()
        .find(|n| !input.db_service.databases.iter().any(|d| &d.name == *n))
    {
        return Err(format!("no database named {missing:?} in the config"));
    }
    let mut plan = Plan::default();
    for db in &input.db_service.databases {
        if !only.is_empty() && !only.contains(&db.name) {
            continue;
        }
        let access = access(input.identities.as_deref(), db, &mut plan);
        rules::database(&mut plan, principal, db, &access);
    }
    if only.is_empty() {
        for (index, matcher) in input.db_service.aws.iter().enumerate() {
            rules::matcher(&mut plan, principal, index, matcher);
        }
    }
    rules::proxy_check_permission(&mut plan, principal);
    Ok(plan)
}

/// The database users and names the identities may use on `db`, as IAM patterns.
fn access(
    identities: Option<&[IdentityRules]>,
    db: &iamwire_core::Database,
    plan: &mut Plan,
) -> Access {
    let Some(rules) = identities else {
        plan.note(format!(
            "the config has no proxy.identities: database {:?} allows any user (`*`)",
            db.name
        ));
        return Access {
            users: vec!["*".into()],
            names: vec!["*".into()],
        };
    };
    let mut users = std::collections::BTreeSet::new();
    let mut names = std::collections::BTreeSet::new();
    for rule in rules.iter().filter(|r| r.covers(&db.labels)) {
        users.extend(rule.db_users.iter().map(|g| g.as_str().to_owned()));
        names.extend(rule.db_names.iter().map(|g| g.as_str().to_owned()));
    }
    // A user matching everything makes the others redundant.
    let collapse = |set: std::collections::BTreeSet<String>| -> Vec<String> {
        if set.contains("*") {
            vec!["*".into()]
        } else {
            set.into_iter().collect()
        }
    };
    Access {
        users: collapse(users),
        names: collapse(names),
    }
}

#[cfg(test)]
mod tests;
