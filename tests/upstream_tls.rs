//! Upstream TLS fails closed, through `iamwire run`: with the database's certificate checked against
//! the wrong CA, or for a name the certificate does not carry, a login is refused with `08001` and a
//! hint at the TLS settings, and no token ever reaches the database (its IAM verifier, checked by
//! botocore through PAM, records no decision). With the right settings the same login succeeds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_run_support;

use e2e_run_support::{ALLOWED_CLIENT, Login, Stack, psycopg_login};
use iamwire_testkit::TestCa;
use iamwire_testkit::postgres::IAM_USER;

/// Rewrite the config's database TLS settings with `edit`, then restart the proxy.
fn retls(stack: &mut Stack, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(stack.config_path()).unwrap();
    std::fs::write(stack.config_path(), edit(text)).unwrap();
    stack.restart_proxy();
}

fn refused(stack: &Stack) -> String {
    match psycopg_login(&stack.dsn(ALLOWED_CLIENT)) {
        Login::Refused { sqlstate, text } => {
            assert_eq!(sqlstate, "08001", "{text}");
            text
        }
        Login::User(user) => panic!("logged in as {user} through an unverified database"),
    }
}

#[test]
fn a_database_certificate_that_does_not_verify_gets_no_token() {
    let mut stack = Stack::start();
    assert!(matches!(
        psycopg_login(&stack.dsn(ALLOWED_CLIENT)),
        Login::User(u) if u == IAM_USER
    ));
    let decisions = stack.pg.pam().decisions().len();
    assert!(decisions > 0, "the verifier saw the good login");

    // Another CA: the database's certificate does not chain to it.
    let other = TestCa::new().unwrap();
    std::fs::write(stack.file("other-ca.crt"), other.cert_pem()).unwrap();
    retls(&mut stack, |t| {
        t.replace("ca_cert_file: db-ca.crt", "ca_cert_file: other-ca.crt")
    });
    let text = refused(&stack);
    assert!(text.contains("TLS handshake with the database"), "{text}");
    assert!(text.contains("tls.ca_cert_file"), "{text}");

    // The right CA, but a name the certificate does not carry.
    retls(&mut stack, |t| {
        t.replace(
            "ca_cert_file: other-ca.crt",
            "ca_cert_file: db-ca.crt\n      server_name: db.elsewhere.example",
        )
    });
    let text = refused(&stack);
    assert!(text.contains("tls.server_name"), "{text}");
    assert_eq!(
        stack.pg.pam().decisions().len(),
        decisions,
        "a token reached the database through a certificate that did not verify"
    );

    // Put right: the same login succeeds.
    retls(&mut stack, |t| {
        t.replace("\n      server_name: db.elsewhere.example", "")
    });
    assert!(matches!(
        psycopg_login(&stack.dsn(ALLOWED_CLIENT)),
        Login::User(u) if u == IAM_USER
    ));
}
