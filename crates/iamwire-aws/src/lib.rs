//! AWS side of iamwire.
#![forbid(unsafe_code)]

pub mod endpoint;
pub mod sigv4;
pub mod token;

#[doc(hidden)]
pub mod fuzzing;
