//! [`Clock`] and [`Randomness`]: the wall clock and the random source, as inputs, so tokens, nonces and
//! keys are reproducible in tests.

use std::fmt;
use std::time::SystemTime;

/// The current wall-clock time, as whoever holds this sees it.
///
/// Credentials and tokens expire at a wall-clock time; code that compares against "now" asks a `Clock`
/// instead of reading the system clock itself, so tests can fix or drive it.
pub trait Clock: fmt::Debug + Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock: what a proxy passes in production.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock stopped at one instant (tests: tokens signed at a fixed time are byte-for-byte
/// reproducible).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// The random source failed to produce bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the proxy's random number source failed")]
pub struct RandomError;

/// Fills buffers with unpredictable bytes (cancel keys, nonces, connection ids).
pub trait Randomness: fmt::Debug + Send + Sync {
    /// Fill `dest` entirely.
    ///
    /// # Errors
    /// [`RandomError`] if no random bytes can be had.
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError>;
}

impl dyn Randomness + '_ {
    /// `N` random bytes.
    ///
    /// # Errors
    /// [`RandomError`] if no random bytes can be had.
    pub fn array<const N: usize>(&self) -> Result<[u8; N], RandomError> {
        let mut out = [0u8; N];
        self.fill(&mut out)?;
        Ok(out)
    }
}

/// The operating system's CSPRNG, through the TLS library's crypto provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRandom;

impl Randomness for SystemRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        rustls::crypto::aws_lc_rs::default_provider()
            .secure_random
            .fill(dest)
            .map_err(|_| RandomError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_random_fills() {
        let random: &dyn Randomness = &SystemRandom;
        let a: [u8; 16] = random.array().unwrap();
        let b: [u8; 16] = random.array().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn fixed_clock_stands_still() {
        let at = SystemTime::UNIX_EPOCH;
        assert_eq!(FixedClock(at).now(), at);
    }
}
