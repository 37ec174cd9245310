//! What goes upstream: the [`AuthInjector`] seam that turns an authorized session request into the login
//! the proxy performs against the database, the [`UpstreamLogin`] it produces, [`InjectError`], and the
//! static-password injector. The AWS injectors (RDS IAM, Redshift, ElastiCache, ...) live in `iamwire-aws`.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{Database, Secret, SessionRequest};

mod signer;

pub use signer::{Answer, Challenge, ChallengeSigner};

/// The future of an upstream login, returned by [`AuthInjector::login`]: boxed and named so the trait
/// stays object-safe.
pub type LoginFuture<'a> =
    Pin<Box<dyn Future<Output = Result<UpstreamLogin, InjectError>> + Send + 'a>>;

/// The future of [`AuthInjector::warm_up`].
pub type WarmUpFuture<'a> = Pin<Box<dyn Future<Output = Result<(), InjectError>> + Send + 'a>>;

/// Resolves the login the proxy uses upstream for a session (may await a role provider).
pub trait AuthInjector: fmt::Debug + Send + Sync {
    /// The user and secret to log in to `want.database` with, for a client that asked to be
    /// `want.db_user` (already authorized).
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a>;

    /// What to tell a client when the database rejects this injector's login (added to the database's
    /// own error only where it has no hint of its own).
    fn rejected_hint(&self, want: &SessionRequest<'_>) -> Option<String> {
        let _ = want;
        None
    }

    /// Fetch ahead of the first client whatever every login to `database` will need (the credentials of
    /// the database's role), into the very cache entries [`login`](Self::login) will read, so the first
    /// client pays no AssumeRole and a broken trust policy shows up at start-up. Default: nothing.
    fn warm_up<'a>(&'a self, database: &'a Database) -> WarmUpFuture<'a> {
        let _ = database;
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The credential the proxy logs in upstream with: the database user it names, and its password (an RDS
/// IAM token, a Redshift temporary password, an ElastiCache token, or a static password) — or, for a
/// database that challenges the client to prove it holds credentials (Amazon Keyspaces' SigV4), a
/// [`ChallengeSigner`] instead of a password. `Debug` shows the user and redacts the secret.
#[derive(Clone, Debug)]
pub struct UpstreamLogin {
    /// The database user, exactly as sent to the database.
    pub user: String,
    /// The password or token (empty for a [signed](Self::signed) login).
    pub secret: Secret,
    /// What answers the database's challenges, for a login made with credentials rather than a
    /// password; `None` for a password login.
    pub signer: Option<Arc<dyn ChallengeSigner>>,
}

impl UpstreamLogin {
    /// A login for `user` with `secret`.
    pub fn new(user: impl Into<String>, secret: impl Into<Secret>) -> Self {
        Self {
            user: user.into(),
            secret: secret.into(),
            signer: None,
        }
    }

    /// A login for `user` that answers the database's challenges with `signer` (no password).
    pub fn signed(user: impl Into<String>, signer: Arc<dyn ChallengeSigner>) -> Self {
        Self {
            user: user.into(),
            secret: Secret::new(Vec::new()),
            signer: Some(signer),
        }
    }
}

/// What kind of failure kept the proxy from having credentials for a login. Protocols map the kind to
/// their wire errors (Postgres `28000` for [`AccessDenied`](Self::AccessDenied), `08001` otherwise).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectErrorKind {
    /// AWS refused the proxy: a role that cannot be assumed (trust policy, external ID), a missing
    /// permission, expired or invalid proxy credentials. Fixed in IAM, not by retrying.
    AccessDenied,
    /// AWS (or the credential source) could not be reached or did not answer in time, or throttled.
    /// Retrying later may work; nothing in IAM needs to change.
    Unavailable,
    /// The database's settings cannot make a login (no region, a URI that is not `host:port`, an invalid
    /// role chain, a user that does not log in with IAM).
    Misconfigured,
    /// The proxy itself failed (signing, randomness).
    Internal,
}

impl InjectErrorKind {
    /// A short name for logs and metrics (`access_denied`, `unavailable`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::Unavailable => "unavailable",
            Self::Misconfigured => "misconfigured",
            Self::Internal => "internal",
        }
    }
}

/// Why the credentials for an upstream login could not be had: a [kind](InjectErrorKind), a message that
/// says what failed (safe to show a client: never a secret, token or external ID), an optional hint that
/// says what to do, and the cause in [`source`](StdError::source) only.
pub struct InjectError {
    kind: InjectErrorKind,
    message: String,
    hint: Option<String>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl InjectError {
    /// An error of `kind` described by `message` (what failed, in words a client may see).
    pub fn new(kind: InjectErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    /// Add what to do about it.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Keep `source` as the cause (for logs; it must not carry a secret either).
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> InjectErrorKind {
        self.kind
    }

    /// What failed.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What to do about it, if known.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for InjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for InjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InjectError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("hint", &self.hint)
            .field("source", &self.source)
            .finish()
    }
}

impl StdError for InjectError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Logs in with a fixed user and password, for upstreams outside AWS and for tests.
#[derive(Clone)]
pub struct StaticPasswordInjector {
    user: Option<String>,
    password: Secret,
}

impl StaticPasswordInjector {
    /// Log in as the client's requested database user with `password`.
    pub fn new(password: impl Into<Secret>) -> Self {
        Self {
            user: None,
            password: password.into(),
        }
    }

    /// Log in as `user` whatever the client asked for.
    #[must_use]
    pub fn as_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
}

impl fmt::Debug for StaticPasswordInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticPasswordInjector")
            .field("user", &self.user)
            .field("password", &self.password)
            .finish()
    }
}

impl AuthInjector for StaticPasswordInjector {
    fn login<'a>(&'a self, want: &'a SessionRequest<'a>) -> LoginFuture<'a> {
        let user = self.user.as_deref().unwrap_or(want.db_user);
        let login = UpstreamLogin::new(user, self.password.clone());
        Box::pin(std::future::ready(Ok(login)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Protocol;

    #[test]
    fn static_password_debug_is_redacted() {
        let injector = StaticPasswordInjector::new("hunter2").as_user("app");
        let shown = format!("{injector:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app"));
    }

    #[test]
    fn static_password_logs_in_as_asked_or_as_fixed() {
        let db = Database::new("db", Protocol::Postgres, "localhost:5432");
        let want = SessionRequest {
            database: &db,
            db_user: "alice",
            db_name: None,
        };
        let block = |f: LoginFuture<'_>| {
            let mut f = f;
            let waker = std::task::Waker::noop();
            match f.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
                std::task::Poll::Ready(r) => r.unwrap(),
                std::task::Poll::Pending => panic!("a static login is ready at once"),
            }
        };
        let login = block(StaticPasswordInjector::new("pw").login(&want));
        assert_eq!(login.user, "alice");
        assert_eq!(login.secret.expose(), b"pw");
        let fixed = StaticPasswordInjector::new("pw").as_user("app");
        assert_eq!(block(fixed.login(&want)).user, "app");
    }

    #[test]
    fn the_cause_is_only_in_source() {
        let cause = std::io::Error::new(std::io::ErrorKind::TimedOut, "read timed out");
        let error = InjectError::new(InjectErrorKind::Unavailable, "could not reach STS")
            .with_hint("check the network path to STS")
            .with_source(cause);
        assert_eq!(error.to_string(), "could not reach STS");
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("read timed out")
        );
        assert_eq!(error.kind(), InjectErrorKind::Unavailable);
        assert_eq!(error.hint(), Some("check the network path to STS"));
    }
}
