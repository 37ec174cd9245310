//! [`Cql::check_login`]: one login upstream, as a session makes it — for a tool that checks a
//! database's setup (`iamwire doctor`) without a client in front.

use iamwire_core::UpstreamLogin;
use iamwire_proxy::UpstreamConn;

use super::{Cql, CqlState, Result, upstream};

impl Cql {
    /// Log in on `upstream` (TLS already up) as `login`: STARTUP in the highest version this [`Cql`]
    /// speaks with its CQL version, then the database's authenticator answered as in a session (the
    /// Keyspaces SigV4 challenge by the login's signer, or SASL PLAIN), until AUTH_SUCCESS or READY.
    ///
    /// # Errors
    /// [`CqlError::UpstreamRejected`](crate::CqlError::UpstreamRejected) with the database's code
    /// (`0x0100` bad credentials) if it refuses; signer, I/O and protocol errors as in a session.
    pub async fn check_login(
        &self,
        upstream: &mut UpstreamConn,
        login: UpstreamLogin,
    ) -> Result<()> {
        let mut state = CqlState {
            version: Some(self.max_version),
            startup: vec![("CQL_VERSION".to_owned(), self.cql_version.clone())],
            ..CqlState::default()
        };
        upstream::login(self, &mut state, upstream, login).await
    }
}
