//! Throwaway real servers for iamwire's tests.
#![forbid(unsafe_code)]

mod venv;

pub use venv::{DEFAULT_VENV, python, venv_dir};
