//! A test's trace logs captured in memory, and the check that no AWS secret is in them.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Capture {
    /// Capture every event at TRACE on this thread (use a current-thread runtime) until the guard drops.
    pub(crate) fn trace() -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(capture.clone())
            .finish();
        (capture, tracing::subscriber::set_default(subscriber))
    }

    /// What was logged so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Assert that `logs` hold none of `creds`' secrets (the session token also percent-encoded, as a
/// presigned token carries it), no presigned signature or token parameter, and none of `also`.
pub(crate) fn assert_no_aws_secret(logs: &str, creds: &Credentials, also: &[&str]) {
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "nothing captured"
    );
    let session_token = creds.session_token().expect("assumed-role credentials");
    let encoded: String = session_token
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let fixed = [
        creds.secret_access_key(),
        session_token,
        encoded.as_str(),
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    ];
    for secret in fixed.iter().chain(also) {
        assert!(!logs.contains(secret), "a secret leaked into the logs");
    }
}
