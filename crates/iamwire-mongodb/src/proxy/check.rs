//! [`Mongo::check_login`]: one login upstream, as a session makes it, then `ping` — for a tool that
//! checks a database's setup (`iamwire doctor`) without a client in front.

use iamwire_core::{Randomness, UpstreamLogin};
use iamwire_proxy::UpstreamConn;

use super::upstream::{command, login, reply_ok};
use super::{Mongo, MongoState, Result};
use crate::bson::DocBuf;

impl Mongo {
    /// Log in on `upstream` (TLS already up) as `login`, exactly as a session does (`isMaster`, then
    /// `MONGODB-AWS` signed by the login's signer with a nonce from `random`, or `PLAIN`), then run
    /// `ping` on `admin`. `database` names the database in log lines.
    ///
    /// # Errors
    /// [`MongoError::UpstreamRejected`](crate::MongoError::UpstreamRejected) with the database's code
    /// (18: authentication failed) if it refuses the login or the `ping`; signer, I/O and protocol
    /// errors as in a session.
    pub async fn check_login(
        &self,
        upstream: &mut UpstreamConn,
        login_as: UpstreamLogin,
        random: &dyn Randomness,
        database: &str,
    ) -> Result<()> {
        let mut state = MongoState::default();
        login(self, database, random, &mut state, upstream, login_as).await?;
        let mut ping = DocBuf::new();
        ping.i32("ping", 1).str("$db", "admin");
        let reply = command(self, &mut state, upstream, ping.finish()).await?;
        reply_ok(&reply, "a ping reply")?;
        Ok(())
    }
}
