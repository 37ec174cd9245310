use std::sync::Arc;

use iamwire_testkit::{CertifiedKey, TestCa};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// Handshake a server config against a client config over loopback; returns the server's view of the client
/// certificate on success.
async fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    name: &str,
) -> Result<Option<PeerCertificate>, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = tokio_rustls::TlsAcceptor::from(server)
            .accept(tcp)
            .await
            .map_err(|e| e.to_string())?;
        let peer = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| peer_certificate(c));
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        tls.write_all(b"pong").await.map_err(|e| e.to_string())?;
        Ok::<_, String>(peer)
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(name.to_string()).unwrap();
    let client_side = async {
        let mut tls = tokio_rustls::TlsConnector::from(client)
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(b"ping").await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    };
    let client_result = client_side.await;
    let server_result = accept.await.unwrap();
    client_result?;
    server_result
}

struct Pki {
    ca: TestCa,
    server: CertifiedKey,
    alice: CertifiedKey,
}

fn pki() -> Pki {
    let ca = TestCa::new().unwrap();
    let server = ca.server(&["localhost", "127.0.0.1"]).unwrap();
    let alice = ca.client("alice", &["alice.example.com"]).unwrap();
    Pki { ca, server, alice }
}

fn server(p: &Pki, auth: ClientAuth) -> Arc<ServerConfig> {
    let ca = p.ca.cert_pem().as_bytes();
    server_config(
        p.server.cert_pem.as_bytes(),
        p.server.key_pem.as_bytes(),
        Some(ca),
        auth,
    )
    .unwrap()
}

#[tokio::test]
async fn upstream_modes_verify_what_they_promise() {
    let p = pki();
    let other = TestCa::new().unwrap();
    let ca = p.ca.cert_pem().as_bytes();
    let srv = server(&p, ClientAuth::None);
    let full = upstream_config(TlsMode::VerifyFull, Some(ca), None).unwrap();
    assert!(
        handshake(srv.clone(), full.clone(), "localhost")
            .await
            .is_ok()
    );
    let wrong_name = handshake(srv.clone(), full, "db.example.com")
        .await
        .unwrap_err();
    assert!(
        wrong_name.contains("NotValidForName") || wrong_name.contains("not valid for name"),
        "{wrong_name}"
    );
    // verify-ca accepts another name but not another CA.
    let verify_ca = upstream_config(TlsMode::VerifyCa, Some(ca), None).unwrap();
    assert!(
        handshake(srv.clone(), verify_ca, "db.example.com")
            .await
            .is_ok()
    );
    let other_ca =
        upstream_config(TlsMode::VerifyCa, Some(other.cert_pem().as_bytes()), None).unwrap();
    assert!(handshake(srv.clone(), other_ca, "localhost").await.is_err());
    let other_full =
        upstream_config(TlsMode::VerifyFull, Some(other.cert_pem().as_bytes()), None).unwrap();
    assert!(
        handshake(srv.clone(), other_full, "localhost")
            .await
            .is_err()
    );
    // insecure accepts anything; verifying modes refuse to run without a CA.
    let insecure = upstream_config(TlsMode::Insecure, None, None).unwrap();
    assert!(handshake(srv, insecure, "anything.example").await.is_ok());
    assert!(upstream_config(TlsMode::VerifyFull, None, None).is_err());
}

#[tokio::test]
async fn mtls_identifies_the_client_and_required_refuses_anonymous() {
    let p = pki();
    let ca = p.ca.cert_pem().as_bytes();
    let with_cert = upstream_config(
        TlsMode::VerifyFull,
        Some(ca),
        Some((p.alice.cert_pem.as_bytes(), p.alice.key_pem.as_bytes())),
    )
    .unwrap();
    let anonymous = upstream_config(TlsMode::VerifyFull, Some(ca), None).unwrap();

    let peer = handshake(
        server(&p, ClientAuth::Required),
        with_cert.clone(),
        "localhost",
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(peer.common_name.as_deref(), Some("alice"));
    assert_eq!(peer.dns_names, vec!["alice.example.com".to_string()]);
    assert_eq!(peer.identity().unwrap().name(), "alice");
    assert!(
        handshake(
            server(&p, ClientAuth::Required),
            anonymous.clone(),
            "localhost"
        )
        .await
        .is_err()
    );

    assert_eq!(
        handshake(server(&p, ClientAuth::Optional), anonymous, "localhost")
            .await
            .unwrap(),
        None
    );
    // A certificate from another CA is refused even when certificates are optional.
    let other = TestCa::new().unwrap();
    let mallory = other.client("alice", &[]).unwrap();
    let forged = upstream_config(
        TlsMode::VerifyFull,
        Some(ca),
        Some((mallory.cert_pem.as_bytes(), mallory.key_pem.as_bytes())),
    )
    .unwrap();
    assert!(
        handshake(server(&p, ClientAuth::Optional), forged, "localhost")
            .await
            .is_err()
    );
}

#[test]
fn bad_inputs_are_errors() {
    let p = pki();
    assert!(matches!(
        server_config(b"", p.server.key_pem.as_bytes(), None, ClientAuth::None),
        Err(TlsError::Pem { .. })
    ));
    assert!(
        server_config(
            p.server.cert_pem.as_bytes(),
            b"junk",
            None,
            ClientAuth::None
        )
        .is_err()
    );
    assert!(matches!(
        server_config(
            p.server.cert_pem.as_bytes(),
            p.server.key_pem.as_bytes(),
            None,
            ClientAuth::Required
        ),
        Err(TlsError::ClientVerifier { .. })
    ));
    // A key that does not match the certificate.
    assert!(
        server_config(
            p.server.cert_pem.as_bytes(),
            p.alice.key_pem.as_bytes(),
            None,
            ClientAuth::None
        )
        .is_err()
    );
}
