//! What the token injectors (RDS IAM, ElastiCache / MemoryDB) share: the role provider, the clock, the
//! AssumeRole session name and the token map, the database's role chain, the warm-up, and their builder
//! methods.

use std::sync::Arc;

use iamwire_core::{Clock, Database, InjectError, SystemClock};

use super::tokens::TokenMap;
use super::{chain_error, role_error};
use crate::role::{DEFAULT_SESSION_NAME, RoleChain, RoleProvider};

/// The parts of a token injector that are not about its service.
pub(super) struct TokenCore {
    pub(super) roles: Arc<dyn RoleProvider>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) session_name: String,
    pub(super) tokens: Arc<TokenMap>,
}

impl TokenCore {
    /// Credentials from `roles`, the system clock, the default session name, a token map of its own.
    pub(super) fn new(roles: Arc<dyn RoleProvider>) -> Self {
        Self {
            roles,
            clock: Arc::new(SystemClock),
            session_name: DEFAULT_SESSION_NAME.to_owned(),
            tokens: Arc::new(TokenMap::default()),
        }
    }

    /// The role chain of `database` (its `assume_role_arn`, with the external ID).
    pub(super) fn chain(&self, database: &Database) -> Result<RoleChain, InjectError> {
        RoleChain::for_database(&database.aws, None, &self.session_name)
            .map_err(|e| chain_error(&database.name, e))
    }

    /// Fetch the credentials of `database`'s role chain into the cache `login` reads.
    pub(super) async fn warm_up(&self, database: &Database) -> Result<(), InjectError> {
        let chain = self.chain(database)?;
        self.roles
            .credentials(&chain)
            .await
            .map(drop)
            .map_err(role_error)
    }
}

/// The builder methods of an injector with a `core: TokenCore` field.
macro_rules! token_builder_methods {
    ($ty:ident) => {
        impl $ty {
            /// Sign tokens (and judge expiry) at the time `clock` gives (a test seam).
            #[must_use]
            pub fn clock(mut self, clock: Arc<dyn iamwire_core::Clock>) -> Self {
                self.core.clock = clock;
                self
            }

            /// When a minted token may be reused (a map of this injector's own with that policy).
            #[must_use]
            pub fn token_reuse(mut self, reuse: crate::token::TokenReuse) -> Self {
                self.core.tokens = Arc::new(super::tokens::TokenMap::new(reuse));
                self
            }

            /// Share `tokens` with other injectors.
            #[must_use]
            pub fn tokens(mut self, tokens: Arc<super::tokens::TokenMap>) -> Self {
                self.core.tokens = tokens;
                self
            }

            /// The AssumeRole session name (shows up in the database account's CloudTrail).
            #[must_use]
            pub fn session_name(mut self, name: impl Into<String>) -> Self {
                self.core.session_name = name.into();
                self
            }
        }
    };
}

pub(super) use token_builder_methods;
