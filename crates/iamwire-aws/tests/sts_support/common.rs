//! Shared helpers for the STS and base-credential tests against the rig's emulator.
#![allow(dead_code, unreachable_pub)] // each test file uses a different part

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use aws_credential_types::Credentials;
use iamwire_aws::cache::{CacheConfig, Clock, CredentialCache, SystemClock};
use iamwire_aws::sts::{CallerIdentity, StsRoleProvider, caller_identity};
use iamwire_testkit::moto::{CreatedUser, Moto};

/// The region every test uses.
pub const REGION: &str = "us-east-1";

/// Long-lived keys of an emulator user.
pub fn user_creds(user: &CreatedUser) -> Credentials {
    Credentials::new(
        &user.access_key_id,
        &user.secret_access_key,
        None,
        None,
        "test",
    )
}

/// A cache on the system clock.
pub fn cache() -> CredentialCache {
    cache_on(Arc::new(SystemClock))
}

/// A cache on `clock`.
pub fn cache_on(clock: Arc<dyn Clock>) -> CredentialCache {
    CredentialCache::new(CacheConfig::default(), clock)
}

/// A role provider starting from `base`, calling the emulator's STS.
pub fn provider(moto: &Moto, base: Credentials, cache: CredentialCache) -> StsRoleProvider {
    StsRoleProvider::for_region(base, REGION, Some(&moto.endpoint()), cache)
}

/// `sts:GetCallerIdentity` of `creds` at the emulator.
pub async fn whoami(moto: &Moto, creds: &Credentials) -> CallerIdentity {
    caller_identity(creds, REGION, Some(&moto.endpoint()))
        .await
        .unwrap()
}

/// The AssumeRole requests the emulator received, oldest first.
pub fn assume_role_requests(moto: &Moto) -> Vec<iamwire_testkit::moto::RecordedRequest> {
    moto.requests()
        .unwrap()
        .into_iter()
        .filter(|r| r.action().as_deref() == Some("AssumeRole"))
        .collect()
}

/// Let exactly the next `actions` requests through unauthenticated (as `Moto::setup` does for itself).
pub fn open_auth_window(moto: &Moto, actions: u32) {
    let body = actions.to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", moto.port())).unwrap();
    write!(
        stream,
        "POST /moto-api/reset-auth HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "{answer}"
    );
}
