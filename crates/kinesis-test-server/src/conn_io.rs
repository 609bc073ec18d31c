//! The socket of one connection, able to end with a reset (RST) instead of a close (FIN).

use socket2::SockRef;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Lets a request handler end its own connection without answering.
#[derive(Default)]
pub(crate) struct ConnectionControl {
    action: AtomicU8,
    notify: Notify,
}

// 0: keep the connection open.
const DROP: u8 = 1;
const RESET: u8 = 2;

impl ConnectionControl {
    /// Closes the connection (FIN) without answering the request in flight.
    pub fn drop_connection(&self) {
        self.action.store(DROP, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// Resets the connection (RST).
    pub fn reset_connection(&self) {
        self.action.store(RESET, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// Resolves once a handler asked to end the connection.
    pub async fn ended(&self) {
        self.notify.notified().await;
    }

    fn wants_reset(&self) -> bool {
        self.action.load(Ordering::SeqCst) == RESET
    }
}

/// A TCP stream that sets SO_LINGER to zero before closing when a reset was asked for,
/// which makes the kernel send RST.
pub(crate) struct ConnIo {
    stream: TcpStream,
    control: Arc<ConnectionControl>,
}

impl ConnIo {
    pub fn new(stream: TcpStream, control: Arc<ConnectionControl>) -> Self {
        ConnIo { stream, control }
    }
}

impl Drop for ConnIo {
    fn drop(&mut self) {
        if self.control.wants_reset() {
            // Best effort: if this fails the peer sees a normal close instead.
            let _ = SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
