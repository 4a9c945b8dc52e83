//! What a parked scheduler thread waits on, and the runtime's shared
//! resources.
//!
//! - `Driver` (one per runtime, behind a try-lock in the parker): the I/O
//!   reactor's poll loop. The thread that holds it sleeps in `epoll_wait`
//!   with the next timer's deadline as its timeout; the other idle workers
//!   sleep on their condvars (see `sched/park.rs`).
//! - `Handle` (cloned into every I/O object and timer): the reactor's
//!   registry, the timer wheel with the clock, and the blocking pool.
//!
//! One `park` of the driver: compute the timeout (the caller's, capped by
//! the next timer), wait for I/O, dispatch readiness, then fire every timer
//! that is due. With a paused clock and nothing runnable (a current-thread
//! runtime whose tasks all wait), it jumps the clock to the next timer
//! instead of sleeping: a test of a one-hour timeout finishes at once.

use crate::blocking;
use crate::context;
use crate::loom::Arc;
use crate::reactor;
use crate::time::TimeDriver;
use std::io;
use std::time::Duration;

pub(crate) struct Driver {
    io: reactor::Driver,
}

/// The runtime's resources: reactor, timers, blocking pool.
#[derive(Clone)]
pub(crate) struct Handle {
    inner: Arc<Inner>,
}

struct Inner {
    io: reactor::Handle,
    time: TimeDriver,
    blocking: blocking::Pool,
}

impl Driver {
    pub(crate) fn new(start_paused: bool, blocking: blocking::Config) -> io::Result<(Driver, Handle)> {
        let (io, io_handle) = reactor::Driver::new()?;
        let handle = Handle {
            inner: Arc::new(Inner {
                io: io_handle,
                time: TimeDriver::new(start_paused),
                blocking: blocking::Pool::new(blocking),
            }),
        };
        Ok((Driver { io }, handle))
    }

    /// Waits for I/O or the next timer for at most `timeout`, then wakes
    /// what became ready. `auto_advance`: the caller has nothing else to
    /// run, so a paused clock may jump to the next timer.
    pub(crate) fn park(&mut self, handle: &Handle, timeout: Option<Duration>, auto_advance: bool) {
        let time = handle.time();
        if auto_advance && time.clock().is_paused() && timeout != Some(Duration::ZERO) {
            // Idle with a paused clock: first take any I/O or unpark that
            // is already there (an unpark this turn consumes must end the
            // park: it may be the very wake the caller waits for, and the
            // eventfd no longer holds it); if none, and no blocking job can
            // still wake a task, jump to the next timer.
            let woken = self.io.turn(handle.io(), Some(Duration::ZERO));
            if woken || (handle.blocking().in_flight() == 0 && time.advance_to_next()) {
                time.process();
                return;
            }
        }
        let timeout = time.prepare_park(timeout);
        self.io.turn(handle.io(), timeout);
        time.unparked();
        time.process();
    }
}

impl Handle {
    /// The current runtime's resources, or an error naming the fix.
    pub(crate) fn current() -> io::Result<Handle> {
        context::with_handle(|h| h.map(|h| h.driver().clone())).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotConnected,
                "no corral runtime on this thread: I/O objects and timers must be created \
                 inside a runtime (a task, block_on, or under Handle::enter)",
            )
        })
    }

    pub(crate) fn io(&self) -> &reactor::Handle {
        &self.inner.io
    }

    pub(crate) fn time(&self) -> &TimeDriver {
        &self.inner.time
    }

    pub(crate) fn blocking(&self) -> &blocking::Pool {
        &self.inner.blocking
    }

    /// Wakes a thread parked in the driver.
    pub(crate) fn unpark(&self) {
        self.inner.io.unpark();
    }

    /// Runtime shutdown: I/O waiters get an error; pending timers fire, so
    /// that a `Sleep` awaited by another runtime's task moves to that
    /// runtime (see `time/sleep.rs`).
    pub(crate) fn shutdown(&self) {
        self.inner.io.shutdown();
        self.inner.time.shutdown();
    }
}
