//! Bounds on client connections, so sockets that send nothing cannot hold the gateway's file
//! descriptors (and with them `/healthz`) forever:
//!
//! - at most `max_connections` are open; one more is closed as soon as it is accepted;
//! - a new connection must send its first byte within `first_byte_timeout_secs` (hyper's
//!   protocol detection would otherwise wait for it forever);
//! - a connection with no byte read or written for `idle_timeout_secs` is closed: an HTTP/1
//!   keep-alive connection between requests, or an HTTP/2 connection that sent only its preface.
//!
//! The guard wraps the TCP stream before TLS (if any), so it bounds TLS handshakes too.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::{Accept, DefaultAcceptor};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// An acceptor that applies the bounds, then hands the stream to `inner` (TLS, or nothing).
#[derive(Clone)]
pub struct ConnectionGuard<A = DefaultAcceptor> {
    inner: A,
    slots: Arc<Semaphore>,
    first_byte: Duration,
    idle: Duration,
}

impl ConnectionGuard {
    pub fn new(config: &epay_server::Config) -> Self {
        ConnectionGuard {
            inner: DefaultAcceptor,
            slots: Arc::new(Semaphore::new(config.max_connections)),
            first_byte: Duration::from_secs(config.first_byte_timeout_secs),
            idle: Duration::from_secs(config.idle_timeout_secs),
        }
    }
}

type Accepted<A, S> = io::Result<(<A as Accept<Bounded, S>>::Stream, <A as Accept<Bounded, S>>::Service)>;

impl<A, S> Accept<TcpStream, S> for ConnectionGuard<A>
where
    A: Accept<Bounded, S> + Clone + Send + 'static,
    A::Future: Send + 'static,
    S: Send + 'static,
{
    type Stream = A::Stream;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = Accepted<A, S>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let slot = self.slots.clone().try_acquire_owned();
        let (inner, first_byte, idle) = (self.inner.clone(), self.first_byte, self.idle);
        Box::pin(async move {
            let slot = slot.map_err(|_| io::Error::other("connection limit reached"))?;
            wait_for_first_byte(&stream, first_byte).await?;
            inner.accept(Bounded::new(stream, slot, idle), service).await
        })
    }
}

/// Waits until the client has sent something, without consuming it.
async fn wait_for_first_byte(stream: &TcpStream, within: Duration) -> io::Result<()> {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(within, stream.peek(&mut byte)).await {
        Ok(Ok(0)) => Err(io::ErrorKind::UnexpectedEof.into()),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no first byte")),
    }
}

/// A TCP stream that holds one connection slot and fails its reads once it has been idle for
/// `idle`. Activity only stamps a time; the timer is re-armed lazily when it fires, so the hot
/// path costs one clock read per read or write.
pub struct Bounded {
    stream: TcpStream,
    idle: Duration,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
    _slot: OwnedSemaphorePermit,
}

impl Bounded {
    fn new(stream: TcpStream, slot: OwnedSemaphorePermit, idle: Duration) -> Self {
        let now = Instant::now();
        Bounded { stream, idle, last_activity: now, timer: Box::pin(tokio::time::sleep_until(now + idle)), _slot: slot }
    }

    fn note_written(&mut self, written: &Poll<io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
            self.last_activity = Instant::now();
        }
    }

    /// True once the connection has been idle for the whole bound; otherwise the timer is
    /// armed to wake the task when it might be.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            let due = self.last_activity + self.idle;
            if due <= Instant::now() {
                return true;
            }
            self.timer.as_mut().reset(due);
        }
    }
}

impl AsyncRead for Bounded {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.last_activity = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if this.idle_expired(cx) => {
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "idle connection")))
            }
            other => other,
        }
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.note_written(&written);
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.note_written(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
