//! The network steps of `iamwire doctor`: DNS, TCP, and TLS with the database's configured CA and name.

use std::net::SocketAddr;
use std::time::Duration;

use iamwire_core::{Database, TlsMode};
use iamwire_proxy::UpstreamEndpoint;
use tokio::net::TcpStream;

use super::{Report, Step, within};
use crate::proxy_config::Listener;

/// The database's endpoint (host, port, the name its certificate must carry, and the TLS policy the
/// proxy uses); `None` after a failed step.
pub(super) fn endpoint(listener: &Listener, report: &mut Report) -> Option<UpstreamEndpoint> {
    match UpstreamEndpoint::for_database(&listener.database, listener.upstream_tls.clone()) {
        Ok(endpoint) => Some(endpoint),
        Err(e) => {
            report.step(
                "DNS",
                Step::failed(
                    e.to_string(),
                    "write the database's uri as host:port (db_service.databases[].uri)",
                ),
            );
            None
        }
    }
}

/// The addresses the host resolves to; `None` after a failed step.
pub(super) async fn dns(
    endpoint: &UpstreamEndpoint,
    limit: Duration,
    report: &mut Report,
) -> Option<Vec<SocketAddr>> {
    let host = endpoint.host();
    let fix = format!(
        "check the host name {host:?} in the database's uri, and this machine's resolver (VPC DNS, \
         /etc/resolv.conf)"
    );
    let looked_up = within(limit, tokio::net::lookup_host((host, endpoint.port()))).await;
    let step = match looked_up {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Step::failed(format!("{host} has no addresses"), fix)
            } else {
                let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                report.step("DNS", Step::Ok(format!("{host} -> {}", shown.join(", "))));
                return Some(addrs);
            }
        }
        Ok(Err(e)) => Step::failed(format!("cannot resolve {host}: {e}"), fix),
        Err(waited) => Step::failed(format!("resolving {host}: {waited}"), fix),
    };
    report.step("DNS", step);
    None
}

/// A TCP connection to the first address that accepts one; `None` after a failed step.
pub(super) async fn tcp(
    endpoint: &UpstreamEndpoint,
    addrs: &[SocketAddr],
    limit: Duration,
    report: &mut Report,
) -> Option<TcpStream> {
    let mut problems = Vec::new();
    for addr in addrs {
        match within(limit, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => {
                report.step("TCP", Step::Ok(format!("connected to {addr}")));
                return Some(tcp);
            }
            Ok(Err(e)) => problems.push(format!("{addr}: {e}")),
            Err(waited) => problems.push(format!("{addr}: {waited}")),
        }
    }
    report.step(
        "TCP",
        Step::failed(
            format!("cannot connect to {} ({})", endpoint.addr(), problems.join("; ")),
            format!(
                "make sure the database runs and listens on port {}, and that security groups, network \
                 ACLs and firewalls let this host reach it",
                endpoint.port()
            ),
        ),
    );
    None
}

/// TLS from the first byte (Redis, Keyspaces, HTTP databases); `false` after a failed step.
pub(super) async fn direct_tls(
    db: &Database,
    endpoint: &UpstreamEndpoint,
    tcp: TcpStream,
    limit: Duration,
    report: &mut Report,
) -> bool {
    let handshake = endpoint.connector().connect(endpoint.server_name(), tcp);
    let step = match within(limit, handshake).await {
        Ok(Ok(tls)) => verified(db, endpoint, tls.get_ref().1.protocol_version()),
        Ok(Err(e)) => tls_failure(db, endpoint, &e),
        Err(waited) => Step::failed(
            format!("TLS handshake: {waited}"),
            "check that the port speaks TLS",
        ),
    };
    report.step("TLS", step)
}

/// The ✓ line of a finished handshake.
pub(super) fn verified(
    db: &Database,
    endpoint: &UpstreamEndpoint,
    version: Option<rustls::ProtocolVersion>,
) -> Step {
    let version = match version {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_owned(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_owned(),
        Some(other) => format!("{other:?}"),
        None => "TLS".to_owned(),
    };
    let ca = db.tls.ca_cert_file.as_deref().unwrap_or("no CA file");
    let name = endpoint.server_name().to_str().into_owned();
    Step::Ok(match db.tls.mode {
        TlsMode::VerifyFull => {
            format!("{version}, certificate verified against {ca} and valid for {name}")
        }
        TlsMode::VerifyCa => {
            format!("{version}, certificate verified against {ca} (name not checked: verify-ca)")
        }
        _ => format!("{version}, certificate NOT verified (tls.mode: insecure)"),
    })
}

/// A failed handshake, said as what the certificate check found and what to change.
pub(super) fn tls_failure(db: &Database, endpoint: &UpstreamEndpoint, e: &std::io::Error) -> Step {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    tls_refused(db, endpoint, rustls_error, &e.to_string())
}

/// A refused certificate (`rustls_error`, if known; `shown` is the error as text) and what to change.
pub(super) fn tls_refused(
    db: &Database,
    endpoint: &UpstreamEndpoint,
    rustls_error: Option<&rustls::Error>,
    shown: &str,
) -> Step {
    use rustls::CertificateError as C;
    let ca = db.tls.ca_cert_file.as_deref().unwrap_or("(none)");
    let name = endpoint.server_name().to_str().into_owned();
    let fix = match rustls_error {
        Some(rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature)) => format!(
            "the database's certificate is not issued by a CA in tls.ca_cert_file ({ca}): point it at \
             the database's CA bundle (for RDS, the global bundle from truststore.pki.rds.amazonaws.com)"
        ),
        Some(rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        )) => format!(
            "the certificate does not name {name}: use a host name on the certificate in the uri, or set \
             tls.server_name to one"
        ),
        Some(rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. })) => {
            "the database's certificate has expired (or this machine's clock is wrong)".to_owned()
        }
        _ => format!(
            "check that {} speaks TLS with a certificate from tls.ca_cert_file ({ca})",
            endpoint.addr()
        ),
    };
    Step::failed(
        format!("handshake with {} failed: {shown}", endpoint.addr()),
        fix,
    )
}
