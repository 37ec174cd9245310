//! The Amazon DocumentDB injector: the credentials of the database-user role (assumed as the chain's
//! last hop), handed to the MongoDB protocol as a [`MongoDbAwsSigner`] that signs the STS
//! `GetCallerIdentity` request of the `MONGODB-AWS` conversation.

use std::fmt;
use std::sync::Arc;

use iamwire_core::{
    AuthInjector, Clock, Database, InjectError, LoginFuture, SessionRequest, UpstreamLogin,
    WarmUpFuture,
};

use super::user_role::UserRole;
use crate::role::RoleProvider;
use crate::sigv4::mongodb::MongoDbAwsSigner;

/// Logs in to Amazon DocumentDB (`protocol: mongodb`) with `MONGODB-AWS` as the client's database
/// user, an IAM role in the database's account (a role name, or a role ARN in that account), assumed
/// after the database's `assume_role_arn` (with its external ID) if one is set. The login carries no
/// password: a signer with the role's credentials signs the `GetCallerIdentity` request DocumentDB
/// sends to STS to learn who the client is.
pub struct DocumentDbInjector {
    role: UserRole,
}

impl DocumentDbInjector {
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
        let credentials = self.role.credentials(want).await?;
        let signer = MongoDbAwsSigner::new(credentials, self.role.clock.clone());
        Ok(UpstreamLogin::signed(want.db_user, Arc::new(signer)))
    }
}

impl fmt::Debug for DocumentDbInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocumentDbInjector")
            .field("roles", &self.role.roles)
            .field("session_name", &self.role.session_name)
            .finish_non_exhaustive()
    }
}

impl AuthInjector for DocumentDbInjector {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        Box::pin(self.signed(want))
    }

    fn rejected_hint(&self, want: &SessionRequest<'_>) -> Option<String> {
        let role = match self.role.chain(want.database, Some(want.db_user)) {
            Ok(chain) => chain
                .last_role_arn()
                .map_or_else(|| want.db_user.to_owned(), ToString::to_string),
            Err(_) => want.db_user.to_owned(),
        };
        Some(format!(
            "DocumentDB refused the MONGODB-AWS login of role {role}: the cluster needs IAM \
             authentication and a user for that role ARN in the $external database (db.getSiblingDB\
             (\"$external\").createUser({{user: \"{role}\", mechanisms: [\"MONGODB-AWS\"], roles: \
             [...]}}))"
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
            "ASIAUSER",
            "user-secret",
            Some("tok".into()),
            None,
            "t",
        ))
    }

    fn documentdb() -> Database {
        let mut db = Database::new(
            "docs",
            Protocol::MongoDb,
            "docs.cluster-abc.us-east-1.docdb.amazonaws.com:27017",
        );
        db.aws.region = Some("us-east-1".into());
        db.aws.assume_role_arn = Some("arn:aws:iam::222222222222:role/proxy-access".into());
        db.aws.account_id = Some("222222222222".into());
        db.aws.external_id = Some(ExternalId::new("ext-secret"));
        db
    }

    #[tokio::test]
    async fn logs_in_as_the_user_role_with_a_signer_for_its_credentials() {
        let roles = Arc::new(roles());
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let injector = DocumentDbInjector::new(roles.clone()).clock(Arc::new(FixedClock(at)));
        let db = documentdb();
        let want = SessionRequest {
            database: &db,
            db_user: "docs-reader",
            db_name: None,
        };
        let login = injector.login(&want).await.unwrap();
        assert_eq!(login.user, "docs-reader");
        assert!(login.secret.is_empty());
        let signer = login.signer.expect("a signed login");
        assert_eq!(signer.mechanism(), "mongodb-aws");
        let nonce = [9u8; 64];
        let Answer::Headers(headers) = signer
            .answer(Challenge::StsGetCallerIdentity {
                server_nonce: &nonce,
                host: "sts.amazonaws.com",
                gs2_cb_flag: b'n',
            })
            .unwrap()
        else {
            panic!("headers")
        };
        assert!(
            headers[0]
                .1
                .expose()
                .starts_with(b"AWS4-HMAC-SHA256 Credential=ASIAUSER/20231114/us-east-1/sts/")
        );
        let asked = roles.asked.lock().unwrap().clone();
        let hops = asked[0].hops();
        assert_eq!(hops.len(), 2);
        assert_eq!(
            hops[1].role_arn().to_string(),
            "arn:aws:iam::222222222222:role/docs-reader"
        );
        assert!(hops[0].external_id().is_some() && hops[1].external_id().is_none());
        let hint = injector.rejected_hint(&want).unwrap();
        assert!(
            hint.contains("arn:aws:iam::222222222222:role/docs-reader")
                && !hint.contains("ext-secret"),
            "{hint}"
        );
        injector.warm_up(&db).await.unwrap();
        assert_eq!(roles.asked.lock().unwrap().last().unwrap().len(), 1);
        assert!(!format!("{injector:?}").contains("ext-secret"));
    }

    #[tokio::test]
    async fn a_user_role_elsewhere_is_misconfigured() {
        let injector = DocumentDbInjector::new(Arc::new(roles()));
        let db = documentdb();
        for user in ["arn:aws:iam::333333333333:role/reader", "bad role name!"] {
            let want = SessionRequest {
                database: &db,
                db_user: user,
                db_name: None,
            };
            let error = injector.login(&want).await.unwrap_err();
            assert_eq!(error.kind(), InjectErrorKind::Misconfigured, "{error:?}");
        }
    }
}
