//! One RESP login as the overhead harness makes it, shared with `tests/redis_burst.rs` (which runs it
//! the harness's way, many sessions polled on one task, through `iamwire run`): `AUTH` and `PING` in one
//! write, then `+OK` and `+PONG`.
//!
//! The write is flushed before the answer is awaited. Without the flush the bytes can stay in the TLS
//! library's buffer and never reach the proxy: tokio-rustls accepts a write into rustls and reports it
//! done even when the socket write returned `Pending`, which tokio's cooperative budget (128 operations
//! per task poll) forces when one task drives many sockets. That was the "1 session in 128 stalls"
//! of the 2026-11-30 overhead run: the proxy was idle because it had received nothing.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Send `auth` (a RESP `AUTH` command) and `PING` in one write, flush, and read `+OK` and `+PONG`.
///
/// # Errors
/// I/O errors, or an answer that is not `+OK` then `+PONG`.
pub(crate) async fn auth_and_ping<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    auth: &str,
) -> std::io::Result<()> {
    s.write_all(format!("{auth}*1\r\n$4\r\nPING\r\n").as_bytes())
        .await?;
    s.flush().await?;
    let want = b"+OK\r\n+PONG\r\n";
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).await?;
    if got != want {
        return Err(std::io::Error::other(format!(
            "unexpected answer {:?}",
            String::from_utf8_lossy(&got)
        )));
    }
    Ok(())
}
