//! PostgreSQL wire protocol for iamwire.
#![forbid(unsafe_code)]

pub mod auth;
pub mod cancel;
pub mod codec;
pub mod driver;
pub mod error;
pub mod inject;

#[doc(hidden)]
pub mod fuzzing;
