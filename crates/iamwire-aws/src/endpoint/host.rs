//! Splitting the input into scheme, host name and port, and checking the host name's labels.

use super::error::{EndpointError, LabelProblem};
use super::region::Partition;

/// Inputs longer than this are rejected before anything else is done with them: a host name is
/// at most 253 bytes, and the scheme, port and an ignored URL path get generous room on top.
pub(super) const MAX_INPUT: usize = 2048;

/// Longest host name DNS allows, without the trailing dot.
const MAX_HOST: usize = 253;

/// Longest DNS label.
const MAX_LABEL: usize = 63;

/// The pieces of an endpoint input, with the host name checked and lower-cased.
#[derive(Debug)]
pub(super) struct SplitInput {
    /// Host name: lower case, no trailing dot, every label valid.
    pub(super) host: String,
    /// The port, if one was given.
    pub(super) port: Option<u16>,
    /// Whether the input was an `https://` URL.
    pub(super) https: bool,
}

impl SplitInput {
    /// The host name's labels, left to right.
    pub(super) fn labels(&self) -> Vec<&str> {
        self.host.split('.').collect()
    }
}

/// Split `input` (`host`, `host:port`, or `https://host[:port][/path]`) and check the host name.
pub(super) fn split(input: &str) -> Result<SplitInput, EndpointError> {
    if input.len() > MAX_INPUT {
        return Err(EndpointError::InputTooLong {
            len: input.len(),
            max: MAX_INPUT,
        });
    }
    let (authority, https) = match input.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => {
            // Anything after the authority (path, query, fragment) does not name the endpoint.
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            (&rest[..end], true)
        }
        Some(_) => return Err(EndpointError::UnsupportedScheme),
        None => (input, false),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(parse_port(port)?)),
        None => (authority, None),
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return Err(EndpointError::Empty);
    }
    if host.len() > MAX_HOST {
        return Err(EndpointError::HostTooLong { len: host.len() });
    }
    for (index, label) in host.split('.').enumerate() {
        check_label(label).map_err(|problem| EndpointError::InvalidLabel { index, problem })?;
    }
    Ok(SplitInput {
        host: host.to_ascii_lowercase(),
        port,
        https,
    })
}

/// A port is 1 to 5 ASCII digits with a value from 1 to 65535 (no sign, no spaces).
fn parse_port(port: &str) -> Result<u16, EndpointError> {
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EndpointError::InvalidPort);
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(EndpointError::InvalidPort),
        Ok(port) => Ok(port),
    }
}

/// A host name label: 1 to 63 ASCII letters, digits and hyphens, not starting or ending with a
/// hyphen. Underscores are refused too: no AWS database endpoint has one.
fn check_label(label: &str) -> Result<(), LabelProblem> {
    if label.is_empty() {
        return Err(LabelProblem::Empty);
    }
    if label.len() > MAX_LABEL {
        return Err(LabelProblem::TooLong);
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(LabelProblem::BadChar);
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(LabelProblem::HyphenAtEdge);
    }
    Ok(())
}

/// Which AWS domain a host name ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Suffix {
    /// `amazonaws.com`: the standard and GovCloud partitions.
    Com,
    /// `amazonaws.com.cn`: the China partition.
    ComCn,
}

impl Suffix {
    /// The suffix as text, for messages.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Com => "amazonaws.com",
            Self::ComCn => "amazonaws.com.cn",
        }
    }

    /// Whether `partition` puts its endpoints under this suffix.
    fn serves(self, partition: Partition) -> bool {
        partition.dns_suffix() == self.as_str()
    }
}

/// The labels in front of the AWS domain, and which domain it is; `None` if the host is not
/// under an AWS domain. Whole labels are compared, so `evilamazonaws.com` is not AWS.
pub(super) fn strip_aws_suffix<'a, 'b>(labels: &'a [&'b str]) -> Option<(&'a [&'b str], Suffix)> {
    match labels {
        [rest @ .., "amazonaws", "com", "cn"] => Some((rest, Suffix::ComCn)),
        [rest @ .., "amazonaws", "com"] => Some((rest, Suffix::Com)),
        _ => None,
    }
}

/// The partition of `region`, checked against the host's domain suffix.
pub(super) fn check_region(region: &str, suffix: Suffix) -> Result<Partition, EndpointError> {
    let partition = Partition::from_region(region).ok_or_else(|| EndpointError::InvalidRegion {
        region: region.to_owned(),
    })?;
    if !suffix.serves(partition) {
        return Err(EndpointError::PartitionMismatch {
            region: region.to_owned(),
            partition,
            suffix: suffix.as_str(),
        });
    }
    Ok(partition)
}

/// A resource hash label as AWS generates them: ASCII letters and digits only.
pub(super) fn is_hash(label: &str) -> bool {
    !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Exactly `len` ASCII digits.
pub(super) fn is_digits(label: &str, len: usize) -> bool {
    label.len() == len && label.bytes().all(|b| b.is_ascii_digit())
}
