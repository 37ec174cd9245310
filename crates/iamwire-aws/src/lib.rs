//! AWS side of iamwire.
#![forbid(unsafe_code)]

pub mod aws_api;
pub mod base;
pub mod cache;
pub mod cache_users;
pub mod endpoint;
pub mod redshift;
pub mod role;
pub mod sigv4;
pub mod sts;
pub mod token;

#[doc(hidden)]
pub mod fuzzing;
