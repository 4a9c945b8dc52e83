//! hyper's I/O traits on corral's streams (feature `hyper`).
//!
//! [`TcpStream`] and [`UnixStream`] implement `hyper::rt::Read` and
//! `hyper::rt::Write`, so hyper's HTTP/1 and HTTP/2 connections take them
//! as they are; so do their halves, owned and borrowed (read half:
//! `Read`, write half: `Write`), for code that builds its own transport
//! from them.
//!
//! - **Reads** go straight into the unfilled, possibly uninitialised part
//!   of hyper's read buffer ([`read_uninit`]: one `recv` into the raw
//!   memory, then `advance` by what the kernel wrote), so no byte is
//!   zeroed first. hyper's buffer is 8 KiB and more, so zeroing it on
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

/// Reads from `fd` into `buf`, which may be uninitialised; `Ok(n)` means
/// the kernel wrote the first `n` bytes.
#[cfg(target_os = "linux")]
pub(super) fn read_uninit(fd: &impl std::os::fd::AsRawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the
    // duration of the call, and `recv` only writes (never reads) the
    // memory it is given, so uninitialised bytes are fine; the fd is open
    // because `fd` borrows the socket that owns it.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        // A non-negative `ssize_t` that is at most `buf.len()` fits `usize`.
        Ok(n as usize)
    }
}

/// Reads from `s` into `buf`, which may be uninitialised; `Ok(n)` means
/// the first `n` bytes are now initialised. Off Linux (where corral has no
/// `libc`) this zeroes `buf` first and reads through `std::io::Read`.
#[cfg(not(target_os = "linux"))]
pub(super) fn read_uninit<S>(s: &S, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize>
where
    for<'a> &'a S: io::Read,
{
    buf.fill(MaybeUninit::new(0));
    // SAFETY: every byte of `buf` was just initialised (to zero), and
    // `MaybeUninit<u8>` has the layout of `u8`.
    let init = unsafe { &mut *(buf as *mut [MaybeUninit<u8>] as *mut [u8]) };
    io::Read::read(&mut &*s, init)
}

/// Moves what [`read_uninit`]-style `poll` read into `buf`.
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
