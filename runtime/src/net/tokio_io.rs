//! Feature `tokio-io`: tokio's `AsyncRead` / `AsyncWrite` on corral's
//! streams and their halves, so tokio-util codecs (`Framed`,
//! `FramedRead`, ...) and libraries written against tokio's traits work on
//! corral sockets. Only the traits come from tokio; no tokio runtime runs.
//!
//! Reads go straight into tokio's `ReadBuf`, uninitialised part included
//! (no zeroing), and clear the read readiness after a short read, as the
//! futures-io implementations do. `poll_shutdown` shuts the write
//! direction down.

use super::{tcp, TcpStream};
#[cfg(unix)]
use super::{unix, UnixStream};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Implements the trait for each `$ty`, which reaches its `$stream`
/// through `$get`.
macro_rules! tokio_read {
    ($stream:ty: $($ty:ty => $get:expr),* $(,)?) => {$(
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let get: fn(&Self) -> &$stream = $get;
                let stream = get(&*self);
                // SAFETY: `poll_read_uninit` only writes into the slice
                // (never de-initialises), and reports how many bytes it
                // initialised, which is what `assume_init` is told.
                let n = ready!(stream.poll_read_uninit(cx, unsafe { buf.unfilled_mut() }))?;
                // SAFETY: the first `n` unfilled bytes were just written.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }
    )*};
}

macro_rules! tokio_write {
    ($stream:ty: $($ty:ty => $get:expr),* $(,)?) => {$(
        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let get: fn(&Self) -> &$stream = $get;
                let stream = get(&*self);
                stream.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let get: fn(&Self) -> &$stream = $get;
                let stream = get(&*self);
                stream.poll_write_vectored_priv(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(())) // nothing buffered here
            }

            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                let get: fn(&Self) -> &$stream = $get;
                let stream = get(&*self);
                stream.poll_close_priv()
            }
        }
    )*};
}

tokio_read!(TcpStream: TcpStream => |s| s, tcp::ReadHalf<'_> => |s| s.as_ref(), tcp::OwnedReadHalf => |s| s.as_ref());
tokio_write!(TcpStream: TcpStream => |s| s, tcp::WriteHalf<'_> => |s| s.as_ref(), tcp::OwnedWriteHalf => |s| s.as_ref());
#[cfg(unix)]
tokio_read!(UnixStream: UnixStream => |s| s, unix::ReadHalf<'_> => |s| s.as_ref(), unix::OwnedReadHalf => |s| s.as_ref());
#[cfg(unix)]
tokio_write!(UnixStream: UnixStream => |s| s, unix::WriteHalf<'_> => |s| s.as_ref(), unix::OwnedWriteHalf => |s| s.as_ref());
