//! `iamwire certs` run as a user would, and the certificates it issues used in a real mTLS handshake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use iamwire_core::TlsMode;
use iamwire_core::tls::{ClientAuth, peer_certificate, server_config, upstream_config};
use rustls::pki_types::ServerName;

/// No side of a test handshake waits longer than this for the other.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn iamwire(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iamwire"))
        .args(args)
        .output()
        .expect("run iamwire");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_ok(args: &[&str]) -> String {
    let (ok, out, err) = iamwire(args);
    assert!(ok, "iamwire {args:?} failed: {err}");
    out
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// One mTLS handshake over loopback: the proxy's listener config (server.crt/key, client CA, client
/// certificates required) against a client presenting `client`'s certificate. Returns the CN the server saw,
/// or the error either side hit.
fn handshake(pki: &Path, client_dir: &Path, client: &str) -> Result<Option<String>, String> {
    let server = server_config(
        &read(&pki.join("server.crt")),
        &read(&pki.join("server.key")),
        Some(&read(&pki.join("ca.crt"))),
        ClientAuth::Required,
    )
    .unwrap();
    let client_config = upstream_config(
        TlsMode::VerifyFull,
        Some(&read(&pki.join("ca.crt"))),
        Some((
            &read(&client_dir.join(format!("{client}.crt"))),
            &read(&client_dir.join(format!("{client}.key"))),
        )),
    )
    .unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server_side = std::thread::spawn(move || -> Result<Option<String>, String> {
        let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        let conn = rustls::ServerConnection::new(Arc::clone(&server)).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut ping = [0_u8; 4];
        tls.read_exact(&mut ping).map_err(|e| e.to_string())?;
        let cn = tls
            .conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(peer_certificate)
            .and_then(|p| p.common_name);
        tls.write_all(b"pong").map_err(|e| e.to_string())?;
        tls.flush().map_err(|e| e.to_string())?;
        Ok(cn)
    });

    let client_side = (|| -> Result<(), String> {
        let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(client_config, name).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(b"ping").map_err(|e| e.to_string())?;
        let mut pong = [0_u8; 4];
        tls.read_exact(&mut pong).map_err(|e| e.to_string())?;
        assert_eq!(&pong, b"pong");
        Ok(())
    })();
    let server_result = server_side.join().unwrap();
    client_side?;
    server_result
}

#[test]
fn init_then_client_gives_a_working_mtls_setup() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let clients = tmp.path().join("clients");
    let pki_s = pki.to_str().unwrap();

    let out = run_ok(&["certs", "init", "--dir", pki_s]);
    for file in ["ca.crt", "ca.key", "server.crt", "server.key"] {
        assert!(out.contains(&pki.join(file).display().to_string()), "{out}");
    }
    assert_eq!(mode(&pki.join("ca.key")), 0o600);
    assert_eq!(mode(&pki.join("server.key")), 0o600);
    assert_eq!(mode(&pki.join("ca.crt")), 0o644);

    let out = run_ok(&[
        "certs",
        "client",
        "--dir",
        pki_s,
        "--name",
        "alice",
        "--out",
        clients.to_str().unwrap(),
    ]);
    assert_eq!(mode(&clients.join("alice.key")), 0o600);
    let hint = format!(
        "sslrootcert={} sslcert={} sslkey={}",
        pki.join("ca.crt").display(),
        clients.join("alice.crt").display(),
        clients.join("alice.key").display()
    );
    assert!(out.contains(&hint), "{out}");
    assert!(!out.contains("PRIVATE KEY"), "{out}");

    assert_eq!(handshake(&pki, &clients, "alice"), Ok(Some("alice".into())));

    // `--out` defaults to the CA's directory.
    run_ok(&["certs", "client", "--dir", pki_s, "--name", "bob"]);
    assert_eq!(handshake(&pki, &pki, "bob"), Ok(Some("bob".into())));
}

#[test]
fn a_client_of_another_ca_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    run_ok(&["certs", "init", "--dir", ours.to_str().unwrap()]);
    run_ok(&["certs", "init", "--dir", theirs.to_str().unwrap()]);
    run_ok(&[
        "certs",
        "client",
        "--dir",
        theirs.to_str().unwrap(),
        "--name",
        "mallory",
    ]);
    // Mallory's certificate, presented to our proxy.
    for ext in ["crt", "key"] {
        let name = format!("mallory.{ext}");
        std::fs::copy(theirs.join(&name), tmp.path().join(&name)).unwrap();
    }
    assert!(handshake(&ours, tmp.path(), "mallory").is_err());
}

#[test]
fn existing_files_are_kept_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let pki_s = pki.to_str().unwrap();
    run_ok(&["certs", "init", "--dir", pki_s]);
    let ca_before = read(&pki.join("ca.crt"));
    let key_before = read(&pki.join("ca.key"));

    let (ok, _, err) = iamwire(&["certs", "init", "--dir", pki_s]);
    assert!(!ok);
    assert!(err.contains("ca.crt") && err.contains("--force"), "{err}");
    assert_eq!(read(&pki.join("ca.crt")), ca_before);
    assert_eq!(read(&pki.join("ca.key")), key_before);

    run_ok(&["certs", "client", "--dir", pki_s, "--name", "alice"]);
    let alice = read(&pki.join("alice.crt"));
    let (ok, _, err) = iamwire(&["certs", "client", "--dir", pki_s, "--name", "alice"]);
    assert!(!ok && err.contains("alice.crt"), "{err}");
    assert_eq!(read(&pki.join("alice.crt")), alice);

    // A loosened key is tightened again when forced.
    std::fs::set_permissions(
        pki.join("alice.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    run_ok(&[
        "certs", "client", "--dir", pki_s, "--name", "alice", "--force",
    ]);
    assert_ne!(read(&pki.join("alice.crt")), alice);
    assert_eq!(mode(&pki.join("alice.key")), 0o600);
    run_ok(&["certs", "init", "--dir", pki_s, "--force"]);
    assert_ne!(read(&pki.join("ca.crt")), ca_before);
    // alice's old certificate no longer chains to the new CA.
    assert!(handshake(&pki, &pki, "alice").is_err());
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let pki_s = pki.to_str().unwrap();
    let (ok, _, err) = iamwire(&[
        "certs",
        "init",
        "--dir",
        pki_s,
        "--hosts",
        "localhost,bad host",
    ]);
    assert!(!ok && err.contains("bad host"), "{err}");
    assert!(!pki.exists());

    // No CA yet.
    let (ok, _, err) = iamwire(&["certs", "client", "--dir", pki_s, "--name", "alice"]);
    assert!(!ok && err.contains("ca.crt"), "{err}");

    run_ok(&[
        "certs",
        "init",
        "--dir",
        pki_s,
        "--hosts",
        "proxy.internal,10.0.0.7",
    ]);
    for name in ["../escape", "", ".hidden", "a/b"] {
        let (ok, _, _) = iamwire(&["certs", "client", "--dir", pki_s, "--name", name]);
        assert!(!ok, "{name:?} accepted");
    }
    assert!(!tmp.path().join("escape.crt").exists());
}
