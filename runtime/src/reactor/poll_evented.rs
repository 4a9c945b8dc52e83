//! An I/O object registered with the current runtime's reactor.

use super::{Direction, ScheduledIo};
use crate::coop;
use crate::driver;
use crate::loom::Arc;
use std::io;
use std::task::{ready, Context, Poll};

/// A mio source plus its registration. Dropping it deregisters the source
/// before closing it.
pub(crate) struct PollEvented<E: mio::event::Source> {
    io: Option<E>,
    shared: Arc<ScheduledIo>,
    driver: driver::Handle,
    /// Operations that came back `WouldBlock` (unit tests count wasted
    /// system calls with it).
    #[cfg(all(test, not(loom)))]
    would_block: std::sync::atomic::AtomicUsize,
}

impl<E: mio::event::Source> PollEvented<E> {
    /// Registers `io` with the current runtime's reactor.
    ///
    /// Errors outside a runtime (`NotConnected`, naming the fix) or if the
    /// runtime is shutting down.
    pub(crate) fn new(mut io: E) -> io::Result<Self> {
        let driver = driver::Handle::current()?;
        let shared = driver.io().register(&mut io)?;
        Ok(PollEvented {
            io: Some(io),
            shared,
            driver,
            #[cfg(all(test, not(loom)))]
            would_block: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    pub(crate) fn get_ref(&self) -> &E {
        self.io.as_ref().expect("I/O object used after it was taken")
    }

    /// Deregisters and hands back the mio source.
    pub(crate) fn into_inner(mut self) -> E {
        let mut io = self.io.take().expect("I/O object taken twice");
        self.driver.io().deregister(&self.shared, &mut io);
        io
    }

    /// Runs `op` when the direction is ready, retrying after `WouldBlock`
    /// once the next readiness event arrives. Spends one unit of the
    /// cooperative budget per completed operation.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        op: impl FnMut(&E) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_op(cx, dir, op, |_| false)
    }

    /// Runs a stream read or write of `len` bytes (`op` returns how many
    /// moved), as [`poll_io`](Self::poll_io); a result of `0 < n < len`
    /// also clears the direction's readiness, since the socket is then
    /// drained (or full) and another attempt would only fail with
    /// `WouldBlock`. `0` is end-of-file (or nothing to do) and clears
    /// nothing. Only for stream sockets: a short datagram says nothing
    /// about the next one, and a peek consumes nothing.
    pub(crate) fn poll_stream_io(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        len: usize,
        op: impl FnMut(&E) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.poll_op(cx, dir, op, |&n| n > 0 && n < len)
    }

    /// Runs a stream read or write once if the direction is ready, without
    /// waiting: not ready is `WouldBlock` with no system call. A
    /// `WouldBlock` from `op` clears the readiness it acted on, and so does
    /// a result of `0 < n < len`.
    pub(crate) fn try_io(
        &self,
        dir: Direction,
        len: usize,
        op: impl FnOnce(&E) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.try_op(dir, op, |&n| n > 0 && n < len)
    }

    /// [`try_io`](Self::try_io) for anything but a stream read or write
    /// (a datagram, an accept): only `WouldBlock` clears readiness.
    pub(crate) fn try_any_io<R>(
        &self,
        dir: Direction,
        op: impl FnOnce(&E) -> io::Result<R>,
    ) -> io::Result<R> {
        self.try_op(dir, op, |_| false)
    }

    fn try_op<R>(
        &self,
        dir: Direction,
        op: impl FnOnce(&E) -> io::Result<R>,
        exhausted: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        let Some(ev) = self.shared.ready_now(dir) else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        if ev.is_shutdown() {
            return Err(super::shutdown_error());
        }
        let res = op(self.get_ref());
        match &res {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.shared.clear_readiness(ev),
            Ok(r) if exhausted(r) => self.shared.clear_short(ev, dir),
            _ => {}
        }
        res
    }

    fn poll_op<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut(&E) -> io::Result<R>,
        exhausted: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        let coop = ready!(coop::poll_proceed(cx));
        loop {
            let ev = ready!(self.shared.poll_ready(cx, dir));
            if ev.is_shutdown() {
                return Poll::Ready(Err(super::shutdown_error()));
            }
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    #[cfg(all(test, not(loom)))]
                    self.would_block
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.shared.clear_readiness(ev)
                }
                res => {
                    if matches!(&res, Ok(r) if exhausted(r)) {
                        self.shared.clear_short(ev, dir);
                    }
                    coop.made_progress();
                    return Poll::Ready(res);
                }
            }
        }
    }

    /// Waits until the direction is ready (without doing anything).
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<io::Result<()>> {
        let ev = ready!(self.shared.poll_ready(cx, dir));
        if ev.is_shutdown() {
            return Poll::Ready(Err(super::shutdown_error()));
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(unix)]
impl<E: mio::event::Source + std::os::fd::AsRawFd> PollEvented<E> {
    /// Reads from a stream socket into a buffer that need not be
    /// initialised (`read(2)` writes the bytes it returns), clearing the
    /// read readiness after a short read as [`poll_stream_io`] does. On
    /// `Ok(n)` the first `n` elements of `buf` are initialised. The
    /// primitive under the integrations with `ReadBuf`-style buffers
    /// (tokio's `AsyncRead`, hyper's `rt::Read`).
    ///
    /// [`poll_stream_io`]: Self::poll_stream_io
    pub(crate) fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let len = buf.len();
        self.poll_stream_io(cx, Direction::Read, len, |io| {
            // SAFETY: the fd is open (we own `io`); `buf` is valid for
            // writes of `len` bytes for the call, and read(2) never reads
            // from it, so uninitialised contents are fine.
            let n = unsafe { libc::read(io.as_raw_fd(), buf.as_mut_ptr().cast(), len) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        })
    }
}

#[cfg(all(test, not(loom)))]
impl<E: mio::event::Source> PollEvented<E> {
    /// How many operations came back `WouldBlock` so far.
    pub(crate) fn would_blocks(&self) -> usize {
        self.would_block.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl<E: mio::event::Source> Drop for PollEvented<E> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            self.driver.io().deregister(&self.shared, &mut io);
        }
    }
}
