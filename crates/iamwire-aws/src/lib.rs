//! AWS side of iamwire.
#![forbid(unsafe_code)]

pub mod cache;
pub mod endpoint;
pub mod role;
pub mod sigv4;
pub mod token;

#[doc(hidden)]
pub mod fuzzing;
