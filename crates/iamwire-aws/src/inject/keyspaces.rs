//! The Amazon Keyspaces injector: the credentials of the database-user role (assumed as the chain's
//! last hop), handed to the CQL protocol as a [`KeyspacesSigner`] that answers the server's SigV4
//! challenge.

use std::fmt;
use std::sync::Arc;

use iamwire_core::{
    AuthInjector, Clock, Database, InjectError, LoginFuture, SessionRequest, UpstreamLogin,
    WarmUpFuture,
};

use super::missing;
use super::user_role::UserRole;
use crate::role::RoleProvider;
use crate::sigv4::keyspaces::KeyspacesSigner;

/// Logs in to Amazon Keyspaces (`protocol: cassandra`) as the client's database user, an IAM role in
/// the database's account (a role name, or a role ARN in that account), assumed after the database's
/// `assume_role_arn` (with its external ID) if one is set. The login carries no password: a signer with
/// the role's credentials answers the server's SigV4 challenge.
pub struct KeyspacesInjector {
    role: UserRole,
}

impl KeyspacesInjector {
    /// An injector asking `roles` for credentials, signing at the system clock's time.
    pub fn new(roles: Arc<dyn RoleProvider>) -> Self {
        Self {
            role: UserRole::new(roles),
        }
    }

    /// Sign at the time `clock` gives (a test seam).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.role.clock = clock;
        self
    }

    /// The AssumeRole session name (shows up in the database account's CloudTrail).
    #[must_use]
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.role.session_name = name.into();
        self
    }

    async fn signed(&self, want: &SessionRequest<'_>) -> Result<UpstreamLogin, InjectError> {
        let database = want.database;
        let region = database
            .aws
            .region
            .as_deref()
            .ok_or_else(|| missing(&database.name, "aws.region"))?;
        let credentials = self.role.credentials(want).await?;
        let signer = KeyspacesSigner::new(credentials, region, self.role.clock.clone());
        Ok(UpstreamLogin::signed(want.db_user, Arc::new(signer)))
    }
}

impl fmt::Debug for KeyspacesInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyspacesInjector")
            .field("roles", &self.role.roles)
            .field("session_name", &self.role.session_name)
            .finish_non_exhaustive()
    }
}

impl AuthInjector for KeyspacesInjector {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        Box::pin(self.signed(want))
    }

    fn rejected_hint(&self, want: &SessionRequest<'_>) -> Option<String> {
        Some(format!(
            "Keyspaces refused the SigV4 login of role {}: the role needs cassandra:Select / \
             cassandra:Modify (or cassandra:*) on the keyspaces it uses, in region {}",
            want.db_user,
            want.database.aws.region.as_deref().unwrap_or("<region>")
        ))
    }

    /// The database's own role (hop 1), which every user role is assumed from.
    fn warm_up<'a>(&'a self, database: &'a Database) -> WarmUpFuture<'a> {
        self.role.warm_up(database)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use aws_credential_types::Credentials;
    use iamwire_core::{Answer, Challenge, ExternalId, FixedClock, InjectErrorKind, Protocol};

    use super::*;
    use crate::inject::user_role::RecordingRoles;

    fn roles() -> RecordingRoles {
        RecordingRoles::new(Credentials::new(
            "UserID-1",
            "UserSecretKey-1",
            None,
            None,
            "t",
        ))
    }

    fn keyspaces() -> Database {
        let mut db = Database::new(
            "ks",
            Protocol::Cassandra,
            "cassandra.us-west-2.amazonaws.com",
        );
        db.aws.region = Some("us-west-2".into());
        db.aws.assume_role_arn = Some("arn:aws:iam::222222222222:role/proxy-access".into());
        db.aws.account_id = Some("222222222222".into());
        db.aws.external_id = Some(ExternalId::new("ext-secret"));
        db
    }

    #[tokio::test]
    async fn logs_in_as_the_user_role_with_a_signer_for_its_credentials() {
        let roles = Arc::new(roles());
        let at = UNIX_EPOCH + Duration::from_secs(1_591_742_511);
        let injector = KeyspacesInjector::new(roles.clone()).clock(Arc::new(FixedClock(at)));
        let db = keyspaces();
        let want = SessionRequest {
            database: &db,
            db_user: "keyspaces-reader",
            db_name: None,
        };
        let login = injector.login(&want).await.unwrap();
        assert_eq!(login.user, "keyspaces-reader");
        assert!(login.secret.is_empty());
        let signer = login.signer.expect("a signed login");
        assert_eq!(signer.mechanism(), "keyspaces-sigv4");
        let Answer::Token(reply) = signer
            .answer(Challenge::Token(b"nonce=91703fdc2ef562e19fbdab0f58e42fe5"))
            .unwrap()
        else {
            panic!("a token")
        };
        assert!(reply.expose().starts_with(
            b"signature=7f3691c18a81b8ce7457699effbfae5b09b4e0714ab38c1292dbdf082c9ddd87,"
        ));
        let asked = roles.asked.lock().unwrap().clone();
        let hops = asked[0].hops();
        assert_eq!(hops.len(), 2);
        assert_eq!(
            hops[1].role_arn().to_string(),
            "arn:aws:iam::222222222222:role/keyspaces-reader"
        );
        assert!(hops[0].external_id().is_some() && hops[1].external_id().is_none());
        let hint = injector.rejected_hint(&want).unwrap();
        assert!(hint.contains("keyspaces-reader") && !hint.contains("ext-secret"));

        // Warm-up fetches hop 1 only.
        injector.warm_up(&db).await.unwrap();
        assert_eq!(roles.asked.lock().unwrap().last().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_missing_region_or_a_user_role_elsewhere_is_misconfigured() {
        let injector = KeyspacesInjector::new(Arc::new(roles()));
        let mut no_region = keyspaces();
        no_region.aws.region = None;
        let db = keyspaces();
        for (database, user) in [
            (&no_region, "reader"),
            (&db, "arn:aws:iam::333333333333:role/reader"),
            (&db, "bad role name!"),
        ] {
            let want = SessionRequest {
                database,
                db_user: user,
                db_name: None,
            };
            let error = injector.login(&want).await.unwrap_err();
            assert_eq!(error.kind(), InjectErrorKind::Misconfigured, "{error:?}");
        }
    }
}
