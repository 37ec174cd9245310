//! Memory per idle Redis connection, and many of them at once: open `count` connections through a hop
//! (TLS with the hop's files, or plaintext), log each in and answer one `PING` (so a proxy is past its
//! handshake, logged in upstream and relaying), hold them, read the proxy's RSS and descriptors, close
//! them, and read its RSS again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::idle::{Idle, futures_join_all};
use crate::procfs;

/// How to reach a hop: its port, TLS (CA, client certificate and key) or none, and the AUTH command
/// (RESP, see [`auth`]).
pub(crate) struct Reach {
    pub(crate) port: u16,
    pub(crate) tls: Option<(PathBuf, Option<(PathBuf, PathBuf)>)>,
    pub(crate) auth: String,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

async fn open(
    reach: &Reach,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> std::io::Result<Box<dyn Stream>> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", reach.port)).await?;
    let mut s: Box<dyn Stream> = match tls {
        Some(connector) => {
            let name = rustls::pki_types::ServerName::try_from("localhost")
                .map_err(std::io::Error::other)?;
            Box::new(connector.connect(name, tcp).await?)
        }
        None => Box::new(tcp),
    };
    crate::resp_login::auth_and_ping(&mut s, &reach.auth).await?;
    Ok(s)
}

/// Hold `count` idle connections through the process `pid` reached as `reach`.
pub(crate) fn measure(name: &str, pid: u32, reach: &Reach, count: usize) -> Idle {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let connector = reach.tls.as_ref().map(|(ca, cert)| {
        let read = |p: &std::path::Path| std::fs::read(p).expect("a TLS file");
        let cert = cert.as_ref().map(|(c, k)| (read(c), read(k)));
        let config = iamwire_core::tls::upstream_config(
            iamwire_core::TlsMode::VerifyFull,
            Some(&read(ca)),
            cert.as_ref().map(|(c, k)| (&c[..], &k[..])),
        )
        .expect("client TLS");
        tokio_rustls::TlsConnector::from(Arc::clone(&config))
    });
    rt.block_on(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before_kib = procfs::rss_kib(pid);
        let started = Instant::now();
        let mut held = Vec::with_capacity(count);
        let mut failed = 0usize;
        // A bounded number at a time: this measures memory, not a connection storm.
        for chunk in (0..count).collect::<Vec<_>>().chunks(64) {
            // Every wait has a bound: a connection that does not answer in time counts as failed.
            let opened = chunk.iter().map(|_| async {
                tokio::time::timeout(Duration::from_secs(15), open(reach, connector.as_ref()))
                    .await
                    .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
            });
            for r in futures_join_all(opened).await {
                match r {
                    Ok(c) => held.push(c),
                    Err(e) => {
                        failed += 1;
                        if failed <= 3 {
                            eprintln!("overhead: idle connection through {name} failed: {e}");
                        }
                    }
                }
            }
        }
        eprintln!(
            "overhead: {} idle connections through {name} in {:.1} s ({failed} failed)",
            held.len(),
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let holding_kib = procfs::rss_kib(pid);
        let fds = procfs::open_fds(pid);
        let n = held.len().max(1);
        let ok = held.len();
        for mut s in held.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), s.shutdown()).await;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        Idle {
            before_kib,
            holding_kib,
            per_conn_kib: holding_kib.saturating_sub(before_kib) as f64 / n as f64,
            after_kib: procfs::rss_kib(pid),
            fds,
            held: ok,
        }
    })
}

/// `AUTH` with `args` as a RESP array (proxies take no inline commands).
pub(crate) fn auth(args: &[&str]) -> String {
    let mut s = format!("*{}\r\n$4\r\nAUTH\r\n", args.len() + 1);
    for a in args {
        s.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s
}
