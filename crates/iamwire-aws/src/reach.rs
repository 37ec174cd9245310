//! How the proxy reaches AWS control planes on its own behalf (discovery, endpoint checks): the API
//! client, the role provider, the clock, the AssumeRole session name, and endpoint overrides.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use aws_credential_types::Credentials;
use iamwire_core::{Clock, SystemClock};

use crate::aws_api::{ApiClient, Call, Service};
use crate::role::{DEFAULT_SESSION_NAME, RoleProvider};

/// Shared by [`Discoverer`](crate::discovery::Discoverer) and
/// [`EndpointGuard`](crate::endpoint_check::EndpointGuard). Cheap to clone.
#[derive(Clone)]
pub(crate) struct Reach {
    pub(crate) client: ApiClient,
    pub(crate) roles: Arc<dyn RoleProvider>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Equal to the injectors' by default, so credentials of a role are cached once.
    pub(crate) session_name: String,
    /// Where every call goes instead of the regional endpoints (an emulator).
    pub(crate) endpoint: Option<String>,
    /// Where calls of one service go, by signing name (a VPC endpoint).
    pub(crate) service_endpoints: BTreeMap<String, String>,
}

impl Reach {
    pub(crate) fn new(client: ApiClient, roles: Arc<dyn RoleProvider>) -> Self {
        Self {
            client,
            roles,
            clock: Arc::new(SystemClock),
            session_name: DEFAULT_SESSION_NAME.to_owned(),
            endpoint: None,
            service_endpoints: BTreeMap::new(),
        }
    }

    /// A call to `service` in `region` signed now with `credentials`, sent where the overrides say.
    pub(crate) fn call<'a>(
        &'a self,
        credentials: &'a Credentials,
        region: &'a str,
        service: Service,
    ) -> Call<'a> {
        let call = Call::new(credentials, region, self.clock.now());
        let endpoint = self
            .service_endpoints
            .get(service.signing_name)
            .or(self.endpoint.as_ref());
        match endpoint {
            Some(e) => call.endpoint(e),
            None => call,
        }
    }
}

impl fmt::Debug for Reach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reach")
            .field("client", &self.client)
            .field("roles", &self.roles)
            .field("session_name", &self.session_name)
            .field("endpoint", &self.endpoint)
            .field("service_endpoints", &self.service_endpoints)
            .finish_non_exhaustive()
    }
}
