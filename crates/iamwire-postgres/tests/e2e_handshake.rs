//! The client side of the handshake with raw bytes and real clients, no database needed:
//! GSSENCRequest declined, data after SSLRequest refused, handshake timeout, connection limit,
//! unknown cancel keys dropped silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_support::*;
use iamwire_core::StaticPasswordInjector;
use iamwire_testkit::TestCa;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn request(code: i32, extra: &[u8]) -> Vec<u8> {
    let len = i32::try_from(8 + extra.len()).unwrap();
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(extra);
    out
}

async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("the proxy closes the connection")
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_handshake_rules() {
    let ca = TestCa::new().unwrap();
    let injector = Arc::new(StaticPasswordInjector::new("unused"));
    let (_proxy, addr) = start_proxy(&ca, database(1), injector, &["app"], |b| {
        b.handshake_timeout(Duration::from_secs(1))
    })
    .await;

    // GSSENCRequest is declined with 'N'; then bytes after an SSLRequest are refused.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&request(80_877_104, &[])).await.unwrap();
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"N");
    let mut ssl = request(80_877_103, &[]);
    ssl.extend_from_slice(b"injected");
    stream.write_all(&ssl).await.unwrap();
    let reply = read_to_end(&mut stream).await;
    assert_eq!(reply.first(), Some(&b'E'));
    assert!(reply.windows(5).any(|w| w == b"08P01"));

    // A second GSSENCRequest is refused, as PostgreSQL refuses it: a client cannot keep the handshake
    // answering 'N' to a stream of requests until the timeout.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let gss = request(80_877_104, &[]);
    stream.write_all(&gss.repeat(100)).await.unwrap();
    let reply = read_to_end(&mut stream).await;
    assert_eq!(reply.first(), Some(&b'N'), "{reply:?}");
    assert_eq!(reply.get(1), Some(&b'E'), "{reply:?}");
    assert!(reply.windows(5).any(|w| w == b"08P01"), "{reply:?}");

    // A client that says nothing is cut off after the handshake timeout.
    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let _ = read_to_end(&mut silent).await;
    assert!(started.elapsed() < Duration::from_secs(10));

    // An unknown cancel key is dropped without an answer.
    let mut cancel = TcpStream::connect(addr).await.unwrap();
    let mut body = 1234_i32.to_be_bytes().to_vec();
    body.extend_from_slice(&5678_i32.to_be_bytes());
    cancel.write_all(&request(80_877_102, &body)).await.unwrap();
    assert!(read_to_end(&mut cancel).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_connection_limit_is_53300() {
    let ca = TestCa::new().unwrap();
    let injector = Arc::new(StaticPasswordInjector::new("unused"));
    let (_proxy, addr) = start_proxy(&ca, database(1), injector, &["app"], |b| {
        b.max_connections(0)
    })
    .await;
    let Err(error) = connect(addr, "app", "app", client_tls(&ca, "alice")).await else {
        panic!("over the limit must fail")
    };
    assert_eq!(code(&error).as_deref(), Some("53300"), "{error}");
}
