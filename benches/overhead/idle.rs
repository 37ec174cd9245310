//! Memory per idle connection: open many tokio-postgres connections through a target (each runs one
//! query, so the proxy is past its handshake and relaying), hold them, read the proxy's RSS, close
//! them, read it again.

use std::time::Duration;

use crate::procfs;
use crate::targets::{Target, USER};

/// What holding the connections cost a proxy.
pub(crate) struct Idle {
    pub(crate) before_kib: u64,
    pub(crate) holding_kib: u64,
    pub(crate) per_conn_kib: f64,
    pub(crate) after_kib: u64,
    pub(crate) fds: usize,
    /// How many connections were held.
    pub(crate) held: usize,
}

/// Hold `count` idle connections through `t`; `None` for the database itself (no proxy to weigh).
pub(crate) fn measure(t: &Target, count: usize) -> Option<Idle> {
    let pid = t.pid?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (ca, cert) = t.tls_files();
    let read = |p: &std::path::Path| std::fs::read(p).expect("a TLS file");
    let cert = cert.map(|(c, k)| (read(&c), read(&k)));
    let tls = iamwire_core::tls::upstream_config(
        iamwire_core::TlsMode::VerifyFull,
        Some(&read(&ca)),
        cert.as_ref().map(|(c, k)| (&c[..], &k[..])),
    )
    .expect("client TLS");
    let connector = tokio_postgres_rustls::MakeRustlsConnect::new((*tls).clone());
    let mut config = tokio_postgres::Config::new();
    config
        .host("localhost")
        .port(t.port())
        .user(USER)
        .dbname("app")
        .ssl_mode(tokio_postgres::config::SslMode::Require)
        .connect_timeout(Duration::from_secs(60));
    rt.block_on(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before_kib = procfs::rss_kib(pid);
        let mut held = Vec::with_capacity(count);
        // A few at a time: this measures memory, not a connection storm.
        for chunk in (0..count).collect::<Vec<_>>().chunks(16) {
            let opened = chunk.iter().map(|_| {
                let (config, connector) = (config.clone(), connector.clone());
                async move {
                    let (client, conn) = config.connect(connector).await?;
                    let task = tokio::spawn(conn);
                    client.simple_query("SELECT 1").await?;
                    Ok::<_, tokio_postgres::Error>((client, task))
                }
            });
            for r in futures_join_all(opened).await {
                match r {
                    Ok(c) => held.push(c),
                    Err(e) => eprintln!("overhead: idle connection through {} failed: {e}", t.name),
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let holding_kib = procfs::rss_kib(pid);
        let fds = procfs::open_fds(pid);
        let n = held.len().max(1);
        for (client, task) in held.drain(..) {
            drop(client);
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        Some(Idle {
            before_kib,
            holding_kib,
            per_conn_kib: holding_kib.saturating_sub(before_kib) as f64 / n as f64,
            after_kib: procfs::rss_kib(pid),
            fds,
            held: n,
        })
    })
}

/// Run futures concurrently on this task and collect their outputs in order.
pub(crate) async fn futures_join_all<F: std::future::Future>(
    futs: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
