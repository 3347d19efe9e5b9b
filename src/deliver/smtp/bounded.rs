//! The socket an SMTP exchange runs on, with a bound on what the server may
//! send between two of chime's writes.
//!
//! lettre reads a reply a line at a time and checks its length only once
//! the line has ended, so a server that sends one line without end would be
//! read into memory until the try's time is up (a gigabyte in seconds on a
//! fast link). SMTP is a dialogue: the server answers each command with a
//! few lines, and a greeting, an EHLO list or a TLS handshake are kilobytes.
//! So the bytes read since chime last wrote are counted, and past
//! [`MAX_UNPROMPTED`] the read fails, and the try with it.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

#[allow(deprecated)]
use lettre::transport::smtp::client::{AsyncNetworkStream, AsyncTokioStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The most a server may send before chime writes again.
pub const MAX_UNPROMPTED: usize = 1 << 20;

/// A TCP connection whose reads are bounded as the module says.
#[derive(Debug)]
pub struct Bounded {
    inner: TcpStream,
    unprompted: usize,
}

impl Bounded {
    pub fn new(inner: TcpStream) -> Bounded {
        Bounded {
            inner,
            unprompted: 0,
        }
    }
}

impl AsyncRead for Bounded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.unprompted > MAX_UNPROMPTED {
            return Poll::Ready(Err(io::Error::other(format!(
                "the server sent more than {} KiB without being asked: chime stopped reading",
                MAX_UNPROMPTED / 1024
            ))));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.unprompted += read;
        polled
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &written
            && *n > 0
        {
            self.unprompted = 0;
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Bounded {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

/// A stream lettre has already put TLS on (implicit TLS, port 465), handed
/// back to it as the socket a connection starts on: lettre's own streams
/// speak futures' I/O traits, its connections take tokio's.
#[derive(Debug)]
#[allow(deprecated)]
pub struct Secured(pub AsyncNetworkStream);

impl AsyncRead for Secured {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let room = buf.initialize_unfilled();
        match futures_io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, room) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for Secured {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures_io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_close(Pin::new(&mut self.0), cx)
    }
}

impl AsyncTokioStream for Secured {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}
