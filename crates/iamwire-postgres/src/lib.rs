//! PostgreSQL wire protocol for iamwire.
#![forbid(unsafe_code)]

pub mod auth;
pub mod codec;

#[doc(hidden)]
pub mod fuzzing;
