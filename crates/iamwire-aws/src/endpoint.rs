//! Reading an AWS database endpoint's host name: which service, partition, region and resource
//! it names, and what it implies for TLS.
//!
//! Host names from configuration, discovery or a client are all untrusted: [`parse`] checks DNS
//! syntax (253 bytes, 63-byte labels, letters, digits and inner hyphens), compares whole labels
//! (so `x.rds.amazonaws.com.evil.com` is not AWS), checks that the region fits the domain
//! (`amazonaws.com` for the standard and GovCloud partitions, `amazonaws.com.cn` for China), and
//! never panics.
//!
//! ```
//! use iamwire_aws::endpoint::{self, AuroraRole, EndpointKind, Partition, TlsExpectation};
//!
//! let ep = endpoint::parse("orders.cluster-ro-c9akciq32.eu-west-1.rds.amazonaws.com:5432")?;
//! assert_eq!(ep.partition, Partition::Aws);
//! assert_eq!(ep.region, "eu-west-1");
//! assert_eq!(ep.port, Some(5432));
//! assert_eq!(
//!     ep.kind,
//!     EndpointKind::AuroraCluster { cluster_id: "orders".into(), role: AuroraRole::Reader },
//! );
//! assert_eq!(ep.tls(), TlsExpectation::Optional);
//!
//! // Custom domain names carry no service or region.
//! assert_eq!(endpoint::parse("db.example.com"), Err(endpoint::EndpointError::NotAws));
//! # Ok::<(), endpoint::EndpointError>(())
//! ```

mod cache;
mod error;
mod host;
mod http;
mod kind;
mod rds;
mod region;

use std::str::FromStr;

pub use error::{EndpointError, LabelProblem};
pub use kind::{
    AuroraRole, CacheRole, DynamoDbApi, EndpointKind, OpenSearchAccess, Service, TlsExpectation,
};
pub use region::{Partition, region_from_short_code, short_code_for_region};

use host::Suffix;

/// A parsed AWS database endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Endpoint {
    /// The host name: lower case, without a trailing dot, scheme or port.
    pub host: String,
    /// The port, if the input had one.
    pub port: Option<u16>,
    /// The partition the region belongs to.
    pub partition: Partition,
    /// The full region name, such as `us-east-1` (ElastiCache short codes are expanded).
    pub region: String,
    /// The service and resource the host names.
    pub kind: EndpointKind,
}

impl Endpoint {
    /// The service this endpoint belongs to.
    pub fn service(&self) -> Service {
        self.kind.service()
    }

    /// What the host name says about TLS on the upstream connection.
    pub fn tls(&self) -> TlsExpectation {
        self.kind.tls()
    }

    /// The port from the input, else the service's default port if it has a single one.
    pub fn port_or_default(&self) -> Option<u16> {
        self.port.or_else(|| self.kind.default_port())
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// Parse an AWS database endpoint: a host name, `host:port`, or (for the HTTP services DynamoDB
/// and OpenSearch) an `https://host[:port][/path]` URL, whose path is ignored.
///
/// Host names are case-insensitive and may end in a dot. Forms recognised, in the standard,
/// GovCloud and China partitions:
///
/// | service | host name, before the AWS domain |
/// |---|---|
/// | RDS instance | `<id>.<hash>.<region>.rds` |
/// | Aurora writer / reader / custom | `<id>.cluster-<hash>`, `.cluster-ro-<hash>`, `<name>.cluster-custom-<hash>`, then `.<region>.rds` |
/// | Aurora Limitless shard group | `<id>.shardgrp-<hash>.<region>.rds` |
/// | RDS Proxy | `<proxy>.proxy-<hash>.<region>.rds`, `<endpoint>.endpoint.proxy-<hash>.<region>.rds` |
/// | Redshift | `<cluster>.<hash>.<region>.redshift` |
/// | Redshift Serverless | `<workgroup>.<account>.<region>.redshift-serverless`, `<name>-endpoint-<hash>.<account>.<region>.redshift-serverless` |
/// | ElastiCache | `clustercfg.<group>.<hash>.<sr>.cache`, `master.`/`replica.`, `<node>.<group>.<hash>.<sr>.cache`; without in-transit encryption `<group>.<hash>.clustercfg.<sr>.cache`, `<group>[-ro].<hash>.ng.0001.<sr>.cache`, `<node>.<hash>.0001.<sr>.cache`; serverless `<name>-<hash>.serverless.<sr>.cache` (`<sr>` is a short region code such as `use1`) |
/// | MemoryDB | `clustercfg.<cluster>.<hash>.memorydb.<region>`, `<node>.<cluster>.<hash>.memorydb.<region>`, and the `<cluster>.<hash>.clustercfg` / `<node>.<hash>.0001` forms |
/// | DynamoDB | `dynamodb.<region>`, `dynamodb-fips.<region>`, `streams.dynamodb.<region>`, `dax.<region>`, `<account>.ddb.<region>` |
/// | DAX cluster | `<cluster>.<hash>.dax-clusters.<region>`, `<cluster>-<x>.<hash>.nodes.dax-clusters.<region>` |
/// | OpenSearch | `search-<domain>-<hash>.<region>.es`, `vpc-<domain>-<hash>.<region>.es` |
/// | Keyspaces | `cassandra.<region>`, `cassandra-fips.<region>` |
///
/// In China, RDS, Redshift and Redshift Serverless hosts may also put the service label before
/// the region (`<id>.<hash>.rds.cn-north-1.amazonaws.com.cn`); both orders are accepted there.
pub fn parse(input: &str) -> Result<Endpoint, EndpointError> {
    let split = host::split(input)?;
    let labels = split.labels();
    let (front, suffix) = host::strip_aws_suffix(&labels).ok_or(EndpointError::NotAws)?;
    let (region, kind) = classify(front, suffix)?;
    let partition = host::check_region(region, suffix)?;
    if split.https && !kind.service().speaks_http() {
        return Err(EndpointError::SchemeNotAllowed {
            service: kind.service(),
        });
    }
    let region = region.to_owned();
    Ok(Endpoint {
        host: split.host,
        port: split.port,
        partition,
        region,
        kind,
    })
}

/// Which service the labels in front of the AWS domain name, its region label, and the resource.
fn classify<'a>(
    labels: &[&'a str],
    suffix: Suffix,
) -> Result<(&'a str, EndpointKind), EndpointError> {
    let china = suffix == Suffix::ComCn;
    let wrong_order = |service| EndpointError::Malformed {
        service,
        reason: "outside China the region comes before the service label",
    };
    match labels {
        [front @ .., region, "rds"] => Ok((region, rds::parse_rds(front)?)),
        [front @ .., "rds", region] if china && !front.is_empty() => {
            Ok((region, rds::parse_rds(front)?))
        }
        [_, .., "rds", _] => Err(wrong_order(Service::Rds)),
        [front @ .., region, "redshift"] => Ok((region, rds::parse_redshift(front)?)),
        [front @ .., "redshift", region] if china && !front.is_empty() => {
            Ok((region, rds::parse_redshift(front)?))
        }
        [_, .., "redshift", _] => Err(wrong_order(Service::Redshift)),
        [front @ .., region, "redshift-serverless"] => {
            Ok((region, rds::parse_redshift_serverless(front)?))
        }
        [front @ .., "redshift-serverless", region] if china && !front.is_empty() => {
            Ok((region, rds::parse_redshift_serverless(front)?))
        }
        [_, .., "redshift-serverless", _] => Err(wrong_order(Service::RedshiftServerless)),
        [front @ .., "cache"] => cache::parse_elasticache(front),
        [front @ .., region, "es"] => Ok((region, http::parse_opensearch(front)?)),
        [front @ .., "memorydb", region] if !front.is_empty() => {
            Ok((region, cache::parse_memorydb(front)?))
        }
        [front @ .., "dax-clusters", region] if !front.is_empty() => {
            Ok((region, http::parse_dax_cluster(front)?))
        }
        [front @ .., region] => match http::parse_regional(front)? {
            Some(kind) => Ok((region, kind)),
            None => Err(EndpointError::UnknownService),
        },
        [] => Err(EndpointError::UnknownService),
    }
}

/// Fuzz entry point: parse arbitrary bytes as an endpoint. Never panics on any input; asserts
/// that whatever parses re-parses from its normalised host name to the same endpoint.
pub(crate) fn fuzz(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(endpoint) = parse(text) {
        let again = parse(&endpoint.host);
        assert_eq!(
            again.map(|e| (e.host, e.partition, e.region, e.kind)),
            Ok((
                endpoint.host,
                endpoint.partition,
                endpoint.region,
                endpoint.kind
            )),
        );
    }
}

#[cfg(test)]
mod tests;
