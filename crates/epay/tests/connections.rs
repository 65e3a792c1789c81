//! Connection bounds (issue 15, item 8): a socket that sends nothing, or an HTTP/2 connection
//! that sends only its preface, is closed after its bound, and a flood of silent sockets cannot
//! hold more than `max_connections` open nor keep `/healthz` from answering. Small limits keep
//! the tests fast.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const FIRST_BYTE_SECS: u64 = 2;
const IDLE_SECS: u64 = 3;
const MAX_CONNECTIONS: usize = 50;
/// The flood test's first-byte bound: long enough that counting the open sockets ends before
/// any is reaped, even on a loaded machine.
const FLOOD_FIRST_BYTE_SECS: u64 = 15;

async fn gateway(backend: Backend) -> Gateway {
    gateway_with_first_byte(backend, FIRST_BYTE_SECS).await
}

async fn gateway_with_first_byte(backend: Backend, first_byte_secs: u64) -> Gateway {
    Gateway::start_with(
        backend,
        &[
            ("EPAY_FIRST_BYTE_TIMEOUT_SECS", &first_byte_secs.to_string()),
            ("EPAY_IDLE_TIMEOUT_SECS", &IDLE_SECS.to_string()),
            ("EPAY_REQUEST_TIMEOUT_SECS", "2"),
            ("EPAY_MAX_CONNECTIONS", &MAX_CONNECTIONS.to_string()),
        ],
    )
    .await
}

fn address(gw: &Gateway) -> String {
    gw.url.trim_start_matches("http://").to_string()
}

/// Reads (and drops) whatever the server sends until it closes the connection; how long that
/// took, or `None` if it was still open after `within`.
async fn closed_after(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let closed = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(within, closed).await.ok().map(|_| started.elapsed())
}

#[tokio::test]
async fn silent_and_preface_only_connections_are_closed_after_their_bound() {
    for backend in backends() {
        let gw = gateway(backend).await;
        let mut silent = TcpStream::connect(address(&gw)).await.unwrap();
        let took = closed_after(&mut silent, Duration::from_secs(FIRST_BYTE_SECS + 3))
            .await
            .expect("a socket that sends nothing is closed");
        assert!(
            took >= Duration::from_millis(FIRST_BYTE_SECS * 1000 - 200),
            "closed after the bound, not at once: {took:?}"
        );

        // HTTP/2 with prior knowledge: the preface and an empty SETTINGS frame, then nothing.
        let mut h2 = TcpStream::connect(address(&gw)).await.unwrap();
        h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").await.unwrap();
        let took = closed_after(&mut h2, Duration::from_secs(IDLE_SECS + 3))
            .await
            .expect("an HTTP/2 connection that stays idle is closed");
        assert!(took >= Duration::from_millis(IDLE_SECS * 1000 - 200), "closed after the idle bound: {took:?}");

        // A connection in use is not cut: a keep-alive client makes requests across the bound.
        for _ in 0..3 {
            let health = gw.http.get(format!("{}/healthz", gw.url)).send().await.unwrap();
            assert_eq!(health.status(), 200);
            tokio::time::sleep(Duration::from_millis(IDLE_SECS * 1000 / 2)).await;
        }
    }
}

#[tokio::test]
async fn healthz_answers_while_1100_silent_sockets_are_attempted() {
    for backend in backends() {
        let gw = gateway_with_first_byte(backend, FLOOD_FIRST_BYTE_SECS).await;
        let started = Instant::now();
        let mut sockets = Vec::new();
        for _ in 0..1100 {
            if let Ok(socket) = TcpStream::connect(address(&gw)).await {
                sockets.push(socket);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Before the first-byte bound has reaped anything, the gateway holds at most
        // `max_connections` of them and has closed the rest.
        let open = sockets
            .iter()
            .filter(|s| {
                let mut byte = [0u8; 1];
                matches!(s.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            })
            .count();
        assert!(started.elapsed() < Duration::from_secs(FLOOD_FIRST_BYTE_SECS), "the flood took too long to check");
        assert!(open <= MAX_CONNECTIONS, "{open} of {} silent sockets are held open", sockets.len());

        // Once the silent ones are reaped, /healthz answers (while the flood sockets stay open
        // on our side).
        let deadline = Instant::now() + Duration::from_secs(FLOOD_FIRST_BYTE_SECS + 5);
        loop {
            let answer = gw.http.get(format!("{}/healthz", gw.url)).timeout(Duration::from_secs(1)).send().await;
            if matches!(&answer, Ok(r) if r.status() == 200) {
                break;
            }
            assert!(Instant::now() < deadline, "/healthz did not answer: {answer:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(sockets);
    }
}
