//! The two connections of a session as the framework holds them: [`ClientConn`] (TCP or unix socket,
//! plain until the protocol upgrades it to TLS) and [`UpstreamConn`] (always TLS), each with the bytes
//! read but not yet decoded. Protocols read and write through them; the framework keeps them across a
//! timeout so the client can still be told why its session ended.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use iamwire_core::tls::{PeerCertificate, peer_certificate};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::{TlsAcceptor, client, server};

use crate::local::LocalUser;
use crate::upstream::UpstreamEndpoint;

/// A client's transport: TCP or a unix socket.
#[derive(Debug)]
pub enum Transport {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A unix-socket connection.
    Unix(UnixStream),
}

macro_rules! delegate_io {
    ($ty:ty { $($variant:ident),+ }) => {
        impl AsyncRead for $ty {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_read(cx, buf),)+
                    #[allow(unreachable_patterns)]
                    _ => Poll::Ready(Err(gone())),
                }
            }
        }
        impl AsyncWrite for $ty {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_write(cx, buf),)+
                    #[allow(unreachable_patterns)]
                    _ => Poll::Ready(Err(gone())),
                }
            }
            fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_write_vectored(cx, bufs),)+
                    #[allow(unreachable_patterns)]
                    _ => Poll::Ready(Err(gone())),
                }
            }
            fn is_write_vectored(&self) -> bool {
                match self {
                    $(Self::$variant(s) => s.is_write_vectored(),)+
                    #[allow(unreachable_patterns)]
                    _ => false,
                }
            }
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_flush(cx),)+
                    #[allow(unreachable_patterns)]
                    _ => Poll::Ready(Ok(())),
                }
            }
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_shutdown(cx),)+
                    #[allow(unreachable_patterns)]
                    _ => Poll::Ready(Ok(())),
                }
            }
        }
    };
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection is gone")
}

delegate_io!(Transport { Tcp, Unix });

impl Transport {
    /// On a unix socket: the operating-system user of the process on the other end (`None` on TCP, or
    /// if the kernel does not say).
    pub fn local_user(&self) -> Option<LocalUser> {
        match self {
            Self::Unix(unix) => unix.peer_cred().ok().map(|cred| LocalUser::of(cred.uid())),
            Self::Tcp(_) => None,
        }
    }

    /// Resolves once the peer has sent something (TCP: a byte is there to read, or the connection was
    /// closed; a unix socket: the first readiness), reading nothing.
    ///
    /// # Errors
    /// I/O errors.
    pub async fn first_bytes(&self) -> io::Result<()> {
        match self {
            Self::Tcp(tcp) => tcp.peek(&mut [0u8; 1]).await.map(|_| ()),
            Self::Unix(unix) => unix.readable().await,
        }
    }

    /// Turn off Nagle's algorithm (TCP only): handshakes and small messages go out at once.
    pub fn set_nodelay(&self) {
        if let Self::Tcp(tcp) = self {
            let _ = tcp.set_nodelay(true);
        }
    }
}

/// The client's byte stream in its current state (what a stopped relay hands back for the goodbye).
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientStream {
    /// Before TLS (or a protocol that never upgrades before failing).
    Plain(Transport),
    /// After TLS.
    Tls(Box<server::TlsStream<Transport>>),
    /// Lost in a TLS handshake that did not finish.
    Gone,
}

delegate_io!(ClientStream { Plain, Tls });

/// Why [`ClientConn::start_tls`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StartTlsError {
    /// Bytes arrived before the TLS handshake; they would be taken as if protected by TLS.
    #[error("the client sent unencrypted data before the TLS handshake")]
    DataBeforeTls,
    /// The TLS handshake failed.
    #[error("TLS handshake with the client failed")]
    Tls(#[source] io::Error),
}

impl<E> From<StartTlsError> for crate::SessionError<E> {
    fn from(error: StartTlsError) -> Self {
        match error {
            StartTlsError::DataBeforeTls => Self::DataBeforeTls,
            StartTlsError::Tls(source) => Self::ClientTls { source },
        }
    }
}

/// The client side of a session.
pub struct ClientConn {
    stream: ClientStream,
    /// Bytes read from the client and not yet consumed by the protocol's decoder.
    pub buf: BytesMut,
    peer: Option<SocketAddr>,
    local_user: Option<LocalUser>,
    certificate: Option<PeerCertificate>,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for ClientConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConn")
            .field("peer", &self.peer)
            .field("tls", &self.is_tls())
            .field("certificate", &self.certificate)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl ClientConn {
    /// A plain connection from `peer`, to be upgraded with `acceptor`'s configuration.
    pub fn new(transport: Transport, peer: Option<SocketAddr>, acceptor: TlsAcceptor) -> Self {
        transport.set_nodelay();
        let local_user = transport.local_user();
        Self {
            stream: ClientStream::Plain(transport),
            buf: BytesMut::new(),
            peer,
            local_user,
            certificate: None,
            acceptor,
        }
    }

    /// The client's address (`None` on a unix socket).
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The client's verified certificate, once TLS is up and if it presented one.
    pub fn certificate(&self) -> Option<&PeerCertificate> {
        self.certificate.as_ref()
    }

    /// On a unix socket: the operating-system user of the process on the other end.
    pub fn local_user(&self) -> Option<&LocalUser> {
        self.local_user.as_ref()
    }

    /// Whether the client is on a unix socket of this host: nothing travels over a network, so
    /// protocols whose clients never use TLS there (PostgreSQL, MySQL) need not insist on it.
    pub fn is_local(&self) -> bool {
        self.local_user.is_some()
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, ClientStream::Tls(_))
    }

    /// Run the server side of a TLS handshake on the connection, with the proxy's listener
    /// configuration (and client-certificate verification). Refuses if bytes are already buffered: a
    /// client must not send anything between asking for TLS and the handshake.
    ///
    /// # Errors
    /// [`StartTlsError`]; after a failed handshake the connection is gone.
    pub async fn start_tls(&mut self) -> Result<(), StartTlsError> {
        if !self.buf.is_empty() {
            return Err(StartTlsError::DataBeforeTls);
        }
        let transport = match std::mem::replace(&mut self.stream, ClientStream::Gone) {
            ClientStream::Plain(transport) => transport,
            other => {
                self.stream = other;
                return Err(StartTlsError::Tls(io::Error::other("TLS is already up")));
            }
        };
        let tls = self
            .acceptor
            .accept(transport)
            .await
            .map_err(StartTlsError::Tls)?;
        self.certificate = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(peer_certificate);
        self.stream = ClientStream::Tls(Box::new(tls));
        Ok(())
    }

    /// Read whatever the client sends next into [`buf`](Self::buf).
    ///
    /// # Errors
    /// I/O errors; `UnexpectedEof` when the client closed the connection.
    pub async fn fill(&mut self) -> io::Result<()> {
        fill(&mut self.stream, &mut self.buf).await
    }

    /// Read at most `max` more bytes into [`buf`](Self::buf): for protocols whose clients go straight
    /// on from a request into the TLS handshake without waiting for an answer (MySQL's SSLRequest),
    /// so that nothing past the request is taken from the connection before
    /// [`start_tls`](Self::start_tls).
    ///
    /// # Errors
    /// I/O errors; `UnexpectedEof` when the client closed the connection.
    pub async fn fill_at_most(&mut self, max: usize) -> io::Result<()> {
        if max == 0 {
            return Ok(());
        }
        self.buf.reserve(max);
        match (&mut self.stream)
            .take(max as u64)
            .read_buf(&mut self.buf)
            .await?
        {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            _ => Ok(()),
        }
    }

    /// Write `bytes` and flush.
    ///
    /// # Errors
    /// I/O errors.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Close the write side (TLS close_notify first, where TLS is up).
    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// The stream and the bytes read but not decoded (for a protocol's own relay).
    pub fn into_parts(self) -> (ClientStream, BytesMut) {
        (self.stream, self.buf)
    }
}

/// The database side of a session: TLS, always (credentials never travel in plaintext).
#[derive(Debug)]
pub struct UpstreamConn {
    stream: Box<client::TlsStream<TcpStream>>,
    /// Bytes read from the database and not yet consumed by the protocol's decoder.
    pub buf: BytesMut,
    addr: String,
}

impl UpstreamConn {
    /// Run the client side of a TLS handshake on `tcp` with `endpoint`'s configuration (verify-full by
    /// default). `unread` must be empty: bytes the database sent before TLS were not protected by it.
    ///
    /// # Errors
    /// `InvalidData` for bytes before TLS, else the TLS or I/O error.
    pub async fn start_tls(
        endpoint: &UpstreamEndpoint,
        tcp: TcpStream,
        unread: &[u8],
    ) -> io::Result<Self> {
        if !unread.is_empty() {
            // CVE-2021-23222: bytes after the "yes, TLS" answer were not protected by TLS.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the database sent unencrypted data before the TLS handshake",
            ));
        }
        let tls = endpoint
            .connector()
            .connect(endpoint.server_name(), tcp)
            .await?;
        Ok(Self {
            stream: Box::new(tls),
            buf: BytesMut::new(),
            addr: endpoint.addr().to_owned(),
        })
    }

    /// The address dialed.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The database's certificate (DER), for channel binding (`tls-server-end-point`).
    pub fn peer_certificate_der(&self) -> Option<&[u8]> {
        self.stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first())
            .map(AsRef::as_ref)
    }

    /// Read whatever the database sends next into [`buf`](Self::buf).
    ///
    /// # Errors
    /// I/O errors; `UnexpectedEof` when the database closed the connection.
    pub async fn fill(&mut self) -> io::Result<()> {
        fill(&mut *self.stream, &mut self.buf).await
    }

    /// Write `bytes` and flush.
    ///
    /// # Errors
    /// I/O errors.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// The stream and the bytes read but not decoded (for a protocol's own relay).
    pub fn into_parts(self) -> (Box<client::TlsStream<TcpStream>>, BytesMut) {
        (self.stream, self.buf)
    }
}

async fn fill<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut BytesMut) -> io::Result<()> {
    if buf.capacity() - buf.len() < 512 {
        buf.reserve(4096);
    }
    match stream.read_buf(buf).await? {
        0 => Err(io::ErrorKind::UnexpectedEof.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iamwire_core::tls::{ClientAuth, server_config};

    #[tokio::test]
    async fn fill_at_most_leaves_the_rest_on_the_connection() {
        let ca = iamwire_testkit::TestCa::new().unwrap();
        let server = ca.server(iamwire_testkit::LOCAL_NAMES).unwrap();
        let tls = server_config(
            server.cert_pem.as_bytes(),
            server.key_pem.as_bytes(),
            None,
            ClientAuth::None,
        )
        .unwrap();
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let mut conn = ClientConn::new(Transport::Unix(ours), None, TlsAcceptor::from(tls));
        theirs.write_all(b"request+rest").await.unwrap();
        conn.fill_at_most(7).await.unwrap();
        assert_eq!(&conn.buf[..], b"request");
        conn.buf.clear();
        conn.fill().await.unwrap();
        assert_eq!(&conn.buf[..], b"+rest");
        conn.fill_at_most(0).await.unwrap();
        drop(theirs);
        assert_eq!(
            conn.fill_at_most(1).await.unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
