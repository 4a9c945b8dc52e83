//! Readiness of one registered I/O source, and the tasks waiting on it.
//!
//! `readiness` packs the ready bits (low byte) and a tick (the rest) that
//! counts readiness events. A reader that got `WouldBlock` clears the bits
//! it saw — but only if the tick is still the one it saw, so an event that
//! arrived in between is never lost (the edge-triggered reactor will not
//! report it again). A stream read or write that moved fewer bytes than
//! asked clears its direction's bit the same way: the socket is drained
//! (or full), and the next operation waits for the next event instead of
//! spending a system call to learn `WouldBlock`.
//!
//! # Waiters
//!
//! Any number of wakers per direction: two tasks receiving on one shared
//! `UdpSocket`, accepting on one listener or reading one `&TcpStream` are
//! all woken by the event that concerns them (those that find nothing
//! register again). Each direction keeps its first waker inline, so the
//! usual one-task-per-direction case costs no allocation; further wakers go
//! into a `Vec`, skipping any that `will_wake` the same task. The list is
//! emptied by every event of its direction: a waiter that gave up (its
//! future was dropped) costs at most one spurious wake.
//!
//! Wakers run outside the lock, each under `catch_unwind`
//! (`contain::wake_all`, as for timers): a foreign waker that panics cannot
//! unwind out of the reactor (killing the thread that drives it) or keep
//! the other waiters of that turn asleep.

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

/// The wakers waiting on one direction.
#[derive(Default)]
struct Slot {
    /// The usual single waiter, kept inline.
    first: Option<Waker>,
    /// Any further waiters (distinct tasks).
    rest: Vec<Waker>,
}

impl Slot {
    fn register(&mut self, waker: &Waker) {
        match &self.first {
            None => self.first = Some(waker.clone()),
            Some(first) if first.will_wake(waker) => {}
            Some(_) => {
                if !self.rest.iter().any(|w| w.will_wake(waker)) {
                    self.rest.push(waker.clone());
                }
            }
        }
    }

    /// Takes every waker: the first, and the rest (None if there are none,
    /// so the common case moves no `Vec`).
    fn take(&mut self) -> (Option<Waker>, Option<Vec<Waker>>) {
        let rest = (!self.rest.is_empty()).then(|| std::mem::take(&mut self.rest));
        (self.first.take(), rest)
    }
}

#[derive(Default)]
struct Waiters {
    reader: Slot,
    writer: Slot,
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
        let ((reader, readers), (writer, writers)) = {
            let mut w = self.waiters.lock();
            let reader = if ready & Direction::Read.mask() != 0 {
                w.reader.take()
            } else {
                (None, None)
            };
            let writer = if ready & Direction::Write.mask() != 0 {
                w.writer.take()
            } else {
                (None, None)
            };
            (reader, writer)
        };
        // Woken outside the lock (a waker may run arbitrary code), each
        // one panic-safely.
        crate::contain::wake_all(
            reader
                .into_iter()
                .chain(writer)
                .chain(readers.into_iter().chain(writers).flatten()),
        );
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
            slot.register(cx.waker());
        }
        // Re-check after registering: an event between the first check and
        // the registration found no waker to wake.
        match self.ready_now(dir) {
            Some(ev) => Poll::Ready(ev),
            None => Poll::Pending,
        }
    }

    pub(crate) fn ready_now(&self, dir: Direction) -> Option<ReadyEvent> {
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
        self.clear_bits(ev, READABLE | WRITABLE | ERROR);
    }

    /// A stream operation moved fewer bytes than asked after `ev`: the
    /// socket is drained (read) or full (write). Clear that direction's
    /// ready bit, unless a newer event arrived since; error and closed bits
    /// stay, so the next operation still sees them.
    pub(crate) fn clear_short(&self, ev: ReadyEvent, dir: Direction) {
        let bit = match dir {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        };
        self.clear_bits(ev, bit);
    }

    fn clear_bits(&self, ev: ReadyEvent, bits: usize) {
        let clear = ev.ready & bits;
        if clear == 0 {
            return;
        }
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    struct Panics;

    impl Wake for Panics {
        fn wake(self: Arc<Self>) {
            panic!("waker panics on purpose");
        }
    }

    fn pending(io: &ScheduledIo, waker: &Waker, dir: Direction) {
        let mut cx = Context::from_waker(waker);
        assert!(io.poll_ready(&mut cx, dir).is_pending());
    }

    #[test]
    fn every_waiter_of_a_direction_is_woken_once() {
        let io = ScheduledIo::new(0);
        let counts: Vec<_> = (0..3).map(|_| Arc::new(Count(AtomicUsize::new(0)))).collect();
        let wakers: Vec<Waker> = counts.iter().map(|c| Waker::from(c.clone())).collect();
        for w in &wakers {
            pending(&io, w, Direction::Read);
            pending(&io, w, Direction::Read); // the same task again: kept once
        }
        let writer = Arc::new(Count(AtomicUsize::new(0)));
        pending(&io, &Waker::from(writer.clone()), Direction::Write);
        io.set_readiness(READABLE);
        assert!(counts.iter().all(|c| c.0.load(SeqCst) == 1));
        assert_eq!(writer.0.load(SeqCst), 0, "a read event woke a writer");
        // The list was emptied: a second event wakes nobody.
        io.set_readiness(READABLE);
        assert!(counts.iter().all(|c| c.0.load(SeqCst) == 1));
    }

    #[test]
    fn a_panicking_waker_neither_escapes_nor_starves_the_others() {
        let io = ScheduledIo::new(0);
        let before = Arc::new(Count(AtomicUsize::new(0)));
        let after = Arc::new(Count(AtomicUsize::new(0)));
        pending(&io, &Waker::from(before.clone()), Direction::Read);
        pending(&io, &Waker::from(Arc::new(Panics)), Direction::Read);
        pending(&io, &Waker::from(after.clone()), Direction::Read);
        io.set_readiness(READABLE | WRITABLE);
        assert_eq!(before.0.load(SeqCst), 1);
        assert_eq!(after.0.load(SeqCst), 1);
    }

    #[test]
    fn a_short_result_clears_only_its_direction_and_only_at_its_tick() {
        let io = ScheduledIo::new(0);
        io.set_readiness(READABLE | WRITABLE | READ_CLOSED);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let Poll::Ready(ev) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable")
        };
        io.clear_short(ev, Direction::Read);
        let curr = io.readiness.load(Acquire);
        assert_eq!(curr & READABLE, 0);
        assert_ne!(curr & READ_CLOSED, 0, "closed is final");
        assert_ne!(curr & WRITABLE, 0, "the other direction is untouched");
        // A newer event wins over a clear based on an older one.
        io.set_readiness(READABLE | WRITABLE);
        let Poll::Ready(ev) = io.poll_ready(&mut cx, Direction::Write) else {
            panic!("writable")
        };
        io.set_readiness(WRITABLE);
        io.clear_short(ev, Direction::Write);
        assert_ne!(io.readiness.load(Acquire) & WRITABLE, 0);
    }
}
