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
        mut op: impl FnMut(&E) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let coop = ready!(coop::poll_proceed(cx));
        loop {
            let ev = ready!(self.shared.poll_ready(cx, dir));
            if ev.is_shutdown() {
                return Poll::Ready(Err(super::shutdown_error()));
            }
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.shared.clear_readiness(ev),
                res => {
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

impl<E: mio::event::Source> Drop for PollEvented<E> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            self.driver.io().deregister(&self.shared, &mut io);
        }
    }
}
