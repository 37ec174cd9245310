//! The login step of `iamwire doctor` for the databases that speak TLS from the first byte: Redis
//! (ElastiCache / MemoryDB), Cassandra (Keyspaces) and MongoDB (DocumentDB) log in on the verified
//! connection with each protocol crate's own upstream login — the code a session runs — and DynamoDB and
//! OpenSearch send one request signed as the database-user role by the HTTP proxy's own signer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use iamwire_aws::inject::TokenMap;
use iamwire_aws::role::RoleProvider;
use iamwire_aws::token::TokenReuse;
use iamwire_core::{Database, Protocol, SystemRandom, UpstreamLogin};
use iamwire_proxy::{SessionError, UpstreamConn, UpstreamEndpoint};
use tokio::net::TcpStream;

use super::{Report, Step, within};
use crate::proxy_config::{Listener, LoadedConfig, chain};
use crate::servers::{Server, Shared};

/// The session name the HTTP check's role chain uses (CloudTrail shows it).
const SESSION_NAME: &str = "iamwire-doctor";

/// TLS from the first byte, as the proxy opens it (`UpstreamConn`); `None` after a failed step.
pub(super) async fn tls(
    db: &Database,
    endpoint: &UpstreamEndpoint,
    tcp: TcpStream,
    limit: Duration,
    report: &mut Report,
) -> Option<UpstreamConn> {
    let step = match within(limit, UpstreamConn::start_tls(endpoint, tcp, &[])).await {
        Ok(Ok(upstream)) => {
            report.step("TLS", super::net::verified(db, endpoint, None));
            return Some(upstream);
        }
        Ok(Err(e)) => super::net::tls_failure(db, endpoint, &e),
        Err(waited) => Step::failed(
            format!("TLS handshake: {waited}"),
            "check that the port speaks TLS",
        ),
    };
    report.step("TLS", step);
    None
}

/// Log in on `upstream` as `login` with the protocol crate's own login, and run its harmless command.
pub(super) async fn session(
    db: &Database,
    upstream: &mut UpstreamConn,
    login: UpstreamLogin,
    limit: Duration,
) -> Step {
    let user = login.user.clone();
    let outcome = match db.protocol {
        Protocol::Redis => {
            let redis = iamwire_redis::Redis::new();
            let done = within(limit, redis.check_login(upstream, &login)).await;
            done.map(|r| r.map_err(|e| redis_refused(db, &user, &e)))
        }
        Protocol::Cassandra => {
            let cql = iamwire_cql::Cql::new();
            let done = within(limit, cql.check_login(upstream, login)).await;
            done.map(|r| r.map_err(|e| cql_refused(db, &user, &e)))
        }
        Protocol::MongoDb => {
            let mongo = iamwire_mongodb::Mongo::new();
            let random = SystemRandom;
            let done = within(limit, mongo.check_login(upstream, login, &random, &db.name)).await;
            done.map(|r| r.map_err(|e| mongo_refused(db, &user, &e)))
        }
        other => {
            return Step::NotChecked(format!("iamwire doctor does not log in to {other} yet"));
        }
    };
    match outcome {
        Ok(Ok(())) => Step::Ok(match db.protocol {
            Protocol::Redis => format!("logged in as {user} (AUTH) and PING answered PONG"),
            Protocol::MongoDb => format!("logged in as {user} (MONGODB-AWS) and ran ping"),
            _ => format!("logged in as {user} (the SigV4 challenge was accepted)"),
        }),
        Ok(Err(step)) => step,
        Err(waited) => Step::failed(
            format!("login: {waited}"),
            "check the database's load and that the port is the database's own",
        ),
    }
}

/// The error's one-line text, with the protocol's own error for a refusal.
fn protocol_error<E: iamwire_proxy::ProtocolError + 'static>(e: &SessionError<E>) -> Option<&E> {
    match e {
        SessionError::Protocol { error, .. } => Some(error),
        _ => None,
    }
}

fn other_failure<E: iamwire_proxy::ProtocolError + 'static>(e: &SessionError<E>) -> Step {
    Step::failed(
        format!("login failed: {}", chain(e)),
        "check that the port is the database's own and that it is healthy",
    )
}

fn redis_refused(db: &Database, user: &str, e: &SessionError<iamwire_redis::RedisError>) -> Step {
    let Some(iamwire_redis::RedisError::UpstreamRejected { code, message }) = protocol_error(e)
    else {
        return other_failure(e);
    };
    let what = format!("the database refused user {user} ({code}: {message})");
    let aws = &db.aws;
    let cache = aws
        .elasticache
        .as_ref()
        .map(|_| "ElastiCache")
        .or(aws.memorydb.as_ref().map(|_| "MemoryDB"));
    let fix = match (code.as_str(), cache) {
        ("WRONGPASS", Some(service)) => format!(
            "{service} refused the IAM token for {user}: the {service} user {user} must exist with \
             authentication type iam and be in the cache's user group, and the database role's policy \
             must allow {}:Connect on the cache and on the user",
            if service == "MemoryDB" {
                "memorydb"
            } else {
                "elasticache"
            }
        ),
        ("WRONGPASS", None) => format!(
            "the password in the listener's password_file is not {user}'s: correct the file or the \
             user's ACL"
        ),
        ("NOPERM", _) => {
            format!("let {user}'s access string allow PING (+@connection) and the commands you use")
        }
        _ => "see the database's message above".to_owned(),
    };
    Step::failed(what, fix)
}

fn cql_refused(db: &Database, user: &str, e: &SessionError<iamwire_cql::CqlError>) -> Step {
    let Some(iamwire_cql::CqlError::UpstreamRejected { code, message }) = protocol_error(e) else {
        return other_failure(e);
    };
    let what = format!("the database refused role {user} (CQL error {code:#06x}: {message})");
    let region = db.aws.region.as_deref().unwrap_or("the database's region");
    let fix = if *code == 0x0100 {
        format!(
            "Keyspaces refused the SigV4 answer signed as {user}: the role must exist in the \
             database's account, trust the database role, and its policy allow cassandra:Select (and \
             the cassandra actions you use); the signature names region {region}, which must be the \
             endpoint's"
        )
    } else {
        "see the database's message above".to_owned()
    };
    Step::failed(what, fix)
}

fn mongo_refused(db: &Database, user: &str, e: &SessionError<iamwire_mongodb::MongoError>) -> Step {
    let Some(iamwire_mongodb::MongoError::UpstreamRejected { code, message }) = protocol_error(e)
    else {
        return other_failure(e);
    };
    let what = format!("the database refused {user} (code {code}: {message})");
    let fix = if *code == iamwire_mongodb::code::AUTHENTICATION_FAILED {
        let account = db.aws.account_id.as_deref().unwrap_or("ACCOUNT");
        format!(
            "DocumentDB has no user for the role: create it on $external with MONGODB-AWS \
             (db.getSiblingDB(\"$external\").createUser({{user: \"arn:aws:iam::{account}:role/ROLE\", \
             mechanisms: [\"MONGODB-AWS\"], roles: [...]}})), naming the role that signed ({user})"
        )
    } else {
        "see the database's message above".to_owned()
    };
    Step::failed(what, fix)
}

/// DynamoDB and OpenSearch: one request signed as `user` (the database-user role) by the HTTP proxy
/// `iamwire run` builds for `listener`.
pub(super) async fn http(
    loaded: &LoadedConfig,
    listener: &Listener,
    env: &BTreeMap<String, String>,
    roles: Arc<dyn RoleProvider>,
    user: Option<&str>,
    limit: Duration,
) -> Step {
    let Some(user) = user else {
        return Step::failed(
            "no database-user role to test with",
            "pass --db-user, or name a role without wildcards in an identity's db_users",
        );
    };
    let aws_tls = match crate::run::aws_api_tls() {
        Ok(tls) => tls,
        Err(e) => return Step::failed(e, "install the system's CA certificates"),
    };
    let shared = Shared {
        config: loaded,
        roles,
        aws_tls: &aws_tls,
        env,
        tokens: Arc::new(TokenMap::new(TokenReuse::default())),
        guard: None,
    };
    let proxy = match Server::for_listener(listener, &shared, None) {
        Ok(Server::Http(proxy)) => proxy,
        Ok(_) => return Step::NotChecked("not an HTTP database".into()),
        Err(e) => return Step::failed(e, "correct the database's settings"),
    };
    let answer = match within(limit, proxy.check_login(SESSION_NAME, user)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            let fix = e
                .remedy()
                .unwrap_or_else(|| "check the database's address and its TLS settings".into());
            return Step::failed(format!("signed as role {user}: {}", chain(&e)), fix);
        }
        Err(waited) => {
            return Step::failed(
                format!("signed request: {waited}"),
                "check the database's load and the network path to it",
            );
        }
    };
    let request = answer.request;
    if answer.status.is_success() {
        return Step::Ok(format!(
            "{request} signed as role {user} answered {}",
            answer.status
        ));
    }
    let what = format!(
        "{request} signed as role {user} was refused ({}: {})",
        answer.status,
        refusal(&answer.body)
    );
    let action = if db_is_opensearch(&listener.database) {
        "es:ESHttpGet"
    } else {
        "dynamodb:ListTables"
    };
    let fix = if answer.status.as_u16() == 403 || answer.status.as_u16() == 400 {
        format!(
            "the database refused the request signed as role {user}: the role's policy must allow {action} \
             (and the actions you use), and aws.region must be the endpoint's region"
        )
    } else {
        "see the database's answer above".to_owned()
    };
    Step::failed(what, fix)
}

fn db_is_opensearch(db: &Database) -> bool {
    db.protocol == Protocol::OpenSearch
}

/// The database's refusal in one line: the code and message of an AWS XML or JSON error, else the
/// start of the body with its white space collapsed.
fn refusal(body: &str) -> String {
    let between = |open: &str, close: &str| {
        let start = body.find(open)? + open.len();
        let len = body[start..].find(close)?;
        Some(body[start..start + len].trim().to_owned())
    };
    let code = between("<Code>", "</Code>").or_else(|| between("\"__type\":\"", "\""));
    let message = between("<Message>", "</Message>")
        .or_else(|| between("\"message\":\"", "\""))
        .or_else(|| between("\"Message\":\"", "\""));
    let text = match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) => message,
        _ => body.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    text.chars().take(300).collect()
}
