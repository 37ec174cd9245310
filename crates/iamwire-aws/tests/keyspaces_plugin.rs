//! Keyspaces SigV4 responses compared byte for byte with AWS's own Python plugin (`cassandra-sigv4`) at
//! a frozen time, over many credentials, regions, nonces and times (milliseconds included).
//!
//! The Python side is `tests/keyspaces_plugin.py`, run with the rig's venv; no network is used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use iamwire_aws::sigv4::keyspaces::{auth_response, extract_nonce};
use serde_json::{Value, json};

fn plugin_answers(cases: &[Value]) -> Vec<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keyspaces_plugin.py");
    let mut child = Command::new(iamwire_testkit::python())
        .arg(script)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the venv's python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(cases).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn responses_match_the_cassandra_sigv4_plugin() {
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    let regions = [
        "us-west-2",
        "us-east-1",
        "eu-central-1",
        "ap-southeast-2",
        "us-gov-west-1",
    ];
    let secrets = [
        "UserSecretKey-1",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..40u64 {
        let region = regions[(i % 5) as usize];
        let secret = secrets[(i % 2) as usize];
        let token = (i % 3 == 0).then(|| format!("IQoJb3JpZ2luX2Vj/{i}+token=="));
        let nonce: String = (0..32).map(|_| format!("{:x}", next() % 16)).collect();
        // A nonce followed by more text, as the plugin reads only 32 bytes of it.
        let challenge = if i % 4 == 1 {
            format!("nonce={nonce},extra")
        } else {
            format!("nonce={nonce}")
        };
        let millis = 1_500_000_000_000 + next() % 400_000_000_000;
        let creds = Credentials::new(format!("ASIA{i:016}"), secret, token.clone(), None, "t");
        let at = UNIX_EPOCH + Duration::from_millis(millis);
        let nonce = extract_nonce(challenge.as_bytes()).unwrap();
        let response = auth_response(&creds, region, nonce, at).unwrap();
        ours.push(String::from_utf8(response.expose().to_vec()).unwrap());
        cases.push(
            json!({"akid": format!("ASIA{i:016}"), "secret": secret, "token": token,
                          "region": region, "challenge": challenge, "millis": millis}),
        );
    }
    // The known-answer vector too.
    cases.push(
        json!({"akid": "UserID-1", "secret": "UserSecretKey-1", "token": null,
                      "region": "us-west-2", "challenge": "nonce=91703fdc2ef562e19fbdab0f58e42fe5",
                      "millis": 1_591_742_511_000_u64}),
    );
    ours.push(
        "signature=7f3691c18a81b8ce7457699effbfae5b09b4e0714ab38c1292dbdf082c9ddd87,\
         access_key=UserID-1,amzdate=2020-06-09T22:41:51.000Z"
            .to_owned(),
    );
    let theirs = plugin_answers(&cases);
    assert_eq!(theirs.len(), ours.len());
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "case {i}: {}", cases[i]);
    }
}
