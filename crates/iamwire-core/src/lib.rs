//! Shared types and seams of iamwire.
//!
//! No I/O happens here. The crate holds:
//!
//! - the Database resource model: databases configured statically in a Teleport-style `db_service`
//!   section, AWS discovery matchers, and dynamic `kind: db` resources, each parsed from YAML within
//!   [`YamlLimits`] and then validated;
//! - who may do what: [`ClientIdentity`], [`SessionRequest`] and the [`Authorizer`] seam, with the
//!   [`AllowList`] the bundled proxy uses;
//! - what goes upstream: the [`AuthInjector`] seam, [`UpstreamLogin`], [`InjectError`] (classified by
//!   [`InjectErrorKind`]) and the [`StaticPasswordInjector`]; for databases that challenge the client
//!   to prove it holds credentials rather than take a password, the [`ChallengeSigner`] an injector
//!   puts into the login;
//! - [`Secret`] (redacting `Debug`, wiped on drop), and [`Clock`] / [`Randomness`] as inputs;
//! - rustls configurations for both sides of a proxy ([`tls`]).
//!
//! ```
//! use iamwire_core::{Config, Database, Protocol};
//!
//! let yaml = br#"
//! db_service:
//!   enabled: "yes"
//!   databases:
//!   - name: "rds-postgres"
//!     protocol: "postgres"
//!     uri: "rds-postgres.abcdef012345.us-west-1.rds.amazonaws.com:5432"
//!     aws:
//!       assume_role_arn: "arn:aws:iam::222222222222:role/example-role"
//!       external_id: "example-external-id"
//! "#;
//! let config = Config::from_yaml(yaml)?;
//! let db: &Database = &config.db_service.databases[0];
//! assert_eq!(db.protocol, Protocol::Postgres);
//! // Static configuration derives the account from the role ARN.
//! assert_eq!(db.aws.account_id.as_deref(), Some("222222222222"));
//! // The external ID never shows up in debug output.
//! assert!(!format!("{db:?}").contains("example-external-id"));
//! # Ok::<(), iamwire_core::Error>(())
//! ```
#![forbid(unsafe_code)]

mod access;
mod clock;
mod error;
mod inject;
mod resource;
mod secret;
pub mod tls;
mod yaml;

#[doc(hidden)]
pub mod fuzzing;

pub use access::{
    AllowList, Authorizer, ClientIdentity, Denied, Glob, IdentityRules, IdentitySource,
    SessionRequest,
};
pub use clock::{Clock, FixedClock, RandomError, Randomness, SystemClock, SystemRandom};
pub use error::{ArnError, Error, Location, Problem};
pub use inject::{
    Answer, AuthInjector, Challenge, ChallengeSigner, InjectError, InjectErrorKind, LoginFuture,
    StaticPasswordInjector, UpstreamLogin, WarmUpFuture,
};
pub use resource::{
    Aws, AwsMatcher, Config, Database, DatabaseResource, DatabaseSpec, DbService, DiscoveryType,
    ElastiCache, ExternalId, MemoryDb, Partition, Protocol, Rds, RdsProxy, Redshift,
    RedshiftServerless, ResourceMatcher, ResourceMatcherAws, ResourceMetadata, RoleArn, Tls,
    TlsMode, host_port, is_valid_account_id, is_valid_region,
};
pub use secret::{REDACTED, Secret};
pub use yaml::{YamlLimits, parse_yaml};
