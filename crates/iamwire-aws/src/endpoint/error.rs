//! Why a host name is not a usable AWS database endpoint.

use super::{Partition, Service};

/// What is wrong with one DNS label of the host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LabelProblem {
    /// Two dots in a row, or a leading dot.
    Empty,
    /// Longer than the 63 bytes DNS allows.
    TooLong,
    /// A byte other than an ASCII letter, digit or hyphen.
    BadChar,
    /// Starts or ends with a hyphen.
    HyphenAtEdge,
}

/// Why [`parse`](super::parse) rejected its input.
///
/// Every variant is something a user can fix in their configuration; none carries the whole
/// input back, only the offending piece where that helps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The input was empty (or only a trailing dot).
    #[error(
        "the endpoint is empty: give a host name such as db.abc123.us-east-1.rds.amazonaws.com"
    )]
    Empty,
    /// The input is longer than any endpoint could be; it was not looked at further.
    #[error("the endpoint is {len} bytes long, more than the {max} bytes accepted")]
    InputTooLong {
        /// Length of the input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A URL scheme other than `https://` was given.
    #[error("only an https:// URL (or a bare host[:port]) is accepted as an endpoint")]
    UnsupportedScheme,
    /// An `https://` URL was given for a service that does not speak HTTP.
    #[error("{service} does not speak HTTP: give the endpoint as host[:port], without https://")]
    SchemeNotAllowed {
        /// The service the host name belongs to.
        service: Service,
    },
    /// The part after `:` is not a port number from 1 to 65535.
    #[error("the port is not a number from 1 to 65535")]
    InvalidPort,
    /// The host name (without a trailing dot) is longer than 253 bytes.
    #[error("the host name is {len} bytes long, more than the 253 bytes DNS allows")]
    HostTooLong {
        /// Length of the host name in bytes.
        len: usize,
    },
    /// One label of the host name is not a valid DNS label.
    #[error("label {index} of the host name is not a valid DNS label: {problem:?}")]
    InvalidLabel {
        /// Zero-based position of the label, counted from the left.
        index: usize,
        /// What is wrong with it.
        problem: LabelProblem,
    },
    /// The host is not under `amazonaws.com` or `amazonaws.com.cn` (an IP address, a custom
    /// domain name, a CNAME, localhost, ...): the service, region and ids cannot be read from it.
    #[error(
        "not an AWS endpoint (not under amazonaws.com or amazonaws.com.cn): configure the \
         service, region and resource ids explicitly for custom domain names"
    )]
    NotAws,
    /// The host is under an AWS domain, but is not one of the database endpoint forms known here.
    #[error("an AWS host name, but not a database endpoint form that iamwire recognises")]
    UnknownService,
    /// The host names a known service, but its labels do not have that service's form.
    #[error("not a valid {service} endpoint: {reason}")]
    Malformed {
        /// The service the host name seems to belong to.
        service: Service,
        /// What does not fit.
        reason: &'static str,
    },
    /// The ElastiCache short region code (such as `use1`) is not one known here.
    #[error("unknown ElastiCache short region code {code:?}")]
    UnknownShortRegion {
        /// The code as found in the host name (at most 63 bytes).
        code: String,
    },
    /// The region label does not look like an AWS region name.
    #[error("{region:?} is not an AWS region name")]
    InvalidRegion {
        /// The label found where the region belongs (at most 63 bytes).
        region: String,
    },
    /// The region's partition does not use the host's domain suffix (for example a `cn-`
    /// region under `amazonaws.com`, or a `us-east-1` host under `amazonaws.com.cn`).
    #[error("region {region:?} ({partition}) does not use the {suffix} domain")]
    PartitionMismatch {
        /// The region found in the host name.
        region: String,
        /// The partition the region belongs to.
        partition: Partition,
        /// The domain suffix of the host name.
        suffix: &'static str,
    },
}
