//! Readiness of one registered I/O source, and the tasks waiting on it.
//!
//! `readiness` packs the ready bits (low byte) and a tick (the rest) that
//! counts readiness events. A reader that got `WouldBlock` clears the bits
//! it saw — but only if the tick is still the one it saw, so an event that
//! arrived in between is never lost (the edge-triggered reactor will not
//! report it again).
//!
//! One waker per direction: each I/O object has at most one reading and
//! one writing task at a time (a split stream has one of each).

use crate::loom::{AtomicUsize, Mutex, Ordering::*};
use std::task::{Context, Poll, Waker};

pub(crate) const READABLE: usize = 1 << 0;
pub(crate) const WRITABLE: usize = 1 << 1;
pub(crate) const READ_CLOSED: usize = 1 << 2;
pub(crate) const WRITE_CLOSED: usize = 1 << 3;
pub(crate) const ERROR: usize = 1 << 4;
/// The runtime's driver is gone: nothing will ever be ready again.
pub(crate) const SHUTDOWN: usize = 1 << 5;
const READY_MASK: usize = 0xff;
const TICK_ONE: usize = 1 << 8;

/// Which way an operation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    fn mask(self) -> usize {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR | SHUTDOWN,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR | SHUTDOWN,
        }
    }
}

/// What `poll_ready` saw: the ready bits of that direction, and the tick.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    pub(crate) ready: usize,
    tick: usize,
}

impl ReadyEvent {
    pub(crate) fn is_shutdown(&self) -> bool {
        self.ready & SHUTDOWN != 0
    }
}

#[derive(Default)]
struct Waiters {
    reader: Option<Waker>,
    writer: Option<Waker>,
}

pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
    /// The token this source is registered under (index + generation).
    pub(crate) token: usize,
}

impl ScheduledIo {
    pub(crate) fn new(token: usize) -> Self {
        ScheduledIo {
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
            token,
        }
    }

    /// The driver saw `ready` for this source: record it, bump the tick, and
    /// wake the waiters it concerns.
    pub(crate) fn set_readiness(&self, ready: usize) {
        // AcqRel: Release publishes the readiness to `poll_ready`'s Acquire
        // load; the RMW orders it with concurrent clears.
        let _ = self.readiness.fetch_update(AcqRel, Acquire, |curr| {
            Some((curr & !READY_MASK).wrapping_add(TICK_ONE) | (curr & READY_MASK) | ready)
        });
        let (reader, writer) = {
            let mut w = self.waiters.lock();
            let reader = if ready & Direction::Read.mask() != 0 {
                w.reader.take()
            } else {
                None
            };
            let writer = if ready & Direction::Write.mask() != 0 {
                w.writer.take()
            } else {
                None
            };
            (reader, writer)
        };
        // Woken outside the lock: a waker may run arbitrary code.
        if let Some(w) = reader {
            w.wake();
        }
        if let Some(w) = writer {
            w.wake();
        }
    }

    /// Ready (with what is ready), or Pending with `cx`'s waker stored for
    /// the next readiness event in that direction.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<ReadyEvent> {
        if let Some(ev) = self.ready_now(dir) {
            return Poll::Ready(ev);
        }
        {
            let mut w = self.waiters.lock();
            let slot = match dir {
                Direction::Read => &mut w.reader,
                Direction::Write => &mut w.writer,
            };
            match slot {
                Some(old) if old.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
        }
        // Re-check after registering: an event between the first check and
        // the registration found no waker to wake.
        match self.ready_now(dir) {
            Some(ev) => Poll::Ready(ev),
            None => Poll::Pending,
        }
    }

    fn ready_now(&self, dir: Direction) -> Option<ReadyEvent> {
        let curr = self.readiness.load(Acquire);
        let ready = curr & dir.mask();
        (ready != 0).then_some(ReadyEvent {
            ready,
            tick: curr & !READY_MASK,
        })
    }

    /// An operation got `WouldBlock` after `ev`: clear what `ev` saw, unless
    /// a newer event arrived since. An error bit is cleared too (the error
    /// was consumed by the operation, e.g. a UDP "port unreachable");
    /// closed and shutdown bits stay: they are final.
    pub(crate) fn clear_readiness(&self, ev: ReadyEvent) {
        let clear = ev.ready & (READABLE | WRITABLE | ERROR);
        let _ = self.readiness.fetch_update(AcqRel, Acquire, |curr| {
            ((curr & !READY_MASK) == ev.tick).then_some(curr & !clear)
        });
    }

    /// The driver is gone: mark every direction ready-with-shutdown and wake
    /// the waiters, so no task waits forever on a dead reactor.
    pub(crate) fn shutdown(&self) {
        self.set_readiness(SHUTDOWN);
    }
}
