//! Validation of databases and discovery matchers, run after parsing.

use crate::error::{Error, Problem};
use crate::resource::{
    Aws, AwsMatcher, Database, DiscoveryType, ExternalId, Partition, Protocol, ResourceMatcher,
    RoleArn, is_valid_account_id, is_valid_region,
};

/// Where a database came from; decides how `account_id` is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Static configuration: `account_id` is derived from `assume_role_arn`.
    Static,
    /// A dynamic resource: `account_id` must be present and match `assume_role_arn`.
    Dynamic,
}

/// Validates `db`; returns the account id to fill in, if one is derived.
pub(crate) fn database(db: &Database, origin: Origin) -> Result<Option<String>, Error> {
    let fail = |field: &'static str, problem: Problem| Error::Database {
        database: db.name.clone(),
        field,
        problem,
    };
    check_name(&db.name).map_err(|p| fail("name", p))?;
    check_uri(db.protocol, &db.uri).map_err(|p| fail("uri", p))?;
    check_aws(&db.aws, db.logs_in_as_iam_role(), origin).map_err(|(f, p)| fail(f, p))
}

/// Validates the discovery matcher at `db_service.aws[index]`.
pub(crate) fn matcher(index: usize, m: &AwsMatcher) -> Result<(), Error> {
    let fail = |field: &'static str, problem: Problem| Error::Matcher {
        index,
        field,
        problem,
    };
    if m.types.is_empty() {
        return Err(fail("types", Problem::NoTypes));
    }
    if let Some(t) = m
        .types
        .iter()
        .find(|t| DiscoveryType::from_name(t).is_none())
    {
        return Err(fail("types", Problem::UnknownType { value: t.clone() }));
    }
    if m.regions.is_empty() {
        return Err(fail("regions", Problem::NoRegions));
    }
    let role = parse_role(m.assume_role_arn.as_deref()).map_err(|p| fail("assume_role_arn", p))?;
    for region in &m.regions {
        check_region(region, role.as_ref()).map_err(|p| fail("regions", p))?;
    }
    check_external_id(m.external_id.as_ref(), role.is_some(), false)
        .map_err(|p| fail("external_id", p))
}

/// Validates the resource matcher at `db_service.resources[index]`: a well-formed role, and an
/// external ID only with a role.
pub(crate) fn resource_matcher(index: usize, m: &ResourceMatcher) -> Result<(), Error> {
    let fail = |field: &'static str, problem: Problem| Error::ResourceMatcher {
        index,
        field,
        problem,
    };
    let role =
        parse_role(m.aws.assume_role_arn.as_deref()).map_err(|p| fail("aws.assume_role_arn", p))?;
    check_external_id(m.aws.external_id.as_ref(), role.is_some(), false)
        .map_err(|p| fail("aws.external_id", p))
}

const MAX_NAME_LEN: usize = 63;

/// Teleport's database name rule: `^[a-z]([-a-z0-9]*[a-z0-9])?$`, at most 63 characters.
fn check_name(name: &str) -> Result<(), Problem> {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return Err(Problem::BadName);
    };
    let ok = first.is_ascii_lowercase()
        && (last.is_ascii_lowercase() || last.is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if !ok {
        return Err(Problem::BadName);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Problem::NameTooLong { len: name.len() });
    }
    Ok(())
}

/// `host:port`, or for HTTP protocols also `https://host[:port][/path]` and Teleport's
/// `aws://<service>.<region>.amazonaws.com` (HTTPS to that AWS endpoint).
fn check_uri(protocol: Protocol, uri: &str) -> Result<(), Problem> {
    if uri.is_empty() {
        return Err(Problem::MissingUri);
    }
    if let Some(rest) = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("aws://"))
    {
        if !protocol.is_http() {
            return Err(Problem::BadUri);
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        return check_host_port(authority, false);
    }
    if uri.contains("://") {
        return Err(Problem::BadUri);
    }
    check_host_port(uri, true)
}

const MAX_HOST_LEN: usize = 253;

fn check_host_port(authority: &str, port_required: bool) -> Result<(), Problem> {
    let (host_ok, port) = if let Some(rest) = authority.strip_prefix('[') {
        // An IPv6 literal: [addr] or [addr]:port.
        let (addr, after) = rest.split_once(']').ok_or(Problem::BadUri)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(Problem::BadUri)?),
        };
        let addr_ok = !addr.is_empty()
            && addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        (addr_ok, port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let host_ok = !host.is_empty()
            && host.len() <= MAX_HOST_LEN
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        (host_ok, port)
    };
    if !host_ok {
        return Err(Problem::BadUri);
    }
    match port {
        Some(port) => check_port(port),
        None if port_required => Err(Problem::BadUri),
        None => Ok(()),
    }
}

fn check_port(port: &str) -> Result<(), Problem> {
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::BadPort);
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(Problem::BadPort),
    }
}

fn parse_role(arn: Option<&str>) -> Result<Option<RoleArn>, Problem> {
    arn.map(str::parse).transpose().map_err(Problem::Arn)
}

/// A well-formed region in the same partition as `role` (when there is a role).
fn check_region(region: &str, role: Option<&RoleArn>) -> Result<(), Problem> {
    let bad = || Problem::BadRegion {
        region: region.to_owned(),
    };
    if !is_valid_region(region) {
        return Err(bad());
    }
    let region_partition = Partition::of_region(region).ok_or_else(bad)?;
    match role {
        Some(role) if role.partition() != region_partition => Err(Problem::PartitionMismatch {
            region: region.to_owned(),
            region_partition,
            role_partition: role.partition(),
        }),
        _ => Ok(()),
    }
}

/// The `aws` section; on failure, the field and the problem.
fn check_aws(
    aws: &Aws,
    logs_in_as_iam_role: bool,
    origin: Origin,
) -> Result<Option<String>, (&'static str, Problem)> {
    let role =
        parse_role(aws.assume_role_arn.as_deref()).map_err(|p| ("aws.assume_role_arn", p))?;
    if let Some(region) = &aws.region {
        check_region(region, role.as_ref()).map_err(|p| ("aws.region", p))?;
    }
    if let Some(account_id) = &aws.account_id
        && !is_valid_account_id(account_id)
    {
        let problem = Problem::BadAccountId {
            account_id: account_id.clone(),
        };
        return Err(("aws.account_id", problem));
    }
    let derived = match (&role, &aws.account_id, origin) {
        (Some(role), Some(account_id), _) if account_id != role.account_id() => {
            let problem = Problem::AccountMismatch {
                account_id: account_id.clone(),
                role_account_id: role.account_id().to_owned(),
            };
            return Err(("aws.account_id", problem));
        }
        (Some(_), None, Origin::Dynamic) => {
            return Err(("aws.account_id", Problem::MissingAccountId));
        }
        (Some(role), None, Origin::Static) => Some(role.account_id().to_owned()),
        _ => None,
    };
    check_external_id(
        aws.external_id.as_ref(),
        role.is_some(),
        logs_in_as_iam_role,
    )
    .map_err(|p| ("aws.external_id", p))?;
    check_session_tags(aws).map_err(|p| ("aws.session_tags", p))?;
    if let Some(rs) = &aws.redshift_serverless
        && rs.workgroup_name.as_deref().is_none_or(str::is_empty)
    {
        return Err(("aws.redshift_serverless.workgroup_name", Problem::Missing));
    }
    Ok(derived)
}

const EXTERNAL_ID_LEN: std::ops::RangeInclusive<usize> = 2..=1224;

/// STS rules for the external ID, and that there is a role to send it with.
///
/// Databases that log in as an IAM role may set it without `assume_role_arn`: it is then
/// sent when assuming the database-user role.
fn check_external_id(
    external_id: Option<&ExternalId>,
    has_role: bool,
    logs_in_as_iam_role: bool,
) -> Result<(), Problem> {
    let Some(external_id) = external_id else {
        return Ok(());
    };
    let value = external_id.expose();
    let ok = EXTERNAL_ID_LEN.contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@:/-".contains(&b));
    if !ok {
        return Err(Problem::BadExternalId);
    }
    if !has_role && !logs_in_as_iam_role {
        return Err(Problem::ExternalIdWithoutRole);
    }
    Ok(())
}

const MAX_SESSION_TAGS: usize = 50;

/// STS limits on session tags: at most 50, keys 1..=128 and values 0..=256 characters.
fn check_session_tags(aws: &Aws) -> Result<(), Problem> {
    let count = aws.session_tags.len();
    if count > MAX_SESSION_TAGS {
        return Err(Problem::TooManySessionTags { count });
    }
    match aws.session_tags.iter().find(|(k, v)| {
        let key_len = k.chars().count();
        key_len == 0 || key_len > 128 || v.chars().count() > 256
    }) {
        Some((key, _)) => Err(Problem::BadSessionTag { key: key.clone() }),
        None => Ok(()),
    }
}
