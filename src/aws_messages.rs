//! AWS failures as the command line says them: one line for what failed and one for what to do, like the
//! AWS CLI ("Unable to locate credentials. You can configure credentials by running \"aws configure\"."),
//! never a `Debug` dump of an SDK error, and nothing about retrying in a command that runs once.

use iamwire_aws::role::RoleError;
use iamwire_aws::sts::StsError;

/// What to do when no credential source gave credentials.
const NO_CREDENTIALS_FIX: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), \
     or aws.env_file in the config / --env-file, or run with an instance, task or web-identity role";

/// What to do when STS cannot be reached.
const UNREACHABLE_FIX: &str = "check the network path to STS and AWS_ENDPOINT_URL / \
     AWS_ENDPOINT_URL_STS (environment or env file), then try again";

/// `(what failed, what to do)` for an STS call other than AssumeRole.
pub(crate) fn sts(e: &StsError) -> (String, String) {
    match e {
        StsError::Credentials { message } if message.contains("no credentials found") => (
            "no AWS credentials found (tried the environment, profiles, web identity, container and \
             instance metadata)"
                .into(),
            NO_CREDENTIALS_FIX.into(),
        ),
        StsError::Credentials { message } => (
            format!(
                "cannot load AWS credentials: {}",
                message.lines().next().unwrap_or_default()
            ),
            NO_CREDENTIALS_FIX.into(),
        ),
        StsError::Call {
            operation,
            code: None,
            message,
            ..
        } => (
            format!("cannot reach STS for sts:{operation}: {}", last_cause(message)),
            UNREACHABLE_FIX.into(),
        ),
        StsError::Call {
            operation,
            code: Some(code),
            message,
            ..
        } => {
            let fix = match code.as_str() {
                "InvalidClientTokenId" | "UnrecognizedClientException" => {
                    "the access key id is not known to AWS: check AWS_ACCESS_KEY_ID (or the profile)"
                }
                "SignatureDoesNotMatch" => {
                    "the secret access key does not match the key id: check AWS_SECRET_ACCESS_KEY"
                }
                "ExpiredToken" | "ExpiredTokenException" => {
                    "the session credentials have expired: get new ones (e.g. aws sso login)"
                }
                _ => "check the proxy's AWS credentials and the STS endpoint",
            };
            (
                format!("sts:{operation} refused ({code}): {message}"),
                fix.into(),
            )
        }
        other => split(&other.to_string()),
    }
}

/// A role-chain failure on one line: what failed, then what to do.
pub(crate) fn role(e: &RoleError) -> String {
    match e {
        RoleError::BaseCredentials { message, .. } => one_line(sts(&StsError::Credentials {
            message: message.clone(),
        })),
        RoleError::AssumeRole(f) if f.code.is_none() && f.retryable => format!(
            "cannot reach STS for sts:AssumeRole of {}: {}; {UNREACHABLE_FIX}",
            f.role_arn,
            last_cause(&f.message)
        ),
        other => other.to_string(),
    }
}

/// The innermost cause of a `a: b: c` chain (`Connection refused (os error 111)`).
fn last_cause(message: &str) -> &str {
    message.rsplit(": ").next().unwrap_or(message).trim()
}

/// A message of the form `what failed; what to do` split in two (the crate errors' convention); the
/// whole message and a generic fix when it has no `; `.
pub(crate) fn split(message: &str) -> (String, String) {
    match message.rsplit_once("; ") {
        Some((what, fix)) => (what.to_owned(), fix.to_owned()),
        None => (
            message.to_owned(),
            "check the proxy's AWS credentials, the role and the STS endpoint".to_owned(),
        ),
    }
}

/// `what` and `fix` as the one line the CLI prints after `iamwire: `.
pub(crate) fn one_line((what, fix): (String, String)) -> String {
    format!("{what}; {fix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_sts_is_one_line_with_the_cause() {
        let e = StsError::Call {
            operation: "GetCallerIdentity",
            code: None,
            message: "dispatch failure: io error: client error (Connect): tcp connect error: \
                      Connection refused (os error 111)"
                .into(),
            retryable: true,
        };
        let line = one_line(sts(&e));
        assert!(!line.contains('\n') && !line.contains('{'), "{line}");
        assert!(line.starts_with("cannot reach STS for sts:GetCallerIdentity: Connection refused"));
        assert!(!line.contains("retr"), "{line}");
    }

    #[test]
    fn no_credentials_is_one_line() {
        let e = StsError::Credentials {
            message: "the credential provider was not enabled: no credentials found in chain. \
                      Attempted:\n  Environment: ...\n  Ec2InstanceMetadata: IMDS disabled"
                .into(),
        };
        let line = one_line(sts(&e));
        assert!(!line.contains('\n'), "{line}");
        assert!(line.starts_with("no AWS credentials found"), "{line}");
        assert!(line.contains("AWS_ACCESS_KEY_ID"));
    }
}
