//! [`GuardedInjector`]: the endpoint check before any injector of a discovered or dynamic database.

use std::fmt;
use std::sync::Arc;

use iamwire_core::{
    AuthInjector, Database, InjectError, InjectErrorKind, LoginFuture, SessionRequest, WarmUpFuture,
};

use super::{api_error, role_error};
use crate::endpoint_check::{EndpointCheckError, EndpointGuard};

/// Runs [`EndpointGuard::confirm`] on the session's database before delegating to the inner
/// injector, so no token or signature for a database is made, let alone sent, before its endpoint is
/// confirmed to belong to the account and region it claims.
///
/// A refused endpoint is an [`InjectErrorKind::AccessDenied`] (protocols answer it as access denied:
/// Postgres `28000`, MySQL `1045`, ...) whose message names the claimed account and region and, when
/// known, the endpoint's real ones. Wrap the injectors of discovered and dynamic databases; static
/// configuration is the operator's own word and needs no check.
pub struct GuardedInjector {
    guard: EndpointGuard,
    inner: Arc<dyn AuthInjector>,
}

impl GuardedInjector {
    /// `inner`, behind `guard`.
    pub fn new(guard: EndpointGuard, inner: Arc<dyn AuthInjector>) -> Self {
        Self { guard, inner }
    }

    /// The guard.
    pub fn guard(&self) -> &EndpointGuard {
        &self.guard
    }
}

impl fmt::Debug for GuardedInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedInjector")
            .field("guard", &self.guard)
            .field("inner", &self.inner)
            .finish()
    }
}

impl AuthInjector for GuardedInjector {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        Box::pin(async move {
            self.guard
                .confirm(want.database)
                .await
                .map_err(|e| refusal(&want.database.name, e))?;
            self.inner.login(want).await
        })
    }

    fn rejected_hint(&self, want: &SessionRequest<'_>) -> Option<String> {
        self.inner.rejected_hint(want)
    }

    fn warm_up<'a>(&'a self, database: &'a Database) -> WarmUpFuture<'a> {
        Box::pin(async move {
            self.guard
                .confirm(database)
                .await
                .map_err(|e| refusal(&database.name, e))?;
            self.inner.warm_up(database).await
        })
    }
}

/// An endpoint check failure as the [`InjectError`] a protocol answers with.
pub fn refusal(database: &str, error: EndpointCheckError) -> InjectError {
    let hint_of = |e: &EndpointCheckError| match e {
        EndpointCheckError::Mismatch { .. } => Some(
            "check the database's uri, aws.account_id, aws.region and aws.assume_role_arn: \
             they must name one resource of one account"
                .to_owned(),
        ),
        EndpointCheckError::Unverifiable { .. } => Some(
            "use the endpoint host name AWS gives the database, or let the proxy's endpoint guard \
             allow hosts it cannot check"
                .to_owned(),
        ),
        _ => None,
    };
    match error {
        EndpointCheckError::Credentials { source, .. } => role_error(*source),
        EndpointCheckError::Api {
            source, operation, ..
        } => {
            let hint = source.code().filter(|c| super::is_denied(c)).map(|_| {
                format!("grant {operation} to the database's role, so the proxy can confirm its endpoint")
            });
            api_error(database, *source, hint)
        }
        e @ EndpointCheckError::Misconfigured { .. } => {
            InjectError::new(InjectErrorKind::Misconfigured, e.to_string()).with_source(e)
        }
        e => {
            let hint = hint_of(&e);
            let mut out =
                InjectError::new(InjectErrorKind::AccessDenied, format!("access denied: {e}"));
            if let Some(hint) = hint {
                out = out.with_hint(hint);
            }
            out.with_source(e)
        }
    }
}
