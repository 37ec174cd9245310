//! The Database resource model: static configuration, discovery matchers, dynamic resources,
//! and their validation.

mod arn;
mod aws;
mod config;
mod database;
mod discovery;
mod dynamic;
mod validate;

pub use arn::{Partition, RoleArn, is_valid_account_id, is_valid_region};
pub use aws::{
    Aws, ElastiCache, ExternalId, MemoryDb, Rds, RdsProxy, Redshift, RedshiftServerless,
};
pub use config::{Config, DbService};
pub use database::{Database, Protocol, Tls, TlsMode, host_port};
pub use discovery::{AwsMatcher, DiscoveryType, ResourceMatcher, ResourceMatcherAws};
pub use dynamic::{DatabaseResource, DatabaseSpec, ResourceMetadata};

#[cfg(test)]
mod tests;
