//! What each database (and discovery matcher) of a configuration needs in IAM, as statements on the
//! principals that need them: the proxy's identity, the database's role (`assume_role_arn`), and the
//! database-user roles of databases that log in as a role.
//!
//! Action names and resource ARN formats follow the AWS Service Authorization Reference (cited per rule
//! in the golden tests).

use iamwire_core::{AwsMatcher, Database, DiscoveryType, Partition, Protocol, RoleArn};

use super::document::Statement;
use super::plan::{Plan, PolicyKind, Target, sid};

/// The principal the proxy runs as.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub(crate) arn: String,
    pub(crate) account: String,
    pub(crate) partition: String,
}

impl Principal {
    /// A user, role or account-root ARN; an assumed-role session ARN (`arn:aws:sts::A:assumed-role/R/S`,
    /// what `aws sts get-caller-identity` shows for a role) stands for its role.
    pub(crate) fn parse(arn: &str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, _, account, resource] = parts.as_slice() else {
            return None;
        };
        if *prefix != "arn" || !iamwire_core::is_valid_account_id(account) {
            return None;
        }
        let arn = match *service {
            "iam"
                if resource.starts_with("user/")
                    || resource.starts_with("role/")
                    || *resource == "root" =>
            {
                arn.to_owned()
            }
            "sts" => {
                let role = resource.strip_prefix("assumed-role/")?.split('/').next()?;
                format!("arn:{partition}:iam::{account}:role/{role}")
            }
            _ => return None,
        };
        Some(Self {
            arn,
            account: (*account).to_owned(),
            partition: (*partition).to_owned(),
        })
    }
}

/// Which database users and names the configured identities may use on a database, as IAM patterns.
#[derive(Debug, Clone, Default)]
pub(crate) struct Access {
    pub(crate) users: Vec<String>,
    pub(crate) names: Vec<String>,
}

/// Where the permissions of one database go: its role, or the proxy itself.
struct Holder {
    arn: String,
    account: String,
    name: String,
}

/// Add everything `db` needs.
pub(crate) fn database(plan: &mut Plan, principal: &Principal, db: &Database, access: &Access) {
    let role = db.aws.assume_role().ok().flatten();
    let region = db.aws.region.clone().unwrap_or_else(|| {
        plan.note(format!(
            "database {:?} has no aws.region: its resources name every region (`*`)",
            db.name
        ));
        "*".to_owned()
    });
    let partition = role.as_ref().map_or_else(
        || {
            Partition::of_region(&region)
                .map_or(principal.partition.clone(), |p| p.as_str().to_owned())
        },
        |r| r.partition().as_str().to_owned(),
    );
    let account = db
        .aws
        .account_id
        .clone()
        .or_else(|| role.as_ref().map(|r| r.account_id().to_owned()))
        .unwrap_or_else(|| principal.account.clone());
    let tags = !db.aws.session_tags.is_empty();
    let holder = match &role {
        Some(r) => {
            assume_first_hop(plan, principal, r, db, tags);
            Holder {
                arn: r.to_string(),
                account: r.account_id().to_owned(),
                name: format!("{}-iamwire", r.name()),
            }
        }
        None => Holder {
            arn: principal.arn.clone(),
            account: principal.account.clone(),
            name: "iamwire-proxy".to_owned(),
        },
    };
    check_permission(plan, &holder);
    if access.users.is_empty() {
        plan.note(format!(
            "no identity may use database {:?}: its database permissions are left out",
            db.name
        ));
        return;
    }
    let at = Location {
        partition: &partition,
        region: &region,
        account: &account,
    };
    if let Some(cluster) = db
        .aws
        .redshift
        .as_ref()
        .and_then(|r| r.cluster_id.as_deref())
    {
        redshift(plan, &holder, db, &at, cluster, access, role.is_none());
    } else if db.aws.redshift_serverless.is_some() {
        user_roles(
            plan,
            principal,
            &holder,
            db,
            &at,
            &access.users,
            role.is_none(),
        );
    } else {
        match db.protocol {
            Protocol::Postgres | Protocol::MySql => rds(plan, &holder, db, &at, &access.users),
            Protocol::Redis => cache(plan, &holder, db, &at, &access.users),
            _ => user_roles(
                plan,
                principal,
                &holder,
                db,
                &at,
                &access.users,
                role.is_none(),
            ),
        }
    }
}

/// The optional policy that lets `iamwire iam-policy --check` simulate the proxy's own policies.
pub(crate) fn proxy_check_permission(plan: &mut Plan, principal: &Principal) {
    check_permission(
        plan,
        &Holder {
            arn: principal.arn.clone(),
            account: principal.account.clone(),
            name: "iamwire-proxy".to_owned(),
        },
    );
}

/// The optional policy that lets `iamwire iam-policy --check` simulate the holder's own policies.
fn check_permission(plan: &mut Plan, holder: &Holder) {
    plan.add(
        &Target {
            account: &holder.account,
            attach_to: &holder.arn,
            kind: PolicyKind::Identity,
            optional: true,
            name: &format!("{}-check", holder.name),
            purpose: "lets `iamwire iam-policy --check` verify the permissions above",
        },
        Statement::allow(
            "SimulateOwnPolicies",
            ["iam:SimulatePrincipalPolicy"],
            [holder.arn.clone()],
        ),
        "let `iamwire iam-policy --check` simulate this principal's own policies".to_owned(),
    );
}

/// Partition, region and account of a database's resources.
struct Location<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

/// The proxy assumes `role` (hop 1), and `role` trusts the proxy (with the external ID).
fn assume_first_hop(
    plan: &mut Plan,
    principal: &Principal,
    role: &RoleArn,
    db: &Database,
    tags: bool,
) {
    let mut actions = vec!["sts:AssumeRole"];
    if tags {
        actions.push("sts:TagSession");
    }
    plan.add(
        &proxy_target(principal),
        Statement::allow(
            sid("Assume", role.name()),
            actions.clone(),
            [role.to_string()],
        ),
        format!("assume {role}, the role of database {:?}", db.name),
    );
    let mut trust = Statement::trust(sid("TrustProxy", ""), [principal.arn.clone()], actions);
    if let Some(id) = &db.aws.external_id {
        trust = trust.when("StringEquals", "sts:ExternalId", [id.expose()]);
    }
    plan.add(
        &Target {
            account: role.account_id(),
            attach_to: &role.to_string(),
            kind: PolicyKind::Trust,
            optional: false,
            name: &format!("{}-trust", role.name()),
            purpose: &format!("who may assume {role}"),
        },
        trust,
        format!(
            "let the proxy ({}) assume this role{}",
            principal.arn,
            if db.aws.external_id.is_some() {
                " with the configured external ID"
            } else {
                ""
            }
        ),
    );
}

fn proxy_target(principal: &Principal) -> Target<'_> {
    Target {
        account: &principal.account,
        attach_to: &principal.arn,
        kind: PolicyKind::Identity,
        optional: false,
        name: "iamwire-proxy",
        purpose: "what the proxy's own AWS identity may do",
    }
}

fn holder_target<'a>(holder: &'a Holder, purpose: &'a str) -> Target<'a> {
    Target {
        account: &holder.account,
        attach_to: &holder.arn,
        kind: PolicyKind::Identity,
        optional: false,
        name: &holder.name,
        purpose,
    }
}

const HOLDER_PURPOSE: &str = "what the proxy may do with this identity's credentials";

/// Note every user pattern that is not a single name.
fn note_patterns(plan: &mut Plan, db: &Database, users: &[String], what: &str) {
    for user in users.iter().filter(|u| u.contains('*')) {
        plan.note(format!(
            "database {:?}: identities may use {what} matching {user:?}, so its resources carry that \
             wildcard",
            db.name
        ));
    }
}

/// RDS, Aurora, RDS Proxy: `rds-db:connect` on each database user.
fn rds(plan: &mut Plan, holder: &Holder, db: &Database, at: &Location<'_>, users: &[String]) {
    let resource_id = db
        .aws
        .rds_proxy
        .as_ref()
        .and_then(|p| p.resource_id.clone())
        .or_else(|| db.aws.rds.as_ref().and_then(|r| r.resource_id.clone()))
        .unwrap_or_else(|| {
            plan.note(format!(
                "database {:?} has no aws.rds.resource_id (aws.rdsproxy.resource_id for a proxy): \
                 rds-db:connect names every database of the account (`*`); set it to the resource id \
                 (db-…, cluster-… or prx-…) to narrow it",
                db.name
            ));
            "*".to_owned()
        });
    note_patterns(plan, db, users, "database users");
    let Location {
        partition,
        region,
        account,
    } = at;
    let arns = users
        .iter()
        .map(|u| format!("arn:{partition}:rds-db:{region}:{account}:dbuser:{resource_id}/{u}"));
    plan.add(
        &holder_target(holder, HOLDER_PURPOSE),
        Statement::allow(sid("Connect", &db.name), ["rds-db:connect"], arns),
        format!(
            "log in to database {:?} with RDS IAM tokens as {}",
            db.name,
            users.join(", ")
        ),
    );
}

/// ElastiCache and MemoryDB: `Connect` on the cache and each user, and `DescribeUsers` for the check that
/// a user authenticates with IAM.
fn cache(plan: &mut Plan, holder: &Holder, db: &Database, at: &Location<'_>, users: &[String]) {
    let Location {
        partition,
        region,
        account,
    } = at;
    note_patterns(plan, db, users, "users");
    // The service, the cache's ARN, and the prefix of its users' ARNs.
    let (service, cache, user_prefix): (&str, String, String) = if let Some(memorydb) =
        &db.aws.memorydb
    {
        let cluster = memorydb.cluster_name.clone().unwrap_or_else(|| {
            plan.note(format!(
                "database {:?} has no aws.memorydb.cluster_name: memorydb:Connect names every \
                     cluster (`*`)",
                db.name
            ));
            "*".to_owned()
        });
        (
            "memorydb",
            format!("arn:{partition}:memorydb:{region}:{account}:cluster/{cluster}"),
            format!("arn:{partition}:memorydb:{region}:{account}:user/"),
        )
    } else {
        let elasticache = db.aws.elasticache.as_ref();
        let cache = match (
            elasticache.and_then(|e| e.replication_group_id.as_deref()),
            elasticache.and_then(|e| e.serverless_cache_name.as_deref()),
        ) {
            (Some(group), _) => {
                format!("arn:{partition}:elasticache:{region}:{account}:replicationgroup:{group}")
            }
            (None, Some(name)) => {
                format!("arn:{partition}:elasticache:{region}:{account}:serverlesscache:{name}")
            }
            (None, None) => {
                plan.note(format!(
                    "database {:?} has no aws.elasticache.replication_group_id or \
                         serverless_cache_name: elasticache:Connect names every cache (`*`)",
                    db.name
                ));
                format!("arn:{partition}:elasticache:{region}:{account}:replicationgroup:*")
            }
        };
        plan.note(
            "ElastiCache user ARNs name the user ID; iamwire expects each IAM-enabled user's ID \
                 to equal its name"
                .to_owned(),
        );
        (
            "elasticache",
            cache,
            format!("arn:{partition}:elasticache:{region}:{account}:user:"),
        )
    };
    let user_arns: Vec<String> = users.iter().map(|u| format!("{user_prefix}{u}")).collect();
    plan.add(
        &holder_target(holder, HOLDER_PURPOSE),
        Statement::allow(
            sid("Connect", &db.name),
            [format!("{service}:Connect")],
            std::iter::once(cache).chain(user_arns.iter().cloned()),
        ),
        format!(
            "log in to database {:?} with IAM tokens as {}",
            db.name,
            users.join(", ")
        ),
    );
    plan.add(
        &holder_target(holder, HOLDER_PURPOSE),
        Statement::allow(
            sid("DescribeUsers", &db.name),
            [format!("{service}:DescribeUsers")],
            user_arns,
        ),
        format!(
            "check that the users of database {:?} authenticate with IAM before a token is tried",
            db.name
        ),
    );
}

/// Redshift clusters: temporary credentials for database users, or (for users that name a role) the
/// user role's `GetClusterCredentialsWithIAM`.
fn redshift(
    plan: &mut Plan,
    holder: &Holder,
    db: &Database,
    at: &Location<'_>,
    cluster: &str,
    access: &Access,
    no_role: bool,
) {
    let Location {
        partition,
        region,
        account,
    } = at;
    let (roles, users): (Vec<String>, Vec<String>) =
        access.users.iter().cloned().partition(|u| {
            u.starts_with("role/") || (u.starts_with("arn:") && u.contains(":role/"))
        });
    let base = format!("arn:{partition}:redshift:{region}:{account}");
    let names: Vec<String> = access
        .names
        .iter()
        .map(|n| format!("{base}:dbname:{cluster}/{n}"))
        .collect();
    note_patterns(plan, db, &access.names, "database names");
    if !users.is_empty() {
        note_patterns(plan, db, &users, "database users");
        let resources = users
            .iter()
            .map(|u| format!("{base}:dbuser:{cluster}/{u}"))
            .chain(names.iter().cloned());
        plan.add(
            &holder_target(holder, HOLDER_PURPOSE),
            Statement::allow(
                sid("Credentials", &db.name),
                ["redshift:GetClusterCredentials"],
                resources,
            ),
            format!(
                "get temporary credentials on cluster {cluster} as {} (never auto-created)",
                users.join(", ")
            ),
        );
    }
    if !roles.is_empty() {
        let user_role_arns = role_arns(at, &roles);
        assume_user_roles(plan, holder, db, &user_role_arns, no_role);
        for arn in &user_role_arns {
            plan.add(
                &Target {
                    account,
                    attach_to: arn,
                    kind: PolicyKind::Identity,
                    optional: false,
                    name: "iamwire-redshift",
                    purpose: "what this database-user role may do for iamwire",
                },
                Statement::allow(
                    sid("CredentialsWithIam", &db.name),
                    ["redshift:GetClusterCredentialsWithIAM"],
                    names.iter().cloned(),
                ),
                format!("log in to cluster {cluster} as this role (IAMR:<role>)"),
            );
        }
    }
}

/// The role ARNs database users name: a role name (or `role/<name>`) in the database's account, or an ARN.
fn role_arns(at: &Location<'_>, users: &[String]) -> Vec<String> {
    users
        .iter()
        .map(|u| {
            if u.starts_with("arn:") {
                u.clone()
            } else {
                let name = u.strip_prefix("role/").unwrap_or(u);
                format!("arn:{}:iam::{}:role/{name}", at.partition, at.account)
            }
        })
        .collect()
}

/// The holder assumes the database-user roles (hop 2), and each trusts it.
fn assume_user_roles(
    plan: &mut Plan,
    holder: &Holder,
    db: &Database,
    arns: &[String],
    first_hop: bool,
) {
    // Session tags and the external ID ride on the first hop; without a database role that is this one.
    let mut actions = vec!["sts:AssumeRole"];
    if first_hop && !db.aws.session_tags.is_empty() {
        actions.push("sts:TagSession");
    }
    plan.add(
        &holder_target(holder, HOLDER_PURPOSE),
        Statement::allow(
            sid("AssumeUserRoles", &db.name),
            actions.clone(),
            arns.iter().cloned(),
        ),
        format!("become the database-user roles of database {:?}", db.name),
    );
    for arn in arns {
        let account = arn.split(':').nth(4).unwrap_or_default().to_owned();
        let mut trust = Statement::trust(
            sid("TrustIamwire", ""),
            [holder.arn.clone()],
            actions.clone(),
        );
        if first_hop && let Some(id) = &db.aws.external_id {
            trust = trust.when("StringEquals", "sts:ExternalId", [id.expose()]);
        }
        let name = arn.rsplit('/').next().unwrap_or("role");
        plan.add(
            &Target {
                account: &account,
                attach_to: arn,
                kind: PolicyKind::Trust,
                optional: false,
                name: &format!("{name}-trust"),
                purpose: &format!("who may assume {arn}"),
            },
            trust,
            format!(
                "let {} assume this database-user role of database {:?}",
                holder.arn, db.name
            ),
        );
        if arn.contains('*') {
            plan.note(format!(
                "apply the trust policy of {arn} to every role that pattern matches"
            ));
        }
    }
}

/// Databases that log in as an IAM role (DynamoDB, OpenSearch, Keyspaces, DocumentDB, Redshift
/// Serverless): hop 2 to the database-user roles, their trust, and what each role itself needs.
fn user_roles(
    plan: &mut Plan,
    principal: &Principal,
    holder: &Holder,
    db: &Database,
    at: &Location<'_>,
    users: &[String],
    no_role: bool,
) {
    let _ = principal;
    note_patterns(plan, db, users, "roles");
    let arns = role_arns(at, users);
    assume_user_roles(plan, holder, db, &arns, no_role);
    let Location {
        partition,
        region,
        account,
    } = at;
    let describe = match db.protocol {
        Protocol::OpenSearch => Some((
            "es:DescribeDomains",
            format!("arn:{partition}:es:{region}:{account}:domain/*"),
        )),
        Protocol::MongoDb => Some((
            "rds:DescribeDBClusters",
            format!("arn:{partition}:rds:{region}:{account}:cluster:*"),
        )),
        _ => None,
    };
    if let Some((action, resource)) = describe {
        plan.note(format!(
            "database {:?}: {action} names every resource of its kind in the account; the endpoint \
             check looks the database up by its address",
            db.name
        ));
        plan.add(
            &holder_target(holder, HOLDER_PURPOSE),
            Statement::allow(sid("Describe", &db.name), [action], [resource]),
            format!(
                "confirm that the endpoint of database {:?} belongs to this account and region",
                db.name
            ),
        );
    }
    if db.aws.redshift_serverless.is_some() {
        plan.note(format!(
            "database {:?}: redshift-serverless:GetCredentials is scoped by workgroup id, which the \
             configuration does not know (`workgroup/*`)",
            db.name
        ));
        for arn in &arns {
            plan.add(
                &Target {
                    account,
                    attach_to: arn,
                    kind: PolicyKind::Identity,
                    optional: false,
                    name: "iamwire-redshift-serverless",
                    purpose: "what this database-user role may do for iamwire",
                },
                Statement::allow(
                    sid("Credentials", &db.name),
                    ["redshift-serverless:GetCredentials"],
                    [format!(
                        "arn:{partition}:redshift-serverless:{region}:{account}:workgroup/*"
                    )],
                ),
                format!(
                    "log in to the workgroup of database {:?} as this role",
                    db.name
                ),
            );
        }
    } else {
        let what = match db.protocol {
            Protocol::DynamoDb => {
                "the DynamoDB permissions it should have on its tables (dynamodb:…)"
            }
            Protocol::OpenSearch => "the es:ESHttp* permissions it should have on the domain",
            Protocol::Cassandra => "the cassandra:… permissions it should have on its keyspaces",
            Protocol::MongoDb => {
                "to exist as a DocumentDB user authenticated by MONGODB-AWS, with the database roles \
                 it should have"
            }
            _ => "the data permissions it should have",
        };
        plan.note(format!(
            "database {:?}: each database-user role also needs {what}; iamwire does not choose them",
            db.name
        ));
    }
}

/// A discovery matcher: the proxy assumes its role, which lists databases of the matcher's types.
pub(crate) fn matcher(plan: &mut Plan, principal: &Principal, index: usize, m: &AwsMatcher) {
    let role = m
        .assume_role_arn
        .as_deref()
        .and_then(|r| r.parse::<RoleArn>().ok());
    let holder = match &role {
        Some(r) => {
            let mut db = Database::new(format!("discovery-{index}"), Protocol::Postgres, "");
            db.aws.external_id.clone_from(&m.external_id);
            assume_first_hop(plan, principal, r, &db, false);
            Holder {
                arn: r.to_string(),
                account: r.account_id().to_owned(),
                name: format!("{}-iamwire", r.name()),
            }
        }
        None => Holder {
            arn: principal.arn.clone(),
            account: principal.account.clone(),
            name: "iamwire-proxy".to_owned(),
        },
    };
    let mut actions: Vec<&str> = Vec::new();
    let mut connect: Vec<&str> = Vec::new();
    for kind in m.discovery_types() {
        connect.extend(match kind {
            DiscoveryType::Rds | DiscoveryType::RdsProxy => &["rds-db:connect"][..],
            DiscoveryType::Redshift => &["redshift:GetClusterCredentials"],
            DiscoveryType::ElastiCache => &["elasticache:Connect"],
            DiscoveryType::MemoryDb => &["memorydb:Connect"],
            _ => &[],
        });
        actions.extend(match kind {
            DiscoveryType::Rds => &["rds:DescribeDBInstances", "rds:DescribeDBClusters"][..],
            DiscoveryType::RdsProxy => &["rds:DescribeDBProxies", "rds:DescribeDBProxyEndpoints"],
            DiscoveryType::Redshift => &["redshift:DescribeClusters"],
            DiscoveryType::RedshiftServerless => &[
                "redshift-serverless:ListWorkgroups",
                "redshift-serverless:ListEndpointAccess",
            ],
            DiscoveryType::ElastiCache => &[
                "elasticache:DescribeReplicationGroups",
                "elasticache:DescribeServerlessCaches",
                "elasticache:DescribeUsers",
            ],
            DiscoveryType::MemoryDb => &["memorydb:DescribeClusters", "memorydb:DescribeUsers"],
            DiscoveryType::OpenSearch => &["es:ListDomainNames", "es:DescribeDomains"],
            DiscoveryType::DocDb => &["rds:DescribeDBClusters"],
            _ => &[],
        });
    }
    if m.enable_iam_auth && m.discovery_types().any(|k| k == DiscoveryType::Rds) {
        // enable_iam_auth turns IAM authentication on where discovery finds it off.
        actions.extend(["rds:ModifyDBInstance", "rds:ModifyDBCluster"]);
    }
    actions.push("tag:GetResources");
    plan.note(format!(
        "discovery matcher {index}: it lists databases not known in advance, so its Describe \
         permissions and connect permissions name every resource (`*`)"
    ));
    plan.add(
        &holder_target(&holder, HOLDER_PURPOSE),
        Statement::allow(sid("Discover", &index.to_string()), actions, ["*"]),
        format!(
            "list the databases of matcher {index} in {}",
            m.regions.join(", ")
        ),
    );
    if !connect.is_empty() {
        plan.add(
            &holder_target(&holder, HOLDER_PURPOSE),
            Statement::allow(sid("ConnectDiscovered", &index.to_string()), connect, ["*"]),
            format!("log in to the databases matcher {index} discovers"),
        );
    }
}
