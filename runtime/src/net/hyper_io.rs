//! hyper's I/O traits on corral's streams (feature `hyper`).
//!
//! [`TcpStream`] and [`UnixStream`] implement `hyper::rt::Read` and
//! `hyper::rt::Write`, so hyper's HTTP/1 and HTTP/2 connections take them
//! as they are; so do their halves, owned and borrowed (read half:
//! `Read`, write half: `Write`), for code that builds its own transport
//! from them.
//!
//! - **Reads** go straight into the unfilled, possibly uninitialised part
//!   of hyper's read buffer (the streams' crate-internal
//!   `poll_read_uninit`: one `read(2)` into the raw memory, which also
//!   clears read readiness after a short read, then `advance` by what the
//!   kernel wrote), so no byte is zeroed first. hyper's buffer is 8 KiB and more, so zeroing it on
//!   every read would cost more than the copy from the kernel.
//! - **Writes** are vectored (`writev`): hyper then queues headers and
//!   body as separate buffers instead of flattening them into one.
//! - **Flush** has nothing to do (corral buffers nothing); **shutdown**
//!   shuts the write direction down, as `AsyncWrite::poll_close` does.
//!
//! Readiness, the cooperative budget and `WouldBlock` handling are the
//! stream's own (`PollEvented::poll_io`): these impls add no state.

use super::{tcp, TcpStream};
#[cfg(unix)]
use super::{unix, UnixStream};
use ::hyper::rt::{Read, ReadBufCursor, Write};
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// Moves what a `poll_read_uninit`-style `poll` read into `buf`.
fn fill(
    mut buf: ReadBufCursor<'_>,
    poll: impl FnOnce(&mut [MaybeUninit<u8>]) -> Poll<io::Result<usize>>,
) -> Poll<io::Result<()>> {
    // SAFETY: the slice is only handed to `poll`, which writes into it
    // (the kernel's `recv`) and never de-initialises a byte.
    let unfilled = unsafe { buf.as_mut() };
    let n = ready!(poll(unfilled))?;
    // SAFETY: `poll` returned `Ok(n)`: it initialised the first `n` bytes
    // of the unfilled part (see `poll_read_uninit`).
    unsafe { buf.advance(n) };
    Poll::Ready(Ok(()))
}

/// Implements `hyper::rt::Read` (`read:`) or `hyper::rt::Write` (`write:`)
/// for `$ty`, which reaches a `$stream` through `$get`.
macro_rules! hyper_io {
    ($stream:ty; read: $ty:ty, $get:expr) => {
        impl Read for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                let get: fn(&Self) -> &$stream = $get;
                let stream = get(&*self);
                fill(buf, |unfilled| stream.poll_read_uninit(cx, unfilled))
            }
        }
    };
    ($stream:ty; write: $ty:ty, $get:expr) => {
        impl Write for $ty {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                let get: fn(&Self) -> &$stream = $get;
                get(&*self).poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let get: fn(&Self) -> &$stream = $get;
                get(&*self).poll_write_vectored_priv(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(())) // nothing buffered here
            }

            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                let get: fn(&Self) -> &$stream = $get;
                get(&*self).poll_close_priv()
            }
        }
    };
}

hyper_io!(TcpStream; read: TcpStream, |s| s);
hyper_io!(TcpStream; write: TcpStream, |s| s);
hyper_io!(TcpStream; read: tcp::ReadHalf<'_>, |h| h.as_ref());
hyper_io!(TcpStream; write: tcp::WriteHalf<'_>, |h| h.as_ref());
hyper_io!(TcpStream; read: tcp::OwnedReadHalf, |h| h.as_ref());
hyper_io!(TcpStream; write: tcp::OwnedWriteHalf, |h| h.as_ref());
#[cfg(unix)]
hyper_io!(UnixStream; read: UnixStream, |s| s);
#[cfg(unix)]
hyper_io!(UnixStream; write: UnixStream, |s| s);
#[cfg(unix)]
hyper_io!(UnixStream; read: unix::ReadHalf<'_>, |h| h.as_ref());
#[cfg(unix)]
hyper_io!(UnixStream; write: unix::WriteHalf<'_>, |h| h.as_ref());
#[cfg(unix)]
hyper_io!(UnixStream; read: unix::OwnedReadHalf, |h| h.as_ref());
#[cfg(unix)]
hyper_io!(UnixStream; write: unix::OwnedWriteHalf, |h| h.as_ref());
