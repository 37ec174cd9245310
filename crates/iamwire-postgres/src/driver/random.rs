//! The proxy's source of randomness (cancel keys, SCRAM nonces): an input, so tests can fix it.

use std::fmt;

use tokio_rustls::rustls::crypto::aws_lc_rs;

use crate::error::ProxyError;

/// The random source failed to produce bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the proxy's random number source failed")]
pub struct RandomError;

impl From<RandomError> for ProxyError {
    fn from(_: RandomError) -> Self {
        ProxyError::Randomness
    }
}

/// Fills buffers with unpredictable bytes.
pub trait Randomness: fmt::Debug + Send + Sync {
    /// Fill `dest` entirely.
    ///
    /// # Errors
    /// [`RandomError`] if no random bytes can be had.
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's CSPRNG, through the TLS library's crypto provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRandom;

impl Randomness for SystemRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        aws_lc_rs::default_provider()
            .secure_random
            .fill(dest)
            .map_err(|_| RandomError)
    }
}

impl SystemRandom {
    /// Eighteen random bytes, the size of a SCRAM nonce.
    pub(crate) fn nonce_bytes(random: &dyn Randomness) -> Result<[u8; 18], RandomError> {
        let mut bytes = [0u8; 18];
        random.fill(&mut bytes)?;
        Ok(bytes)
    }
}
