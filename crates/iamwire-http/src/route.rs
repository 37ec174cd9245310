//! Where a request goes and how it is signed: the [`Service`] a database speaks, the [`Api`] a DynamoDB
//! request's `X-Amz-Target` names (DynamoDB, DynamoDB Streams, the DAX API), and the [`Routes`] of a
//! database: one upstream endpoint per API, the region, and the SigV4 signing name.

use std::sync::Arc;

use iamwire_aws::endpoint::{self, DynamoDbApi, EndpointKind};
use iamwire_core::{Database, Protocol};
use iamwire_proxy::UpstreamEndpoint;
use tokio_rustls::rustls::ClientConfig;

use crate::HttpError;

/// The HTTP service a database speaks (it decides the error shape and the signing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// DynamoDB's JSON API (with DynamoDB Streams and the DAX API).
    DynamoDb,
    /// OpenSearch's REST API.
    OpenSearch,
}

/// The API a request is for, each with its own host and signing name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// `X-Amz-Target: DynamoDB_20120810.*`, signed as `dynamodb`.
    DynamoDb,
    /// `X-Amz-Target: DynamoDBStreams_20120810.*`, signed as `dynamodb`.
    Streams,
    /// `X-Amz-Target: AmazonDAXV3.*` (the DAX control plane), signed as `dax`.
    Dax,
    /// Any OpenSearch request, signed as `es`.
    OpenSearch,
}

impl Api {
    /// The SigV4 signing name.
    pub fn signing_name(self) -> &'static str {
        match self {
            Self::DynamoDb | Self::Streams => "dynamodb",
            Self::Dax => "dax",
            Self::OpenSearch => "es",
        }
    }

    /// The API a DynamoDB-family `X-Amz-Target` value names, if any: `<prefix>.<Operation>`.
    pub fn from_target(target: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(target).ok()?;
        let (prefix, operation) = text.split_once('.')?;
        if operation.is_empty() || !operation.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        match prefix {
            "DynamoDB_20120810" => Some(Self::DynamoDb),
            "DynamoDBStreams_20120810" => Some(Self::Streams),
            "AmazonDAXV3" => Some(Self::Dax),
            _ => None,
        }
    }
}

impl Service {
    /// The service of `protocol`, if it is an HTTP one.
    pub fn of(protocol: Protocol) -> Option<Self> {
        match protocol {
            Protocol::DynamoDb => Some(Self::DynamoDb),
            Protocol::OpenSearch => Some(Self::OpenSearch),
            _ => None,
        }
    }
}

/// One upstream: the endpoint dialed (address, TLS policy) and the `Host` header signed.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where to connect, and how to verify it.
    pub endpoint: UpstreamEndpoint,
    /// The `Host` header value (`host`, or `host:port` off port 443).
    pub host_header: String,
}

/// The upstreams of a database, its region, and its service.
#[derive(Debug, Clone)]
pub struct Routes {
    service: Service,
    region: String,
    main: Target,
    streams: Target,
    dax: Target,
}

impl Routes {
    /// The routes of `database`, verified with `tls`.
    ///
    /// The region comes from an AWS endpoint URI (`https://dynamodb.us-east-1.amazonaws.com`,
    /// `aws://dynamodb.us-east-1.amazonaws.com`, `https://search-x-abc.eu-west-1.es.amazonaws.com`),
    /// else from `aws.region`. For DynamoDB's regional endpoints, Streams and DAX API requests go to
    /// `streams.dynamodb.<region>` and `dax.<region>` in the same domain; an explicit endpoint that is not
    /// an AWS host name (a VPC endpoint, an emulator) gets every API.
    ///
    /// # Errors
    /// [`HttpError::Config`] naming what is missing or wrong.
    pub fn for_database(database: &Database, tls: Arc<ClientConfig>) -> Result<Self, HttpError> {
        let config = |reason: String| HttpError::Config {
            database: database.name.clone(),
            reason,
        };
        let service = Service::of(database.protocol)
            .ok_or_else(|| config(format!("{} is not an HTTP protocol", database.protocol)))?;
        let endpoint =
            UpstreamEndpoint::for_database(database, tls).map_err(|e| config(format!("{e}")))?;
        let parsed = endpoint::parse(endpoint.host()).ok();
        let region = match (&parsed, &database.aws.region) {
            (Some(p), Some(r)) if p.region != *r => {
                return Err(config(format!(
                    "aws.region {r} differs from the region of the URI, {}",
                    p.region
                )));
            }
            (Some(p), _) => p.region.clone(),
            (None, Some(r)) => r.clone(),
            (None, None) => {
                return Err(config(
                    "the URI is not an AWS endpoint, so aws.region must say which region to sign for"
                        .into(),
                ));
            }
        };
        let main = target(endpoint.clone());
        let sibling = |label: &str| -> Result<Target, HttpError> {
            let suffix = endpoint
                .host()
                .split_once(&format!(".{region}."))
                .map(|(_, suffix)| suffix.to_owned())
                .ok_or_else(|| config("cannot find the region in the URI's host".into()))?;
            let host = format!("{label}.{region}.{suffix}");
            let at = endpoint
                .at(&host, endpoint.port())
                .map_err(|e| config(format!("{e}")))?;
            Ok(target(at))
        };
        let (streams, dax) = match parsed.map(|p| p.kind) {
            Some(EndpointKind::DynamoDb { api }) => (
                if api == DynamoDbApi::Streams {
                    main.clone()
                } else {
                    sibling("streams.dynamodb")?
                },
                if api == DynamoDbApi::Dax {
                    main.clone()
                } else {
                    sibling("dax")?
                },
            ),
            _ => (main.clone(), main.clone()),
        };
        Ok(Self {
            service,
            region,
            main,
            streams,
            dax,
        })
    }

    /// The service the database speaks.
    pub fn service(&self) -> Service {
        self.service
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Where requests for `api` go.
    pub fn target(&self, api: Api) -> &Target {
        match api {
            Api::Streams => &self.streams,
            Api::Dax => &self.dax,
            Api::DynamoDb | Api::OpenSearch => &self.main,
        }
    }

    /// Every distinct endpoint (for the connection pool).
    pub fn endpoints(&self) -> Vec<UpstreamEndpoint> {
        let mut out: Vec<UpstreamEndpoint> = Vec::with_capacity(3);
        for t in [&self.main, &self.streams, &self.dax] {
            if !out.iter().any(|e| e.addr() == t.endpoint.addr()) {
                out.push(t.endpoint.clone());
            }
        }
        out
    }
}

fn target(endpoint: UpstreamEndpoint) -> Target {
    let host_header = if endpoint.port() == 443 {
        bracket(endpoint.host())
    } else {
        format!("{}:{}", bracket(endpoint.host()), endpoint.port())
    };
    Target {
        endpoint,
        host_header,
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iamwire_core::TlsMode;
    use iamwire_core::tls::upstream_config;

    fn routes(protocol: Protocol, uri: &str, region: Option<&str>) -> Result<Routes, HttpError> {
        let mut db = Database::new("d", protocol, uri);
        db.aws.region = region.map(str::to_owned);
        Routes::for_database(&db, upstream_config(TlsMode::Insecure, None, None).unwrap())
    }

    #[test]
    fn targets_pick_apis_and_regional_siblings() {
        assert_eq!(
            Api::from_target(b"DynamoDB_20120810.PutItem"),
            Some(Api::DynamoDb)
        );
        assert_eq!(
            Api::from_target(b"DynamoDBStreams_20120810.GetRecords"),
            Some(Api::Streams)
        );
        assert_eq!(
            Api::from_target(b"AmazonDAXV3.CreateCluster"),
            Some(Api::Dax)
        );
        for bad in [
            &b"DynamoDB_20120810."[..],
            b"Other.PutItem",
            b"DynamoDB_20120810",
            b"\xff.x",
        ] {
            assert_eq!(Api::from_target(bad), None);
        }
        for uri in [
            "https://dynamodb.eu-west-1.amazonaws.com",
            "aws://dynamodb.eu-west-1.amazonaws.com",
        ] {
            let r = routes(Protocol::DynamoDb, uri, None).unwrap();
            assert_eq!(r.region(), "eu-west-1");
            assert_eq!(
                r.target(Api::DynamoDb).host_header,
                "dynamodb.eu-west-1.amazonaws.com"
            );
            assert_eq!(
                r.target(Api::Streams).host_header,
                "streams.dynamodb.eu-west-1.amazonaws.com"
            );
            assert_eq!(
                r.target(Api::Dax).host_header,
                "dax.eu-west-1.amazonaws.com"
            );
            assert_eq!(r.endpoints().len(), 3);
        }
        let local = routes(
            Protocol::DynamoDb,
            "https://localhost:8443",
            Some("us-east-1"),
        )
        .unwrap();
        assert_eq!(local.target(Api::Streams).host_header, "localhost:8443");
        assert_eq!(local.endpoints().len(), 1);
        let search = routes(
            Protocol::OpenSearch,
            "https://search-logs-abcdefghij.us-west-2.es.amazonaws.com",
            None,
        )
        .unwrap();
        assert_eq!(search.region(), "us-west-2");
        assert_eq!(search.service(), Service::OpenSearch);
    }

    #[test]
    fn region_must_be_known_and_consistent() {
        assert!(matches!(
            routes(Protocol::DynamoDb, "https://localhost:8443", None),
            Err(HttpError::Config { .. })
        ));
        assert!(matches!(
            routes(
                Protocol::DynamoDb,
                "https://dynamodb.us-east-1.amazonaws.com",
                Some("eu-west-1")
            ),
            Err(HttpError::Config { .. })
        ));
        assert!(matches!(
            routes(Protocol::Postgres, "h:5432", Some("us-east-1")),
            Err(HttpError::Config { .. })
        ));
    }
}
